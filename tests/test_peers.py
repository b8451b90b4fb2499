"""The peer index: its standings equal a naive count of the same instants, every way it
counts a window; and the service uses it only for its own data version."""

import asyncio
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlmodel import select

from personal_stats.core import stats
from personal_stats.core.figures import standing_among
from personal_stats.core.params import WindowArgs
from personal_stats.core.reads import Question, Standing, StandingRead
from personal_stats.service import peer_base, peer_index
from personal_stats.service.ingest import import_files
from personal_stats.service.peer_index import PeerIndex
from personal_stats.service.stats_service import StatsService
from personal_stats.storage import InstantTable, Writes
from personal_stats.storage.base import InstantChanges
from personal_stats.storage.changes import delete_activity, erase_mentor
from personal_stats.storage.models import Activity, Mentor
from personal_stats.support.settings import Settings
from tests.helpers import SessionFactory, activity, add, ask, database_url, mentor

ORIGIN = datetime(2023, 1, 1, tzinfo=UTC)


def standing(index: PeerIndex, start: datetime, end: datetime, completed: int) -> Standing:
    return standing_among(index.window(start, end), completed)


def standing_corrected(
    index: PeerIndex, start: datetime, end: datetime, completed: int, changes: InstantChanges
) -> Standing:
    return standing_among(index.window_corrected(start, end, changes), completed)


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


