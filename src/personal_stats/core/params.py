"""Request arguments of the questions and their domain rules, each argument declared once:
its name (the record's field), wire name, kind (type and bounds) and description, from which
the REST parser (`wire`), the GraphQL signatures (`graphql.fields`) and the OpenAPI
parameters (`openapi`) are derived; the rules between arguments, and their text, beside
them. Values are checked one by one, then as a whole, then against as_of. Framework-free."""

import re
from dataclasses import MISSING, dataclass, field, fields
from datetime import date
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar

from personal_stats.core.errors import InvalidInput, Problem
from personal_stats.core.windows import (
    MAX_WINDOW_DAYS,
    MAX_YEAR,
    MIN_YEAR,
    WEEK,
    Compare,
    Period,
    Weekday,
    is_known_timezone,
    months_between,
)

MAX_PAGE, MAX_LIMIT, DEFAULT_LIMIT = 1_000_000, 100, 20
MAX_MONTHS = 120
MAX_YEAR_SPAN = 100
MAX_CALENDAR_DAYS = 366

# Every id (mentors, activities, activity types), in paths, arguments and records alike.
ID_PATTERN = "[A-Za-z0-9_-]{1,64}"
_ID = re.compile(ID_PATTERN)


def is_valid_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def check_mentor_id(value: str, param: str = "mentor_id") -> None:
    if not is_valid_id(value):
        raise InvalidInput.one(param, "must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'")


class Kind:
    """What values an argument takes; `problem` says what is wrong with one, if anything."""

    def problem(self, value: Any) -> str | None:
        return None


@dataclass(frozen=True)
class WholeNumber(Kind):
    low: int
    high: int

    def problem(self, value: int) -> str | None:
        if self.low <= value <= self.high:
            return None
        return f"must be a whole number from {self.low} to {self.high}"


class Day(Kind):
    """A calendar date (written YYYY-MM-DD) of the years MIN_YEAR-MAX_YEAR."""

    def problem(self, value: date) -> str | None:
        if MIN_YEAR <= value.year <= MAX_YEAR:
            return None
        return f"must be a date in the years {MIN_YEAR}-{MAX_YEAR}"


class Month(Day):
    """A month (written YYYY-MM), as the date of its first day."""


class Zone(Kind):
    """An IANA time-zone name."""

    def problem(self, value: str) -> str | None:
        return (
            None
            if is_known_timezone(value)
            else "must be an IANA time-zone name such as Europe/Paris"
        )


@dataclass(frozen=True)
class Named(Kind):
    """One of the names of an enumeration (a period, a comparison)."""

    names: type[StrEnum]


@dataclass(frozen=True)
class Choice(Kind):
    values: tuple[str, ...]

    def problem(self, value: str) -> str | None:
        return None if value in self.values else f"must be one of {', '.join(self.values)}"


class RestDays(Kind):
    """Days of the week that never break a daily streak (SPEC section 20), as given: each
    at most once, not all seven. REST writes them comma-separated, lower-case."""

    def problem(self, value: tuple[Weekday, ...]) -> str | None:
        if not value:
            return "must name at least one day"
        if len(set(value)) < len(value):
            named_twice = next(day for day in value if value.count(day) > 1)
            return f"names {named_twice.value} twice"
        if len(value) == len(WEEK):
            return "must leave at least one day that is not a rest day"
        return None


@dataclass(frozen=True)
class Argument:
    """One argument of a question, as declared by a field of its record."""

    name: str  # the record's field
    wire: str  # its REST name (GraphQL: the same in camelCase)
    kind: Kind
    description: str
    default: Any


def argument(kind: Kind, description: str, *, default: Any = None, wire: str = "") -> Any:
    """A field of an argument record, with what the adapters derive from it."""
    return field(default=default, metadata={"argument": (kind, description, wire)})


def arguments(record: type["Args"]) -> tuple[Argument, ...]:
    """The record's arguments, in the order of its fields."""
    found = _ARGUMENTS.get(record)
    if found is None:
        found = _ARGUMENTS[record] = tuple(
            Argument(each.name, each.metadata["argument"][2] or each.name,
                     each.metadata["argument"][0], each.metadata["argument"][1],
                     None if each.default is MISSING else each.default)
            for each in fields(record)  # type: ignore[arg-type]
        )  # fmt: skip
    return found


_ARGUMENTS: dict[type["Args"], tuple[Argument, ...]] = {}


def raise_if(problems: list[Problem]) -> None:
    """Raise `InvalidInput` with the problems, if there are any."""
    if problems:
        raise InvalidInput(problems)


class Args:
    """Base of the argument records: the two stages of checks, and the text of the rules
    between the arguments (for the API's documentation)."""

    RULES: ClassVar[str] = ""

    def value_problems(self) -> list[Problem]:
        """Problems of single values, each on its own, by the kinds declared."""
        problems = []
        for each in arguments(type(self)):
            value = getattr(self, each.name)
            message = None if value is None else each.kind.problem(value)
            if message is not None:
                problems.append(Problem(each.wire, message))
        return problems

    def rule_problems(self) -> list[Problem]:
        """Problems of values taken together, before the mentor is known."""
        return []


