"""Import files: read, validate every record, then upsert them all in one transaction."""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select, update

from personal_stats.errors import ImportRejected
from personal_stats.models import Activity, ActivityType, DataVersion, Mentor
from personal_stats.records import (
    KINDS,
    SECTIONS,
    ActivityRecord,
    ActivityTypeRecord,
    Record,
    messages,
)

WRITE_BATCH = 5000


@dataclass
class Batch:
    """Valid records by kind and id (a later record with the same id wins), each with the
    location it was read from."""

    records: dict[str, dict[str, tuple[str, Record]]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    problems: list[str] = field(default_factory=list)

    def add(self, kind: str, location: str, raw: Any) -> None:
        if not isinstance(raw, dict):
            self.problems.append(f"{location}: must be a JSON object")
            return
        try:
            record = KINDS[kind].model_validate(raw)
        except ValidationError as error:
            for path, message in messages(error):
                self.problems.append(f"{location}.{path}: {message}")
            return
        self.records[kind][record.id] = (location, record)  # type: ignore[attr-defined]

    def of(self, kind: str) -> dict[str, tuple[str, Any]]:
        return self.records[kind]


@dataclass(frozen=True)
class ImportReport:
    activity_types: int
    mentors: int
    activities: int


def read_files(paths: Sequence[Path]) -> Batch:
    """Read and validate every record of the files; problems are collected, not raised.
    Locations name the file when there are several."""
    batch = Batch()
    for path in paths:
        prefix = f"{path}: " if len(paths) > 1 else ""
        try:
            if path.suffix == ".jsonl":
                _read_lines(path, prefix, batch)
            else:
                _read_document(path, prefix, batch)
        except OSError as error:
            batch.problems.append(f"{prefix}cannot read: {error.strerror or error}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            batch.problems.append(f"{prefix}not valid JSON: {error}")
    return batch


def _read_document(path: Path, prefix: str, batch: Batch) -> None:
    with path.open("rb") as file:
        document = json.load(file)
    if not isinstance(document, dict):
        batch.problems.append(f"{prefix}the document must be a JSON object")
        return
    for section, kind in SECTIONS.items():
        items = document.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            batch.problems.append(f"{prefix}{section}: must be a list")
            continue
        for index, raw in enumerate(items):
            batch.add(kind, f"{prefix}{section}[{index}]", raw)


def _read_lines(path: Path, prefix: str, batch: Batch) -> None:
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            location = f"{prefix}line {number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as error:
                batch.problems.append(f"{location}: not valid JSON: {error.msg}")
                continue
            kind = raw.get("record") if isinstance(raw, dict) else None
            if kind not in KINDS:
                kinds = ", ".join(KINDS)
                batch.problems.append(f"{location}.record: must be one of {kinds}")
                continue
            batch.add(kind, location, raw)


async def import_files(engine: AsyncEngine, paths: Sequence[Path]) -> ImportReport:
    """Import the files atomically: every problem is reported and nothing is written, or
    every record is upserted by id."""
    batch = read_files(paths)
    async with engine.connect() as connection:
        connection = await connection.execution_options(sqlite_begin="IMMEDIATE")
        async with connection.begin():
            return await _write(connection, batch)


async def _write(connection: AsyncConnection, batch: Batch) -> ImportReport:
    """Check references against the database, then upsert, inside the caller's transaction."""
    batch.problems.extend(await _reference_problems(connection, batch))
    if batch.problems:
        raise ImportRejected(batch.problems)
    types = [record for _, record in batch.of("activity_type").values()]
    mentors = [record for _, record in batch.of("mentor").values()]
    activities = [record for _, record in batch.of("activity").values()]
    await _upsert(connection, ActivityType.__table__, types)  # type: ignore[attr-defined]
    await _upsert(connection, Mentor.__table__, mentors)  # type: ignore[attr-defined]
    await _upsert(connection, Activity.__table__, activities)  # type: ignore[attr-defined]
    await connection.execute(
        update(DataVersion)
        .where(col(DataVersion.id) == 1)
        .values(version=col(DataVersion.version) + 1, changed_at=datetime.now(UTC))
    )
    return ImportReport(len(types), len(mentors), len(activities))


async def has_mentors(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        found = await connection.execute(select(col(Mentor.id)).limit(1))
        return found.first() is not None


async def _reference_problems(connection: AsyncConnection, batch: Batch) -> list[str]:
    """Unknown mentors and activity types, and activity-type codes used twice."""
    type_rows = await connection.execute(select(col(ActivityType.id), col(ActivityType.code)))
    stored_types: dict[str, str] = {row[0]: row[1] for row in type_rows}
    stored_mentors = set((await connection.execute(select(col(Mentor.id)))).scalars())
    problems = []
    code_owner = {code: type_id for type_id, code in stored_types.items()}
    for type_id, (location, record) in batch.of("activity_type").items():
        assert isinstance(record, ActivityTypeRecord)
        if code_owner.get(stored_types.get(type_id, "")) == type_id:
            del code_owner[stored_types[type_id]]
        owner = code_owner.setdefault(record.code, type_id)
        if owner != type_id:
            problems.append(f"{location}.code: {record.code!r} is already the code of {owner!r}")
    type_ids = stored_types.keys() | batch.of("activity_type").keys()
    mentor_ids = stored_mentors | batch.of("mentor").keys()
    for location, record in batch.of("activity").values():
        assert isinstance(record, ActivityRecord)
        if record.mentor_id not in mentor_ids:
            problems.append(f"{location}.mentor_id: no mentor with id {record.mentor_id!r}")
        if record.activity_type_id not in type_ids:
            problems.append(
                f"{location}.activity_type_id: no activity type with id {record.activity_type_id!r}"
            )
    return problems


async def _upsert(connection: AsyncConnection, table: Table, records: list[Any]) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={
            column.name: statement.excluded[column.name]
            for column in table.c
            if column.name != "id"
        },
    )
    columns = [column.name for column in table.c]
    rows = ({name: getattr(record, name) for name in columns} for record in records)
    for chunk in _chunks(rows, WRITE_BATCH):
        await connection.execute(statement, chunk)


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(rows, size)):
        yield chunk
