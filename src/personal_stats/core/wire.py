"""Arguments read off the wire: exact text forms of dates, months and numbers, and REST query
strings into the argument records of `params`, by their declared arguments (every malformed,
empty or repeated value reported together). Shared by both adapters; the core never sees
text."""

import re
from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from personal_stats.core.errors import Problem
from personal_stats.core.params import (
    Args,
    Day,
    Kind,
    Month,
    Named,
    RestDays,
    WholeNumber,
    arguments,
    raise_if,
)
from personal_stats.core.windows import MAX_YEAR, MIN_YEAR, Weekday

A = TypeVar("A", bound=Args)
E = TypeVar("E", bound=StrEnum)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")
_INT = re.compile(r"[+-]?\d{1,12}")


def parse_date(text: str) -> date:
    """A calendar date written exactly `YYYY-MM-DD`, years 1900-2999."""
    if not _DATE.fullmatch(text):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise ValueError("is not a real calendar date") from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must be a date in the years {MIN_YEAR}-{MAX_YEAR}")
    return value


def parse_month(text: str) -> date:
    """A month written exactly `YYYY-MM`, as the first day of that month."""
    if not _MONTH.fullmatch(text):
        raise ValueError("must be a month written YYYY-MM")
    year, month = int(text[:4]), int(text[5:])
    if not 1 <= month <= 12:
        raise ValueError("has no month with that number")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"must be a month in the years {MIN_YEAR}-{MAX_YEAR}")
    return date(year, month, 1)


def parse_int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise ValueError("must be a whole number")
    return int(text)


def parse_named(names: type[E]) -> Callable[[str], E]:
    """A reader of one of the enumeration's names."""

    def parse(text: str) -> E:
        try:
            return names(text)
        except ValueError:
            allowed = ", ".join(n.value for n in names)
            raise ValueError(f"must be one of {allowed}") from None

    return parse


def parse_weekdays(text: str) -> tuple[Weekday, ...]:
    """Comma-separated lower-case English weekday names (`saturday,sunday`), as given: the
    kind (`RestDays`) then checks for a day named twice and for all seven."""
    days = []
    for item in text.split(","):
        if item == "":
            raise ValueError("must not have an empty item (write e.g. saturday,sunday)")
        try:
            days.append(Weekday(item))
        except ValueError:
            raise ValueError(
                f"{item[:16]!r} is not a day of the week; write lower-case English names, "
                "comma-separated, e.g. saturday,sunday"
            ) from None
    return tuple(days)


def parse_text(text: str) -> str:
    return text


def parser_of(kind: Kind) -> Callable[[str], Any]:
    """How a value of this kind is read from its text."""
    if isinstance(kind, Month):
        return parse_month
    if isinstance(kind, Day):
        return parse_date
    if isinstance(kind, WholeNumber):
        return parse_int
    if isinstance(kind, Named):
        return parse_named(kind.names)
    if isinstance(kind, RestDays):
        return parse_weekdays
    return parse_text


def from_query(kind: type[A], items: Iterable[tuple[str, str]]) -> A:
    """Parse query-string pairs into the record `kind`, by its declared arguments; unknown
    names are ignored."""
    declared = {each.wire: each for each in arguments(kind)}
    values: dict[str, Any] = {}
    seen: set[str] = set()
    problems: list[Problem] = []
    for param, text in items:
        found = declared.get(param)
        if found is None:
            continue
        if param in seen:
            problems.append(Problem(param, "is given more than once"))
            values.pop(found.name, None)
            continue
        seen.add(param)
        if text == "":
            problems.append(Problem(param, "must not be empty"))
            continue
        try:
            values[found.name] = parser_of(found.kind)(text)
        except ValueError as error:
            problems.append(Problem(param, str(error)))
    args = kind(**values)
    raise_if(problems + args.value_problems())
    return args