@pytest.mark.parametrize("checkpoint_instants", [1, 10, 10**9])
def test_index_standing_equals_a_naive_count(
    monkeypatch: pytest.MonkeyPatch, checkpoint_instants: int
) -> None:
    """With a checkpoint at every instant, at every tenth, and at none but the first (then
    every window is counted instant by instant)."""
    monkeypatch.setattr(peer_base, "CHECKPOINT_INSTANTS", checkpoint_instants)
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
            assert standing(index, start, end, mine) == naive_standing(
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
            from personal_stats.storage.changes import bump_data_version

            await bump_data_version(await session.connection())
            await session.commit()
        await service.ask(stats.summary("m4", args))
        # A new version with nothing in the change log for it: only a recount can tell.
        assert service.peers.answered["standing sql"] == 2
    finally:
        await service.close()


async def test_after_writes_the_index_refreshes_from_the_change_log(
    sessions: SessionFactory, engine: Any, tmp_path: Path
) -> None:
    """Upserts (one moving an activity to another mentor) and a deleted activity: the index
    is refreshed, not loaded; then an erased mentor (whom the log does not name): loaded
    whole. Either way it equals one loaded whole."""
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
        await import_files(Writes(engine), [more])
        async with engine.begin() as connection:
            assert await delete_activity(connection, rows[8].id)  # type: ignore[attr-defined]
        await service.ask(stats.find_mentor("m0"))  # a request sees the new version
        assert service.peers.building is not None
        await service.peers.building[1]
        assert service.peers.refreshes == 1
        assert service.peers.loads == 1
        # An erasure names nobody in the change log: the index is loaded whole.
        async with engine.begin() as connection:
            assert await erase_mentor(connection, "m3")
        await service.ask(stats.find_mentor("m0"))
        assert service.peers.building is not None
        await service.peers.building[1]
        refreshed = service.peers.index
        assert refreshed is not None
        assert refreshed.version > first.version
        assert service.peers.refreshes == 1
        assert service.peers.loads == 2
        whole = PeerIndex.build(await service.store.instants())
        assert whole.version == refreshed.version
        assert refreshed.mentors == whole.mentors == 6  # m3 erased, m9 new
        for start, end in [(ORIGIN, ORIGIN + timedelta(days=400)),
                           (ORIGIN + timedelta(days=20), ORIGIN + timedelta(days=31))]:  # fmt: skip
            for count in range(5):
                assert standing(refreshed, start, end, count) == standing(whole, start, end, count)
    finally:
        await service.close()


def _table(version: int, mentors: int, instants: dict[str, list[int]]) -> InstantTable:
    ids = [m for m, seconds in instants.items() if seconds]
    numbers = np.array([i for i, m in enumerate(ids) for _ in instants[m]], dtype=np.int64)
    seconds = np.array([s for m in ids for s in instants[m]], dtype=np.int64)
    return InstantTable(version, mentors, ids, numbers, seconds)


def _naive(instants: dict[str, list[int]], mentors: int, mine: int, start: int, end: int) -> Any:
    """The standing among `mentors` mentors (those absent from `instants` have none)."""
    counts = [sum(1 for s in seconds if start <= s < end) for seconds in instants.values()]
    counts += [0] * (mentors - len(counts))
    counts.remove(mine)
    below = sum(1 for c in counts if c < mine)
    return Standing(mentors - 1, below, sum(1 for c in counts if c == mine))


def _steps(
    before: dict[str, list[int]], after: dict[str, list[int]], version: int, mentors: int
) -> InstantChanges:
    """The change log's steps from `before` to `after`: each instant added or taken away."""
    rows = []
    for mentor_id in sorted(before.keys() | after.keys()):
        old, new = Counter(before.get(mentor_id, [])), Counter(after.get(mentor_id, []))
        rows += [(mentor_id, s, 1) for s in (new - old).elements()]
        rows += [(mentor_id, s, -1) for s in (old - new).elements()]
    random.Random(version).shuffle(rows)
    return InstantChanges.of(version, mentors, rows)


@pytest.mark.parametrize(
    ("overlay_limit", "checkpoint_instants"), [(10**9, 10**9), (0, 10), (40, 1)]
)
def test_a_refreshed_index_equals_one_built_whole(
    monkeypatch: pytest.MonkeyPatch, overlay_limit: int, checkpoint_instants: int
) -> None:
    """Twenty versions of random changes (instants added and taken away, new mentors,
    emptied and erased ones), each refreshed from the last: standings, windows carried over
    in the sorted-count cache and the streaks' look back all equal a naive count of that
    version's instants; and so does every standing of the older index corrected by the
    steps since. A limit of 0 merges the overlay into the base at every refresh; 40, now
    and then."""
    monkeypatch.setattr(peer_index, "OVERLAY_LIMIT", overlay_limit)
    monkeypatch.setattr(peer_base, "CHECKPOINT_INSTANTS", checkpoint_instants)
    rng = random.Random(5)
    origin, span = int(ORIGIN.timestamp()), 2 * 365 * 86400
    instants = {f"m{i}": [origin + rng.randrange(span) for _ in range(rng.randrange(30))]
                for i in range(12)}  # fmt: skip
    instants["m0"] += instants["m0"][:2]  # the same instant twice
    mentors = 15  # three mentors never complete anything
    index = PeerIndex.build(_table(1, mentors, instants))
    first_base = index.base
    windows = [(origin + rng.randrange(span), 0) for _ in range(6)]
    windows = [(s, s + rng.choice([86400, 30 * 86400, span])) for s, _ in windows]
    for start, end in windows * 2:  # seen twice: their sorted counts are kept
        standing(index, datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC), 0)
    assert len(index.windows) == len(windows)
    for version in range(2, 22):
        before = {m: list(s) for m, s in instants.items()}
        for mentor_id in sorted(set(rng.sample(sorted(instants), 3)) | {f"n{version}"}):
            kind = rng.random()
            if kind < 0.2 and mentor_id in instants:  # erased
                del instants[mentor_id]
                mentors -= 1
                continue
            mentors += mentor_id not in instants
            mine = instants.setdefault(mentor_id, [])
            if kind < 0.3:
                mine.clear()
            for _ in range(rng.randrange(min(len(mine), 6) + 1)):
                mine.remove(rng.choice(mine))
            mine += [origin + rng.randrange(span) for _ in range(rng.randrange(8))]
        changes = _steps(before, instants, version, mentors)
        older, index = index, index.refreshed(changes)
        assert len(index.windows) == len(windows)  # carried over, corrected
        for start, end in windows:
            low, high = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
            for mentor_id, seconds in instants.items():
                mine = sum(1 for s in seconds if start <= s < end)
                expected = _naive(instants, mentors, mine, start, end)
                assert standing(index, low, high, mine) == expected, (version, mentor_id)
                assert standing_corrected(older, low, high, mine, changes) == expected
                newest = sorted((s for s in seconds if s < end), reverse=True)[:4]
                assert index.completed_before(mentor_id, high, 4) == newest
                since = changes.by_mentor.get(mentor_id, ())
                assert older.completed_before(mentor_id, high, 4, since) == newest
    if overlay_limit == 0:
        assert len(index.steps) == 0  # merged every time
    if overlay_limit == 10**9:
        assert index.base is first_base  # never merged: every change is in the overlay


def test_a_standing_corrected_by_steps_equals_a_recount() -> None:
    """An index of version 1 and the steps since (one mentor new, one gone, one with more,
    one with an instant moved out of the window): the same standing as a naive count of
    the new instants, whether the window's sorted counts are kept or not."""
    origin = int(ORIGIN.timestamp())
    before = {"a": [origin + 10, origin + 20], "b": [origin + 30], "c": [origin + 40],
              "e": [origin + 50]}  # fmt: skip
    after = {"a": [origin + 10, origin + 20], "b": [origin + 30, origin + 31, origin + 32],
             "d": [origin + 5], "e": [origin + 500]}  # fmt: skip
    start, end = datetime.fromtimestamp(origin, UTC), datetime.fromtimestamp(origin + 100, UTC)
    mentors = 6  # c is gone, d came: two idle mentors still
    for kept in (False, True):
        index = PeerIndex.build(_table(1, 6, before))
        if kept:
            for _ in range(2):
                standing(index, start, end, 0)
            assert index.windows
        changes = _steps(before, after, 2, mentors)
        for mine in (0, 1, 2, 3):
            expected = _naive(after, mentors, mine, origin, origin + 100)
            assert standing_corrected(index, start, end, mine, changes) == expected, (kept, mine)


