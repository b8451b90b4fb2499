"""Domain errors raised by the stats core; each adapter maps them in one place.

- `NotFound`: the mentor does not exist (REST 404, GraphQL `NOT_FOUND`).
- `InvalidInput`: one or more parameters are malformed or break a rule; it carries every
  `Problem` found (REST 400 with an `errors` list, GraphQL `BAD_USER_INPUT`).
- `Unavailable`: the database cannot be reached (REST 503, GraphQL `SERVICE_UNAVAILABLE`).
- `ImportRejected`: an import (a file, or a body sent to the write API) holds invalid
  records; it carries every problem with its location, and nothing was written.
- `TooManyRecords`: an import sent to the write API holds more records than it may.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    param: str
    message: str


class StatsError(Exception):
    """Base of every error the core raises on purpose."""


class NotFound(StatsError):
    pass


class InvalidInput(StatsError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.param}: {p.message}" for p in problems))

    @classmethod
    def one(cls, param: str, message: str) -> "InvalidInput":
        return cls([Problem(param, message)])


class Unavailable(StatsError):
    pass


@dataclass(frozen=True)
class Located:
    """A problem of an import at its location (`activities[3].started_at`, `line 7`)."""

    location: str
    message: str
    malformed: bool = False  # not valid JSON at all, as opposed to an invalid record

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ImportRejected(StatsError):
    def __init__(self, located: list[Located]) -> None:
        self.located = located
        self.problems = [str(problem) for problem in located]
        super().__init__(f"{len(located)} problem(s) in the import")

    @property
    def malformed(self) -> bool:
        return any(problem.malformed for problem in self.located)


class TooManyRecords(StatsError):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"more than {limit} records")
