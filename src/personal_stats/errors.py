"""Domain errors raised by the stats core; each adapter maps them in one place.

- `NotFound`: the mentor does not exist (REST 404, GraphQL `NOT_FOUND`).
- `InvalidInput`: one or more parameters are malformed or break a rule; it carries every
  `Problem` found (REST 400 with an `errors` list, GraphQL `BAD_USER_INPUT`).
- `Unavailable`: the database cannot be reached (REST 503, GraphQL `SERVICE_UNAVAILABLE`).
- `ImportRejected`: an import file holds invalid records; it carries every problem with its
  location, and nothing was written.
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


class ImportRejected(StatsError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the import")
