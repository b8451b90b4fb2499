"""Periods, reporting time zones and date windows, turned into UTC instants. Pure, no I/O."""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, available_timezones

MAX_WINDOW_DAYS = 3660


class Period(StrEnum):
    LAST_7_DAYS = "last_7_days"
    LAST_30_DAYS = "last_30_days"
    LAST_90_DAYS = "last_90_days"
    LAST_365_DAYS = "last_365_days"
    MONTH_TO_DATE = "month_to_date"
    YEAR_TO_DATE = "year_to_date"
    ALL_TIME = "all_time"
    CUSTOM = "custom"


class Compare(StrEnum):
    """The earlier window each figure is set beside (SPEC section 17)."""

    PREVIOUS_PERIOD = "previous_period"
    YEAR_OVER_YEAR = "year_over_year"


class Weekday(StrEnum):
    """The days of the week, Monday first (`date.weekday()` is the index)."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


WEEK = tuple(Weekday)


def weekday_of(day: int) -> int:
    """The weekday (0 Monday ... 6 Sunday) of a date ordinal (ordinal 1 was a Monday)."""
    return (day - 1) % 7


# Every date the service takes or answers lies in these years (written once; YEAR_PATTERN is
# the same range as a regular expression, for documents that state it as a pattern).
MIN_YEAR, MAX_YEAR = 1900, 2999
YEAR_PATTERN = r"(19|2\d)\d{2}"
EARLIEST_DATE = date(MIN_YEAR, 1, 1)
# Before every instant an activity can have (its local date is in MIN_YEAR, at any offset).
HISTORY_START = datetime(MIN_YEAR - 1, 12, 31, tzinfo=UTC)
HISTORY_END = datetime(MAX_YEAR + 1, 1, 2, tzinfo=UTC)
DEFAULT_PERIOD = Period.LAST_30_DAYS
_TRAILING_DAYS = {
    Period.LAST_7_DAYS: 7,
    Period.LAST_30_DAYS: 30,
    Period.LAST_90_DAYS: 90,
    Period.LAST_365_DAYS: 365,
}


@dataclass(frozen=True)
class Window:
    """An inclusive range of local dates, with the period that produced it."""

    period: Period
    start_date: date
    end_date: date


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_known_timezone(name: str) -> bool:
    return name in known_timezones()


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_midnight(day: date, zone_name: str) -> datetime:
    """The first instant of `day` in the zone, in UTC (a midnight skipped by DST maps to
    the instant the day actually starts)."""
    return datetime.combine(day, time(0), tzinfo=zone(zone_name)).astimezone(UTC)


def instants(first: date, last: date, zone_name: str) -> tuple[datetime, datetime]:
    """The half-open UTC range of instants whose local date lies in [first, last]."""
    return local_midnight(first, zone_name), local_midnight(last + timedelta(days=1), zone_name)


@lru_cache(maxsize=4096)
def _year_midnights(zone_name: str, year: int) -> tuple[int, list[int]]:
    """The ordinal of 1 January of `year` and the epoch second of each local midnight from
    that day through 1 January of the next year."""
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    starts = [int(local_midnight(first + timedelta(days=i), zone_name).timestamp())
              for i in range(days + 1)]  # fmt: skip
    return first.toordinal(), starts


def local_day(second: int, zone_name: str) -> int:
    """The ordinal of the local date of an epoch second: a binary search among the zone's
    cached midnights instead of a datetime per row."""
    year = _EPOCH_YEAR + second // _AVERAGE_YEAR
    while True:
        ordinal, starts = _year_midnights(zone_name, year)
        if second < starts[0]:
            year -= 1
        elif second >= starts[-1]:
            year += 1
        else:
            return ordinal + bisect_right(starts, second) - 1


def local_days(seconds: list[int], zone_name: str) -> list[int]:
    """`local_day` of many seconds: the midnights of the years they span are looked up once."""
    if not seconds:
        return []
    first = local_day(min(seconds), zone_name)
    last = local_day(max(seconds), zone_name)
    origin, starts = _midnights_between(zone_name, first, last)
    return [origin + bisect_right(starts, second) - 1 for second in seconds]


def _midnights_between(zone_name: str, first: int, last: int) -> tuple[int, list[int]]:
    """The ordinal of 1 January of `first`'s year, and the midnights from that day through
    the end of `last`'s year."""
    low, high = date.fromordinal(first).year, date.fromordinal(last).year
    origin, starts = _year_midnights(zone_name, low)
    if high == low:
        return origin, starts
    joined = starts[:-1]
    for year in range(low + 1, high + 1):
        joined += _year_midnights(zone_name, year)[1][:-1]
    return origin, [*joined, _year_midnights(zone_name, high)[1][-1]]


_EPOCH_YEAR = 1970
_AVERAGE_YEAR = 31_556_952  # seconds in a Gregorian year: a first guess at the year


def period_window(period: Period, as_of: date, first_activity: date | None) -> Window:
    """The window of a named period ending on `as_of`."""
    if period in _TRAILING_DAYS:
        start = as_of - timedelta(days=_TRAILING_DAYS[period] - 1)
    elif period is Period.MONTH_TO_DATE:
        start = as_of.replace(day=1)
    elif period is Period.YEAR_TO_DATE:
        start = as_of.replace(month=1, day=1)
    elif period is Period.ALL_TIME:
        start = first_activity if first_activity and first_activity < as_of else as_of
    else:
        raise ValueError(f"{period} has no window of its own")
    return Window(period, start, as_of)


def add_months(month: date, count: int) -> date:
    """The first day of the month `count` months after `month` (negative goes back)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> int:
    """How many months [first, last] spans, both counted."""
    return (last.year - first.year) * 12 + last.month - first.month + 1


def a_year_before(day: date) -> date:
    """The same month and day a year earlier; 29 February becomes 28 February."""
    if day.month == 2 and day.day == 29:
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def comparison_window(window: Window, compare: Compare) -> tuple[date, date]:
    """The earlier window [start, end] of local dates that `window`'s figures are compared
    with (SPEC section 17). `all_time` has none, and a window before `EARLIEST_DATE` is not
    given: both raise ValueError."""
    if window.period is Period.ALL_TIME:
        raise ValueError("an all_time window has no earlier window to compare with")
    s, e = window.start_date, window.end_date
    if window.period is Period.YEAR_TO_DATE:  # both ways: the same days a year earlier
        start, end = date(s.year - 1, 1, 1), a_year_before(e)
    elif compare is Compare.YEAR_OVER_YEAR:
        start, end = a_year_before(s), a_year_before(e)
    elif window.period is Period.MONTH_TO_DATE:
        start = add_months(s, -1)
        length = (s - timedelta(days=1)).day  # the previous month's last day
        end = start.replace(day=min(e.day, length))
    else:
        days = (e - s).days + 1
        start, end = s - timedelta(days=days), s - timedelta(days=1)
    if start < EARLIEST_DATE:
        raise ValueError(f"the earlier window would start before {EARLIEST_DATE.isoformat()}")
    return start, end
