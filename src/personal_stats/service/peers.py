"""Peer standing from an in-memory index of every mentor's completed instants.

Each mentor the index has seen has a slot. The index of one data version is a large sorted
*base*, shared between versions, plus a small *overlay*: the completed instants that writes
added (+1) or took away (-1) since the base was made, read from the change log. A write
costs in proportion to what it changed: the next version's index adds that write's steps
to the overlay, and only once the overlay has grown past `OVERLAY_LIMIT` is it merged into
a new base (sorted insertions and deletions, in a worker thread; numpy lets go of the GIL
for them).

The completed count of every slot in a window [start, end) is one `bincount` of the base's
instants inside it (or outside it, for windows that cover most of the history), or, for
windows that split a long history in the middle, two vectorised binary searches over sorted
keys `slot << 36 | (second + OFFSET)`; the overlay's steps in the window are then added. A
standing is two comparisons over those counts, or two binary searches in a window's sorted
counts, kept for recent windows (`figures.standing_among`: the index returns counts).

A request whose snapshot is newer than the index is answered from the index corrected by
the steps written since (`window_corrected`, the steps read in that snapshot): exact for
the snapshot, with no count of every mentor. Only before the first index exists is every
mentor counted in SQL. `Peers.state()` tells /readyz and /metrics how far the index is.
"""

import asyncio
import logging
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from personal_stats.core.reads import PeerCounts
from personal_stats.storage import InstantTable, Store
from personal_stats.storage.base import InstantChanges

LOG = logging.getLogger("personal_stats.peers")
Int64s = np.ndarray[Any, np.dtype[np.int64]]
_SHIFT = 36  # a key: slot << 36 | (second + OFFSET), in (slot, time) order
_SECONDS = (1 << _SHIFT) - 1
_SLOT_BITS = 27  # a time key: (second + OFFSET) << 27 | slot, in (time, slot) order
_SLOTS = (1 << _SLOT_BITS) - 1
_OFFSET = 2_300_000_000  # makes every second of the years 1900-2999 positive, below 2**36
_CHECKPOINT_INSTANTS = 4_096  # at least this many instants between two checkpoints
_CHECKPOINTS = 256  # at most this many checkpoints (10 MB at 10,000 mentors)
OVERLAY_LIMIT = 50_000  # steps in the overlay before it is merged into a new base
STEPS_ON_LOOP = 10_000  # steps of a refresh done on the event loop (more: in a thread)
WINDOWS_KEPT = 256  # sorted counts of this many windows (80 KB each at 10,000 mentors)
RETRY_AFTER = 10.0  # seconds before a failed build of the index is tried again
SEEN_KEPT = 100_000  # windows remembered as seen once (then forgotten all at once)
CHANGES_CACHED = 16  # change-log reads kept, by (index version, snapshot version)
_EMPTY = np.zeros(0, dtype=np.int64)


def _keys(slots: Int64s, seconds: Int64s) -> Int64s:
    keys: Int64s = (slots << _SHIFT) | (seconds + _OFFSET)
    return keys


def _time_keys(keys: Int64s) -> Int64s:
    by_time: Int64s = ((keys & _SECONDS) << _SLOT_BITS) | (keys >> _SHIFT)
    by_time.sort()
    return by_time


