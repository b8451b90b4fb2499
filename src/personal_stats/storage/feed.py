"""The change feed: every write committed on the database — by any worker, instance or
`personal-stats import` — told, in order, to one listener in each worker.

Each driver has its own way to hear of a write (`SqliteFeed` watches the data version,
`PostgresFeed` listens for the writers' NOTIFY), and both read what changed from the change
log (`storage.changes`), so a write missed while the database was out of reach is told
when it is back."""

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

CHANGES_KEPT = 1000  # versions of the change log that writers keep (see storage.changes)
EVERY_MENTOR = "*"  # in the change log: a write that may have changed anyone's activities
LOG = logging.getLogger("personal_stats.feed")
# Between attempts to reach the database again: the first write once it is back is told within
# a second (SPEC 18), at the cost of a connection attempt every half second while it is away.
RETRY_SECONDS = (0.1, 0.25, 0.5)


@dataclass(frozen=True, slots=True)
class Changes:
    """What writes changed up to data version `version`, each change with the version of the
    write that made it (changes merged while a telling waits are told to followers that
    joined in between, who know of the earlier ones): the mentors whose own records
    changed, those erased, and `everyone`, the last version of whose changes the log cannot
    tell (anyone's records may have changed; 0: none)."""

    version: int
    mentors: Mapping[str, int] = field(default_factory=dict)
    erased: Mapping[str, int] = field(default_factory=dict)
    everyone: int = 0

    def then(self, later: "Changes") -> "Changes":
        """These changes followed by `later`'s, as one."""
        return Changes(
            later.version, {**self.mentors, **later.mentors}, {**self.erased, **later.erased},
            max(self.everyone, later.everyone),
        )  # fmt: skip

    def changed(self, mentor_id: str, after: int) -> bool:
        """Whether a write after version `after` changed the mentor's own records."""
        return self.everyone > after or self.mentors.get(mentor_id, 0) > after

    def erased_after(self, mentor_id: str, after: int) -> bool:
        return self.erased.get(mentor_id, 0) > after

    @property
    def someone_erased(self) -> int:
        """The version of the last erasure whose mentor is not named (0: none)."""
        return self.erased.get(EVERY_MENTOR, 0)

    def naming(self, gone: Iterable[str]) -> "Changes":
        """These changes with the unnamed erasure told as the erasure of each of `gone`."""
        version = self.someone_erased
        erased = {m: v for m, v in self.erased.items() if m != EVERY_MENTOR}
        return Changes(self.version, self.mentors, erased | dict.fromkeys(gone, version),
                       self.everyone)  # fmt: skip


def changes_in_log(since: int, version: int, rows: Iterable[tuple[int, str, bool]]) -> Changes:
    """The changes after `since` up to `version` from the change log's rows after `since`
    (version, mentor id, erased), in order. A log that no longer reaches back to `since`, or
    a database whose version went back (it was replaced), cannot tell whose records
    changed."""
    mentors: dict[str, int] = {}
    erased: dict[str, int] = {}
    everyone = 0 if 0 <= version - since < CHANGES_KEPT else version
    for at, mentor_id, was_erased in rows:
        if mentor_id == EVERY_MENTOR:
            everyone = max(everyone, at)
            if was_erased:  # someone was erased (the log does not say whom)
                erased[EVERY_MENTOR] = at
        else:
            mentors[mentor_id] = at
            if was_erased:
                erased[mentor_id] = at
    return Changes(version, mentors, erased, everyone)


Tell = Callable[[Changes], None]


class Feed(ABC):
    """A worker's one listener for the writes of every process on the database."""

    @abstractmethod
    async def follow(self, since: int, tell: Tell) -> None:
        """Call `tell` with what each write after data version `since` changed, in order,
        until cancelled. A database out of reach is tried again (`RETRY_SECONDS`), and what
        was written meanwhile is told once it answers."""


def retry_delay(attempt: int) -> float:
    return RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]


# PostgreSQL: each write's NOTIFY on this channel, sent in its transaction (at its commit).
CHANNEL = "personal_stats_changes"
NOTICE_BYTES = 7_900  # PostgreSQL refuses payloads of 8,000 bytes or more


def notice(version: int, mentors: Iterable[str], erased: str | None) -> str:
    """The NOTIFY payload of a write: its version, whose records it changed and whom it
    erased; only the version when that is past the payload limit (the listener then reads
    the change log)."""
    payload = json.dumps({"v": version, "m": list(mentors), "e": [erased] if erased else []})
    return payload if len(payload.encode()) <= NOTICE_BYTES else json.dumps({"v": version})


def heard(payload: str, since: int) -> Changes | None:
    """The changes a NOTIFY payload tells, when it is the write right after `since` and
    names its mentors; None when the change log must tell instead."""
    try:
        found = json.loads(payload)
        version, mentors, erased = int(found["v"]), found.get("m"), found.get("e", [])
    except (ValueError, TypeError, KeyError):
        return None
    if version != since + 1 or not isinstance(mentors, list) or not isinstance(erased, list):
        return None
    everyone = version if EVERY_MENTOR in mentors else 0
    named = {str(m): version for m in mentors if m != EVERY_MENTOR}
    return Changes(version, named, {str(e): version for e in erased}, everyone)