AS_OF = "The day that counts as today (default: today in the zone)."
TZ = "IANA reporting time zone (default: the mentor's)."


def _date_range_problems(
    start: date | None, end: date | None, longest: int, noun: str
) -> list[Problem]:
    """`start_date` and `end_date`: both or neither, in order, at most `longest` days."""
    if (start is None) != (end is None):
        missing = "end_date" if start is not None else "start_date"
        return [Problem(missing, "is required when the other date is given")]
    if start and end:
        if start > end:
            return [Problem("start_date", "must not be after end_date")]
        if (end - start).days + 1 > longest:
            return [Problem("end_date", f"{noun} must span at most {longest} days")]
    return []


def _end_after_as_of_problems(end: date | None, as_of: date) -> list[Problem]:
    if end and end > as_of:
        return [Problem("end_date", f"must not be after as_of ({as_of.isoformat()})")]
    return []


@dataclass(frozen=True)
class PageArgs(Args):
    page: int = argument(WholeNumber(1, MAX_PAGE), "Page number (default 1).", default=1)
    limit: int = argument(WholeNumber(1, MAX_LIMIT), f"Items per page (default {DEFAULT_LIMIT}).",
                          default=DEFAULT_LIMIT)  # fmt: skip

    RULES = (
        f" Pages: `page` 1-{MAX_PAGE:,} and `limit` 1-{MAX_LIMIT}; a page past the end is empty."
    )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


@dataclass(frozen=True)
class WindowArgs(Args):
    """Arguments of the summary and the breakdown."""

    period: Period | None = argument(Named(Period), "Named window ending on as_of (default "
                                     "last_30_days).")  # fmt: skip
    start_date: date | None = argument(Day(), "First day of a custom window (with end_date).")
    end_date: date | None = argument(Day(), "Last day of a custom window (with start_date), not "
                                     "after as_of.")  # fmt: skip
    as_of: date | None = argument(Day(), AS_OF)
    tz: str | None = argument(Zone(), TZ)
    compare: Compare | None = argument(Named(Compare), "Each figure beside the same figure "
                                       "over an earlier window (default: none).")  # fmt: skip

    RULES = (
        "The window is either `period`, or `start_date` and `end_date` together (inclusive, "
        f"`start_date` <= `end_date` <= `as_of`, at most {MAX_WINDOW_DAYS:,} days). A named "
        "period beside the dates, or one date alone, is a 400; `period=custom` is accepted "
        "only with both dates. Activities whose local date (in `tz`, default the mentor's "
        "zone) is after `as_of` (default today there) are not counted. `compare` "
        "(`previous_period` or `year_over_year`) adds the same figures over an earlier window "
        "and their changes; with `period=all_time`, or an earlier window that would start "
        "before 1900-01-01, it is a 400 (checked once the mentor is known)."
    )

    def rule_problems(self) -> list[Problem]:
        has_start, has_end = self.start_date is not None, self.end_date is not None
        if self.period not in (None, Period.CUSTOM) and (has_start or has_end):
            return [Problem("period", "cannot be combined with start_date and end_date")]
        if self.period is Period.CUSTOM and not (has_start or has_end):
            return [Problem("period", "custom needs start_date and end_date")]
        return _date_range_problems(self.start_date, self.end_date, MAX_WINDOW_DAYS, "window")

    def as_of_problems(self, as_of: date) -> list[Problem]:
        """Rules that need `as_of`, known only once the reporting time zone is."""
        return _end_after_as_of_problems(self.end_date, as_of)


@dataclass(frozen=True)
class MonthRangeArgs(Args):
    """Arguments of the monthly series: `from`/`to` months, or a number of `months`."""

    from_month: date | None = argument(Month(), "First month (with to).", wire="from")
    to_month: date | None = argument(Month(), "Last month (with from), not after as_of's "
                                     "month.", wire="to")  # fmt: skip
    months: int | None = argument(WholeNumber(1, MAX_MONTHS), "That many months ending with "
                                  "as_of's month.")  # fmt: skip
    as_of: date | None = argument(Day(), AS_OF)
    tz: str | None = argument(Zone(), TZ)

    RULES = (
        "The range is either `from` and `to` together (YYYY-MM, inclusive, `from` <= `to`, "
        f"`to` not after as_of's month, at most {MAX_MONTHS} months), or `months` (the months "
        "ending with as_of's month). `months` beside `from`/`to`, or one of `from`/`to` "
        "alone, is a 400. Default: January of as_of's year through as_of's month."
    )

    def rule_problems(self) -> list[Problem]:
        has_from, has_to = self.from_month is not None, self.to_month is not None
        if self.months is not None and (has_from or has_to):
            return [Problem("months", "cannot be combined with from and to")]
        if has_from != has_to:
            return [Problem("to" if has_from else "from", "is required when the other is given")]
        if self.from_month and self.to_month:
            if self.from_month > self.to_month:
                return [Problem("from", "must not be after to")]
            if months_between(self.from_month, self.to_month) > MAX_MONTHS:
                return [Problem("to", f"range must span at most {MAX_MONTHS} months")]
        return []

    def as_of_problems(self, as_of: date) -> list[Problem]:
        if self.to_month and self.to_month > as_of.replace(day=1):
            return [Problem("to", f"must not be after as_of's month ({as_of:%Y-%m})")]
        return []