def _standing(start: datetime, end: datetime, completed: int) -> Question[Standing]:
    standing: Standing = yield StandingRead(start, end, completed)
    return standing


async def _recount(sessions: SessionFactory, start: datetime, end: datetime) -> list[int]:
    """Every mentor's completed count in [start, end), counted here from all the rows."""
    async with sessions() as session:
        mentors = list((await session.exec(select(Mentor.id))).all())
        rows = (await session.exec(select(Activity))).all()
    return [sum(1 for a in rows if a.mentor_id == m and a.status == "completed"
                and start <= a.started_at.replace(tzinfo=UTC) < end) for m in mentors]  # fmt: skip


def _among(counts: list[int], mine: int) -> Standing:
    others = list(counts)
    others.remove(mine)
    below = sum(1 for c in others if c < mine)
    return Standing(len(others), below, sum(1 for c in others if c == mine))


async def test_while_the_next_index_is_made_standings_are_corrected_not_recounted(
    sessions: SessionFactory, engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh is held back (an event) across upserts, a new mentor, an activity moved
    out of a window and one moved to another mentor and a delete: every standing
    comes from the old index corrected in the request's snapshot, equal to a recount; once
    the refresh is let through, the refreshed index answers, equal again."""
    rows: list[Any] = [mentor(f"m{i}") for i in range(6)]
    for i in range(60):
        rows.append(activity(f"m{i % 5}", (ORIGIN + timedelta(days=i * 5)).isoformat()))
    await add(sessions, *rows)
    service = StatsService(Settings(database_url=database_url(sessions)))
    try:
        await service.start()
        assert service.peers.building is not None
        await service.peers.building[1]
        gate, changes = asyncio.Event(), service.store.changes

        async def held_changes(since: int) -> Any:
            await gate.wait()
            return await changes(since)

        monkeypatch.setattr(service.store, "changes", held_changes)
        inside, moved = rows[6], rows[7]  # m0's and m1's, on day 0 and day 5
        records = [
            {"record": "mentor", "id": "m9", "name": "New"},
            {"record": "activity", "id": "n1", "mentor_id": "m9", "activity_type_id": "t1",
             "status": "completed", "started_at": "2023-01-03T10:00:00Z", "duration_minutes": 5},
            {"record": "activity", "id": inside.id, "mentor_id": "m0", "activity_type_id": "t1",
             "status": "completed", "started_at": "2024-06-01T10:00:00Z", "duration_minutes": 5},
            {"record": "activity", "id": moved.id, "mentor_id": "m5", "activity_type_id": "t1",
             "status": "completed", "started_at": "2023-01-06T10:00:00Z", "duration_minutes": 5},
        ]  # fmt: skip
        more = tmp_path / "more.jsonl"
        more.write_text("\n".join(json.dumps(r) for r in records))
        await import_files(Writes(engine), [more])
        async with engine.begin() as connection:
            assert await delete_activity(connection, rows[8].id)
        windows = [(ORIGIN, ORIGIN + timedelta(days=20)), (ORIGIN, ORIGIN + timedelta(days=400)),
                   (ORIGIN + timedelta(days=20), ORIGIN + timedelta(days=31))]  # fmt: skip
        for answering in ("standing corrected", "standing index"):
            if answering == "standing index":
                gate.set()
                await service.ask(_standing(ORIGIN, ORIGIN, 0))  # follows the new version
                assert service.peers.building is not None
                await service.peers.building[1]
                assert service.peers.refreshes == 1
            service.peers.answered.clear()
            asked = 0
            for start, end in windows:
                counts = await _recount(sessions, start, end)
                assert len(counts) == 7  # m9 new
                for mine in sorted(set(counts)):
                    got = await service.ask(_standing(start, end, mine))
                    assert got == _among(counts, mine), (answering, start, end, mine)
                    asked += 1
            assert service.peers.answered == {answering: asked}
        assert service.peers.loads == 1
    finally:
        await service.close()


def test_the_index_counts_how_it_found_a_window() -> None:
    """A window seen once is counted; seen twice, its sorted counts are kept; from then on
    they answer (a hit), ranked."""
    index = PeerIndex.build(_table(1, 4, {"a": [10, 20, 30], "b": [20], "c": [15, 25]}))
    start, end = datetime.fromtimestamp(15, UTC), datetime.fromtimestamp(30, UTC)
    found = [index.window(start, end) for _ in range(3)]
    assert [p.ranked for p in found] == [False, True, True]
    assert (index.hits, index.misses) == (1, 2)
    assert sorted(found[0].counts.tolist()) == [1, 1, 2]  # a: 20; b: 20; c: 15, 25
    assert [c.tolist() for c in (found[1].counts, found[2].counts)] == [[1, 1, 2]] * 2
    assert found[0].mentors == 4  # the fourth mentor, with none, is left out of the counts
    for counted in found:
        assert standing_among(counted, 1) == Standing(peers=3, below=1, equal=1)
