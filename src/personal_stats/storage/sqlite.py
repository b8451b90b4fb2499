"""SQLite reads on the standard library's driver, a small pool of connections, and no thread
hop for a request's reads: they run on the event loop.

A read of one mentor's rows is a few hundred rows of an index in the page cache, and in WAL
mode a reader never waits for a writer; a hop to a worker thread cost more than the read
(thread hops and the GIL traffic they cause made the summary slower: bench/README.md).
Reads that may be long — every mentor's completed count while the peer index is being
built, and the index's own load — still run in a worker thread, off the loop."""

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import make_url

from personal_stats.core.errors import Unavailable
from personal_stats.core.reads import (
    ActivitiesRead,
    ActivityRow,
    ChangesRead,
    CompletedBeforeRead,
    CompletedCountsRead,
    FirstActivityRead,
    MentorChangedRead,
    MentorRow,
    MentorsRead,
    MilestonesRead,
    PeerCounts,
    R,
    Read,
    TypeRow,
    TypesRead,
)
from personal_stats.storage.base import (
    InstantChanges,
    InstantTable,
    Snapshot,
    Store,
    instant_table,
)
from personal_stats.storage.bulk import sqlite_instant
from personal_stats.storage.engine import SQLITE_PRAGMAS
from personal_stats.storage.feed import CHANGES_KEPT, Feed, Tell, changes_in_log, retry_delay
from personal_stats.storage.statements import sqlite_statements
from personal_stats.support.settings import Settings

_SQL = sqlite_statements()
LOG = logging.getLogger("personal_stats.feed")
FEED_INTERVAL = 0.1  # seconds between two looks at the data version


READ_BUSY_TIMEOUT = 0.1  # seconds; WAL readers wait only in rare cases (recovery after a crash)


def connect(path: str) -> sqlite3.Connection:
    """A read connection: autocommit mode, so that BEGIN and COMMIT are explicit and a
    request's reads are one snapshot; WAL, so that readers never wait for an import; a
    short busy wait, since reads run on the event loop."""
    connection = sqlite3.connect(path, timeout=READ_BUSY_TIMEOUT, isolation_level=None,
                                 check_same_thread=False)  # fmt: skip
    for pragma in (*SQLITE_PRAGMAS, "query_only=ON"):
        connection.execute(f"PRAGMA {pragma}")
    return connection


