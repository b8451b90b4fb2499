"""The SQL the stats core runs. Every query is bounded by one mentor's rows in a time range,
except the peer distribution, which counts all mentors' completed activities in a window
(and is cached: see `peers`)."""

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from personal_stats.models import Activity, ActivityType, DataVersion, Mentor

COMPLETED = "completed"
CANCELLED = "cancelled"
STATUSES = (COMPLETED, CANCELLED)


@dataclass(frozen=True, slots=True)
class ActivityRow:
    started_at: datetime
    completed: bool
    minutes: int
    type_id: str


async def get_mentor(session: AsyncSession, mentor_id: str) -> Mentor | None:
    return await session.get(Mentor, mentor_id)


async def get_mentors(session: AsyncSession, mentor_ids: Collection[str]) -> dict[str, Mentor]:
    result = await session.exec(select(Mentor).where(col(Mentor.id).in_(mentor_ids)))
    return {mentor.id: mentor for mentor in result}


async def first_activity_at(session: AsyncSession, mentor_id: str) -> datetime | None:
    query = select(func.min(Activity.started_at)).where(Activity.mentor_id == mentor_id)
    return (await session.exec(query)).one()


async def activities_between(
    session: AsyncSession, mentor_id: str, start: datetime, end: datetime
) -> list[ActivityRow]:
    """The mentor's activities with start <= started_at < end."""
    query = select(
        Activity.started_at, Activity.status, Activity.duration_minutes, Activity.activity_type_id
    ).where(
        Activity.mentor_id == mentor_id,
        col(Activity.started_at) >= start,
        col(Activity.started_at) < end,
    )
    return [
        ActivityRow(started_at, status == COMPLETED, minutes, type_id)
        for started_at, status, minutes, type_id in await session.exec(query)
    ]


async def completed_before(
    session: AsyncSession, mentor_id: str, end: datetime, batch: int = 512
) -> AsyncIterator[datetime]:
    """The mentor's completed activities before `end`, newest first, fetched in batches."""
    while True:
        query = (
            select(Activity.started_at)
            .where(
                Activity.mentor_id == mentor_id,
                Activity.status == COMPLETED,
                col(Activity.started_at) < end,
            )
            .order_by(col(Activity.started_at).desc())
            .limit(batch)
        )
        instants = list(await session.exec(query))
        for instant in instants:
            yield instant
        if len(instants) < batch:
            return
        end = instants[-1]


async def completed_counts(session: AsyncSession, start: datetime, end: datetime) -> list[int]:
    """Completed activities in [start, end) of each mentor who has any."""
    query = (
        select(func.count())
        .where(
            Activity.status == COMPLETED,
            col(Activity.started_at) >= start,
            col(Activity.started_at) < end,
        )
        .group_by(col(Activity.mentor_id))
    )
    return list(await session.exec(query))


async def mentor_count(session: AsyncSession) -> int:
    return (await session.exec(select(func.count()).select_from(Mentor))).one()


async def activity_types(session: AsyncSession, ids: Collection[str]) -> dict[str, ActivityType]:
    result = await session.exec(select(ActivityType).where(col(ActivityType.id).in_(ids)))
    return {activity_type.id: activity_type for activity_type in result}


async def data_version(session: AsyncSession) -> DataVersion:
    """The version of the data and when it last changed."""
    found = await session.get(DataVersion, 1)
    if found is None:
        raise LookupError("the data_version row is missing: run `personal-stats migrate`")
    return found
