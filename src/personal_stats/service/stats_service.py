"""The service layer: built once by the composition root, asked by both adapters.

`StatsService` owns the store, the peer index and what every request of the process may
share (the activity types of a data version). Each HTTP request opens one `UnitOfWork`: one
read snapshot, opened with the request's first question and shared by all of them, and the
mentors the request has already loaded. Strawberry resolves sibling fields concurrently; the
unit of work runs their questions one after another on its one connection.
"""

import asyncio
import time
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from personal_stats.core.errors import NotFound, Unavailable
from personal_stats.core.figures import localize, standing_among
from personal_stats.core.limits import RateLimit
from personal_stats.core.reads import (
    ActivitiesRead,
    ActivityRow,
    ChangesRead,
    CompletedBeforeRead,
    CompletedCountsRead,
    LocalActivitiesRead,
    LocalActivity,
    MentorChangedRead,
    MentorRow,
    MentorsRead,
    Question,
    R,
    Read,
    Standing,
    StandingRead,
    TodayRead,
    TypeRow,
    TypesRead,
)
from personal_stats.core.stats import find_mentor
from personal_stats.core.tokens import TokenInfo
from personal_stats.core.windows import HISTORY_END, HISTORY_START, zone
from personal_stats.service.ingest import ImportReport, Source, import_sources
from personal_stats.service.live import Follower, Hub, Place
from personal_stats.service.peer_index import PeerIndex
from personal_stats.service.peers import Peers
from personal_stats.storage import (
    Changes,
    InstantChanges,
    Snapshot,
    Store,
    WriteLane,
    Writes,
    WriteTransaction,
    open_store,
)
from personal_stats.support import tracing
from personal_stats.support.settings import Settings


