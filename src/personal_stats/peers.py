"""Peer standing from an in-memory index of every mentor's completed instants.

Each mentor the index has seen has a slot. The index of one data version is a large sorted
*base* shared between versions plus a small sorted *overlay*: the instants, now, of the
slots that writes changed since the base was made. A write costs in proportion to what it
changed: the next version's index replaces the changed slots' part of the overlay, and only
once the overlay has grown past `OVERLAY_LIMIT` is it merged into a new base (two sorted
runs merged, in a worker thread; numpy lets go of the GIL while it sorts).

The completed count of every slot in a window [start, end) is one `bincount` of the base's
instants inside it (or outside it, for windows that cover most of the history), or, for
windows that split a long history in the middle, two vectorised binary searches over sorted
keys `slot << 36 | (second + OFFSET)`; the overlay's slots are then counted by searches of
their own. A standing is two comparisons over those counts (`figures.standing_of_counts`).

A request whose snapshot is newer than the index is answered from the index's counts
corrected by the changed mentors' counts read in that snapshot (`standing_corrected`): exact
for the snapshot, with no count of every mentor. Only before the first index exists is every
mentor counted in SQL. `Peers.state()` tells /readyz and /metrics how far the index is.
"""

import asyncio
import logging
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from personal_stats.figures import standing_of_counts, standing_of_sorted
from personal_stats.reads import Standing
from personal_stats.storage import InstantTable, Store
from personal_stats.storage.base import InstantDelta

LOG = logging.getLogger("personal_stats.peers")
Int64s = np.ndarray[Any, np.dtype[np.int64]]
Flags = np.ndarray[Any, np.dtype[np.bool_]]
_SHIFT = 36
_SECONDS = (1 << _SHIFT) - 1
_OFFSET = 2_300_000_000  # makes every second of the years 1900-2999 positive, below 2**36
_COUNTING_LIMIT = 500_000  # instants counted one by one before searching costs less
OVERLAY_LIMIT = 100_000  # instants in the overlay before it is merged into a new base
WINDOWS_KEPT = 256  # sorted counts of this many windows (80 KB each at 10,000 mentors)
RETRY_AFTER = 10.0  # seconds before a failed build of the index is tried again
SEEN_KEPT = 100_000  # windows remembered as seen once (then forgotten all at once)
_EMPTY = np.zeros(0, dtype=np.int64)


def _keys(slots: Int64s, seconds: Int64s) -> Int64s:
    return (slots << _SHIFT) | (seconds + _OFFSET)


def _search(keys: Int64s, slots: Int64s, start: int, end: int) -> Int64s:
    """The number of each slot's keys with start <= second < end."""
    bases = slots << _SHIFT
    first = np.searchsorted(keys, bases + (start + _OFFSET))
    counts: Int64s = np.searchsorted(keys, bases + (end + _OFFSET)) - first
    return counts


@dataclass(frozen=True, eq=False)
class Instants:
    """Completed instants in two orders: by time (with the slot of each) and by key."""

    seconds: Int64s  # ascending
    owners: np.ndarray[Any, np.dtype[np.int32]]  # the slot of each
    keys: Int64s  # slot << 36 | second, ascending
    totals: Int64s  # instants per slot

    @classmethod
    def of(cls, slots: Int64s, seconds: Int64s, size: int) -> "Instants":
        order = np.argsort(seconds, kind="stable")
        owners = slots[order].astype(np.int32)
        keys = _keys(slots, seconds)
        keys.sort()
        totals = np.bincount(owners, minlength=size).astype(np.int64)
        return cls(seconds[order], owners, keys, totals)

    def counts(self, start: int, end: int, size: int) -> Int64s:
        """The count in [start, end) of each of `size` slots (at least this base's), by the
        cheapest of three ways: count the instants inside the window, or those outside it,
        or search each slot's run of keys (constant cost, for windows that split history)."""
        low, high = (int(i) for i in np.searchsorted(self.seconds, (start, end)))
        inside, outside = high - low, low + len(self.seconds) - high
        if inside <= outside and inside <= _COUNTING_LIMIT:
            counts: Int64s = np.bincount(self.owners[low:high], minlength=size)
            return counts
        if outside <= _COUNTING_LIMIT:
            totals = np.zeros(size, dtype=np.int64)
            totals[: len(self.totals)] = self.totals
            before = np.bincount(self.owners[:low], minlength=size)
            return totals - before - np.bincount(self.owners[high:], minlength=size)
        return _search(self.keys, np.arange(size, dtype=np.int64), start, end)

    def merged(self, replaced: Flags, overlay: Int64s, size: int) -> "Instants":
        """This base with the `replaced` slots' instants swapped for the overlay's keys:
        each order is two sorted runs merged (a stable sort of two runs is a merge)."""
        kept = ~replaced[self.owners]
        added_seconds = (overlay & _SECONDS) - _OFFSET
        by_time = np.argsort(added_seconds, kind="stable")
        seconds = np.concatenate((self.seconds[kept], added_seconds[by_time]))
        owners = np.concatenate((self.owners[kept], (overlay[by_time] >> _SHIFT).astype(np.int32)))
        order = np.argsort(seconds, kind="stable")
        keys = np.concatenate((self.keys[~replaced[self.keys >> _SHIFT]], overlay))
        keys.sort(kind="stable")
        owners = owners[order]
        totals = np.bincount(owners, minlength=size).astype(np.int64)
        return Instants(seconds[order], owners, keys, totals)


