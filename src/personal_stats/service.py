"""The service layer: built once by the composition root, asked by both adapters.

`StatsService` owns the store, the peer index and what every request of the process may
share (the activity types of a data version). Each HTTP request opens one `UnitOfWork`: one
read snapshot, opened with the request's first question and shared by all of them, and the
mentors the request has already loaded. Strawberry resolves sibling fields concurrently; the
unit of work runs their questions one after another on its one connection.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.db import create_engine
from personal_stats.errors import Unavailable
from personal_stats.limits import RateLimit
from personal_stats.peers import Peers
from personal_stats.reads import (
    CompletedBeforeRead,
    MentorRow,
    MentorsRead,
    Question,
    R,
    Read,
    StandingRead,
    TypeRow,
    TypesRead,
)
from personal_stats.settings import Settings
from personal_stats.storage import Answers, Snapshot, Store, open_store
from personal_stats.storage.base import MISS, nothing


class StatsService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store = open_store(settings)
        self.peers = Peers(self.store)
        self.types: tuple[int, dict[str, TypeRow]] | None = None
        self.rate_limit = RateLimit(settings.ingest_rate_per_minute)
        self._write_engine: AsyncEngine | None = None

    def write_engine(self) -> AsyncEngine:
        """The SQLAlchemy engine of the write API (made on first use)."""
        if self._write_engine is None:
            self._write_engine = create_engine(self.settings)
        return self._write_engine

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator["UnitOfWork"]:
        async with AsyncExitStack() as stack:
            yield UnitOfWork(self, stack)

    async def ask(self, question: Question[R]) -> R:
        """One question in a unit of work of its own."""
        async with self.unit_of_work() as work:
            return await work.ask(question)

    async def start(self) -> None:
        """Start building the peer index of the current data version."""
        async with self.unit_of_work() as work:
            await work.ask(nothing())

    async def ping(self) -> None:
        """Raise `Unavailable` unless the database answers within the time limit."""
        try:
            async with asyncio.timeout(self.settings.db_timeout):
                await self.store.ping()
        except TimeoutError as error:
            raise Unavailable("the database answered too late; try again shortly") from error

    async def close(self) -> None:
        await self.peers.close()
        await self.store.close()
        if self._write_engine is not None:
            await self._write_engine.dispose()


class UnitOfWork(Answers):
    """One request's snapshot and what it has loaded; see the module's docstring."""

    def __init__(self, service: StatsService, stack: AsyncExitStack) -> None:
        self.service = service
        self.stack = stack
        self.snapshot: Snapshot | None = None
        self.mentors: dict[str, MentorRow | None] = {}
        self.lock = asyncio.Lock()
        self.fetched: dict[str, int] = {}  # reads the database answered, by kind

    @property
    def version(self) -> int:
        assert self.snapshot is not None, "no question has been asked yet"
        return self.snapshot.version

    @property
    def changed_at(self) -> int:
        assert self.snapshot is not None, "no question has been asked yet"
        return self.snapshot.changed_at

    async def ask(self, question: Question[R]) -> R:
        async with self.lock:
            try:
                async with asyncio.timeout(self.service.settings.db_timeout):
                    if self.snapshot is None:
                        self.snapshot = await self.stack.enter_async_context(self._open())
                    answer = await self.snapshot.run(question, self)
            except TimeoutError as error:
                raise Unavailable("the database answered too late; try again shortly") from error
            self.service.peers.follow(self.snapshot.version)
            return answer

    def _open(self) -> AbstractAsyncContextManager[Snapshot]:
        return self.service.store.snapshot()

    def lookup(self, read: Read, version: int) -> Any:
        if isinstance(read, MentorsRead):
            if all(mentor_id in self.mentors for mentor_id in read.ids):
                return {i: m for i in read.ids if (m := self.mentors[i]) is not None}
        elif isinstance(read, TypesRead):
            types = self.service.types
            if types is not None and types[0] == version:
                return types[1]
        elif isinstance(read, StandingRead | CompletedBeforeRead):
            peers = self.service.peers
            index = peers.lookup(version)
            kind = "standing" if isinstance(read, StandingRead) else "completed_before"
            if index is None:
                peers.answered[f"{kind} sql"] += 1
            elif isinstance(read, StandingRead):
                peers.answered[f"{kind} index"] += 1
                return index.standing(read.start, read.end, read.completed)
            else:
                peers.answered[f"{kind} index"] += 1
                return index.completed_before(read.mentor_id, read.end, read.limit)
        return MISS

    def remember(self, read: Read, version: int, answer: Any) -> None:
        kind = type(read).__name__
        self.fetched[kind] = self.fetched.get(kind, 0) + 1
        if isinstance(read, MentorsRead):
            for mentor_id in read.ids:
                self.mentors[mentor_id] = answer.get(mentor_id)
        elif isinstance(read, TypesRead):
            self.service.types = (version, answer)