class StatsService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store = open_store(settings)
        self.peers = Peers(self.store)
        self.types: tuple[int, dict[str, TypeRow]] | None = None
        self.rate_limit = RateLimit(settings.ingest_rate_per_minute)
        self.writes = WriteLane(settings)  # every write's lane (see storage.write_lane)
        self.questions: Counter[str] = Counter()  # asked, or repeated in a unit of work
        self.live = Hub(settings.events_min_interval, settings.max_streams,
                        settings.max_streams_per_client)  # fmt: skip
        self.feed: asyncio.Task[None] | None = None
        self.untold: deque[Changes] = deque()  # told by the feed, waiting for an erasure's names
        self.naming: asyncio.Task[None] | None = None
        self.clock: Callable[[], float] = time.monotonic  # of the requests' time budgets

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator["UnitOfWork"]:
        async with AsyncExitStack() as stack:
            yield UnitOfWork(self, stack)

    async def ask(self, question: Question[R]) -> R:
        """One question in a unit of work of its own."""
        async with self.unit_of_work() as work:
            return await work.ask(question)

    async def start(self) -> None:
        """Start building the peer index of the current data version, and following the
        writes committed after it (`live`)."""
        async with self.unit_of_work() as work:
            await work.ask(nothing())
        feed = self.store.feed().follow(work.version, self._heard)
        self.feed = asyncio.create_task(feed, name="change feed")

    def _heard(self, changes: Changes) -> None:
        """What the feed tells goes to the live hub, in order. An erasure does not say whom
        it erased (the change log never names an erased mentor): the hub is told it as the
        erasure of each followed mentor that no longer exists, looked up first."""
        if not self.untold and not changes.someone_erased:
            self.live.heard(changes)
            return
        self.untold.append(changes)
        if self.naming is None:
            self.naming = asyncio.create_task(self._tell_in_order(), name="naming erasures")

    async def _tell_in_order(self) -> None:
        try:
            while self.untold:
                changes = self.untold[0]
                if changes.someone_erased:
                    changes = changes.naming(await self._gone(list(self.live.following)))
                self.untold.popleft()
                self.live.heard(changes)
        finally:
            self.naming = None

    async def _gone(self, followed: list[str]) -> list[str]:
        """Which of these mentors no longer exist (none known when the database cannot say:
        their followers then hear of a change, and find the mentor gone when they ask)."""
        if not followed:
            return []
        try:
            found = await self.ask(_read(MentorsRead(tuple(followed))))
        except Unavailable:
            return []
        return [m for m in followed if m not in found]

    async def require_mentor(self, mentor_id: str) -> None:
        """`NotFound` unless there is a mentor with this id."""
        if await self.ask(find_mentor(mentor_id)) is None:
            raise NotFound(f"no mentor with id {mentor_id!r}")

    async def follow(
        self,
        mentor_id: str,
        since: int | None,
        client: str | None = None,
        place: Place | None = None,
    ) -> Follower:
        """A follower of the mentor's changes that has heard of data version `since` (None:
        of the version now), holding a place of `client`'s (an address); `NotFound` for an
        unknown mentor, `Unavailable` when the worker or the client holds as many as it may."""
        if place is None or not place.held:
            self.live.check_room(client)
        async with self.unit_of_work() as work:
            if await work.answer(find_mentor, mentor_id) is None:
                raise NotFound(f"no mentor with id {mentor_id!r}")
            version = work.version
            own = since is not None and since != version
            if since is not None and since < version:
                own = await work.ask(_read(MentorChangedRead(mentor_id, since)))
        return self.live.join(mentor_id, version if since is None else since, version, own,
                              client, place)  # fmt: skip

    async def authenticate(self, token: str) -> TokenInfo | None:
        """The live token with this value, or None."""
        return await self.writes.run(lambda writes: writes.authenticate(token))

    async def persisted_document(self, sha256: str) -> str | None:
        """The text of the persisted GraphQL document with this SHA-256 (hex), or None."""
        return await self.writes.run(lambda writes: writes.document(sha256))

    async def ingest(self, source: Source, token: str, max_records: int) -> ImportReport:
        """Upsert the source's records in one transaction, noting the token's use in it
        (`ImportRejected`, `TooManyRecords`: nothing written); the peer index follows."""
        report = await self.writes.run(
            lambda writes: import_sources(
                writes, [source], max_records=max_records,
                before_commit=lambda transaction: transaction.note_token_use(token),
            )
        )  # fmt: skip
        self.peers.follow(report.data_version)
        return report

    async def delete_activity(self, activity_id: str, token: str) -> int | None:
        """Delete an activity: the data version made, or None when there is none."""
        return await self._remove(WriteTransaction.delete_activity, activity_id, token)

    async def erase_mentor(self, mentor_id: str, token: str) -> int | None:
        """Erase a mentor and their activities, leaving no trace of them in the database's
        files where the engine allows (`leave_no_trace`): the data version made, or None."""
        version = await self._remove(WriteTransaction.erase_mentor, mentor_id, token)
        if version is not None:
            await self.writes.run(Writes.leave_no_trace)
        return version

    async def _remove(
        self,
        remove: Callable[[WriteTransaction, str], Awaitable[int | None]],
        record_id: str,
        token: str,
    ) -> int | None:
        async def write(writes: Writes) -> int | None:
            async with writes.transaction() as transaction:
                version = await remove(transaction, record_id)
                await transaction.note_token_use(token)
            return version

        version = await self.writes.run(write)
        if version is not None:
            self.peers.follow(version)
        return version

    async def ping(self) -> None:
        """Raise `Unavailable` unless the database answers within the time limit."""
        try:
            async with asyncio.timeout(self.settings.db_timeout):
                await self.store.ping()
        except TimeoutError as error:
            raise Unavailable("the database answered too late; try again shortly") from error

    async def types_of(
        self, version: int, read: Callable[[], Awaitable[dict[str, TypeRow]]]
    ) -> dict[str, TypeRow]:
        """The activity types at this data version, read once per version (`read` reads
        them in the asking unit of work's snapshot)."""
        types = self.types
        if types is None or types[0] != version:
            types = self.types = (version, await read())
        return types[1]

    def count_question(self, how: str) -> None:
        """Note a question `asked`, or `repeated` in its unit of work (the tests read it)."""
        self.questions[how] += 1

    async def close(self) -> None:
        self.live.close()
        if self.feed is not None:
            self.feed.cancel()
            await asyncio.gather(self.feed, return_exceptions=True)
            self.feed = None
        await self.peers.close()
        await self.store.close()
        await self.writes.close()


