"""Import files: validation with locations, atomicity, idempotence, the command line."""

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from personal_stats.core.errors import ImportRejected
from personal_stats.service.ingest import import_files
from personal_stats.storage import Writes
from personal_stats.storage.models import Activity, ActivityType, Mentor
from tests.helpers import SessionFactory, run_cli

TYPE = {"id": "act_type_001", "code": "one_on_one_session", "name": "One-on-One Session"}
MENTOR = {"id": "mentor_b2c91a", "name": "James Park", "timezone": "America/New_York"}


def an_activity(number: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": f"act_{number:06d}",
        "mentor_id": "mentor_b2c91a",
        "activity_type_id": "act_type_001",
        "status": "completed",
        "started_at": "2026-03-02T15:00:00Z",
        "duration_minutes": 55,
    } | changes


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


async def counts(sessions: SessionFactory) -> tuple[int, int, int]:
    found = []
    async with sessions() as session:
        for model in (ActivityType, Mentor, Activity):
            found.append((await session.exec(select(func.count()).select_from(model))).one())
    return found[0], found[1], found[2]


async def test_document_import_and_idempotent_reimport(
    engine: AsyncEngine, sessions: SessionFactory, tmp_path: Path
) -> None:
    document = {
        "activity_types": [TYPE],
        "mentors": [
            MENTOR,
            {"id": "m2", "name": "No Zone", "timezone": None},
            {"id": "m3", "name": "Absent"},
        ],
        "activities": [an_activity(1), an_activity(2, status="cancelled", extra="ignored")],
    }
    path = write(tmp_path / "data.json", document)
    report = await import_files(Writes(engine), [path])
    assert (report.activity_types, report.mentors, report.activities) == (1, 3, 2)
    await import_files(Writes(engine), [path])
    assert await counts(sessions) == (1, 3, 2)
    async with sessions() as session:
        assert (await session.get(Mentor, "m2")).timezone == "UTC"
        assert (await session.get(Mentor, "m3")).timezone == "UTC"


async def test_upsert_updates_and_a_later_record_wins(
    engine: AsyncEngine, sessions: SessionFactory, tmp_path: Path
) -> None:
    first = write(tmp_path / "a.json", {"activity_types": [TYPE], "mentors": [MENTOR],
                                       "activities": [an_activity(1)]})  # fmt: skip
    await import_files(Writes(engine), [first])
    second = write(
        tmp_path / "b.json",
        {"activities": [an_activity(1, duration_minutes=10), an_activity(1, duration_minutes=20)]},
    )
    await import_files(Writes(engine), [second])
    async with sessions() as session:
        stored = await session.get(Activity, "act_000001")
    assert stored is not None
    assert stored.duration_minutes == 20


async def test_jsonl_records_in_any_order(
    engine: AsyncEngine, sessions: SessionFactory, tmp_path: Path
) -> None:
    lines = [
        {"record": "activity", **an_activity(1, started_at="2026-03-02T10:00:00-05:00")},
        {"record": "mentor", **MENTOR},
        {"record": "activity_type", **TYPE},
    ]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    await import_files(Writes(engine), [path])
    assert await counts(sessions) == (1, 1, 1)


BAD_RECORDS = [
    (an_activity(1, started_at="2026-03-02T15:00:00"), "activities[0].started_at"),  # naive
    (an_activity(1, started_at="yesterday"), "activities[0].started_at"),
    (an_activity(1, started_at="1899-12-31T23:00:00Z"), "activities[0].started_at"),
    (an_activity(1, started_at="3000-01-01T00:00:00Z"), "activities[0].started_at"),
    (an_activity(1, started_at="2026-02-30T10:00:00Z"), "activities[0].started_at"),
    (an_activity(1, started_at=1772463600), "activities[0].started_at"),
    (an_activity(1, duration_minutes=1441), "activities[0].duration_minutes"),
    (an_activity(1, duration_minutes=-1), "activities[0].duration_minutes"),
    (an_activity(1, duration_minutes=55.5), "activities[0].duration_minutes"),
    (an_activity(1, duration_minutes="55"), "activities[0].duration_minutes"),
    (an_activity(1, duration_minutes=True), "activities[0].duration_minutes"),
    (an_activity(1, status="done"), "activities[0].status"),
    (an_activity(1, mentor_id="ghost"), "activities[0].mentor_id"),
    (an_activity(1, activity_type_id="nope"), "activities[0].activity_type_id"),
    (an_activity(1, id="bad id!"), "activities[0].id"),
    (an_activity(1, id="x" * 65), "activities[0].id"),
    ({k: v for k, v in an_activity(1).items() if k != "status"}, "activities[0].status"),
]


