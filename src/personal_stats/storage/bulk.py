"""Bulk loads: the upserts of an import, by id, at the speed of the database driver.

An `ActivityWriter` takes the activities of one import, batch by batch, inside the import's
transaction. Rows equal to the stored ones are not written; for the others it notes whose
records changed and each completed instant added or taken away (the steps the peer index
follows). Into an empty table (a first load) it drops the secondary indexes and builds
them once at the end, which costs far less than keeping them up to date row by row; the
load is still one transaction, so readers see all of it or none.
- SQLite: the stored rows of a batch read first, then prepared `executemany` upserts of the
  new and changed ones on the driver's connection.
- PostgreSQL: `COPY` into a staging table; the new and changed rows found by one join, then
  one `INSERT ... SELECT` that keeps the last record of each id and updates only rows that
  differ. A first load builds a new table aside instead (indexes built once,
  references checked in one pass rather than by a deferred trigger per row at COMMIT) and
  swaps it in at the end: dropping the live table's indexes would lock readers out for the
  whole load (and could deadlock with them).
"""

import json
import logging
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Table, or_, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select

from personal_stats.storage.changes import Step, completed_steps, epoch_second
from personal_stats.storage.models import Activity, ActivityType, Mentor, table_of
from personal_stats.support import tracing

_ACTIVITY: Table = table_of(Activity)
LOG = logging.getLogger("personal_stats.writes")

ACTIVITY_COLUMNS = "id, mentor_id, activity_type_id, status, started_at, duration_minutes"
_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in ACTIVITY_COLUMNS.split(", ")[1:])
_UPSERT_ACTIVITY = {
    "sqlite": f"INSERT INTO activity ({ACTIVITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
    f"ON CONFLICT (id) DO UPDATE SET {_UPDATE}",
    "postgresql": f"INSERT INTO activity ({ACTIVITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) "
    f"ON CONFLICT (id) DO UPDATE SET {_UPDATE}",
}


@dataclass(frozen=True, slots=True)
class NewActivity:
    """An activity to write (a read is a `queries.ActivityRow`)."""

    id: str
    mentor_id: str
    activity_type_id: str
    status: str
    started_at: datetime  # aware
    duration_minutes: int


def _text_second(text: str) -> int:
    """The epoch second of an instant as SQLite stores it (`sqlite_instant`)."""
    return epoch_second(datetime.fromisoformat(text).replace(tzinfo=UTC))


def sqlite_instant(instant: datetime) -> str:
    """An instant as the UTC text SQLAlchemy's SQLite DateTime stores (and compares)."""
    utc = instant.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(sep=" ", timespec="microseconds")


async def write_reference_data(
    connection: AsyncConnection,
    types: Sequence[tuple[str, str, str]],
    mentors: Sequence[tuple[str, str, str]],
) -> tuple[list[str], list[str]]:
    """Upsert activity types (id, code, name) and mentors (id, name, timezone); the ids of
    the types and of the mentors that were new or different (the others are left as they
    were)."""
    type_table: Table = table_of(ActivityType)
    mentor_table: Table = table_of(Mentor)
    changed_types = await _upsert(connection, type_table, ("id", "code", "name"), types)
    changed_mentors = await _upsert(connection, mentor_table, ("id", "name", "timezone"), mentors)
    return changed_types, changed_mentors


async def _upsert(
    connection: AsyncConnection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[str, ...]],
) -> list[str]:
    """Insert the rows, or update those whose stored values differ: the ids written."""
    if not rows:
        return []
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    values = [name for name in columns if name != "id"]
    upsert = statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={name: statement.excluded[name] for name in values},
        where=or_(*(table.c[name].is_distinct_from(statement.excluded[name]) for name in values)),
    ).returning(table.c.id)
    found = await connection.execute(upsert, [dict(zip(columns, row, strict=True)) for row in rows])
    return [row[0] for row in found]


_STAGING = "activity_staging"
_COLUMNS = ACTIVITY_COLUMNS.split(", ")
_MOVE_STAGED = (
    f"INSERT INTO activity ({ACTIVITY_COLUMNS}) "
    f"SELECT DISTINCT ON (id) {ACTIVITY_COLUMNS} FROM {_STAGING} ORDER BY id, seq DESC "
    f"ON CONFLICT (id) DO UPDATE SET {_UPDATE} WHERE "
    f"({', '.join('activity.' + c for c in _COLUMNS[1:])}) "
    f"IS DISTINCT FROM ({', '.join('excluded.' + c for c in _COLUMNS[1:])})"
)


