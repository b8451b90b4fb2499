import re
from datetime import UTC, date, datetime

import pytest

from personal_stats.core.rounding import hours, percentage, rate
from personal_stats.core.windows import (
    MAX_YEAR,
    MIN_YEAR,
    YEAR_PATTERN,
    Period,
    instants,
    local_day,
    period_window,
)

AS_OF = date(2026, 3, 25)


@pytest.mark.parametrize(
    ("period", "start"),
    [
        (Period.LAST_7_DAYS, date(2026, 3, 19)),
        (Period.LAST_30_DAYS, date(2026, 2, 24)),
        (Period.LAST_90_DAYS, date(2025, 12, 26)),
        (Period.LAST_365_DAYS, date(2025, 3, 26)),
        (Period.MONTH_TO_DATE, date(2026, 3, 1)),
        (Period.YEAR_TO_DATE, date(2026, 1, 1)),
    ],
)
def test_named_periods_end_on_as_of(period: Period, start: date) -> None:
    window = period_window(period, AS_OF, first_activity=None)
    assert (window.start_date, window.end_date) == (start, AS_OF)


def test_all_time_starts_at_the_first_activity_or_as_of() -> None:
    assert period_window(Period.ALL_TIME, AS_OF, date(2024, 5, 6)).start_date == date(2024, 5, 6)
    assert period_window(Period.ALL_TIME, AS_OF, None).start_date == AS_OF
    assert period_window(Period.ALL_TIME, AS_OF, date(2026, 4, 1)).start_date == AS_OF


def test_new_york_spring_forward_day_has_23_hours() -> None:
    start, end = instants(date(2026, 3, 8), date(2026, 3, 8), "America/New_York")
    assert start == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert end == datetime(2026, 3, 9, 4, tzinfo=UTC)


def test_new_york_fall_back_day_has_25_hours() -> None:
    start, end = instants(date(2026, 11, 1), date(2026, 11, 1), "America/New_York")
    assert (end - start).total_seconds() == 25 * 3600


def test_kiritimati_is_a_day_ahead_of_utc() -> None:
    instant = datetime(2026, 3, 24, 12, tzinfo=UTC)
    assert (
        local_day(int(instant.timestamp()), "Pacific/Kiritimati") == date(2026, 3, 25).toordinal()
    )


def test_santiago_midnight_fall_back_keeps_the_repeated_hour_on_saturday() -> None:
    # Chile leaves DST at 24:00 on Saturday 2026-04-04: 23:00-24:00 happens twice.
    start, _ = instants(date(2026, 4, 5), date(2026, 4, 5), "America/Santiago")
    assert start == datetime(2026, 4, 5, 4, tzinfo=UTC)
    repeated = int(datetime(2026, 4, 5, 3, 30, tzinfo=UTC).timestamp())
    assert local_day(repeated, "America/Santiago") == date(2026, 4, 4).toordinal()


@pytest.mark.parametrize(
    ("minutes", "expected"), [(0, 0.0), (3, 0.1), (9, 0.2), (2, 0.0), (624, 10.4), (627, 10.5)]
)
def test_hours_round_half_up_from_minutes(minutes: int, expected: float) -> None:
    assert hours(minutes) == expected


def test_rates_and_percentages_round_half_up_not_to_even() -> None:
    # 6.25 is exact in binary, and round() would give 6.2 (half to even): half up is 6.3.
    assert percentage(1, 16) == 6.3
    assert rate(1, 16) == 0.063
    assert rate(11, 12) == 0.917
    assert percentage(7, 12) == 58.3
    assert percentage(5, 12) == 41.7


def test_the_year_pattern_is_the_year_range() -> None:
    """The pattern documents state for a year is the range the service checks: 1900-2999."""
    matched = [year for year in range(1000, 10_000) if re.fullmatch(YEAR_PATTERN, str(year))]
    assert matched == list(range(1900, 3000))
    assert (MIN_YEAR, MAX_YEAR) == (1900, 2999)