@dataclass(frozen=True)
class YearRangeArgs(Args):
    """Arguments of the contribution history."""

    from_year: int | None = argument(WholeNumber(MIN_YEAR, MAX_YEAR), "First year (default: the "
                                     "first activity's).")  # fmt: skip
    to_year: int | None = argument(WholeNumber(MIN_YEAR, MAX_YEAR), "Last year (default: "
                                   "as_of's year).")  # fmt: skip
    as_of: date | None = argument(Day(), AS_OF)
    tz: str | None = argument(Zone(), TZ)

    RULES = (
        "Years `from_year` through `to_year`: `from_year` <= `to_year` <= as_of's year, at "
        f"most {MAX_YEAR_SPAN} years; otherwise a 400. Defaults: the year of the first "
        "activity, and as_of's year."
    )

    def rule_problems(self) -> list[Problem]:
        if self.from_year is None or self.to_year is None:
            return []
        return _year_span_problems(self.from_year, self.to_year)

    def years_problems(self, from_year: int, to_year: int, as_of: date) -> list[Problem]:
        """Rules on the years once defaults are filled in from the mentor and as_of."""
        if to_year > as_of.year:
            return [Problem("to_year", f"must not be after as_of's year ({as_of.year})")]
        return _year_span_problems(from_year, to_year)


def _year_span_problems(from_year: int, to_year: int) -> list[Problem]:
    if from_year > to_year:
        return [Problem("from_year", "must not be after to_year")]
    if to_year - from_year + 1 > MAX_YEAR_SPAN:
        return [Problem("from_year", f"range must span at most {MAX_YEAR_SPAN} years")]
    return []


@dataclass(frozen=True)
class CalendarArgs(Args):
    """Arguments of the contribution calendar: a range of days, by default the 365 ending
    on as_of."""

    start_date: date | None = argument(Day(), "First day (with end_date).")
    end_date: date | None = argument(Day(), "Last day (with start_date), not after as_of.")
    as_of: date | None = argument(Day(), AS_OF)
    tz: str | None = argument(Zone(), TZ)

    RULES = (
        "One entry per local date of `start_date` through `end_date` (together, inclusive, "
        f"`start_date` <= `end_date` <= `as_of`, at most {MAX_CALENDAR_DAYS} days); default "
        "the 365 days ending on as_of. One date alone, a reversed or longer range, or "
        "`end_date` after as_of is a 400. `level` 0-4 ranks a day's count among the range's "
        "active days by quartile."
    )

    def rule_problems(self) -> list[Problem]:
        return _date_range_problems(self.start_date, self.end_date, MAX_CALENDAR_DAYS, "range")

    def as_of_problems(self, as_of: date) -> list[Problem]:
        return _end_after_as_of_problems(self.end_date, as_of)


@dataclass(frozen=True)
class AsOfArgs(Args):
    """Arguments of the personal records: every activity up to as_of, no window."""

    as_of: date | None = argument(Day(), AS_OF)
    tz: str | None = argument(Zone(), TZ)


@dataclass(frozen=True)
class RestArgs(Args):
    """Rest days of the daily streaks (SPEC section 20); none by default."""

    rest_days: tuple[Weekday, ...] | None = argument(
        RestDays(), "Days of the week that never break a daily streak (default: none): a "
        "rest day without a completed activity neither breaks a run nor adds to it. Over "
        "REST, lower-case names, comma-separated: saturday,sunday.")  # fmt: skip

    @cached_property
    def days(self) -> frozenset[int]:
        """The rest days as weekday numbers (0 Monday ... 6 Sunday)."""
        return frozenset(WEEK.index(day) for day in self.rest_days or ())

    @cached_property
    def names(self) -> tuple[Weekday, ...] | None:
        """The rest days Monday first, or None when none are given."""
        return tuple(sorted(set(self.rest_days), key=WEEK.index)) if self.rest_days else None


NO_REST_DAYS = RestArgs()

THEMES = ("light", "dark", "auto")


@dataclass(frozen=True)
class CardArgs(Args):
    """How an SVG card is drawn."""

    theme: str = argument(Choice(THEMES), "Colours of the card (default light; auto follows "
                          "the viewer's colour scheme).", default="light")  # fmt: skip
