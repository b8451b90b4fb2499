"""Bulk writes for imports and seeding: upserts by id, at the speed of the database driver."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, update

from personal_stats.models import ActivityType, DataVersion, Mentor

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


def sqlite_instant(instant: datetime) -> str:
    """An instant as the UTC text SQLAlchemy's SQLite DateTime stores (and compares)."""
    utc = instant.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(sep=" ", timespec="microseconds")


async def write_activities(connection: AsyncConnection, rows: Sequence[NewActivity]) -> None:
    """Upsert activities through the driver's executemany; later rows win."""
    dialect = connection.dialect.name
    params: list[tuple[object, ...]]
    if dialect == "sqlite":
        params = [
            (r.id, r.mentor_id, r.activity_type_id, r.status, sqlite_instant(r.started_at),
             r.duration_minutes)
            for r in rows
        ]  # fmt: skip
    else:
        params = [
            (r.id, r.mentor_id, r.activity_type_id, r.status, r.started_at, r.duration_minutes)
            for r in rows
        ]
    raw = await connection.get_raw_connection()
    await raw.driver_connection.executemany(_UPSERT_ACTIVITY[dialect], params)  # type: ignore[union-attr]


async def write_reference_data(
    connection: AsyncConnection,
    types: Sequence[tuple[str, str, str]],
    mentors: Sequence[tuple[str, str, str]],
) -> None:
    """Upsert activity types (id, code, name) and mentors (id, name, timezone)."""
    await _upsert(connection, ActivityType.__table__, ("id", "code", "name"), types)  # type: ignore[attr-defined]
    await _upsert(connection, Mentor.__table__, ("id", "name", "timezone"), mentors)  # type: ignore[attr-defined]
    await bump_data_version(connection)


async def bump_data_version(connection: AsyncConnection) -> None:
    await connection.execute(
        update(DataVersion)
        .where(col(DataVersion.id) == 1)
        .values(version=col(DataVersion.version) + 1, changed_at=datetime.now(UTC))
    )


async def _upsert(
    connection: AsyncConnection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[str, ...]],
) -> None:
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={name: statement.excluded[name] for name in columns if name != "id"},
    )
    await connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])