class UnitOfWork:
    """One request's snapshot and what it has loaded; see the module's docstring. It drives
    each question, answering its reads from what the request or the process already knows
    (mentors loaded, activity types, the peer index), else from the snapshot."""

    def __init__(self, service: StatsService, stack: AsyncExitStack) -> None:
        self.service = service
        self.stack = stack
        self.snapshot: Snapshot | None = None
        self.mentors: dict[str, MentorRow | None] = {}
        self.answers: dict[Hashable, asyncio.Future[Any]] = {}
        self.rows: dict[str, KeptRows] = {}  # the activities read of each mentor
        self.whole: set[str] = set()  # mentors whose every row is read at the first read
        self.lock = asyncio.Lock()
        self.fetched: dict[str, int] = {}  # reads the database answered, by kind
        # The request's time budget, for all its questions together; its instant, for all
        # their todays.
        self.deadline = service.clock() + service.settings.db_timeout
        self.now = datetime.now(UTC)

    @property
    def version(self) -> int:
        assert self.snapshot is not None, "no question has been asked yet"
        return self.snapshot.version

    @property
    def changed_at(self) -> int:
        assert self.snapshot is not None, "no question has been asked yet"
        return self.snapshot.changed_at

    async def release(self) -> None:
        """Let go of the snapshot now (its version stays known); no question follows."""
        await self.stack.aclose()

    async def answer(self, ask: Callable[..., Question[R]], *arguments: Hashable) -> R:
        """The answer to `ask(*arguments)`, worked out once per unit of work: the same
        question asked again (a mentor listed twice, an alias) shares the first answer."""
        key = (ask, arguments)
        found = self.answers.get(key)
        if found is not None:
            self.service.count_question("repeated")
            result: R = await asyncio.shield(found)
            return result
        future = self.answers[key] = asyncio.get_running_loop().create_future()
        self.service.count_question("asked")
        try:
            result = await self.ask(ask(*arguments))
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # retrieved: the ones that share it re-raise it themselves
            raise
        future.set_result(result)
        return result

    async def ask(self, question: Question[R]) -> R:
        async with self.lock:
            left = self.deadline - self.service.clock()
            try:
                if left <= 0:  # refused even when the question would need no I/O to answer
                    raise TimeoutError
                async with asyncio.timeout(left):
                    if self.snapshot is None:
                        snapshot = await self.stack.enter_async_context(self._open())
                        await snapshot.open()
                        self.snapshot = snapshot
                    answer = await self._drive(question, self.snapshot)
            except TimeoutError as error:
                raise Unavailable("the database answered too late; try again shortly") from error
            self.service.peers.follow(self.snapshot.version)
            return answer

    def _open(self) -> AbstractAsyncContextManager[Snapshot]:
        return self.service.store.snapshot()

    async def _drive(self, question: Question[R], snapshot: Snapshot) -> R:
        try:
            read = next(question)
            while True:
                read = question.send(await self._answer(read, snapshot))
        except StopIteration as done:
            result: R = done.value
            return result

    async def _answer(self, read: Read, snapshot: Snapshot) -> Any:
        """The read's answer: from the unit of work's own method of its kind, if it has
        one (`ANSWERED_HERE`); else from the snapshot."""
        own = ANSWERED_HERE.get(read.kind)
        if own is None:
            return await self._fetch(read, snapshot)
        return await own(self, read, snapshot)

    async def _today(self, read: TodayRead, _snapshot: Snapshot) -> date:
        return self.now.astimezone(zone(read.tz)).date()

    async def _mentors(self, read: MentorsRead, snapshot: Snapshot) -> dict[str, MentorRow]:
        """The mentors loaded by the request's earlier questions, else read and kept."""
        if not all(mentor_id in self.mentors for mentor_id in read.ids):
            found = await self._fetch(read, snapshot)
            for mentor_id in read.ids:
                self.mentors[mentor_id] = found.get(mentor_id)
        return {i: m for i in read.ids if (m := self.mentors[i]) is not None}

    async def _types(self, read: TypesRead, snapshot: Snapshot) -> dict[str, TypeRow]:
        """The activity types of the snapshot's version, read once per version."""
        return await self.service.types_of(snapshot.version, lambda: self._fetch(read, snapshot))

    def read_whole(self, mentor_ids: Iterable[str]) -> None:
        """Read every row of these mentors at their first read: the request's questions
        about them span their whole history (a dashboard's), so one read serves them all."""
        self.whole.update(mentor_ids)

    async def _activities(self, read: ActivitiesRead, snapshot: Snapshot) -> list[ActivityRow]:
        """A mentor's rows in a range, from the rows the request has read of the mentor when
        they cover it (a dashboard's questions share their reads); else read for the range
        that covers both (every row, for a mentor of `read_whole`), and kept."""
        first, last = read.start.timestamp(), read.end.timestamp()
        if not (first.is_integer() and last.is_integer()):  # the kept rows' seconds are whole
            return await self._fetch(read, snapshot)  # type: ignore[no-any-return]
        kept = self.rows.get(read.mentor_id)
        if kept is None or not (kept.start <= first and last <= kept.end):
            start, end = first, last
            if read.mentor_id in self.whole:
                start, end = WHOLE_HISTORY
            elif kept is not None:
                start, end = min(start, kept.start), max(end, kept.end)
            wider = ActivitiesRead(read.mentor_id, _instant(start), _instant(end))
            rows = sorted(await self._fetch(wider, snapshot))
            kept = self.rows[read.mentor_id] = KeptRows(start, end, [r[0] for r in rows], rows)
        return kept.rows[bisect_left(kept.seconds, first) : bisect_left(kept.seconds, last)]

    async def _local_activities(
        self, read: LocalActivitiesRead, snapshot: Snapshot
    ) -> list[LocalActivity]:
        """A mentor's activities with their local dates: the rows the request keeps of the
        mentor are localised once per zone, for every question that asks in that zone."""
        rows = await self._activities(ActivitiesRead(read.mentor_id, read.start, read.end),
                                      snapshot)  # fmt: skip
        kept = self.rows.get(read.mentor_id)
        first, last = read.start.timestamp(), read.end.timestamp()
        if kept is None or not (kept.start <= first and last <= kept.end):
            return localize(rows, read.tz)  # read apart from the kept rows
        local = kept.local.get(read.tz)
        if local is None:
            local = kept.local[read.tz] = localize(kept.rows, read.tz)
        return local[bisect_left(kept.seconds, first) : bisect_left(kept.seconds, last)]

    async def _peer_view(
        self, snapshot: Snapshot
    ) -> tuple[PeerIndex | None, InstantChanges | None]:
        """The peer index to answer from, and the steps to add to it (`Peers.view`)."""

        def read_changes(since: int) -> Awaitable[InstantChanges | None]:
            return self._fetch(ChangesRead(since), snapshot)

        return await self.service.peers.view(snapshot.version, read_changes)

    async def _completed_before(self, read: CompletedBeforeRead, snapshot: Snapshot) -> Any:
        """Like a standing: from the index, corrected when it is older than the snapshot."""
        index, changes = await self._peer_view(snapshot)
        path = "sql" if index is None else "index" if changes is None else "corrected"
        self.service.peers.count(f"completed_before {path}")
        if index is None:
            return await self._fetch(read, snapshot)
        since = () if changes is None else changes.by_mentor.get(read.mentor_id, ())
        return index.completed_before(read.mentor_id, read.end, read.limit, since)

    async def _standing(self, read: StandingRead, snapshot: Snapshot) -> Standing:
        """Among the counts of the index of the snapshot's version; else of an older index
        corrected by the steps written since; else (no index yet) every mentor's, read."""
        index, changes = await self._peer_view(snapshot)
        path = "sql" if index is None else "index" if changes is None else "corrected"
        self.service.peers.count(f"standing {path}")
        if index is None:
            peers = await self._fetch(CompletedCountsRead(read.start, read.end), snapshot)
        elif changes is None:
            peers = index.window(read.start, read.end)
        else:
            peers = index.window_corrected(read.start, read.end, changes)
        return standing_among(peers, read.completed)

    async def _fetch(self, read: Read, snapshot: Snapshot) -> Any:
        kind = type(read).__name__
        self.fetched[kind] = self.fetched.get(kind, 0) + 1
        if tracing.TRACER is None:
            return await snapshot.fetch(read)
        attributes = {"db.system.name": self.service.store.system, "db.operation.name": read.kind}
        with tracing.TRACER.start_as_current_span(f"db {read.kind}", attributes=attributes):
            return await snapshot.fetch(read)


