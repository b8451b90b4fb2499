"""Peer standing from an in-memory index of every mentor's completed instants.

The index holds every completed instant in time order with its mentor: the completed count
of every mentor in a window [start, end) is one `bincount` of the instants inside it (or
outside it, for windows that cover most of the history). Windows that split a long history
in the middle are counted instead by two vectorised binary searches over sorted keys
`mentor number << 36 | (second + OFFSET)`, one search per mentor and edge. A standing is
then two comparisons over those counts.

The index belongs to one data version. A request whose snapshot has another version is
answered in SQL within its snapshot (so nothing stale is ever served), and the index of the
new version is built in the background; `state` tells /readyz and /metrics how far it is.
"""

import asyncio
import logging
import math
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from personal_stats.reads import Standing
from personal_stats.storage import InstantTable, Store
from personal_stats.storage.base import InstantDelta

LOG = logging.getLogger("personal_stats.peers")
_SHIFT = 36
_OFFSET = 2_300_000_000  # makes every second of the years 1900-2999 positive, below 2**36
_COUNTING_LIMIT = 500_000  # instants counted one by one before searching costs less
WINDOWS_KEPT = 256  # sorted counts of this many windows (80 KB each at 10,000 mentors)
RETRY_AFTER = 10.0  # seconds before a failed build of the index is tried again
SEEN_KEPT = 100_000  # windows remembered as seen once (then forgotten all at once)


