"""The peer index of one data version: every mentor's completed instants, in memory.

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

import math
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np

from personal_stats.core.reads import PeerCounts
from personal_stats.service.peer_base import (
    EMPTY,
    OFFSET,
    SECONDS,
    SHIFT,
    Base,
    Int64s,
    keys_of,
    replace_values,
)
from personal_stats.storage import InstantChanges, InstantTable

OVERLAY_LIMIT = 50_000  # steps in the overlay before it is merged into a new base
WINDOWS_KEPT = 256  # sorted counts of this many windows (80 KB each at 10,000 mentors)
SEEN_KEPT = 100_000  # windows remembered as seen once (then forgotten all at once)


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
        steps: Int64s = EMPTY,
        weights: Int64s = EMPTY,
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
        keys = np.concatenate((self.steps, keys_of(slots, changes.seconds)))
        unique, which = np.unique(keys, return_inverse=True)
        weights = np.bincount(
            which, weights=np.concatenate((self.weights, changes.deltas)), minlength=len(unique)
        ).astype(np.int64)
        steps, weights = unique[weights != 0], weights[weights != 0]
        base = self.base
        if len(steps) > OVERLAY_LIMIT:
            base, steps, weights = base.merged(steps, weights, len(numbers)), EMPTY, EMPTY
        index = PeerIndex(changes.version, changes.mentors, numbers, base, steps, weights,
                          set(self.seen))  # fmt: skip
        touched = np.unique(slots)
        kept = list(self.windows)
        old = self.counts_in(touched[touched < self.size], kept)
        new = index.counts_in(touched, kept)
        for row, window in enumerate(kept):
            index.windows[window] = replace_values(self.windows[window], old[row], new[row])
        return index

    def counts(self, start: int, end: int) -> Int64s:
        """The completed count in [start, end) of every slot."""
        counts = self.base.counts(start, end, self.size)
        if len(self.steps):
            seconds = (self.steps & SECONDS) - OFFSET
            inside = (seconds >= start) & (seconds < end)
            np.add.at(counts, self.steps[inside] >> SHIFT, self.weights[inside])
        return counts

    def counts_of(self, slots: Int64s, start: int, end: int) -> Int64s:
        """The completed count in [start, end) of these slots alone."""
        counts: Int64s = self.counts_in(slots, [(start, end)])[0]
        return counts

    def counts_in(self, slots: Int64s, windows: list[tuple[int, int]]) -> Int64s:
        """The completed count of these slots in each of these windows (a row a window),
        by two binary searches of every (window, slot) at once."""
        edges = np.array(windows, dtype=np.int64).reshape(-1, 2) + OFFSET
        bases = slots << SHIFT
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
        base = slot << SHIFT
        edges = (base, base + math.ceil(end.timestamp()) + OFFSET)
        first, stop = (int(i) for i in np.searchsorted(self.steps, edges))
        own_steps = Counter(dict(zip(self.steps[first:stop].tolist(),
                                     self.weights[first:stop].tolist(), strict=True)))  # fmt: skip
        for second, delta in since:
            if base + second + OFFSET < edges[1]:
                own_steps[base + second + OFFSET] += delta
        taken = -sum(w for w in own_steps.values() if w < 0)
        low, high = (int(i) for i in np.searchsorted(self.base.keys, edges))
        keys = self.base.keys[max(low, high - limit - taken) : high].tolist()
        if own_steps:
            mine = Counter(keys)
            mine.update(own_steps)
            keys = sorted(k for k, n in mine.items() for _ in range(max(n, 0)))
        return [k - (base + OFFSET) for k in reversed(keys[-limit:])] if limit else []

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
            return PeerCounts(changes.mentors, replace_values(ranked, old, new), ranked=True)
        self.misses += 1
        counts = np.concatenate((self.counts(*window), np.zeros(len(unseen), dtype=np.int64)))
        counts[touched] += deltas
        return PeerCounts(changes.mentors, counts)
