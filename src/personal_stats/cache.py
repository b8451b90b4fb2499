"""Figures shared by the requests of one process: activity types, and peer distributions.

The distribution of completed counts for a window costs one aggregate over the window's
completed activities (an index-only range scan); kept sorted, each mentor's standing is then
two binary searches. Windows longer than a year (all_time starts at each mentor's own first
activity, so those rarely repeat) are counted instead from an in-memory index of every
mentor's completed instants, built once per data version: two binary searches per mentor.
Everything is kept under the data version, which every import bumps and each request reads
in its own snapshot, so nothing cached is older than what the request sees.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from personal_stats import queries
from personal_stats.queries import TypeRow

Window = tuple[int, datetime, datetime]
LONG_WINDOW = timedelta(days=400)


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
        self._types: tuple[int, dict[str, TypeRow]] | None = None
        self._instants: tuple[int, InstantIndex] | None = None

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
        if counts is None:
            if end - start > LONG_WINDOW:
                counts = (await self._instant_index(session, version)).distribution(start, end)
            else:
                counts = await distribution(session, start, end)
            if self.maxsize:
                self._distributions[key] = counts
                if len(self._distributions) > self.maxsize:
                    self._distributions.popitem(last=False)
        else:
            self._distributions.move_to_end(key)
        return standing_in(counts, completed)

    async def _instant_index(self, session: AsyncSession, version: int) -> InstantIndex:
        if self._instants is None or self._instants[0] != version:
            self._instants = (version, await InstantIndex.load(session))
        return self._instants[1]


class InstantIndex:
    """Every mentor's completed instants (epoch seconds), sorted, mentor by mentor."""

    def __init__(self, mentors: int, instants: list[array[int]]) -> None:
        self.mentors = mentors
        self.instants = instants

    @classmethod
    async def load(cls, session: AsyncSession) -> InstantIndex:
        by_mentor: dict[str, array[int]] = {}
        for mentor_id, second in await queries.completed_instants(session):
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