class SqliteSnapshot(Snapshot):
    def __init__(self, connection: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.connection = connection
        self.executor = executor

    async def begin(self) -> tuple[int, int]:
        try:
            self.connection.execute("BEGIN")
            row = self._one(_SQL.data_version.sql, _SQL.data_version.args())
            if row is None:
                raise LookupError("the data_version row is missing: run `personal-stats migrate`")
            version, changed_at = row
        except sqlite3.OperationalError as error:
            raise Unavailable("the database cannot be read; try again shortly") from error
        return version, changed_at

    async def fetch(self, read: Read) -> Any:
        try:
            return await super().fetch(read)
        except sqlite3.OperationalError as error:
            raise Unavailable("the database cannot be read; try again shortly") from error

    async def hop(self, work: Callable[..., R], *args: Any) -> R:
        """Run `work` on the connection in a worker thread. Cancelled (the time limit, a
        shutdown), it interrupts the statement and waits for the thread to let go of the
        connection before the cancellation goes on."""
        loop = asyncio.get_running_loop()
        hop = loop.run_in_executor(self.executor, work, *args)
        try:
            return await asyncio.shield(hop)
        except asyncio.CancelledError:
            self.connection.interrupt()
            await asyncio.wait([hop])
            if not hop.cancelled():
                hop.exception()  # the interrupted statement's error: retrieved, not logged
            raise

    async def mentors(self, read: MentorsRead) -> dict[str, MentorRow]:
        rows = self.connection.execute(
            _SQL.mentors.sql, _SQL.mentors.args(ids=_json_list(read.ids))
        )
        return {row[0]: MentorRow(*row) for row in rows}

    async def activities(self, read: ActivitiesRead) -> list[ActivityRow]:
        args = _SQL.activities.args(mentor_id=read.mentor_id, start=sqlite_instant(read.start),
                                    end=sqlite_instant(read.end))  # fmt: skip
        return self.connection.execute(_SQL.activities.sql, args).fetchall()

    async def first_activity(self, read: FirstActivityRead) -> int | None:
        args = _SQL.first_activity.args(mentor_id=read.mentor_id)
        first: int | None = self._one(_SQL.first_activity.sql, args)[0]
        return first

    async def completed_before(self, read: CompletedBeforeRead) -> list[int]:
        end = sqlite_instant(read.end)
        args = _SQL.completed_before.args(mentor_id=read.mentor_id, end=end, limit=read.limit)
        return [row[0] for row in self.connection.execute(_SQL.completed_before.sql, args)]

    async def milestones(self, read: MilestonesRead) -> list[tuple[int, int, str]]:
        args = _SQL.milestones.args(mentor_id=read.mentor_id, end=sqlite_instant(read.end),
                                    positions=json.dumps(list(read.positions)))  # fmt: skip
        return [tuple(row) for row in self.connection.execute(_SQL.milestones.sql, args)]

    async def types(self, read: TypesRead) -> dict[str, TypeRow]:
        return {row[0]: TypeRow(*row) for row in self.connection.execute(_SQL.activity_types.sql)}

    async def completed_counts(self, read: CompletedCountsRead) -> PeerCounts:
        return await self.hop(self._completed_counts, read)  # many rows: off the loop

    def _completed_counts(self, read: CompletedCountsRead) -> PeerCounts:
        window = {"start": sqlite_instant(read.start), "end": sqlite_instant(read.end)}
        rows = self.connection.execute(
            _SQL.completed_counts.sql, _SQL.completed_counts.args(**window)
        )
        return PeerCounts(self._one(_SQL.mentor_count.sql, ())[0], [r[0] for r in rows])

    async def changes(self, read: ChangesRead) -> InstantChanges | None:
        return await self.hop(self.changes_since, read.since)  # many rows: off the loop

    def changes_since(self, since: int) -> InstantChanges | None:
        if self.version - since >= CHANGES_KEPT:
            return None
        if self._one(_SQL.everyone_changed.sql, _SQL.everyone_changed.args(since=since))[0]:
            return None
        rows = self.connection.execute(
            _SQL.instant_changes.sql, _SQL.instant_changes.args(since=since)
        )
        return InstantChanges.of(self.version, self._one(_SQL.mentor_count.sql, ())[0], rows)

    async def mentor_changed(self, read: MentorChangedRead) -> bool:
        if not self.log_reaches(read.since):
            return True
        args = _SQL.mentor_changed.args(since=read.since, mentor_id=read.mentor_id)
        return bool(self._one(_SQL.mentor_changed.sql, args)[0])

    def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        return self.connection.execute(sql, args).fetchone()

    def end(self) -> None:
        if self.begun:
            self.connection.execute("COMMIT")  # a read transaction: no I/O, no hop needed
            self.begun = False


class SqliteStore(Store):
    dialect = "sqlite"

    def __init__(self, settings: Settings) -> None:
        database = make_url(settings.database_url).database
        self.path = database or ":memory:"
        self.size = min(settings.pool_size, 8)
        self.slots = asyncio.Semaphore(self.size)
        self.idle: list[sqlite3.Connection] = []
        self.index_connection: sqlite3.Connection | None = None
        self.index_lock = asyncio.Lock()
        self._executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The read threads, one per connection; made anew after `close` (a store outlives
        the app's lifespan, which may run more than once)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.size, thread_name_prefix="sqlite-read")
        return self._executor

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Snapshot]:
        async with self.slots:
            connection = self.idle.pop() if self.idle else await self._connect()
            try:
                async with self._on(connection) as snapshot:
                    yield snapshot
            finally:
                self.idle.append(connection)

    @asynccontextmanager
    async def _for_the_index(self) -> AsyncIterator[SqliteSnapshot]:
        """A snapshot on the peer index's own connection (one build at a time): the index
        of a new version never waits behind requests for one of theirs."""
        async with self.index_lock:
            if self.index_connection is None:
                self.index_connection = await self._connect()
            async with self._on(self.index_connection) as snapshot:
                await snapshot.open()
                yield snapshot

    @asynccontextmanager
    async def _on(self, connection: sqlite3.Connection) -> AsyncIterator[SqliteSnapshot]:
        snapshot = SqliteSnapshot(connection, self.executor)
        try:
            yield snapshot
            snapshot.end()
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise

    async def _connect(self) -> sqlite3.Connection:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, connect, self.path)
        except sqlite3.Error as error:
            raise Unavailable("the database cannot be opened; try again shortly") from error

    async def instants(self) -> InstantTable:
        async with self._for_the_index() as snapshot:
            return await snapshot.hop(self._instants, snapshot)

    def _instants(self, snapshot: SqliteSnapshot) -> InstantTable:
        mentors = snapshot._one(_SQL.mentor_count.sql, ())[0]
        pairs = snapshot.connection.execute(
            _SQL.completed_instants.sql, _SQL.completed_instants.args()
        )
        return instant_table(snapshot.version, mentors, pairs)

    async def changes(self, since: int) -> InstantChanges | None:
        async with self._for_the_index() as snapshot:
            return await snapshot.hop(snapshot.changes_since, since)

    def feed(self) -> Feed:
        return SqliteFeed(self.path)

    async def ping(self) -> None:
        async with self.snapshot() as snapshot:
            await snapshot.open()

    async def close(self) -> None:
        while self.idle:
            self.idle.pop().close()
        if self.index_connection is not None:
            self.index_connection.close()
            self.index_connection = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None


def _json_list(ids: tuple[str, ...]) -> str:
    return json.dumps(list(ids))


class SqliteFeed(Feed):
    """Watches the data version on a connection of its own, every `interval` seconds (a read
    of one row, on the loop), and reads the change log when it moved: SQLite has no way to
    tell another process that a write committed."""

    def __init__(self, path: str, interval: float = FEED_INTERVAL) -> None:
        self.path = path
        self.interval = interval

    async def follow(self, since: int, tell: Tell) -> None:
        connection: sqlite3.Connection | None = None
        failures = 0
        try:
            while True:
                try:
                    if connection is None:
                        connection = connect(self.path)
                    since = self._tell_new(connection, since, tell)
                    failures = 0
                    await asyncio.sleep(self.interval)
                except sqlite3.Error as error:
                    LOG.warning("the change feed cannot read the database: %s", error)
                    if connection is not None:
                        connection.close()
                        connection = None
                    await asyncio.sleep(retry_delay(failures))
                    failures += 1
        finally:
            if connection is not None:
                connection.close()

    @staticmethod
    def _tell_new(connection: sqlite3.Connection, since: int, tell: Tell) -> int:
        found = connection.execute(_SQL.data_version.sql, _SQL.data_version.args()).fetchone()
        if found is None or found[0] == since:
            return since
        connection.execute("BEGIN")
        try:
            found = connection.execute(_SQL.data_version.sql, _SQL.data_version.args())
            now = int(found.fetchone()[0])
            rows = connection.execute(_SQL.changes_after.sql, _SQL.changes_after.args(since=since))
            changes = changes_in_log(since, now, rows)
        finally:
            connection.execute("COMMIT")
        tell(changes)
        return now