@dataclass(frozen=True)
class PeerIndex:
    version: int
    mentors: int  # every mentor, with or without completed activities
    numbers: dict[str, int]  # the mentor number of each mentor with completed activities
    seconds: np.ndarray[Any, np.dtype[np.int64]]  # every completed instant, ascending
    owners: np.ndarray[Any, np.dtype[np.int32]]  # the mentor number of each
    totals: np.ndarray[Any, np.dtype[np.int64]]  # completed instants per mentor number
    keys: np.ndarray[Any, np.dtype[np.int64]]  # mentor number << 36 | second, ascending
    bases: np.ndarray[Any, np.dtype[np.int64]]
    # Sorted counts of recent windows: the same windows come back (a period, a day, a zone).
    windows: OrderedDict[tuple[int, int], np.ndarray[Any, Any]] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )
    seen: set[tuple[int, int]] = field(default_factory=set, compare=False, repr=False)

    @classmethod
    def build(cls, table: InstantTable) -> "PeerIndex":
        order = np.argsort(table.seconds, kind="stable")
        owners = table.mentor_numbers[order].astype(np.int32)
        indexed = len(table.mentor_ids)
        keys = (table.mentor_numbers << _SHIFT) | (table.seconds + _OFFSET)
        keys.sort()
        return cls(
            version=table.version,
            mentors=table.mentors,
            numbers={mentor_id: i for i, mentor_id in enumerate(table.mentor_ids)},
            seconds=table.seconds[order],
            owners=owners,
            totals=np.bincount(owners, minlength=indexed).astype(np.int64),
            keys=keys,
            bases=np.arange(indexed, dtype=np.int64) << _SHIFT,
        )

    def refreshed(self, delta: InstantDelta) -> "PeerIndex":
        """The index of a newer data version: this one's instants but those of the changed
        mentors, replaced by theirs now (read from the database for them alone)."""
        ids = list(self.numbers)
        changed = np.fromiter(
            (self.numbers[m] for m in delta.changed if m in self.numbers), dtype=np.int64
        )
        kept = ~np.isin(self.owners, changed)
        remap = np.full(len(ids), -1, dtype=np.int64)
        survivors = np.setdiff1d(np.arange(len(ids)), changed)
        remap[survivors] = np.arange(len(survivors))
        table = InstantTable(
            version=delta.version,
            mentors=delta.mentors,
            mentor_ids=[ids[i] for i in survivors] + delta.table.mentor_ids,
            mentor_numbers=np.concatenate(
                (remap[self.owners[kept]], delta.table.mentor_numbers + len(survivors))
            ),
            seconds=np.concatenate((self.seconds[kept], delta.table.seconds)),
        )
        return PeerIndex.build(table)

    def counts(self, start: int, end: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The completed count in [start, end) of every indexed mentor, by the cheapest of
        three ways: count the instants inside the window, or those outside it, or search
        each mentor's run of keys (constant cost, for windows that split the history)."""
        low, high = (int(i) for i in np.searchsorted(self.seconds, (start, end)))
        inside, outside = high - low, low + len(self.seconds) - high
        size = len(self.totals)
        if inside <= outside and inside <= _COUNTING_LIMIT:
            return np.bincount(self.owners[low:high], minlength=size)
        if outside <= _COUNTING_LIMIT:
            before = np.bincount(self.owners[:low], minlength=size)
            return self.totals - before - np.bincount(self.owners[high:], minlength=size)
        first = np.searchsorted(self.keys, self.bases + (start + _OFFSET))
        return np.searchsorted(self.keys, self.bases + (end + _OFFSET)) - first

    def completed_before(self, mentor_id: str, end: datetime, limit: int) -> list[int]:
        """Up to `limit` of the mentor's completed instants before `end`, newest first: the
        streaks' look back past a window, answered without the database."""
        number = self.numbers.get(mentor_id)
        if number is None:
            return []
        base = number << _SHIFT
        first = int(np.searchsorted(self.keys, base))
        stop = int(np.searchsorted(self.keys, base + math.ceil(end.timestamp()) + _OFFSET))
        keys = self.keys[max(first, stop - limit) : stop][::-1]
        seconds: list[int] = (keys - (base + _OFFSET)).tolist()
        return seconds

    def standing(self, start: datetime, end: datetime, completed: int) -> Standing:
        """Where `completed` stands among every mentor's count in [start, end) (0 for those
        who never completed anything). A window seen before is answered by two binary
        searches in its sorted counts, kept for the most recent windows; one seen for the
        first time (an all_time window is one mentor's own) by two comparisons over its
        counts, without sorting them."""
        window = (int(start.timestamp()), int(end.timestamp()))
        ranked = self.windows.get(window)
        if ranked is not None:
            self.windows.move_to_end(window)
            below = int(np.searchsorted(ranked, completed, side="left"))
            equal = int(np.searchsorted(ranked, completed, side="right")) - below - 1
            return Standing(peers=self.mentors - 1, below=below, equal=equal)
        counts = self.counts(*window)
        idle = self.mentors - len(counts)
        if window in self.seen:
            sorted_counts = np.sort(np.concatenate((np.zeros(idle, dtype=np.int64), counts)))
            self.windows[window] = sorted_counts
            if len(self.windows) > WINDOWS_KEPT:
                self.windows.popitem(last=False)
        else:
            self.seen.add(window)
            if len(self.seen) > SEEN_KEPT:
                self.seen.clear()
        below = int(np.count_nonzero(counts < completed)) + (idle if completed > 0 else 0)
        equal = int(np.count_nonzero(counts == completed)) + (idle if completed == 0 else 0)
        return Standing(peers=self.mentors - 1, below=below, equal=equal - 1)


class Peers:
    """The process's peer index, rebuilt in the background when the data version moves."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.index: PeerIndex | None = None
        self.building: tuple[int, asyncio.Task[None]] | None = None
        self.answered: Counter[str] = Counter()  # which path answered, by read
        self.built_seconds = 0.0
        self.failed_at = -RETRY_AFTER
        self.loads = 0  # indexes loaded whole
        self.refreshes = 0  # indexes refreshed from the change log

    def lookup(self, version: int) -> PeerIndex | None:
        """The index of this version, or None. Safe from any thread."""
        index = self.index
        return index if index is not None and index.version == version else None

    def follow(self, version: int) -> None:
        """Start building the index of this version unless it exists or is being built
        (on the event loop's thread)."""
        index, building = self.index, self.building
        if index is not None and index.version >= version:
            return
        if building is not None and not building[1].done():
            return
        recently_failed = time.monotonic() - self.failed_at < RETRY_AFTER
        if building is not None and building[0] >= version and recently_failed:
            return  # that build failed: try again, but not at every request
        self.building = (version, asyncio.get_running_loop().create_task(self._build()))

    async def _build(self) -> None:
        """Refresh the index from the changes since its version (the changed mentors' rows
        alone), or load it whole (at start, after a first load, or past the change log)."""
        started = time.perf_counter()
        try:
            delta = None if self.index is None else await self.store.delta(self.index.version)
            if delta is not None and self.index is not None:
                index = await asyncio.to_thread(self.index.refreshed, delta)
                self.refreshes += 1
            else:
                index = await asyncio.to_thread(PeerIndex.build, await self.store.instants())
                self.loads += 1
        except Exception:
            LOG.exception("the peer index could not be built; standings are counted in SQL")
            self.failed_at = time.monotonic()
            return
        if self.index is None or index.version > self.index.version:
            self.index = index
        self.built_seconds = time.perf_counter() - started

    def state(self) -> dict[str, Any]:
        index = self.index
        return {
            "ready": index is not None,
            "version": index.version if index else None,
            "mentors": index.mentors if index else 0,
            "instants": len(index.keys) if index else 0,
            "build_seconds": round(self.built_seconds, 3),
            "loads": self.loads,
            "refreshes": self.refreshes,
            "answered": dict(self.answered),
        }

    async def close(self) -> None:
        if self.building is not None:
            task = self.building[1]
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
