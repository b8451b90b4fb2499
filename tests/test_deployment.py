"""The deployment files: settings from the environment, the compose file and the image.
No Docker engine runs here, so their structure is checked instead."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from personal_stats.support.settings import Settings

ROOT = Path(__file__).parents[1]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONAL_STATS_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("PERSONAL_STATS_POOL_SIZE", "3")
    monkeypatch.setenv("PERSONAL_STATS_DB_TIMEOUT", "2.5")
    monkeypatch.setenv("PERSONAL_STATS_WORKERS", "4")
    monkeypatch.setenv("PERSONAL_STATS_LOG_LEVEL", "debug")
    settings = Settings()
    assert (settings.database_url, settings.pool_size, settings.db_timeout) == (
        "postgresql+asyncpg://u@h/db", 3, 2.5,
    )  # fmt: skip
    assert (settings.workers, settings.log_level) == (4, "debug")


@pytest.mark.parametrize(
    ("name", "value"),
    [("POOL_SIZE", "many"), ("DB_TIMEOUT", "0"), ("WORKERS", "0"), ("LOG_LEVEL", "loud"),
     ("PORT", "70000")],
)  # fmt: skip
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(f"PERSONAL_STATS_{name}", value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings()


def test_env_example_names_every_setting() -> None:
    names = {
        line.split("=", 1)[0].lstrip("# ")
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    assert {f"PERSONAL_STATS_{field.upper()}" for field in Settings.model_fields} <= names


def test_compose_file_structure() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    db, app = compose["services"]["db"], compose["services"]["app"]
    assert db["image"] == "postgres:16"
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["build"] == "."
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    assert app["command"][:2] == ["personal-stats", "serve"]
    assert "0.0.0.0" in app["command"]
    assert app["environment"]["PERSONAL_STATS_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@db:5432/" in app["environment"]["PERSONAL_STATS_DATABASE_URL"]
    loader = compose["services"]["load-demo"]
    assert loader["command"] == ["personal-stats", "import", "--if-empty", "fixtures/demo.json"]
    assert set(compose["volumes"]) == {"db-data"}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), with continued lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    pairs = [line.split(maxsplit=1) for line in text.splitlines() if line.strip()]
    return [(pair[0], pair[1] if len(pair) > 1 else "") for pair in pairs]


def test_dockerfile_runs_the_service_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    kinds = [kind for kind, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    user = dict(instructions)["USER"]
    assert user not in {"root", "0"}
    assert kinds.index("USER") > max(i for i, kind in enumerate(kinds) if kind == "RUN")
    assert dict(instructions)["CMD"].startswith('["personal-stats", "serve", "--host", "0.0.0.0"')
    assert "/readyz" in dict(instructions)["HEALTHCHECK"]


def test_the_image_installs_exactly_the_locked_releases() -> None:
    """From requirements.lock (uv.lock exported, hashed: `make lint` checks it is current),
    before the project itself, which adds nothing."""
    runs = [args for kind, args in dockerfile_instructions() if kind == "RUN"]
    installs = [args for args in runs if "pip install" in args]
    assert installs == ["pip install --require-hashes --no-deps -r ${LOCK}",
                        "pip install --no-deps ."]  # fmt: skip
    assert ("ARG", "LOCK=requirements.lock") in dockerfile_instructions()
    locked = (ROOT / "requirements.lock").read_text()
    assert "strawberry-graphql==" in locked
    assert "--hash=sha256:" in locked
    assert "opentelemetry" not in locked  # tracing is the otel extra's
    traced = (ROOT / "requirements-otel.lock").read_text()
    assert "strawberry-graphql==" in traced
    assert "opentelemetry-sdk==" in traced
