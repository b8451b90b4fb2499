"""Peer standing: where a mentor's completed count falls among all mentors' for a window.

The distribution of counts for one window costs one aggregate over the window's completed
activities (an index-only range scan); kept sorted, each mentor's standing is then two binary
searches. Distributions are cached per process under the data version, which every import
bumps, so a cached one is never older than the data the request reads.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from personal_stats import queries

Key = tuple[int, datetime, datetime]


@dataclass(frozen=True)
class Standing:
    peers: int
    below: int
    equal: int


class PeerIndex:
    """Sorted completed counts of every mentor, per (data version, window); LRU-bounded."""

    def __init__(self, maxsize: int = 128) -> None:
        self.maxsize = maxsize
        self._distributions: OrderedDict[Key, array[int]] = OrderedDict()

    async def standing(
        self, session: AsyncSession, start: datetime, end: datetime, completed: int
    ) -> Standing:
        """How many other mentors completed fewer, and how many as many, in [start, end)."""
        version = (await queries.data_version(session)).version
        key = (version, start, end)
        counts = self._distributions.get(key)
        if counts is None:
            counts = await distribution(session, start, end)
            self._distributions[key] = counts
            if len(self._distributions) > self.maxsize:
                self._distributions.popitem(last=False)
        else:
            self._distributions.move_to_end(key)
        return standing_in(counts, completed)


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
