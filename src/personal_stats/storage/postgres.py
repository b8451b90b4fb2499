"""PostgreSQL reads on asyncpg's own connections: prepared statements (asyncpg keeps them
per connection), one REPEATABLE READ READ ONLY transaction per request, and rows decoded
by the driver with no SQLAlchemy in between."""

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import numpy as np
from sqlalchemy.engine import make_url

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
    TypeRow,
    TypesRead,
)
from personal_stats.storage.base import (
    InstantChanges,
    InstantTable,
    Snapshot,
    Store,
)
from personal_stats.storage.faults import is_unavailable, unavailable_as
from personal_stats.storage.feed import (
    CHANGES_KEPT,
    CHANNEL,
    Feed,
    Tell,
    changes_in_log,
    heard,
    retry_delay,
)
from personal_stats.storage.statements import postgres_statements
from personal_stats.support.settings import Settings

_SQL = postgres_statements()
LOG = logging.getLogger("personal_stats.feed")
FEED_NAME = "personal-stats change feed"  # the listener's application_name
CHECK_EVERY = 5.0  # seconds without a notice before the listening connection is checked
UNREACHABLE = "the database cannot be reached; try again shortly"
_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
# Each mentor's completed instants as one array: 10,000 rows to decode, not millions.
_BY_MENTOR = (
    f"SELECT mentor_id, array_agg(s) FROM ({_SQL.completed_instants.sql}) AS c(mentor_id, s) "
    "GROUP BY mentor_id"
)


