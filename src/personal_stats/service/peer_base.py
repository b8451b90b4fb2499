"""The base of a peer index: every completed instant of one data version as keys
`slot << 36 | (second + OFFSET)` in two sorted arrays, by (slot, time) and by (time, slot),
with checkpoints of every slot's count, so that the count of every slot in any window costs
the same (`Base.counts`); and the sorted-array arithmetic that merges steps into it and
corrects kept windows (`replace_values`). Pure numpy: no I/O, no state."""

from dataclasses import dataclass
from typing import Any

import numpy as np

Int64s = np.ndarray[Any, np.dtype[np.int64]]
SHIFT = 36  # a key: slot << 36 | (second + OFFSET), in (slot, time) order
SECONDS = (1 << SHIFT) - 1
SLOT_BITS = 27  # a time key: (second + OFFSET) << 27 | slot, in (time, slot) order
SLOTS = (1 << SLOT_BITS) - 1
OFFSET = 2_300_000_000  # makes every second of the years 1900-2999 positive, below 2**36
CHECKPOINT_INSTANTS = 4_096  # at least this many instants between two checkpoints
CHECKPOINTS = 256  # at most this many checkpoints (10 MB at 10,000 mentors)
EMPTY = np.zeros(0, dtype=np.int64)


def keys_of(slots: Int64s, seconds: Int64s) -> Int64s:
    keys: Int64s = (slots << SHIFT) | (seconds + OFFSET)
    return keys


def time_keys(keys: Int64s) -> Int64s:
    by_time: Int64s = ((keys & SECONDS) << SLOT_BITS) | (keys >> SHIFT)
    by_time.sort()
    return by_time


def checkpoints(by_time: Int64s, size: int) -> tuple[int, np.ndarray[Any, Any]]:
    """Every slot's count of the instants before each checkpoint (a row a checkpoint, the
    first row zeros): checkpoints every `step` instants in time order, so that any slot's
    count before any instant is a row plus a count of fewer than `step` instants."""
    step = max(CHECKPOINT_INSTANTS, -(-len(by_time) // CHECKPOINTS))
    rows = -(-len(by_time) // step)
    chunk = np.arange(len(by_time), dtype=np.int64) // step
    counts = np.bincount(chunk * size + (by_time & SLOTS), minlength=rows * size)
    prefix = np.zeros((rows + 1, size), dtype=np.int32)
    np.cumsum(counts.reshape(rows, size), axis=0, out=prefix[1:])
    return step, prefix


def without(ranked: Int64s, values: Int64s) -> Int64s:
    """The ascending `ranked` with one occurrence of each of the ascending `values` taken out."""
    runs = np.arange(len(values)) - np.searchsorted(values, values, side="left")
    kept: Int64s = np.delete(ranked, np.searchsorted(ranked, values, side="left") + runs)
    return kept


def with_(ranked: Int64s, values: Int64s) -> Int64s:
    """The ascending `ranked` with the ascending `values` put in."""
    merged: Int64s = np.insert(ranked, np.searchsorted(ranked, values), values)
    return merged


def replace_values(ranked: Int64s, old: Int64s, new: Int64s) -> Int64s:
    """The ascending `ranked` with one occurrence of each of `old` taken out and `new` put in."""
    return with_(without(ranked, np.sort(old)), np.sort(new))


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
        keys = keys_of(slots, seconds)
        keys.sort()
        return cls.of_keys(time_keys(keys), keys, size)

    @classmethod
    def of_keys(cls, by_time: Int64s, keys: Int64s, size: int) -> "Base":
        totals = np.bincount(keys >> SHIFT, minlength=size).astype(np.int64)
        return cls(by_time, keys, totals, *checkpoints(by_time, len(totals)))

    def counts(self, start: int, end: int, size: int) -> Int64s:
        """The count in [start, end) of each of `size` slots (at least this base's): the
        count before `end` less the count before `start`, each a checkpoint's row plus the
        few instants after it (the same cost for any window)."""
        edges = (np.array([start, end], dtype=np.int64) + OFFSET) << SLOT_BITS
        low, high = (int(i) for i in np.searchsorted(self.by_time, edges))
        counts = np.zeros(size, dtype=np.int64)
        counts[: len(self.totals)] = self._before(high) - self._before(low)
        return counts

    def _before(self, position: int) -> Int64s:
        """Each of this base's slots' count of the first `position` instants in time order."""
        row = position // self.step
        since = self.by_time[row * self.step : position] & SLOTS
        before: Int64s = np.bincount(since, minlength=len(self.totals)) + self.prefix[row]
        return before

    def merged(self, keys: Int64s, weights: Int64s, size: int) -> "Base":
        """This base with the overlay's steps applied: `keys` ascending, each taken away
        or put in as often as its weight says."""
        removed = np.repeat(keys[weights < 0], -weights[weights < 0])
        added = np.repeat(keys[weights > 0], weights[weights > 0])
        merged_keys = with_(without(self.keys, removed), added)
        by_time = with_(without(self.by_time, time_keys(removed)), time_keys(added))
        return Base.of_keys(by_time, merged_keys, size)