@dataclass(frozen=True, eq=False)
class PeerIndex:
    version: int
    mentors: int  # every mentor, with or without completed activities
    numbers: Mapping[str, int]  # the slot of each mentor the index has seen
    base: Instants
    covered: Flags  # by slot: its instants are the overlay's, not the base's
    overlay: Int64s  # the covered slots' keys, ascending
    # Sorted counts of every slot in recent windows: the same windows come back (a period,
    # a day, a zone).
    windows: OrderedDict[tuple[int, int], Int64s] = field(default_factory=OrderedDict)
    seen: set[tuple[int, int]] = field(default_factory=set)

    @classmethod
    def build(cls, table: InstantTable) -> "PeerIndex":
        size = len(table.mentor_ids)
        return cls(
            version=table.version,
            mentors=table.mentors,
            numbers={mentor_id: i for i, mentor_id in enumerate(table.mentor_ids)},
            base=Instants.of(table.mentor_numbers, table.seconds, size),
            covered=np.zeros(size, dtype=np.bool_),
            overlay=_EMPTY,
        )

    @property
    def size(self) -> int:
        return len(self.numbers)

    @property
    def instants(self) -> int:
        stale = self.base.totals[self.covered[: len(self.base.totals)]].sum()
        return len(self.base.keys) - int(stale) + len(self.overlay)

    def refreshed(self, delta: InstantDelta) -> "PeerIndex":
        """The index of a newer data version: this one's, with the changed mentors' instants
        replaced by theirs now. The sorted counts of the windows kept are carried over,
        each corrected by the changed slots' old and new counts."""
        numbers = dict(self.numbers)
        for mentor_id in sorted(delta.changed):
            numbers.setdefault(mentor_id, len(numbers))
        size = len(numbers)
        changed = np.fromiter((numbers[m] for m in delta.changed), dtype=np.int64)
        is_changed = np.zeros(size, dtype=np.bool_)
        is_changed[changed] = True
        slot_of = np.fromiter((numbers[m] for m in delta.table.mentor_ids), dtype=np.int64,
                              count=len(delta.table.mentor_ids))  # fmt: skip
        added = _keys(slot_of[delta.table.mentor_numbers], delta.table.seconds)
        overlay = np.concatenate((self.overlay[~is_changed[self.overlay >> _SHIFT]], added))
        overlay.sort()
        covered = np.zeros(size, dtype=np.bool_)
        covered[: self.size] = self.covered
        covered[changed] = True
        base = self.base
        if len(overlay) > OVERLAY_LIMIT:
            base, overlay = base.merged(covered, overlay, size), _EMPTY
            covered = np.zeros(size, dtype=np.bool_)
        index = PeerIndex(delta.version, delta.mentors, numbers, base, covered, overlay,
                          seen=set(self.seen))  # fmt: skip
        existed = changed[changed < self.size]
        for window, ranked in self.windows.items():
            old, new = self.counts_of(existed, *window), index.counts_of(changed, *window)
            index.windows[window] = _replace_values(ranked, old, new)
        return index

    def counts(self, start: int, end: int) -> Int64s:
        """The completed count in [start, end) of every slot."""
        counts = self.base.counts(start, end, self.size)
        if self.covered.any():
            slots = np.flatnonzero(self.covered)
            counts[slots] = _search(self.overlay, slots, start, end)
        return counts

    def counts_of(self, slots: Int64s, start: int, end: int) -> Int64s:
        """The completed count in [start, end) of these slots alone."""
        from_overlay = self.covered[slots]
        counts = _search(self.base.keys, slots, start, end)
        counts[from_overlay] = _search(self.overlay, slots[from_overlay], start, end)
        return counts

    def completed_before(self, mentor_id: str, end: datetime, limit: int) -> list[int]:
        """Up to `limit` of the mentor's completed instants before `end`, newest first: the
        streaks' look back past a window, answered without the database."""
        number = self.numbers.get(mentor_id)
        if number is None:
            return []
        keys = self.overlay if self.covered[number] else self.base.keys
        base = number << _SHIFT
        first = int(np.searchsorted(keys, base))
        stop = int(np.searchsorted(keys, base + math.ceil(end.timestamp()) + _OFFSET))
        mine = keys[max(first, stop - limit) : stop][::-1]
        seconds: list[int] = (mine - (base + _OFFSET)).tolist()
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
            return standing_of_sorted(ranked, self.mentors, completed)
        counts = self.counts(*window)
        if window in self.seen:
            self.windows[window] = np.sort(counts)
            if len(self.windows) > WINDOWS_KEPT:
                self.windows.popitem(last=False)
        else:
            self.seen.add(window)
            if len(self.seen) > SEEN_KEPT:
                self.seen.clear()
        return standing_of_counts(counts, self.mentors, completed)

    def standing_corrected(
        self,
        start: datetime,
        end: datetime,
        completed: int,
        mentors: int,
        changed: Mapping[str, int | None],
    ) -> Standing:
        """The standing in a newer snapshot that has `mentors` mentors and in which the
        `changed` mentors (every one a write touched since this index's version) have these
        counts in [start, end) (None: the mentor is gone). A gone mentor's slot counts 0,
        and `mentors` leaves it out: the arithmetic of `standing_of_counts` allows for that."""
        counts = self.counts(int(start.timestamp()), int(end.timestamp()))
        unseen = []
        for mentor_id, count in changed.items():
            slot = self.numbers.get(mentor_id)
            if slot is not None:
                counts[slot] = count or 0
            elif count is not None:
                unseen.append(count)
        if unseen:
            counts = np.concatenate((counts, np.array(unseen, dtype=np.int64)))
        return standing_of_counts(counts, mentors, completed)