def dsn(database_url: str) -> str:
    """The libpq URL of a SQLAlchemy `postgresql+asyncpg://` URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


class PostgresSnapshot(Snapshot):
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def begin(self) -> tuple[int, int]:
        await self.connection.execute(_BEGIN)
        version, changed_at = await self.connection.fetchrow(
            _SQL.data_version.sql, *_SQL.data_version.args()
        )
        return version, changed_at

    async def mentors(self, read: MentorsRead) -> dict[str, MentorRow]:
        rows = await self.connection.fetch(_SQL.mentors.sql, *_SQL.mentors.args(ids=list(read.ids)))
        return {row[0]: MentorRow(*row) for row in rows}

    async def activities(self, read: ActivitiesRead) -> Sequence[ActivityRow]:
        args = _SQL.activities.args(mentor_id=read.mentor_id, start=read.start, end=read.end)
        rows: Sequence[ActivityRow] = await self.connection.fetch(_SQL.activities.sql, *args)
        return rows

    async def first_activity(self, read: FirstActivityRead) -> int | None:
        args = _SQL.first_activity.args(mentor_id=read.mentor_id)
        first: int | None = await self.connection.fetchval(_SQL.first_activity.sql, *args)
        return first

    async def completed_before(self, read: CompletedBeforeRead) -> list[int]:
        args = _SQL.completed_before.args(mentor_id=read.mentor_id, end=read.end,
                                          limit=read.limit)  # fmt: skip
        return [row[0] for row in await self.connection.fetch(_SQL.completed_before.sql, *args)]

    async def milestones(self, read: MilestonesRead) -> list[tuple[int, int, str]]:
        args = _SQL.milestones.args(mentor_id=read.mentor_id, end=read.end,
                                    positions=list(read.positions))  # fmt: skip
        return [tuple(row) for row in await self.connection.fetch(_SQL.milestones.sql, *args)]

    async def types(self, read: TypesRead) -> dict[str, TypeRow]:
        rows = await self.connection.fetch(_SQL.activity_types.sql)
        return {row[0]: TypeRow(*row) for row in rows}

    async def completed_counts(self, read: CompletedCountsRead) -> PeerCounts:
        args = _SQL.completed_counts.args(start=read.start, end=read.end)
        rows = await self.connection.fetch(_SQL.completed_counts.sql, *args)
        mentors = await self.connection.fetchval(_SQL.mentor_count.sql)
        return PeerCounts(mentors, [row[0] for row in rows])

    async def changes(self, read: ChangesRead) -> InstantChanges | None:
        return await self.changes_since(read.since)

    async def mentor_changed(self, read: MentorChangedRead) -> bool:
        if not self.log_reaches(read.since):
            return True
        args = _SQL.mentor_changed.args(since=read.since, mentor_id=read.mentor_id)
        return bool(await self.connection.fetchval(_SQL.mentor_changed.sql, *args))

    async def changes_since(
        self, since: int, read_timeout: float | None = None
    ) -> InstantChanges | None:
        if self.version - since >= CHANGES_KEPT:
            return None
        connection = self.connection
        args = _SQL.everyone_changed.args(since=since)
        if await connection.fetchval(_SQL.everyone_changed.sql, *args):
            return None
        args = _SQL.instant_changes.args(since=since)
        rows = await connection.fetch(_SQL.instant_changes.sql, *args, timeout=read_timeout)
        mentors = await connection.fetchval(_SQL.mentor_count.sql)
        return InstantChanges.of(self.version, mentors, ((r[0], r[1], r[2]) for r in rows))


@asynccontextmanager
async def _on(connection: asyncpg.Connection) -> AsyncIterator[PostgresSnapshot]:
    """A snapshot on this connection, its transaction ended however the request ends."""
    snapshot = PostgresSnapshot(connection)
    try:
        yield snapshot
    finally:
        if snapshot.begun and not connection.is_closed():
            await connection.execute("ROLLBACK")


class PostgresStore(Store):
    dialect = "postgresql"

    def __init__(self, settings: Settings) -> None:
        self.dsn = dsn(settings.database_url)
        self.timeout = settings.db_timeout
        self.bulk_timeout = settings.bulk_timeout  # loading the peer index reads every row
        self.size = settings.pool_size
        self.pool: asyncpg.Pool | None = None
        self.opening = asyncio.Lock()
        self.index_connection: asyncpg.Connection | None = None
        self.index_lock = asyncio.Lock()

    async def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            async with self.opening:
                if self.pool is None:
                    self.pool = await asyncpg.create_pool(
                        self.dsn, min_size=0, max_size=self.size, timeout=self.timeout,
                        command_timeout=self.timeout,
                    )  # fmt: skip
        return self.pool

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Snapshot]:
        with unavailable_as(UNREACHABLE):
            pool = await self._pool()
            async with (
                pool.acquire(timeout=self.timeout) as connection,
                _on(connection) as snapshot,
            ):
                yield snapshot

    @asynccontextmanager
    async def _for_the_index(self) -> AsyncIterator[PostgresSnapshot]:
        """A snapshot on the peer index's own connection (one build at a time): the index
        of a new version never waits behind requests for a pooled one."""
        async with self.index_lock:
            with unavailable_as(UNREACHABLE):
                connection = self.index_connection
                if connection is None or connection.is_closed():
                    connection = self.index_connection = await asyncpg.connect(
                        self.dsn, timeout=self.timeout, command_timeout=self.timeout
                    )
                async with _on(connection) as snapshot:
                    await snapshot.open()
                    yield snapshot

    async def instants(self) -> InstantTable:
        async with self._for_the_index() as snapshot:
            connection = snapshot.connection
            mentors = await connection.fetchval(_SQL.mentor_count.sql, timeout=self.bulk_timeout)
            numbers: dict[str, int] = {}
            chunks_m: list[np.ndarray[Any, Any]] = []
            chunks_s: list[np.ndarray[Any, Any]] = []
            rows = connection.cursor(_BY_MENTOR, prefetch=500, timeout=self.bulk_timeout)
            async for mentor_id, seconds in rows:
                number = numbers.setdefault(mentor_id, len(numbers))
                chunks_s.append(np.fromiter(seconds, dtype=np.int64, count=len(seconds)))
                chunks_m.append(np.full(len(seconds), number, dtype=np.int64))
            empty = np.zeros(0, dtype=np.int64)
            return InstantTable(
                snapshot.version, mentors, list(numbers),
                np.concatenate(chunks_m) if chunks_m else empty,
                np.concatenate(chunks_s) if chunks_s else empty,
            )  # fmt: skip

    async def changes(self, since: int) -> InstantChanges | None:
        async with self._for_the_index() as snapshot:
            return await snapshot.changes_since(since, read_timeout=self.bulk_timeout)

    def feed(self) -> Feed:
        return PostgresFeed(self.dsn, self.timeout)

    async def ping(self) -> None:
        async with self.snapshot() as snapshot:
            await snapshot.open()

    async def close(self) -> None:
        if self.index_connection is not None:
            connection, self.index_connection = self.index_connection, None
            await connection.close()
        if self.pool is not None:
            pool, self.pool = self.pool, None
            await pool.close()


class PostgresFeed(Feed):
    """LISTENs on a connection of its own (not a pooled one: it lives as long as the worker).
    A NOTIFY that names the next version's mentors is told as it is; any other (a gap, a
    payload past the limit) is told from the change log. Every `check_every` seconds without
    a notice the connection is checked with a read of the data version, which also tells
    anything missed; a connection lost is made again, and what was written meanwhile is
    read from the log."""

    def __init__(self, dsn: str, timeout: float, check_every: float = CHECK_EVERY) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self.check_every = check_every

    async def follow(self, since: int, tell: Tell) -> None:
        failures = 0
        progress = [since]  # the last version told, kept when a connection is lost
        while True:
            try:
                await self._listen(progress, tell)
            except Exception as error:
                if not (is_unavailable(error) or isinstance(error, asyncpg.PostgresError)):
                    raise
                LOG.warning("the change feed lost the database: %r", error)
            else:
                failures = 0  # it was closed under us: come back at once
            await asyncio.sleep(retry_delay(failures))
            failures += 1

    async def _listen(self, progress: list[int], tell: Tell) -> None:
        """Listen on one connection until it is lost."""
        notes: list[str] = []
        woken = asyncio.Event()

        def note(_c: object, _pid: int, _channel: str, payload: str) -> None:
            notes.append(payload)
            woken.set()

        connection = await asyncpg.connect(
            self.dsn, timeout=self.timeout, command_timeout=self.timeout,
            server_settings={"application_name": FEED_NAME},
        )  # fmt: skip
        try:
            await connection.add_listener(CHANNEL, note)
            connection.add_termination_listener(lambda _c: woken.set())
            # What was written before LISTEN began.
            progress[0] = await self._from_log(connection, progress[0], tell)
            while not connection.is_closed():
                try:
                    async with asyncio.timeout(self.check_every):
                        await woken.wait()
                except TimeoutError:
                    progress[0] = await self._from_log(connection, progress[0], tell)
                    continue
                woken.clear()
                payloads, notes[:] = notes[:], []
                progress[0] = await self._told(connection, progress[0], payloads, tell)
        finally:
            if not connection.is_closed():
                connection.terminate()

    async def _told(
        self, connection: asyncpg.Connection, since: int, payloads: list[str], tell: Tell
    ) -> int:
        for payload in payloads:
            changes = heard(payload, since)
            if changes is None:
                return await self._from_log(connection, since, tell)
            tell(changes)
            since = changes.version
        return since

    @staticmethod
    async def _from_log(connection: asyncpg.Connection, since: int, tell: Tell) -> int:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            version, _changed_at = await connection.fetchrow(
                _SQL.data_version.sql, *_SQL.data_version.args()
            )
            if version == since:
                return since
            args = _SQL.changes_after.args(since=since)
            rows = await connection.fetch(_SQL.changes_after.sql, *args)
        tell(changes_in_log(since, version, ((r[0], r[1], r[2]) for r in rows)))
        return int(version)