def _checkpoints(by_time: Int64s, size: int) -> tuple[int, np.ndarray[Any, Any]]:
    """Every slot's count of the instants before each checkpoint (a row a checkpoint, the
    first row zeros): checkpoints every `step` instants in time order, so that any slot's
    count before any instant is a row plus a count of fewer than `step` instants."""
    step = max(_CHECKPOINT_INSTANTS, -(-len(by_time) // _CHECKPOINTS))
    rows = -(-len(by_time) // step)
    chunk = np.arange(len(by_time), dtype=np.int64) // step
    counts = np.bincount(chunk * size + (by_time & _SLOTS), minlength=rows * size)
    prefix = np.zeros((rows + 1, size), dtype=np.int32)
    np.cumsum(counts.reshape(rows, size), axis=0, out=prefix[1:])
    return step, prefix


def _without(ranked: Int64s, values: Int64s) -> Int64s:
    """The ascending `ranked` with one occurrence of each of the ascending `values` taken out."""
    runs = np.arange(len(values)) - np.searchsorted(values, values, side="left")
    kept: Int64s = np.delete(ranked, np.searchsorted(ranked, values, side="left") + runs)
    return kept


def _with(ranked: Int64s, values: Int64s) -> Int64s:
    """The ascending `ranked` with the ascending `values` put in."""
    merged: Int64s = np.insert(ranked, np.searchsorted(ranked, values), values)
    return merged


def _replace_values(ranked: Int64s, old: Int64s, new: Int64s) -> Int64s:
    """The ascending `ranked` with one occurrence of each of `old` taken out and `new` put in."""
    return _with(_without(ranked, np.sort(old)), np.sort(new))


@dataclass(frozen=True, eq=False)
class Base:
    """Completed instants in two orders, each one sorted array: by (time, slot) for the
    counts inside or outside a window, by (slot, time) for each slot's own run."""

    by_time: Int64s
    keys: Int64s
    totals: Int64s  # instants per slot
    step: int  # instants between two checkpoints
    prefix: np.ndarray[Any, Any]  # each slot's count before each checkpoint (see _checkpoints)

    @classmethod
    def of(cls, slots: Int64s, seconds: Int64s, size: int) -> "Base":
        keys = _keys(slots, seconds)
        keys.sort()
        return cls.of_keys(_time_keys(keys), keys, size)

    @classmethod
    def of_keys(cls, by_time: Int64s, keys: Int64s, size: int) -> "Base":
        totals = np.bincount(keys >> _SHIFT, minlength=size).astype(np.int64)
        return cls(by_time, keys, totals, *_checkpoints(by_time, len(totals)))

    def counts(self, start: int, end: int, size: int) -> Int64s:
        """The count in [start, end) of each of `size` slots (at least this base's): the
        count before `end` less the count before `start`, each a checkpoint's row plus the
        few instants after it (the same cost for any window)."""
        edges = (np.array([start, end], dtype=np.int64) + _OFFSET) << _SLOT_BITS
        low, high = (int(i) for i in np.searchsorted(self.by_time, edges))
        counts = np.zeros(size, dtype=np.int64)
        counts[: len(self.totals)] = self._before(high) - self._before(low)
        return counts

    def _before(self, position: int) -> Int64s:
        """Each of this base's slots' count of the first `position` instants in time order."""
        row = position // self.step
        since = self.by_time[row * self.step : position] & _SLOTS
        before: Int64s = np.bincount(since, minlength=len(self.totals)) + self.prefix[row]
        return before

    def merged(self, keys: Int64s, weights: Int64s, size: int) -> "Base":
        """This base with the overlay's steps applied: `keys` ascending, each taken away
        or put in as often as its weight says."""
        removed = np.repeat(keys[weights < 0], -weights[weights < 0])
        added = np.repeat(keys[weights > 0], weights[weights > 0])
        merged_keys = _with(_without(self.keys, removed), added)
        by_time = _with(_without(self.by_time, _time_keys(removed)), _time_keys(added))
        return Base.of_keys(by_time, merged_keys, size)


class PeerIndex:
    """The completed instants of one data version (see the module's docstring). Its arrays
    never change; what it keeps of recent windows does, with counters of how each window's
    counts were found: `hits` (sorted counts kept), `misses` (counted)."""

    def __init__(
        self,
        version: int,
        mentors: int,
        numbers: Mapping[str, int],
        base: Base,
        steps: Int64s = _EMPTY,
        weights: Int64s = _EMPTY,
        seen: set[tuple[int, int]] | None = None,
    ) -> None:
        self.version = version
        self.mentors = mentors  # every mentor, with or without completed activities
        self.numbers = numbers  # the slot of each mentor the index has seen
        self.base = base
        # The overlay: keys of the steps since the base, ascending, unique; each key's net
        # step; and the weights' running sum, from 0.
        self.steps, self.weights = steps, weights
        self.running: Int64s = np.concatenate(([0], np.cumsum(weights)))
        # Sorted counts of every slot in recent windows: the same windows come back (a
        # period, a day, a zone); a window is kept once seen twice.
        self.windows: OrderedDict[tuple[int, int], Int64s] = OrderedDict()
        self.seen: set[tuple[int, int]] = set() if seen is None else seen
        self.hits = self.misses = 0

    @classmethod
    def build(cls, table: InstantTable) -> "PeerIndex":
        size = len(table.mentor_ids)
        numbers = {mentor_id: i for i, mentor_id in enumerate(table.mentor_ids)}
        base = Base.of(table.mentor_numbers, table.seconds, size)
        return cls(table.version, table.mentors, numbers, base)

    @property
    def size(self) -> int:
        return len(self.numbers)

    @property
    def instants(self) -> int:
        return len(self.base.keys) + int(self.weights.sum())

    def refreshed(self, changes: InstantChanges) -> "PeerIndex":
        """The index of a newer data version: this one with the steps written since. The
        sorted counts of the windows kept are carried over, each corrected by the touched
        slots' old and new counts."""
        numbers = dict(self.numbers)
        slots = np.fromiter((numbers.setdefault(m, len(numbers)) for m in changes.mentor_ids),
                            dtype=np.int64, count=len(changes.mentor_ids))  # fmt: skip
        keys = np.concatenate((self.steps, _keys(slots, changes.seconds)))
        unique, which = np.unique(keys, return_inverse=True)
        weights = np.bincount(
            which, weights=np.concatenate((self.weights, changes.deltas)), minlength=len(unique)
        ).astype(np.int64)
        steps, weights = unique[weights != 0], weights[weights != 0]
        base = self.base
        if len(steps) > OVERLAY_LIMIT:
            base, steps, weights = base.merged(steps, weights, len(numbers)), _EMPTY, _EMPTY
        index = PeerIndex(changes.version, changes.mentors, numbers, base, steps, weights,
                          set(self.seen))  # fmt: skip
        touched = np.unique(slots)
        kept = list(self.windows)
        old = self.counts_in(touched[touched < self.size], kept)
        new = index.counts_in(touched, kept)
        for row, window in enumerate(kept):
            index.windows[window] = _replace_values(self.windows[window], old[row], new[row])
        return index

    def counts(self, start: int, end: int) -> Int64s:
        """The completed count in [start, end) of every slot."""
        counts = self.base.counts(start, end, self.size)
        if len(self.steps):
            seconds = (self.steps & _SECONDS) - _OFFSET
            inside = (seconds >= start) & (seconds < end)
            np.add.at(counts, self.steps[inside] >> _SHIFT, self.weights[inside])
        return counts

    def counts_of(self, slots: Int64s, start: int, end: int) -> Int64s:
        """The completed count in [start, end) of these slots alone."""
        counts: Int64s = self.counts_in(slots, [(start, end)])[0]
        return counts

    def counts_in(self, slots: Int64s, windows: list[tuple[int, int]]) -> Int64s:
        """The completed count of these slots in each of these windows (a row a window),
        by two binary searches of every (window, slot) at once."""
        edges = np.array(windows, dtype=np.int64).reshape(-1, 2) + _OFFSET
        bases = slots << _SHIFT
        starts = (bases[None, :] + edges[:, :1]).ravel()
        ends = (bases[None, :] + edges[:, 1:]).ravel()
        keys = self.base.keys
        counts = np.searchsorted(keys, ends) - np.searchsorted(keys, starts)
        if len(self.steps):
            running = self.running
            counts += running[np.searchsorted(self.steps, ends)]
            counts -= running[np.searchsorted(self.steps, starts)]
        shaped: Int64s = counts.reshape(len(edges), len(slots))
        return shaped

    def completed_before(
        self, mentor_id: str, end: datetime, limit: int, since: Sequence[tuple[int, int]] = ()
    ) -> list[int]:
        """Up to `limit` of the mentor's completed instants before `end`, newest first: the
        streaks' look back past a window, answered without the database; `since`: the
        mentor's steps (second, +1 or -1) written after this index's version."""
        slot = self.numbers.get(mentor_id, self.size)  # a new mentor: an empty slot
        base = slot << _SHIFT
        edges = (base, base + math.ceil(end.timestamp()) + _OFFSET)
        first, stop = (int(i) for i in np.searchsorted(self.steps, edges))
        own_steps = Counter(dict(zip(self.steps[first:stop].tolist(),
                                     self.weights[first:stop].tolist(), strict=True)))  # fmt: skip
        for second, delta in since:
            if base + second + _OFFSET < edges[1]:
                own_steps[base + second + _OFFSET] += delta
        taken = -sum(w for w in own_steps.values() if w < 0)
        low, high = (int(i) for i in np.searchsorted(self.base.keys, edges))
        keys = self.base.keys[max(low, high - limit - taken) : high].tolist()
        if own_steps:
            mine = Counter(keys)
            mine.update(own_steps)
            keys = sorted(k for k, n in mine.items() for _ in range(max(n, 0)))
        return [k - (base + _OFFSET) for k in reversed(keys[-limit:])] if limit else []

    def window(self, start: datetime, end: datetime) -> PeerCounts:
        """Every mentor's completed count in [start, end) (0 for those who never completed
        anything). A window seen before comes sorted, kept for the most recent windows; one
        seen for the first time (an all_time window is one mentor's own) as counted, not
        sorted."""
        window = (int(start.timestamp()), int(end.timestamp()))
        ranked = self.windows.get(window)
        if ranked is not None:
            self.hits += 1
            self.windows.move_to_end(window)
            return PeerCounts(self.mentors, ranked, ranked=True)
        self.misses += 1
        counts = self.counts(*window)
        if window in self.seen:
            ranked = self.windows[window] = np.sort(counts)
            if len(self.windows) > WINDOWS_KEPT:
                self.windows.popitem(last=False)
            return PeerCounts(self.mentors, ranked, ranked=True)
        self.seen.add(window)
        if len(self.seen) > SEEN_KEPT:
            self.seen.clear()
        return PeerCounts(self.mentors, counts)

    def window_corrected(
        self, start: datetime, end: datetime, changes: InstantChanges
    ) -> PeerCounts:
        """The counts in a newer snapshot, whose changes since this index's version these
        are: this index's counts with the steps inside the window added. A mentor that is
        gone keeps a slot of count 0, and `changes.mentors` leaves it out: the arithmetic of
        `figures.standing_of_counts` allows for that."""
        window = (int(start.timestamp()), int(end.timestamp()))
        inside = np.flatnonzero((changes.seconds >= window[0]) & (changes.seconds < window[1]))
        unseen: dict[str, int] = {}  # mentors new since this index: slots after its own

        def slot(mentor_id: str) -> int:
            found = self.numbers.get(mentor_id)
            return unseen.setdefault(mentor_id, self.size + len(unseen)) if found is None else found

        slots = np.fromiter((slot(changes.mentor_ids[i]) for i in inside), dtype=np.int64,
                            count=len(inside))  # fmt: skip
        touched, which = np.unique(slots, return_inverse=True)
        deltas = np.bincount(which, weights=changes.deltas[inside], minlength=len(touched))
        deltas = deltas.astype(np.int64)
        known = touched < self.size
        ranked = self.windows.get(window)
        if ranked is not None:
            self.hits += 1
            old = self.counts_of(touched[known], *window)
            new = np.concatenate((old + deltas[known], deltas[~known]))
            return PeerCounts(changes.mentors, _replace_values(ranked, old, new), ranked=True)
        self.misses += 1
        counts = np.concatenate((self.counts(*window), np.zeros(len(unseen), dtype=np.int64)))
        counts[touched] += deltas
        return PeerCounts(changes.mentors, counts)


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
        # What the change log says between two versions never changes: read once.
        self.changes: OrderedDict[tuple[int, int], InstantChanges | None] = OrderedDict()

    def lookup(self, version: int) -> PeerIndex | None:
        """The index of this version, or None. Safe from any thread."""
        index = self.index
        return index if index is not None and index.version == version else None

    def before(self, version: int) -> PeerIndex | None:
        """The newest index of this version or an older one, or None."""
        index = self.index
        return index if index is not None and index.version <= version else None

    def remember(self, since: int, changes: InstantChanges | None, version: int) -> None:
        self.changes[(since, version)] = changes
        if len(self.changes) > CHANGES_CACHED:
            self.changes.popitem(last=False)

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
        """Refresh the index from the changes since its version (the steps alone), or load
        it whole (at start, after a first load, or past the change log)."""
        started = time.perf_counter()
        try:
            previous = self.index
            changes = None if previous is None else await self.store.changes(previous.version)
            if changes is not None and previous is not None:
                self.remember(previous.version, changes, changes.version)
                steps = len(changes.deltas)
                if steps <= STEPS_ON_LOOP and len(previous.steps) + steps <= OVERLAY_LIMIT:
                    # No merge, a few milliseconds: on the loop it is done at once, while a
                    # thread waits for the interpreter's lock at each of its numpy calls.
                    index = previous.refreshed(changes)
                else:
                    index = await asyncio.to_thread(previous.refreshed, changes)
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
            "overlay": len(index.steps) if index else 0,
            "build_seconds": round(self.built_seconds, 3),
            "loads": self.loads,
            "refreshes": self.refreshes,
            "merges": self.merges,
            "answered": dict(self.answered),
            "windows": {"hits": index.hits if index else 0, "misses": index.misses if index else 0},
        }

    async def close(self) -> None:
        if self.building is not None:
            task = self.building[1]
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
