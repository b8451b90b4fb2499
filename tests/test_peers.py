"""The peer index: its standings equal a naive count of the same instants, every way it
counts a window; and the service uses it only for its own data version."""

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from personal_stats import peers, stats
from personal_stats.db import SessionFactory
from personal_stats.params import WindowArgs
from personal_stats.peers import PeerIndex
from personal_stats.reads import Standing
from personal_stats.service import StatsService
from personal_stats.settings import Settings
from personal_stats.storage import InstantTable
from tests.helpers import activity, add, ask, database_url, mentor

ORIGIN = datetime(2023, 1, 1, tzinfo=UTC)


def naive_standing(
    instants: list[tuple[int, int]], mentors: int, me: int, start: int, end: int
) -> Standing:
    counts = [0] * mentors
    for owner, second in instants:
        if start <= second < end:
            counts[owner] += 1
    mine = counts[me]
    others = counts[:me] + counts[me + 1 :]
    return Standing(
        peers=mentors - 1,
        below=sum(1 for c in others if c < mine),
        equal=sum(1 for c in others if c == mine),
    )


@pytest.mark.parametrize("counting_limit", [0, 10, 10**9])
def test_index_standing_equals_a_naive_count(
    monkeypatch: pytest.MonkeyPatch, counting_limit: int
) -> None:
    """With a counting limit of 0 every window is searched, of 10**9 every window counted."""
    monkeypatch.setattr(peers, "_COUNTING_LIMIT", counting_limit)
    rng = random.Random(11)
    mentors = 9  # mentors 7 and 8 never complete anything
    instants = [(rng.randrange(7), int(ORIGIN.timestamp()) + rng.randrange(3 * 365 * 86400))
                for _ in range(700)]  # fmt: skip
    instants.append((3, int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())))  # on an edge
    owners = np.array([o for o, _ in instants], dtype=np.int64)
    seconds = np.array([s for _, s in instants], dtype=np.int64)
    ids = [str(i) for i in range(int(owners.max()) + 1)]
    index = PeerIndex.build(InstantTable(4, mentors, ids, owners, seconds))
    windows = [
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 6, 30, tzinfo=UTC)),
        (datetime(2022, 12, 31, 23, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2023, 5, 5, 5, 5, 5, tzinfo=UTC), datetime(2023, 5, 6, tzinfo=UTC)),
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)),
    ]
    for start, end in windows:
        for me in range(mentors):
            before = sorted((s for o, s in instants if o == me and s < end.timestamp()),
                            reverse=True)  # fmt: skip
            assert index.completed_before(str(me), end, 5) == before[:5]
            low, high = int(start.timestamp()), int(end.timestamp())
            mine = sum(1 for o, s in instants if o == me and low <= s < high)
            assert index.standing(start, end, mine) == naive_standing(
                instants, mentors, me, low, high
            )


async def test_the_index_answers_once_built_and_only_for_its_version(
    sessions: SessionFactory,
) -> None:
    rows: list[object] = [mentor(f"m{i}") for i in range(5)]
    rng = random.Random(3)
    for _ in range(200):
        instant = ORIGIN + timedelta(seconds=rng.randrange(2 * 365 * 86400))
        status = "cancelled" if rng.random() < 0.3 else "completed"
        rows.append(activity(f"m{rng.randrange(4)}", instant.isoformat(), status=status))
    await add(sessions, *rows)
    args = WindowArgs(start_date=ORIGIN.date(), end_date=(ORIGIN + timedelta(days=400)).date())
    # A new service each time: the first request of a service is counted in SQL.
    by_sql = [await ask(sessions, stats.summary(f"m{i}", args)) for i in range(5)]
    service = StatsService(Settings(database_url=database_url(sessions)))
    try:
        await service.ask(stats.summary("m0", args))
        assert service.peers.answered["standing sql"] == 1
        assert service.peers.building is not None
        await service.peers.building[1]
        assert service.peers.state()["ready"]
        by_index = [await service.ask(stats.summary(f"m{i}", args)) for i in range(5)]
        assert service.peers.answered["standing index"] == 5
        assert [s.peer_rank_percentile for s in by_index] == [
            s.peer_rank_percentile for s in by_sql
        ]
        await add(sessions, activity("m4", (ORIGIN + timedelta(days=3)).isoformat()))
        async with sessions() as session:
            from personal_stats.storage.writes import bump_data_version

            await bump_data_version(await session.connection())
            await session.commit()
        await service.ask(stats.summary("m4", args))
        assert service.peers.answered["standing sql"] == 2  # a new version: not the old index
    finally:
        await service.close()
