"""Request arguments of the four questions: parsed from text, checked value by value, then
checked as a whole. Framework-free, shared by both adapters."""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, ClassVar, Self

from personal_stats.errors import InvalidInput, Problem
from personal_stats.windows import MAX_WINDOW_DAYS, Period, is_known_timezone, months_between

MIN_YEAR, MAX_YEAR = 1900, 2999
MAX_PAGE, MAX_LIMIT, DEFAULT_LIMIT = 1_000_000, 100, 20
MAX_MONTHS = 120
MAX_YEAR_SPAN = 100

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")
_INT = re.compile(r"[+-]?\d{1,12}")


def is_valid_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def check_mentor_id(value: str, param: str = "mentor_id") -> None:
    if not is_valid_id(value):
        raise InvalidInput.one(param, "must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'")


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


def parse_period(text: str) -> Period:
    try:
        return Period(text)
    except ValueError:
        allowed = ", ".join(p.value for p in Period)
        raise ValueError(f"must be one of {allowed}") from None


def parse_text(text: str) -> str:
    return text


def _in_range(problems: list[Problem], param: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        problems.append(Problem(param, f"must be a whole number from {low} to {high}"))


def _date_in_range(problems: list[Problem], param: str, value: date | None) -> None:
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        problems.append(Problem(param, f"must be a date in the years {MIN_YEAR}-{MAX_YEAR}"))


def _known_tz(problems: list[Problem], value: str | None) -> None:
    if value is not None and not is_known_timezone(value):
        problems.append(Problem("tz", "must be an IANA time-zone name such as Europe/Paris"))


def raise_if(problems: list[Problem]) -> None:
    """Raise `InvalidInput` with the problems, if there are any."""
    if problems:
        raise InvalidInput(problems)


class Args:
    """Base of the argument records: text parsing and the two stages of checks."""

    parsers: ClassVar[dict[str, Callable[[str], Any]]] = {}

    @classmethod
    def from_query(cls, items: Iterable[tuple[str, str]]) -> Self:
        """Parse query-string pairs; every malformed, empty or repeated value is reported
        together, and unknown names are ignored."""
        names = {PARAM_OF_FIELD.get(f.name, f.name) for f in fields(cls)}  # type: ignore[arg-type]
        values: dict[str, Any] = {}
        seen: set[str] = set()
        problems: list[Problem] = []
        for param, text in items:
            if param not in names:
                continue
            field = _FIELD_OF_PARAM.get(param, param)
            if param in seen:
                problems.append(Problem(param, "is given more than once"))
                values.pop(field, None)
                continue
            seen.add(param)
            if text == "":
                problems.append(Problem(param, "must not be empty"))
                continue
            try:
                values[field] = cls.parsers[field](text)
            except ValueError as error:
                problems.append(Problem(param, str(error)))
        args = cls(**values)
        raise_if(problems + args.value_problems())
        return args

    def value_problems(self) -> list[Problem]:
        """Problems of single values, each on its own."""
        return []

    def rule_problems(self) -> list[Problem]:
        """Problems of values taken together, before the mentor is known."""
        return []


# Query-string names that are Python keywords or clash with them.
_FIELD_OF_PARAM = {"from": "from_month", "to": "to_month"}
PARAM_OF_FIELD = {field: param for param, field in _FIELD_OF_PARAM.items()}


@dataclass(frozen=True)
class PageArgs(Args):
    page: int = 1
    limit: int = DEFAULT_LIMIT

    parsers: ClassVar[dict[str, Callable[[str], Any]]] = {"page": parse_int, "limit": parse_int}

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

    parsers: ClassVar[dict[str, Callable[[str], Any]]] = {
        "period": parse_period,
        "start_date": parse_date,
        "end_date": parse_date,
        "as_of": parse_date,
        "tz": parse_text,
    }

    def value_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        for name in ("start_date", "end_date", "as_of"):
            _date_in_range(problems, name, getattr(self, name))
        _known_tz(problems, self.tz)
        return problems

    def rule_problems(self) -> list[Problem]:
        has_start, has_end = self.start_date is not None, self.end_date is not None
        if self.period not in (None, Period.CUSTOM) and (has_start or has_end):
            return [Problem("period", "cannot be combined with start_date and end_date")]
        if has_start != has_end:
            missing = "end_date" if has_start else "start_date"
            return [Problem(missing, "is required when the other date is given")]
        if self.period is Period.CUSTOM and not has_start:
            return [Problem("period", "custom needs start_date and end_date")]
        if self.start_date and self.end_date:
            if self.start_date > self.end_date:
                return [Problem("start_date", "must not be after end_date")]
            if (self.end_date - self.start_date).days + 1 > MAX_WINDOW_DAYS:
                return [Problem("end_date", f"window must span at most {MAX_WINDOW_DAYS} days")]
        return []

    def as_of_problems(self, as_of: date) -> list[Problem]:
        """Rules that need `as_of`, known only once the reporting time zone is."""
        if self.end_date and self.end_date > as_of:
            return [Problem("end_date", f"must not be after as_of ({as_of.isoformat()})")]
        return []


@dataclass(frozen=True)
class MonthRangeArgs(Args):
    """Arguments of the monthly series: `from`/`to` months, or a number of `months`."""

    from_month: date | None = None
    to_month: date | None = None
    months: int | None = None
    as_of: date | None = None
    tz: str | None = None

    parsers: ClassVar[dict[str, Callable[[str], Any]]] = {
        "from_month": parse_month,
        "to_month": parse_month,
        "months": parse_int,
        "as_of": parse_date,
        "tz": parse_text,
    }

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

    parsers: ClassVar[dict[str, Callable[[str], Any]]] = {
        "from_year": parse_int,
        "to_year": parse_int,
        "as_of": parse_date,
        "tz": parse_text,
    }

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


def parse_month_args(
    from_text: str | None,
    to_text: str | None,
    months: int | None,
    as_of: date | None,
    tz: str | None,
) -> MonthRangeArgs:
    """Month-range arguments whose `from` and `to` are still text, as GraphQL passes them."""
    pairs = [("from", from_text), ("to", to_text)]
    parsed = MonthRangeArgs.from_query((name, text) for name, text in pairs if text is not None)
    return MonthRangeArgs(parsed.from_month, parsed.to_month, months, as_of, tz)
