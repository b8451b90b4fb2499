"""The per-process cache: peer distributions from SQL and from the in-memory index agree,
and nothing cached outlives the data version."""

import random
from datetime import UTC, datetime, timedelta

from personal_stats.cache import InstantIndex, StatsCache, distribution, standing_in
from personal_stats.db import SessionFactory
from tests.helpers import activity, add, mentor


def test_standing_in_a_sorted_distribution() -> None:
    from array import array

    counts = array("l", [0, 0, 1, 3, 3, 3, 7])
    mine = standing_in(counts, 3)
    assert (mine.peers, mine.below, mine.equal) == (6, 3, 2)
    assert standing_in(counts, 0).below == 0
    assert standing_in(counts, 7).below == 6


async def test_index_and_sql_give_the_same_distribution(sessions: SessionFactory) -> None:
    rng = random.Random(7)
    origin = datetime(2023, 1, 1, tzinfo=UTC)
    rows: list[object] = [mentor(f"m{i}") for i in range(12)]
    for _ in range(600):
        instant = origin + timedelta(seconds=rng.randrange(3 * 365 * 86400))
        status = "cancelled" if rng.random() < 0.2 else "completed"
        rows.append(activity(f"m{rng.randrange(10)}", instant.isoformat(), status=status))
    # Exactly on window edges: counted at the start, not at the end.
    rows += [
        activity("m10", "2024-01-01T00:00:00+00:00"),
        activity("m11", "2025-06-30T00:00:00+00:00"),
    ]
    await add(sessions, *rows)
    async with sessions() as session:
        index = await InstantIndex.load(session)
        for start, end in [
            (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 6, 30, tzinfo=UTC)),
            (datetime(2022, 12, 31, 23, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
            (datetime(2023, 5, 5, 5, 5, 5, tzinfo=UTC), datetime(2023, 5, 6, tzinfo=UTC)),
        ]:
            assert list(index.distribution(start, end)) == list(
                await distribution(session, start, end)
            )


async def test_long_windows_use_the_index_once_built_and_follow_the_version(
    sessions: SessionFactory,
) -> None:
    await add(sessions, mentor("a"), mentor("b"), activity("a", "2024-03-01T10:00:00Z"))
    cache = StatsCache()
    cache.sessions = sessions
    start, end = datetime(2023, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)

    async def standing() -> tuple[int, int, int]:
        async with sessions() as session:
            found = await cache.standing(session, start, end, completed=1)
        return found.peers, found.below, found.equal

    await cache.prepare()
    assert await standing() == (1, 1, 0)  # counted in SQL while the index builds
    assert cache._building is not None
    await cache._building[1]
    cache._distributions.clear()
    assert await standing() == (1, 1, 0)  # counted from the index
    await add(
        sessions, activity("b", "2024-03-02T10:00:00Z"), activity("b", "2024-03-03T10:00:00Z")
    )
    from personal_stats.storage import bump_data_version

    async with sessions() as session:
        await bump_data_version(await session.connection())
        await session.commit()
    assert await standing() == (1, 0, 0)  # a new version: neither cache is used
    await cache.close()