@pytest.mark.parametrize(("record", "location"), BAD_RECORDS)
async def test_one_bad_record_writes_nothing(
    engine: AsyncEngine,
    sessions: SessionFactory,
    tmp_path: Path,
    record: dict[str, Any],
    location: str,
) -> None:
    document = {
        "activity_types": [TYPE],
        "mentors": [MENTOR],
        "activities": [record, an_activity(2)],
    }
    with pytest.raises(ImportRejected) as rejected:
        await import_files(Writes(engine), [write(tmp_path / "bad.json", document)])
    assert [p.split(":")[0] for p in rejected.value.problems] == [location]
    assert await counts(sessions) == (0, 0, 0)


async def test_every_problem_is_reported_with_its_file(
    engine: AsyncEngine, sessions: SessionFactory, tmp_path: Path
) -> None:
    good = write(tmp_path / "good.json", {"activity_types": [TYPE], "mentors": [MENTOR]})
    bad = write(tmp_path / "bad.json", {
        "activity_types": [{"id": "t2", "code": "one_on_one_session", "name": "Copy"}],
        "mentors": [{"id": "m9", "name": " ", "timezone": "Mars/Base"}],
        "activities": [an_activity(1), an_activity(2, status="x", duration_minutes=5000)],
    })  # fmt: skip
    with pytest.raises(ImportRejected) as rejected:
        await import_files(Writes(engine), [good, bad])
    locations = sorted(p.split(": ")[1] for p in rejected.value.problems)
    assert all(p.startswith(f"{bad}: ") for p in rejected.value.problems)
    assert locations == [
        "activities[1].duration_minutes", "activities[1].status", "activity_types[0].code",
        "mentors[0].name", "mentors[0].timezone",
    ]  # fmt: skip
    assert await counts(sessions) == (0, 0, 0)


async def test_duplicate_code_against_the_database(
    engine: AsyncEngine, sessions: SessionFactory, tmp_path: Path
) -> None:
    await import_files(Writes(engine), [write(tmp_path / "a.json", {"activity_types": [TYPE]})])
    renamed = {"id": "act_type_001", "code": "renamed", "name": "Renamed"}
    taken = {"id": "act_type_002", "code": "one_on_one_session", "name": "Copy"}
    with pytest.raises(ImportRejected):
        await import_files(
            Writes(engine), [write(tmp_path / "b.json", {"activity_types": [taken]})]
        )
    # Moving a code from one type to another in a single import is fine.
    moved = write(tmp_path / "c.json", {"activity_types": [renamed, taken]})
    await import_files(Writes(engine), [moved])
    assert await counts(sessions) == (2, 0, 0)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"activities": {"id": 1}}', "activities: must be a list"),
        ('{"mentors": [7]}', "mentors[0]: must be a JSON object"),
    ],
)
async def test_malformed_documents(
    engine: AsyncEngine, sessions: SessionFactory, tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ImportRejected) as rejected:
        await import_files(Writes(engine), [path])
    assert problem in rejected.value.problems[0]


async def test_malformed_jsonl_lines(
    engine: AsyncEngine, sessions: SessionFactory, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"record": "mentor", "id": "m1", "name": "A"}\n{oops\n{"record": "robot"}\n')
    with pytest.raises(ImportRejected) as rejected:
        await import_files(Writes(engine), [path])
    assert [p.split(":")[0] for p in rejected.value.problems] == ["line 2", "line 3.record"]


@pytest.mark.slow
def test_cli_import_exit_codes_and_messages(database_url: str, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.json", {"mentors": [MENTOR], "activities": [an_activity(17)]})
    failed = run_cli("import", str(bad), database_url=database_url)
    assert failed.returncode == 1
    assert (
        "activities[0].activity_type_id: no activity type with id 'act_type_001'" in failed.stderr
    )
    assert "nothing was written" in failed.stderr
    good = write(tmp_path / "good.json", {"activity_types": [TYPE], "mentors": [MENTOR]})
    done = run_cli("import", str(good), database_url=database_url)
    assert done.returncode == 0, done.stderr
    assert "1 mentors" in done.stdout
    skipped = run_cli("import", "--if-empty", str(bad), database_url=database_url)
    assert skipped.returncode == 0
    assert "nothing imported" in skipped.stdout


def test_cli_export_schema_prints_the_sdl(database_url: str) -> None:
    result = run_cli("export-schema", database_url=database_url)
    assert result.returncode == 0
    checked_in = (Path(__file__).parents[1] / "schema.graphql").read_text()
    assert result.stdout == checked_in
