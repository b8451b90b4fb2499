"""The process's peer index (`peer_index`), refreshed in the background when the data
version moves: from the change log's steps while they are few, else loaded whole; what the
change log says between two versions, kept for the snapshots that ask; and which path
answered each read (`Peers.state()` tells /readyz and /metrics how far the index is)."""

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from personal_stats.service import peer_index
from personal_stats.service.peer_index import PeerIndex
from personal_stats.storage import InstantChanges, Store

LOG = logging.getLogger("personal_stats.peers")
STEPS_ON_LOOP = 10_000  # steps of a refresh done on the event loop (more: in a thread)
RETRY_AFTER = 10.0  # seconds before a failed build of the index is tried again
CHANGES_CACHED = 16  # change-log reads kept, by (index version, snapshot version)


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

    async def view(
        self,
        version: int,
        read_changes: Callable[[int], Awaitable[InstantChanges | None]],
    ) -> tuple[PeerIndex | None, InstantChanges | None]:
        """The index to answer a snapshot of `version` from, and the steps to add to it: the
        index of that version and None; an older index and the steps written since, as
        `read_changes(index version)` reads them in the snapshot (read once per pair of
        versions: they never change); or None when there is no index yet, or the change log
        cannot tell (then SQL counts)."""
        index = self.before(version)
        if index is None or index.version == version:
            return index, None
        key = (index.version, version)
        if key not in self.changes:
            self.remember(index.version, await read_changes(index.version), version)
        changes = self.changes[key]
        return (None, None) if changes is None else (index, changes)

    def count(self, path: str) -> None:
        """Note which path answered a read (`answered`: the tests and /readyz read it)."""
        self.answered[path] += 1

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
                if (
                    steps <= STEPS_ON_LOOP
                    and len(previous.steps) + steps <= peer_index.OVERLAY_LIMIT
                ):
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
