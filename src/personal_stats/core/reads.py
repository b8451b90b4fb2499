"""What the stats questions read, as plain requests: a question is a generator that yields
these and is sent the answers (no I/O of its own). Each read names its `kind`: the unit of
work answers some kinds itself (`service.UnitOfWork`), and a storage snapshot answers the
others with its method of that name (`storage.base.Snapshot`): one table of read kinds.

Instants cross this boundary as whole epoch seconds: the database converts them, so no row
is parsed in Python.
"""

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import numpy as np

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class MentorRow:
    id: str
    name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class TypeRow:
    id: str
    code: str
    name: str


# (epoch second of started_at, completed?, duration in minutes, activity type id): a plain
# row as the driver gives it, since a request may read thousands.
ActivityRow = tuple[int, bool, int, str]


@dataclass(frozen=True, slots=True)
class LocalActivity:
    """An activity with its local date in the reporting time zone."""

    day: int  # the ordinal of the local date (date.toordinal)
    completed: bool
    minutes: int
    type_id: str


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a mentor's completed count stands among all the other mentors'."""

    peers: int
    below: int
    equal: int


@dataclass(frozen=True, slots=True)
class MentorsRead:
    """-> dict[str, MentorRow] of the ids that exist."""

    kind: ClassVar[str] = "mentors"

    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActivitiesRead:
    """-> a list of ActivityRow of the mentor with start <= started_at < end."""

    kind: ClassVar[str] = "activities"

    mentor_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class LocalActivitiesRead:
    """-> a list of LocalActivity: the mentor's activities with start <= started_at < end,
    in time order, each with its local date in zone `tz`. The unit of work answers it from
    an ActivitiesRead, localising a mentor's rows once per zone for every question of the
    request."""

    kind: ClassVar[str] = "local_activities"

    mentor_id: str
    start: datetime
    end: datetime
    tz: str


@dataclass(frozen=True, slots=True)
class MilestonesRead:
    """-> a list of (position, epoch second, activity id): the mentor's completed
    activities before `end` at these positions (1 the first) in the order of started_at,
    then id in code-point order; positions past the last are left out."""

    kind: ClassVar[str] = "milestones"

    mentor_id: str
    end: datetime
    positions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FirstActivityRead:
    """-> the epoch second of the mentor's first activity, or None."""

    kind: ClassVar[str] = "first_activity"

    mentor_id: str


@dataclass(frozen=True, slots=True)
class CompletedBeforeRead:
    """-> up to `limit` epoch seconds of the mentor's completed activities before `end`,
    newest first."""

    kind: ClassVar[str] = "completed_before"

    mentor_id: str
    end: datetime
    limit: int


@dataclass(frozen=True, slots=True)
class TodayRead:
    """-> the date in zone `tz` at the request's instant: every question of one request has
    the same today, whenever it is answered."""

    kind: ClassVar[str] = "today"

    tz: str


@dataclass(frozen=True, slots=True)
class TypesRead:
    """-> dict[str, TypeRow] of every activity type."""

    kind: ClassVar[str] = "types"


@dataclass(frozen=True, slots=True)
class StandingRead:
    """-> the Standing of a mentor with `completed` completed activities in [start, end)."""

    kind: ClassVar[str] = "standing"

    start: datetime
    end: datetime
    completed: int


@dataclass(frozen=True, slots=True)
class CompletedCountsRead:
    """-> PeerCounts: every mentor's completed count in [start, end) (a standing's SQL path,
    before the peer index exists)."""

    kind: ClassVar[str] = "completed_counts"

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ChangesRead:
    """-> storage's InstantChanges after data version `since` (the completed instants
    writes added or took away), or None when the change log cannot tell (a first load
    since, or older than the log keeps)."""

    kind: ClassVar[str] = "changes"

    since: int


@dataclass(frozen=True, slots=True)
class MentorChangedRead:
    """-> bool: whether a write after data version `since` changed this mentor's own
    records (the mentor row or any of their activities); True when the change log cannot
    tell (a first load since, or older than the log keeps)."""

    kind: ClassVar[str] = "mentor_changed"

    mentor_id: str
    since: int


@dataclass(frozen=True, slots=True)
class PeerCounts:
    """Mentors in the snapshot, and completed counts in a window: each mentor who has any
    (those with none may be left out; a mentor gone since may count 0), in ascending order
    when `ranked`."""

    mentors: int
    counts: Sequence[int] | np.ndarray[Any, np.dtype[np.int64]]
    ranked: bool = False


Read = (
    MentorsRead
    | ActivitiesRead
    | LocalActivitiesRead
    | MilestonesRead
    | FirstActivityRead
    | CompletedBeforeRead
    | TodayRead
    | TypesRead
    | StandingRead
    | CompletedCountsRead
    | ChangesRead
    | MentorChangedRead
)
Question = Generator[Read, Any, R]