# Every instant the questions can ask about: local dates of the years 1900-2999, anywhere.
WHOLE_HISTORY = (HISTORY_START.timestamp(), HISTORY_END.timestamp())


@dataclass(frozen=True, slots=True)
class KeptRows:
    """A mentor's rows with start <= second < end, by time, and their seconds."""

    start: float
    end: float
    seconds: list[int]
    rows: list[ActivityRow]
    local: dict[str, list[LocalActivity]] = field(default_factory=dict)  # by zone


# The reads the unit of work answers itself, by kind (see `reads`); a snapshot answers the
# rest.
ANSWERED_HERE: dict[str, Callable[[UnitOfWork, Any, Snapshot], Awaitable[Any]]] = {
    TodayRead.kind: UnitOfWork._today,
    MentorsRead.kind: UnitOfWork._mentors,
    TypesRead.kind: UnitOfWork._types,
    ActivitiesRead.kind: UnitOfWork._activities,
    LocalActivitiesRead.kind: UnitOfWork._local_activities,
    CompletedBeforeRead.kind: UnitOfWork._completed_before,
    StandingRead.kind: UnitOfWork._standing,
}


def _instant(second: float) -> datetime:
    return datetime.fromtimestamp(second, UTC)


def _read(read: Read) -> Question[Any]:
    """A question that is one read."""
    answer = yield read
    return answer


def nothing() -> Question[None]:
    """A question that reads nothing: asking it only opens the snapshot."""
    return
    yield
