"""What subscription events share and reuse (`graphql.sharing`, `graphql.reuse`): the
questions declared as read from the mentor's own records alone, the stamps that say when
such an answer still stands, the text of a shared result, and the turns payloads take."""

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import orjson

from personal_stats.adapters.graphql.reuse import stamp
from personal_stats.adapters.graphql.sharing import Payloads, Texts, Use
from personal_stats.core import questions
from personal_stats.core.reads import Read
from personal_stats.core.stats import find_mentor
from personal_stats.service.live import STATS_CHANGED, Event, OwnChanges
from personal_stats.service.stats_service import StatsService, UnitOfWork
from personal_stats.storage import Snapshot
from personal_stats.storage.feed import Changes
from personal_stats.support.settings import Settings
from tests.helpers import SessionFactory, activity, activity_type, add, database_url, mentor

ASKED = [value for value in vars(questions).values() if isinstance(value, questions.Asked)]


class RecordingWork(UnitOfWork):
    """A unit of work that notes every read its questions make."""

    def __init__(self, service: StatsService, stack: AsyncExitStack) -> None:
        super().__init__(service, stack)
        self.reads: list[Read] = []

    async def _answer(self, read: Read, snapshot: Snapshot) -> Any:
        self.reads.append(read)
        return await super()._answer(read, snapshot)


def read_elsewhere(reads: list[Read], mentor_id: str) -> list[Read]:
    """The reads that are not of the mentor's own records or of today's date."""
    own = {"mentors": lambda r: r.ids == (mentor_id,), "today": lambda r: True,
           "activities": lambda r: r.mentor_id == mentor_id,
           "local_activities": lambda r: r.mentor_id == mentor_id,
           "milestones": lambda r: r.mentor_id == mentor_id,
           "first_activity": lambda r: r.mentor_id == mentor_id}  # fmt: skip
    return [r for r in reads if not (r.kind in own and own[r.kind](r))]


async def test_the_questions_of_own_records_read_nothing_else(sessions: SessionFactory) -> None:
    """Every question declared `own_records` reads only the mentor, its activities and
    today's date; the others (the summary's rank, the breakdown's types) read more, which
    is why they are asked at every event."""
    own, other = activity("m1", "2026-03-20T10:00:00Z"), activity("m2", "2026-03-21T10:00:00Z")
    await add(sessions, activity_type("t1"), mentor("m1"), mentor("m2"), own, other)
    service = StatsService(Settings(database_url=database_url(sessions)))
    try:
        declared = set()
        for asked in ASKED:
            async with AsyncExitStack() as stack:
                work = RecordingWork(service, stack)
                await work.answer(asked.ask, "m1", *(record() for record in asked.records))
            elsewhere = read_elsewhere(work.reads, "m1")
            assert work.reads
            assert (elsewhere == []) is asked.own_records, (asked.description, elsewhere)
            declared |= {asked.ask.__name__} if asked.own_records else set()
        assert declared == {"monthly_series", "contribution_history", "contribution_calendar",
                            "personal_records"}  # fmt: skip
    finally:
        await service.close()


def test_a_stamp_holds_while_the_mentors_records_stand() -> None:
    own = OwnChanges()
    assert own.stamp("a", 1) is None  # nothing told yet
    own.add(Changes(5, {"a": 5}))
    assert own.stamp("a", 5) == (0, 5)
    assert own.stamp("b", 5) == (0, 0)
    assert own.stamp("a", 4) is None  # a changed after version 4
    assert own.stamp("a", 6) is None  # version 6 is not told yet
    own.add(Changes(7, {"b": 7}))
    assert own.stamp("a", 7) == (0, 5)  # as at version 5: a's records stand
    assert own.stamp("b", 7) == (0, 7)
    own.add(Changes(9, {}, everyone=8))  # the log could not tell whose records changed
    assert own.stamp("a", 9) == (0, 8)
    own.add(Changes(3, {}))  # the database was replaced: its version went back
    assert own.stamp("a", 3) == (1, 0)


def test_a_stamp_holds_for_a_quarter_of_an_hour() -> None:
    quarter_start = datetime(2026, 3, 25, 10, 0, tzinfo=UTC)
    quarter_end = datetime(2026, 3, 25, 10, 14, 59, tzinfo=UTC)
    next_quarter = datetime(2026, 3, 25, 10, 15, tzinfo=UTC)
    assert stamp((0, 5), quarter_start) == stamp((0, 5), quarter_end)
    assert stamp((0, 5), quarter_end) != stamp((0, 5), next_quarter)
    assert stamp(None, quarter_start) is None


def test_a_shared_results_text_is_made_once_and_reads_as_its_message() -> None:
    texts = Texts(size=2)
    data = {"statsChanged": {"dataVersion": 3, "mentor": {"name": 'Zoë "Z"', "n": [1, 2]}}}
    messages = [
        {"id": "1", "type": "next", "payload": {"data": data}},
        {"id": "two", "type": "next",
         "payload": {"data": data, "errors": [{"message": "m"}], "extensions": {"v": 3}}},
        {"id": "1", "type": "next", "payload": {"data": None}},
        {"id": "1", "type": "complete"},
        {"type": "pong"},
    ]  # fmt: skip
    for message in messages:
        assert orjson.loads(texts.message(message)) == message
    assert list(texts.kept) == [id(data)]  # the data of both nexts, made once
    for n in range(3):  # the oldest is let go past the size
        texts.message({"id": "1", "type": "next", "payload": {"data": {"n": n}}})
    assert len(texts.kept) == 2


class Payload:
    """What an event's `make` gives (the subscription gives a StatsChanged)."""

    _shared: Any = None


async def test_event_payloads_take_turns_and_a_subscriber_gone_gives_its_turn_back(
    sessions: SessionFactory,
) -> None:
    """With a pool of two connections one payload is made at a time: the payload of m2
    waits while m1's is made and used, and is made once m1's is let go. A subscriber that
    is gone while m1's payload is made (it had joined) does not keep it: without that, m2
    would wait for ever."""
    await add(sessions, mentor("m1"), mentor("m2"))
    service = StatsService(Settings(database_url=database_url(sessions), pool_size=2))
    payloads, go_on, made = Payloads(), asyncio.Event(), []

    def maker(mentor_id: str, held: bool) -> Any:
        async def make(work: UnitOfWork) -> Payload:
            made.append(mentor_id)
            await work.answer(find_mentor, mentor_id)
            if held:
                await go_on.wait()
            return Payload()

        return make

    try:
        first = asyncio.ensure_future(
            payloads.take(service, "m1", Event(STATS_CHANGED, "m1", 2), maker("m1", True))
        )
        joining = asyncio.ensure_future(
            payloads.take(service, "m1", Event(STATS_CHANGED, "m1", 2), maker("m1", True))
        )
        second = asyncio.ensure_future(
            payloads.take(service, "m2", Event(STATS_CHANGED, "m2", 2), maker("m2", False))
        )
        await asyncio.sleep(0.2)
        assert made == ["m1"]  # m2's waits its turn; the joining one makes nothing
        joining.cancel()
        go_on.set()
        shared = await asyncio.wait_for(first, 5)
        await asyncio.sleep(0.2)
        assert made == ["m1"]  # m1's payload is in use: still its turn
        payloads.release(Use(shared))
        other = await asyncio.wait_for(second, 5)
        assert made == ["m1", "m2"]
        payloads.release(Use(other))
    finally:
        await service.close()