_STORED = f"SELECT {ACTIVITY_COLUMNS} FROM activity WHERE id IN (SELECT value FROM json_each(?))"
# The new and the present mentor, status and epoch second of each staged activity that is
# new or differs.
_EPOCH = "floor(extract(epoch FROM {}.started_at))::bigint"
_STAGED_CHANGES = (
    f"SELECT s.mentor_id, s.status, {_EPOCH.format('s')}, a.mentor_id, a.status, "
    f"{_EPOCH.format('a')} FROM (SELECT DISTINCT ON (id) {ACTIVITY_COLUMNS} "
    f"FROM {_STAGING} ORDER BY id, seq DESC) s LEFT JOIN activity a ON a.id = s.id "
    f"WHERE a.id IS NULL OR ({', '.join('a.' + c for c in _COLUMNS[1:])}) "
    f"IS DISTINCT FROM ({', '.join('s.' + c for c in _COLUMNS[1:])})"
)


class ActivityWriter:
    """See the module's docstring."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.bulk = False
        self.written = 0  # activities sent to the database
        self.changed: set[str] = set()  # mentors whose activities this write changes
        self.steps: list[Step] = []  # completed instants it adds or takes away

    @staticmethod
    async def open(connection: AsyncConnection) -> "ActivityWriter":
        writer_class = SqliteWriter if connection.dialect.name == "sqlite" else PostgresWriter
        writer = writer_class(connection)
        await writer.start()
        return writer

    async def start(self) -> None:
        """Called first, in the write transaction (`write_transaction`)."""
        found = await self.connection.execute(select(col(Activity.id)).limit(1))
        self.bulk = found.first() is None

    async def write(self, rows: Sequence[NewActivity]) -> None:
        raise NotImplementedError

    async def before_references(self) -> None:
        """Called before mentors and activity types are written."""

    async def finish(self) -> bool:
        """Called last, before the commit: True for a first load that wrote anything (it
        changed everyone's activities), else the write's changes are in `changed` and
        `steps`."""
        return self.bulk and self.written > 0

    def note(self, before: tuple[str, str, int] | None, after: tuple[str, str, int]) -> None:
        """One activity written: from `before` (mentor, status, epoch second; None: new)."""
        self.changed.add(after[0])
        if before is not None:
            self.changed.add(before[0])  # an activity moved to another mentor changes both
        self.steps += completed_steps(before, after)

    async def _driver(self) -> Any:
        raw = await self.connection.get_raw_connection()
        return raw.driver_connection


class SqliteWriter(ActivityWriter):
    """The write transaction is BEGIN IMMEDIATE: one writer at a time, and readers keep
    reading their snapshots (WAL) even while the indexes are dropped and rebuilt."""

    async def start(self) -> None:
        await super().start()
        if self.bulk:
            for index in _ACTIVITY.indexes:
                await self.connection.run_sync(index.drop)

    async def write(self, rows: Sequence[NewActivity]) -> None:
        """Upsert the rows that are new or differ from the stored ones (the last of each id)."""
        latest = {
            r.id: (r.id, r.mentor_id, r.activity_type_id, r.status, sqlite_instant(r.started_at),
                   r.duration_minutes)
            for r in rows
        }  # fmt: skip
        driver = await self._driver()
        if not self.bulk:
            cursor = await driver.execute(_STORED, (json.dumps(list(latest)),))
            stored = {row[0]: tuple(row) for row in await cursor.fetchall()}
            for activity_id, row in list(latest.items()):
                before = stored.get(activity_id)
                if before == row:
                    del latest[activity_id]
                    continue
                was = None if before is None else (before[1], before[3], _text_second(before[4]))
                self.note(was, (row[1], row[3], _text_second(row[4])))
        if latest:
            self.written += len(latest)
            with tracing.batch_span("sqlite", "INSERT", len(latest)):
                await driver.executemany(_UPSERT_ACTIVITY["sqlite"], list(latest.values()))

    async def before_references(self) -> None:
        # Writing a mentor looks up its activities for the deferred references: by index.
        if self.bulk:
            for index in _ACTIVITY.indexes:
                await self.connection.run_sync(index.create)


class PostgresWriter(ActivityWriter):
    async def start(self) -> None:
        await super().start()
        await self.connection.execute(
            text(f"CREATE TEMP TABLE {_STAGING} (seq bigserial, LIKE activity) ON COMMIT DROP")
        )

    async def write(self, rows: Sequence[NewActivity]) -> None:
        records = [
            (r.id, r.mentor_id, r.activity_type_id, r.status, r.started_at, r.duration_minutes)
            for r in rows
        ]
        driver = await self._driver()
        with tracing.batch_span("postgresql", "COPY", len(records)):
            await driver.copy_records_to_table(_STAGING, records=records, columns=_COLUMNS)
        self.written += len(records)

    async def finish(self) -> bool:
        if not self.written:
            return False
        if not self.bulk:
            found = await self.connection.execute(text(_STAGED_CHANGES))
            for new_mentor, new_status, new_second, old_mentor, old_status, old_second in found:
                was = None if old_mentor is None else (old_mentor, old_status, old_second)
                self.note(was, (new_mentor, new_status, new_second))
            if self.changed:
                await self.connection.execute(text(_MOVE_STAGED))
            return False
        # A first load: the table is built aside, with its indexes and references, and swapped
        # in at the end, so readers wait only for the rename, never for the load.
        for statement in _first_load_statements():
            await self.connection.execute(text(statement))
        return True


REPLACED = "activity_replaced_"  # and a suffix of its own, as several may wait to be dropped


def _first_load_statements() -> list[str]:
    """Build the loaded table aside, with its indexes and references, then put it in the
    place of the empty one. The replaced table is renamed, not dropped: dropping it would
    drop its references' triggers on `mentor` and `activity_type`, which locks those tables
    against readers that may be waiting for `activity` (a deadlock). It is dropped after
    the commit (`drop_replaced_table`)."""
    loaded = "activity_load"
    replaced = REPLACED + secrets.token_hex(4)
    statements = [
        f"CREATE TABLE {loaded} (LIKE activity INCLUDING DEFAULTS)",
        f"INSERT INTO {loaded} ({ACTIVITY_COLUMNS}) SELECT DISTINCT ON (id) {ACTIVITY_COLUMNS} "
        f"FROM {_STAGING} ORDER BY id, seq DESC",
        f"ALTER TABLE {loaded} ADD CONSTRAINT {loaded}_pkey PRIMARY KEY (id)",
    ]
    for index in _ACTIVITY.indexes:
        columns = ", ".join(column.name for column in index.columns)
        statements.append(f"CREATE INDEX {index.name}_load ON {loaded} ({columns})")
    statements += [_add_reference(c, loaded) for c in _ACTIVITY.foreign_key_constraints]
    statements += [
        "LOCK TABLE activity IN ACCESS EXCLUSIVE MODE",
        f"ALTER TABLE activity RENAME TO {replaced}",
        f"ALTER INDEX activity_pkey RENAME TO {replaced}_pkey",
        *(
            f"ALTER INDEX {i.name} RENAME TO {replaced}_{n}"
            for n, i in enumerate(_ACTIVITY.indexes)
        ),
        f"ALTER TABLE {loaded} RENAME TO activity",
        f"ALTER INDEX {loaded}_pkey RENAME TO activity_pkey",
        *(f"ALTER INDEX {i.name}_load RENAME TO {i.name}" for i in _ACTIVITY.indexes),
    ]
    return statements


async def drop_replaced_table(engine: AsyncEngine) -> None:
    """Drop the tables first loads replaced, if any (PostgreSQL). Their triggers on the
    referenced tables need those tables alone for a moment: the lock is waited for briefly,
    and when readers hold it, the next write tries again."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as connection:
        found = await connection.execute(
            text("SELECT tablename FROM pg_tables WHERE tablename LIKE :pattern"),
            {"pattern": REPLACED.replace("_", r"\_") + "%"},
        )
        names = list(found.scalars())
    for name in names:
        try:
            async with engine.begin() as connection:
                await connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
                await connection.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
        except DBAPIError:
            LOG.info("a replaced activity table is still in use; it is dropped later")


def _fk_name(constraint: ForeignKeyConstraint) -> str:
    """PostgreSQL's name of an activity reference (the models leave it unnamed)."""
    return str(constraint.name or f"activity_{constraint.column_keys[0]}_fkey")


def _add_reference(constraint: ForeignKeyConstraint, table: str) -> str:
    """The reference as the models declare it. (SQLAlchemy's `AddConstraint` would also mark
    the model's constraint as added apart, dropping it from every later CREATE TABLE.)"""
    (element,) = constraint.elements
    target = element.column
    options = " DEFERRABLE" if constraint.deferrable else ""
    if constraint.initially:
        options += f" INITIALLY {constraint.initially}"
    return (
        f"ALTER TABLE {table} ADD CONSTRAINT {_fk_name(constraint)} "
        f"FOREIGN KEY ({element.parent.name}) REFERENCES {target.table.name} ({target.name})"
        f"{options}"
    )


async def stored_type_codes(connection: AsyncConnection) -> dict[str, str]:
    """The code of every stored activity type, by id."""
    rows = await connection.execute(select(col(ActivityType.id), col(ActivityType.code)))
    return {row[0]: row[1] for row in rows}


async def stored_mentors(connection: AsyncConnection, mentor_ids: Collection[str]) -> set[str]:
    """Those of these mentors that are stored."""
    found = await connection.execute(select(col(Mentor.id)).where(col(Mentor.id).in_(mentor_ids)))
    return set(found.scalars())


async def has_mentors(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        found = await connection.execute(select(col(Mentor.id)).limit(1))
        return found.first() is not None
