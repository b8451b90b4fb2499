"""The peer index: its standings equal a naive count of the same instants, every way it
counts a window; and the service uses it only for its own data version."""

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from personal_stats import peers, stats
from personal_stats.db import SessionFactory
from personal_stats.ingest import import_files
from personal_stats.models import Activity
from personal_stats.params import WindowArgs
from personal_stats.peers import PeerIndex
from personal_stats.reads import Standing
from personal_stats.service import StatsService
from personal_stats.settings import Settings
from personal_stats.storage import InstantTable
from personal_stats.storage.writes import delete_activity, erase_mentor
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


async def test_after_writes_the_index_refreshes_from_the_change_log(
    sessions: SessionFactory, engine: Any, tmp_path: Path
) -> None:
    """Upserts (one moving an activity to another mentor), a deleted activity and an erased
    mentor: the refreshed index equals one loaded whole, and it was refreshed, not loaded."""
    rows: list[object] = [mentor(f"m{i}") for i in range(6)]
    for i in range(60):
        at = (ORIGIN + timedelta(days=i * 5)).isoformat()
        rows.append(activity(f"m{i % 5}", at))
    await add(sessions, *rows)
    service = StatsService(Settings(database_url=database_url(sessions)))
    try:
        await service.start()
        assert service.peers.building is not None
        await service.peers.building[1]
        first = service.peers.index
        assert first is not None
        more = tmp_path / "more.jsonl"
        records = [
            {"record": "mentor", "id": "m9", "name": "New"},
            {"record": "activity", "id": "n1", "mentor_id": "m9", "activity_type_id": "t1",
             "status": "completed", "started_at": "2023-02-01T10:00:00Z", "duration_minutes": 5},
        ]  # fmt: skip
        async with sessions() as session:
            moved = await session.get(Activity, rows[7].id)  # type: ignore[attr-defined]
        assert moved is not None
        records.append({"record": "activity", "id": moved.id, "mentor_id": "m5",
                        "activity_type_id": "t1", "status": "completed",
                        "started_at": "2023-03-01T10:00:00Z", "duration_minutes": 5})  # fmt: skip
        more.write_text("\n".join(json.dumps(r) for r in records))
        await import_files(engine, [more])
        async with engine.begin() as connection:
            assert await delete_activity(connection, rows[8].id)  # type: ignore[attr-defined]
        async with engine.begin() as connection:
            assert await erase_mentor(connection, "m3")
        await service.ask(stats.find_mentor("m0"))  # a request sees the new version
        assert service.peers.building is not None
        await service.peers.building[1]
        refreshed = service.peers.index
        assert refreshed is not None
        assert refreshed.version > first.version
        assert service.peers.refreshes == 1
        assert service.peers.loads == 1
        whole = PeerIndex.build(await service.store.instants())
        assert whole.version == refreshed.version
        assert refreshed.mentors == whole.mentors == 6  # m3 erased, m9 new
        for start, end in [(ORIGIN, ORIGIN + timedelta(days=400)),
                           (ORIGIN + timedelta(days=20), ORIGIN + timedelta(days=31))]:  # fmt: skip
            for count in range(5):
                assert refreshed.standing(start, end, count) == whole.standing(start, end, count)
    finally:
        await service.close()
