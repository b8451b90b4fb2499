"""The SQL the stats core runs, as Core statements (no ORM objects on the hot path). Every
query is bounded by one mentor's rows in a time range, except the peer distribution, which
counts all mentors' completed activities in a window and is cached (see `cache`)."""

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Integer, Table, bindparam, func, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from personal_stats.models import Activity, ActivityType, DataVersion, Mentor

COMPLETED = "completed"
ACTIVITY: Table = Activity.__table__  # type: ignore[attr-defined]
MENTOR: Table = Mentor.__table__  # type: ignore[attr-defined]
ACTIVITY_TYPE: Table = ActivityType.__table__  # type: ignore[attr-defined]
DATA_VERSION: Table = DataVersion.__table__  # type: ignore[attr-defined]
_VERSION_KEY = "personal_stats.data_version"


@dataclass(frozen=True, slots=True)
class MentorRow:
    id: str
    name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class TypeRow:
    id: str
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class ActivityRow:
    started_at: datetime
    completed: bool
    minutes: int
    type_id: str


# Statements are built once: building and keying a statement costs more than running it.
_a, _m, _t, _v = ACTIVITY.c, MENTOR.c, ACTIVITY_TYPE.c, DATA_VERSION.c
_DATA_VERSION = select(_v.version, _v.changed_at).where(_v.id == 1)
_MENTOR = select(_m.id, _m.name, _m.timezone).where(_m.id == bindparam("mentor_id"))
_MENTORS = select(_m.id, _m.name, _m.timezone).where(
    _m.id.in_(bindparam("mentor_ids", expanding=True))
)
_FIRST_ACTIVITY = select(func.min(_a.started_at)).where(_a.mentor_id == bindparam("mentor_id"))
_ACTIVITIES = select(_a.started_at, _a.status, _a.duration_minutes, _a.activity_type_id).where(
    _a.mentor_id == bindparam("mentor_id"),
    _a.started_at >= bindparam("start", type_=_a.started_at.type),
    _a.started_at < bindparam("end", type_=_a.started_at.type),
)
_COMPLETED_BEFORE = (
    select(_a.started_at)
    .where(
        _a.mentor_id == bindparam("mentor_id"),
        _a.status == COMPLETED,
        _a.started_at < bindparam("end", type_=_a.started_at.type),
    )
    .order_by(_a.started_at.desc())
    .limit(bindparam("batch", type_=Integer))
)
_COMPLETED_COUNTS = (
    select(func.count())
    .where(
        _a.status == COMPLETED,
        _a.started_at >= bindparam("start", type_=_a.started_at.type),
        _a.started_at < bindparam("end", type_=_a.started_at.type),
    )
    .group_by(_a.mentor_id)
)
_MENTOR_COUNT = select(func.count()).select_from(MENTOR)
_ACTIVITY_TYPES = select(_t.id, _t.code, _t.name)


async def _execute(
    session: AsyncSession, statement: Executable, parameters: dict[str, Any] | None = None
) -> Any:
    """Run a Core statement on the session's connection (its transaction and snapshot)."""
    connection = await session.connection()
    return await connection.execute(statement, parameters)


async def data_version(session: AsyncSession) -> tuple[int, datetime]:
    """The data version and when it last changed; read once per session, which is one
    snapshot of the data."""
    found: tuple[int, datetime] | None = session.info.get(_VERSION_KEY)
    if found is None:
        row = (await _execute(session, _DATA_VERSION)).one_or_none()
        if row is None:
            raise LookupError("the data_version row is missing: run `personal-stats migrate`")
        found = session.info[_VERSION_KEY] = (row[0], row[1])
    return found


async def get_mentor(session: AsyncSession, mentor_id: str) -> MentorRow | None:
    row = (await _execute(session, _MENTOR, {"mentor_id": mentor_id})).one_or_none()
    return MentorRow(*row) if row else None


async def get_mentors(session: AsyncSession, mentor_ids: Collection[str]) -> dict[str, MentorRow]:
    rows = await _execute(session, _MENTORS, {"mentor_ids": list(mentor_ids)})
    return {row[0]: MentorRow(*row) for row in rows}


async def first_activity_at(session: AsyncSession, mentor_id: str) -> datetime | None:
    found: datetime | None = (
        await _execute(session, _FIRST_ACTIVITY, {"mentor_id": mentor_id})
    ).scalar()
    return found


async def activities_between(
    session: AsyncSession, mentor_id: str, start: datetime, end: datetime
) -> list[ActivityRow]:
    """The mentor's activities with start <= started_at < end."""
    rows = await _execute(
        session, _ACTIVITIES, {"mentor_id": mentor_id, "start": start, "end": end}
    )
    return [
        ActivityRow(started_at, status == COMPLETED, minutes, type_id)
        for started_at, status, minutes, type_id in rows
    ]


async def completed_before(
    session: AsyncSession, mentor_id: str, end: datetime, batch: int = 512
) -> AsyncIterator[datetime]:
    """The mentor's completed activities before `end`, newest first, fetched in batches."""
    while True:
        parameters = {"mentor_id": mentor_id, "end": end, "batch": batch}
        instants = list((await _execute(session, _COMPLETED_BEFORE, parameters)).scalars())
        for instant in instants:
            yield instant
        if len(instants) < batch:
            return
        end = instants[-1]


async def completed_counts(session: AsyncSession, start: datetime, end: datetime) -> list[int]:
    """Completed activities in [start, end) of each mentor who has any."""
    rows = await _execute(session, _COMPLETED_COUNTS, {"start": start, "end": end})
    return list(rows.scalars())


async def mentor_count(session: AsyncSession) -> int:
    count: int = (await _execute(session, _MENTOR_COUNT)).scalar_one()
    return count


async def activity_types(session: AsyncSession) -> dict[str, TypeRow]:
    """Every activity type (a short list)."""
    return {row[0]: TypeRow(*row) for row in await _execute(session, _ACTIVITY_TYPES)}


async def completed_instants(session: AsyncSession) -> AsyncIterator[list[tuple[str, int]]]:
    """(mentor id, epoch second) of every completed activity, in time order, in chunks (so
    the whole table is never held at once)."""
    if session.bind and session.bind.dialect.name == "sqlite":
        second = "CAST(strftime('%s', started_at) AS INTEGER)"
    else:
        second = "CAST(floor(extract(epoch FROM started_at)) AS BIGINT)"
    statement = text(
        f"SELECT mentor_id, {second} FROM activity WHERE status = :status ORDER BY started_at"
    )
    connection = await session.connection()
    result = await connection.stream(statement, {"status": COMPLETED})
    async for rows in result.partitions(50_000):
        yield [(mentor_id, second) for mentor_id, second in rows]
