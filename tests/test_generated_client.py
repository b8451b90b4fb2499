"""REST clients as their users make them: from the served OpenAPI document. The document passes
openapi-spec-validator; openapi-python-client, with its default settings, generates a client
whose every read operation parses the service's answers into models equal to the raw JSON, and
a 404 into the typed problem model."""

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from personal_stats.core.windows import WEEK
from tests.helpers import run_cli
from tests.servers import serving

pytestmark = pytest.mark.slow  # real servers, browsers or processes of their own

ROOT = Path(__file__).parents[1]
DEMO = ROOT / "fixtures" / "demo.json"
JAMES = "mentor_b2c91a"
PACKAGE = "personal_stats_service_client"
DATES = {"start_date", "end_date", "as_of"}
# Every read operation with the arguments tried: defaults, and each kind of argument.
READS: dict[str, list[dict[str, Any]]] = {
    "personal_stats": [
        {},
        {"period": "last_90_days", "as_of": "2026-03-25", "tz": "Europe/Berlin"},
        {"start_date": "2026-01-01", "end_date": "2026-03-25", "compare": "previous_period"},
        {"period": "all_time", "as_of": "2026-03-25"},
        {"rest_days": ["sunday", "saturday"], "compare": "previous_period"},
    ],
    "monthly_series": [
        {},
        {"months": 6, "as_of": "2026-03-25"},
        {"from_": "2025-01", "to": "2025-12"},
    ],
    "activity_breakdown": [
        {},
        {"period": "last_365_days", "as_of": "2026-03-25", "compare": "year_over_year", "limit": 2},
    ],
    "contribution_history": [{}, {"from_year": 2024, "to_year": 2026, "page": 1, "limit": 2}],
    "contribution_calendar": [{}, {"start_date": "2026-03-01", "end_date": "2026-03-25"}],
    "personal_records": [
        {},
        {"as_of": "2026-03-25", "tz": "Europe/Berlin", "rest_days": ["saturday"]},
    ],
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("generated")
    database_url = f"sqlite+aiosqlite:///{folder / 'stats.db'}"
    assert run_cli("import", str(DEMO), database_url=database_url).returncode == 0
    with serving(database_url, folder / "server.log") as base:
        yield base


@pytest.fixture(scope="module")
def generated(demo: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client openapi-python-client generates from the served document, imported."""
    folder = tmp_path_factory.mktemp("client")
    document = folder / "openapi.json"
    document.write_text(httpx.get(f"{demo}/openapi.json").text)
    bin_dir = Path(sys.executable).parent
    env = os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    output = folder / "out"
    made = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", str(document),
         "--output-path", str(output)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    sys.path.insert(0, str(output))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(output))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_the_document_passes_openapi_spec_validator(demo: str) -> None:
    validate(httpx.get(f"{demo}/openapi.json").json())


def test_every_read_operation_parses_into_models_equal_to_the_json(
    demo: str, generated: ModuleType
) -> None:
    document = httpx.get(f"{demo}/openapi.json").json()
    reads = {operation["get"]["operationId"] for operation in document["paths"].values()
             if "application/json" in operation.get("get", {}).get("responses", {})
             .get("200", {}).get("content", {})}  # fmt: skip
    assert {camel(name) for name in READS} == reads  # every JSON read operation is tried
    with generated.Client(base_url=demo) as client:
        for name, tries in READS.items():
            for arguments in tries:
                read_and_compare(generated, document, client, name, arguments)


def read_and_compare(
    generated: ModuleType, document: dict[str, Any], client: Any, name: str, arguments: Any
) -> None:
    """One read through the generated client: a 200 parsed into the operation's model,
    equal to the raw JSON."""
    operation = importlib.import_module(f"{PACKAGE}.api.default.{name}")
    answer = operation.sync_detailed(JAMES, client=client, **typed(generated, arguments))
    assert answer.status_code == 200, (name, arguments, answer.content)
    raw = json.loads(answer.content)
    assert answer.parsed is not None, (name, arguments)
    assert type(answer.parsed).__name__ == schema_of(document, name)
    assert answer.parsed.to_dict() == raw, (name, arguments)
    if "compare" in arguments:
        assert "comparison" in raw  # the optional part was parsed too
    if "rest_days" in arguments:
        assert raw["rest_days"] == sorted(arguments["rest_days"], key=WEEK.index)


def test_the_cards_are_read_as_svg(demo: str, generated: ModuleType) -> None:
    with generated.Client(base_url=demo) as client:
        for name in ("summary_card", "calendar_card"):
            operation = importlib.import_module(f"{PACKAGE}.api.default.{name}")
            answer = operation.sync_detailed(JAMES, client=client)
            assert answer.status_code == 200, name
            assert answer.content.startswith(b"<svg"), name


def test_a_404_is_the_typed_problem(demo: str, generated: ModuleType) -> None:
    with generated.Client(base_url=demo) as client:
        for name in READS:
            operation = importlib.import_module(f"{PACKAGE}.api.default.{name}")
            answer = operation.sync_detailed("nobody", client=client)
            assert answer.status_code == 404
            assert isinstance(answer.parsed, generated.models.Problem), (name, answer.parsed)
            assert answer.parsed.status == 404
            assert answer.parsed.to_dict() == json.loads(answer.content)


def typed(generated: ModuleType, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments as the generated client takes them: dates, and its enums."""
    models = generated.models
    kinds = {"period": ("PersonalStatsPeriod", "ActivityBreakdownPeriod"),
             "compare": ("PersonalStatsCompare", "ActivityBreakdownCompare")}  # fmt: skip
    converted = {key: date.fromisoformat(value) if key in DATES else value
                 for key, value in arguments.items()}  # fmt: skip
    for key, names in kinds.items():
        if key in arguments:
            enum = next(getattr(models, n) for n in names if hasattr(models, n))
            converted[key] = enum(arguments[key])
    if "rest_days" in arguments:  # a string of names, comma-separated
        converted["rest_days"] = ",".join(arguments["rest_days"])
    return converted


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def schema_of(document: dict[str, Any], operation_name: str) -> str:
    for operation in document["paths"].values():
        get = operation.get("get")
        if get is not None and get["operationId"] == camel(operation_name):
            schema = get["responses"]["200"]["content"]["application/json"]["schema"]
            return str(schema["$ref"].rsplit("/", 1)[-1])
    raise AssertionError(f"no operation {operation_name}")
