"""Figures shared by the requests of one process: activity types, and peer distributions.

The distribution of completed counts for a window costs one aggregate over the window's
completed activities (an index-only range scan); kept sorted, each mentor's standing is then
two binary searches. Once it is built (in the background, once per data version), an
in-memory index of every mentor's completed instants counts any window with two binary
searches per mentor instead: windows that rarely repeat, such as all_time (which starts at
each mentor's own first activity), never scan the table.
Everything is kept under the data version, which every import bumps and each request reads
in its own snapshot, so nothing cached is older than what the request sees.
"""

from __future__ import annotations

import asyncio
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from personal_stats import queries
from personal_stats.queries import TypeRow

Window = tuple[int, datetime, datetime]


@dataclass(frozen=True)
class Standing:
    peers: int
    below: int
    equal: int


class StatsCache:
    """Per-process cache keyed by the data version; peer distributions are LRU-bounded."""

    def __init__(self, maxsize: int = 128) -> None:
        self.maxsize = maxsize
        self._distributions: OrderedDict[Window, array[int]] = OrderedDict()
        self._pending: dict[Window, asyncio.Future[array[int]]] = {}
        self._types: tuple[int, dict[str, TypeRow]] | None = None
        self._instants: tuple[int, InstantIndex] | None = None
        self._building: tuple[int, asyncio.Task[InstantIndex]] | None = None
        self.sessions: Callable[[], AsyncSession] | None = None  # enables the instant index

    async def activity_types(self, session: AsyncSession) -> dict[str, TypeRow]:
        version, _ = await queries.data_version(session)
        if self._types is None or self._types[0] != version:
            self._types = (version, await queries.activity_types(session))
        return self._types[1]

    async def standing(
        self, session: AsyncSession, start: datetime, end: datetime, completed: int
    ) -> Standing:
        """How many other mentors completed fewer, and how many as many, in [start, end)."""
        version, _ = await queries.data_version(session)
        key = (version, start, end)
        counts = self._distributions.get(key)
        if counts is not None:
            self._distributions.move_to_end(key)
            return standing_in(counts, completed)
        pending = self._pending.get(key)
        if pending is not None:  # another request is counting this window: wait for it
            return standing_in(await asyncio.shield(pending), completed)
        pending = self._pending[key] = asyncio.get_running_loop().create_future()
        try:
            counts = await self._distribution(session, version, start, end)
        except BaseException as error:
            if isinstance(error, Exception):
                pending.set_exception(error)
                pending.exception()  # retrieved here; waiters still get it
            else:
                pending.cancel()
            raise
        finally:
            del self._pending[key]
        pending.set_result(counts)
        if self.maxsize:
            self._distributions[key] = counts
            if len(self._distributions) > self.maxsize:
                self._distributions.popitem(last=False)
        return standing_in(counts, completed)

    async def _distribution(
        self, session: AsyncSession, version: int, start: datetime, end: datetime
    ) -> array[int]:
        index = self._instant_index(version)
        if index is not None:
            return index.distribution(start, end)
        return await distribution(session, start, end)

    async def close(self) -> None:
        """Stop a background build (before the database it reads from goes away)."""
        if self._building is not None:
            task = self._building[1]
            self._building = None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def prepare(self) -> None:
        """Start building the instant index of the current data version (at start-up)."""
        if self.sessions is not None:
            async with self.sessions() as session:
                version, _ = await queries.data_version(session)
            self._instant_index(version)

    def _instant_index(self, version: int) -> InstantIndex | None:
        """The index of this data version, or None while it is being built (in the
        background, in its own session, so no request waits for it)."""
        if self._instants is not None and self._instants[0] == version:
            return self._instants[1]
        if self.sessions is None:
            return None
        if self._building is None or self._building[0] != version:
            self._building = (version, asyncio.create_task(self._build(version)))
        return None

    async def _build(self, version: int) -> InstantIndex:
        assert self.sessions is not None
        async with self.sessions() as session:
            current, _ = await queries.data_version(session)
            index = await InstantIndex.load(session)
        if current == version:
            self._instants = (version, index)
        return index


class InstantIndex:
    """Every mentor's completed instants (epoch seconds), sorted, mentor by mentor."""

    def __init__(self, mentors: int, instants: list[array[int]]) -> None:
        self.mentors = mentors
        self.instants = instants

    @classmethod
    async def load(cls, session: AsyncSession) -> InstantIndex:
        by_mentor: dict[str, array[int]] = {}
        async for rows in queries.completed_instants(session):
            for mentor_id, second in rows:
                found = by_mentor.get(mentor_id)
                if found is None:
                    found = by_mentor[mentor_id] = array("q")
                found.append(second)
        return cls(await queries.mentor_count(session), list(by_mentor.values()))

    def distribution(self, start: datetime, end: datetime) -> array[int]:
        low, high = int(start.timestamp()), int(end.timestamp())
        active = [bisect_left(x, high) - bisect_left(x, low) for x in self.instants]
        return array("l", [0] * (self.mentors - len(active)) + sorted(active))


async def distribution(session: AsyncSession, start: datetime, end: datetime) -> array[int]:
    """Every mentor's completed count in [start, end), sorted; mentors without any are 0."""
    active = await queries.completed_counts(session, start, end)
    mentors = await queries.mentor_count(session)
    return array("l", [0] * (mentors - len(active)) + sorted(active))


def standing_in(counts: array[int], completed: int) -> Standing:
    """The standing of one of the mentors in `counts`, whose own count is `completed`."""
    below = bisect_left(counts, completed)
    equal = bisect_right(counts, completed) - below - 1  # not the mentor itself
    return Standing(peers=len(counts) - 1, below=below, equal=equal)
