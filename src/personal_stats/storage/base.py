"""What both read drivers offer: a store of snapshots, each answering the core's reads by
kind (`reads`)."""

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import numpy as np

from personal_stats.core.reads import (
    ActivitiesRead,
    ActivityRow,
    ChangesRead,
    CompletedBeforeRead,
    CompletedCountsRead,
    FirstActivityRead,
    MentorChangedRead,
    MentorRow,
    MentorsRead,
    MilestonesRead,
    PeerCounts,
    Read,
    TypeRow,
    TypesRead,
)
from personal_stats.storage.feed import CHANGES_KEPT, Feed

Int64Array = np.ndarray[Any, np.dtype[np.int64]]
COMPLETED = "completed"


@dataclass(frozen=True)
class InstantTable:
    """Every completed activity as (mentor number, epoch second), with the data version and
    the number of mentors it was read at: what the peer index is built from."""

    version: int
    mentors: int
    mentor_ids: list[str]  # by mentor number
    mentor_numbers: np.ndarray[Any, np.dtype[np.int64]]
    seconds: np.ndarray[Any, np.dtype[np.int64]]


def instant_table(version: int, mentors: int, pairs: Iterable[tuple[str, int]]) -> InstantTable:
    """The table of (mentor id, epoch second) pairs, mentors numbered as they come. The rows
    stream into one array: no list of millions of tuples is ever held."""
    numbers: dict[str, int] = {}
    numbered = ((numbers.setdefault(m, len(numbers)), second) for m, second in pairs)
    table = cast(Int64Array, np.fromiter(numbered, dtype=np.dtype((np.int64, 2))))
    return InstantTable(version, mentors, list(numbers), table[:, 0].copy(), table[:, 1].copy())


@dataclass(frozen=True)
class InstantChanges:
    """What writes changed after an older data version, up to `version`: each completed
    instant they added (+1) or took away (-1), by mentor; and the number of mentors now."""

    version: int
    mentors: int
    mentor_ids: list[str]
    seconds: Int64Array
    deltas: Int64Array

    @cached_property
    def by_mentor(self) -> dict[str, list[tuple[int, int]]]:
        """Each mentor's steps: (epoch second, +1 or -1)."""
        steps: dict[str, list[tuple[int, int]]] = {}
        for mentor_id, second, delta in zip(self.mentor_ids, self.seconds.tolist(),
                                            self.deltas.tolist(), strict=True):  # fmt: skip
            steps.setdefault(mentor_id, []).append((second, delta))
        return steps

    @classmethod
    def of(
        cls, version: int, mentors: int, rows: Iterable[tuple[str, int, int]]
    ) -> "InstantChanges":
        ids: list[str] = []
        seconds: list[int] = []
        deltas: list[int] = []
        for mentor_id, second, delta in rows:
            ids.append(mentor_id)
            seconds.append(second)
            deltas.append(delta)
        return cls(version, mentors, ids, np.array(seconds, dtype=np.int64),
                   np.array(deltas, dtype=np.int64))  # fmt: skip


class Snapshot(ABC):
    """One request's read transaction on one connection: every read sees the same
    committed state, and the data version is read once, when the transaction begins."""

    version: int
    changed_at: int  # epoch second
    begun = False

    async def open(self) -> None:
        """Begin the transaction, unless it has begun."""
        if not self.begun:
            self.version, self.changed_at = await self.begin()
            self.begun = True

    @abstractmethod
    async def begin(self) -> tuple[int, int]:
        """Begin the transaction; the data version and when it changed (epoch second)."""

    async def fetch(self, read: Read) -> Any:
        """The database's answer to a read: its kind's method, below."""
        answer: Callable[[Any], Awaitable[Any]] = getattr(self, read.kind)
        return await answer(read)

    @abstractmethod
    async def mentors(self, read: MentorsRead) -> dict[str, MentorRow]: ...

    @abstractmethod
    async def activities(self, read: ActivitiesRead) -> Sequence[ActivityRow]: ...

    @abstractmethod
    async def first_activity(self, read: FirstActivityRead) -> int | None: ...

    @abstractmethod
    async def completed_before(self, read: CompletedBeforeRead) -> list[int]: ...

    @abstractmethod
    async def milestones(self, read: MilestonesRead) -> list[tuple[int, int, str]]: ...

    @abstractmethod
    async def types(self, read: TypesRead) -> dict[str, TypeRow]: ...

    @abstractmethod
    async def completed_counts(self, read: CompletedCountsRead) -> PeerCounts: ...

    @abstractmethod
    async def changes(self, read: ChangesRead) -> "InstantChanges | None": ...

    @abstractmethod
    async def mentor_changed(self, read: MentorChangedRead) -> bool: ...

    def log_reaches(self, since: int) -> bool:
        """Whether the change log still holds every version after `since`."""
        return 0 <= self.version - since < CHANGES_KEPT


class Store(ABC):
    dialect: str

    @property
    def system(self) -> str:
        """The database system's name, as tracing names it (`sqlite`, `postgresql`)."""
        return self.dialect

    @abstractmethod
    def snapshot(self) -> AbstractAsyncContextManager[Snapshot]:
        """A snapshot for one request, within the time limit; a database that cannot be
        reached or answers too late raises `Unavailable`."""

    @abstractmethod
    async def instants(self) -> InstantTable:
        """Every completed instant (for the peer index), in one snapshot."""

    @abstractmethod
    async def changes(self, since: int) -> InstantChanges | None:
        """What changed after version `since` (in a snapshot of its own), or None when the
        change log cannot tell (a first load, or older than the log keeps): then load
        everything."""

    @abstractmethod
    def feed(self) -> Feed:
        """The worker's listener for every write committed on the database."""

    @abstractmethod
    async def ping(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...
