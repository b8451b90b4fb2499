"""Request arguments of the questions and their domain rules: checked value by value, then
as a whole, then against as_of. Framework-free; reading them off the wire is `wire`'s job."""

import re
from dataclasses import dataclass
from datetime import date

from personal_stats.errors import InvalidInput, Problem
from personal_stats.windows import MAX_WINDOW_DAYS, Period, is_known_timezone, months_between

MIN_YEAR, MAX_YEAR = 1900, 2999
MAX_PAGE, MAX_LIMIT, DEFAULT_LIMIT = 1_000_000, 100, 20
MAX_MONTHS = 120
MAX_YEAR_SPAN = 100
MAX_CALENDAR_DAYS = 366

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_valid_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def check_mentor_id(value: str, param: str = "mentor_id") -> None:
    if not is_valid_id(value):
        raise InvalidInput.one(param, "must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'")


def _in_range(problems: list[Problem], param: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        problems.append(Problem(param, f"must be a whole number from {low} to {high}"))


def _date_in_range(problems: list[Problem], param: str, value: date | None) -> None:
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        problems.append(Problem(param, f"must be a date in the years {MIN_YEAR}-{MAX_YEAR}"))


def _known_tz(problems: list[Problem], value: str | None) -> None:
    if value is not None and not is_known_timezone(value):
        problems.append(Problem("tz", "must be an IANA time-zone name such as Europe/Paris"))


def _dates_and_zone_problems(
    start: date | None, end: date | None, as_of: date | None, tz: str | None
) -> list[Problem]:
    problems: list[Problem] = []
    for name, value in (("start_date", start), ("end_date", end), ("as_of", as_of)):
        _date_in_range(problems, name, value)
    _known_tz(problems, tz)
    return problems


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


def raise_if(problems: list[Problem]) -> None:
    """Raise `InvalidInput` with the problems, if there are any."""
    if problems:
        raise InvalidInput(problems)


class Args:
    """Base of the argument records: the two stages of checks."""

    def value_problems(self) -> list[Problem]:
        """Problems of single values, each on its own."""
        return []

    def rule_problems(self) -> list[Problem]:
        """Problems of values taken together, before the mentor is known."""
        return []


@dataclass(frozen=True)
class PageArgs(Args):
    page: int = 1
    limit: int = DEFAULT_LIMIT

    def value_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        _in_range(problems, "page", self.page, 1, MAX_PAGE)
        _in_range(problems, "limit", self.limit, 1, MAX_LIMIT)
        return problems

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


@dataclass(frozen=True)
class WindowArgs(Args):
    """Arguments of the summary and the breakdown."""

    period: Period | None = None
    start_date: date | None = None
    end_date: date | None = None
    as_of: date | None = None
    tz: str | None = None

    def value_problems(self) -> list[Problem]:
        return _dates_and_zone_problems(self.start_date, self.end_date, self.as_of, self.tz)

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

    from_month: date | None = None
    to_month: date | None = None
    months: int | None = None
    as_of: date | None = None
    tz: str | None = None

    def value_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        _in_range(problems, "months", self.months, 1, MAX_MONTHS)
        _date_in_range(problems, "as_of", self.as_of)
        _date_in_range(problems, "from", self.from_month)
        _date_in_range(problems, "to", self.to_month)
        _known_tz(problems, self.tz)
        return problems

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

    from_year: int | None = None
    to_year: int | None = None
    as_of: date | None = None
    tz: str | None = None

    def value_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        _in_range(problems, "from_year", self.from_year, MIN_YEAR, MAX_YEAR)
        _in_range(problems, "to_year", self.to_year, MIN_YEAR, MAX_YEAR)
        _date_in_range(problems, "as_of", self.as_of)
        _known_tz(problems, self.tz)
        return problems

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

    start_date: date | None = None
    end_date: date | None = None
    as_of: date | None = None
    tz: str | None = None

    def value_problems(self) -> list[Problem]:
        return _dates_and_zone_problems(self.start_date, self.end_date, self.as_of, self.tz)

    def rule_problems(self) -> list[Problem]:
        return _date_range_problems(self.start_date, self.end_date, MAX_CALENDAR_DAYS, "range")

    def as_of_problems(self, as_of: date) -> list[Problem]:
        return _end_after_as_of_problems(self.end_date, as_of)


THEMES = ("light", "dark")


@dataclass(frozen=True)
class CardArgs(Args):
    """How an SVG card is drawn."""

    theme: str = "light"

    def value_problems(self) -> list[Problem]:
        if self.theme not in THEMES:
            return [Problem("theme", f"must be one of {', '.join(THEMES)}")]
        return []