def _replace_values(ranked: Int64s, old: Int64s, new: Int64s) -> Int64s:
    """The ascending `ranked` with one occurrence of each of `old` taken out and `new` put in."""
    old = np.sort(old)
    runs = np.arange(len(old)) - np.searchsorted(old, old, side="left")  # 0, 1, ... per value
    kept = np.delete(ranked, np.searchsorted(ranked, old, side="left") + runs)
    new = np.sort(new)
    return np.insert(kept, np.searchsorted(kept, new), new)


class Peers:
    """The process's peer index, refreshed in the background when the data version moves.
    Counters tell which path answered (`answered`), and how the index was made."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.index: PeerIndex | None = None
        self.building: tuple[int, asyncio.Task[None]] | None = None
        self.answered: Counter[str] = Counter()  # which path answered, by read
        self.built_seconds = 0.0
        self.failed_at = -RETRY_AFTER
        self.loads = 0  # indexes loaded whole
        self.refreshes = 0  # indexes refreshed from the change log
        self.merges = 0  # overlays merged into a new base

    def lookup(self, version: int) -> PeerIndex | None:
        """The index of this version, or None. Safe from any thread."""
        index = self.index
        return index if index is not None and index.version == version else None

    def before(self, version: int) -> PeerIndex | None:
        """The newest index of this version or an older one, or None."""
        index = self.index
        return index if index is not None and index.version <= version else None

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
                previous = self.index
                index = await asyncio.to_thread(previous.refreshed, delta)
                self.refreshes += 1
                self.merges += index.base is not previous.base
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
            "instants": index.instants if index else 0,
            "overlay": len(index.overlay) if index else 0,
            "build_seconds": round(self.built_seconds, 3),
            "loads": self.loads,
            "refreshes": self.refreshes,
            "merges": self.merges,
            "answered": dict(self.answered),
        }

    async def close(self) -> None:
        if self.building is not None:
            task = self.building[1]
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
