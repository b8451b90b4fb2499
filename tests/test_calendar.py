"""The daily contribution calendar and its levels, worked out by hand (SPEC section 14). The
core runs on in-memory answers: no database."""

from datetime import date

import pytest

from personal_stats.core import stats
from personal_stats.core.errors import InvalidInput
from personal_stats.core.figures import quartile_levels
from personal_stats.core.params import CalendarArgs
from tests.memory import Memory

AS_OF = date(2026, 3, 25)


def levels_of(calendar: object) -> dict[str, int]:
    return {d.date.isoformat(): d.level for d in calendar.days if d.count}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("counts", "levels"),
    [
        ([1, 2, 3, 4], [1, 2, 3, 4]),  # the SPEC's example: q1, q2, q3 = 1, 2, 3
        ([5], [1]),  # a single active day is level 1
        ([3, 3, 3, 3, 3], [1, 1, 1, 1, 1]),  # all equal: every quartile is 3
        ([0, 2, 0, 2, 9], [0, 1, 0, 1, 3]),  # Q = [2, 2, 9]: q1 = q2 = 2, q3 = 9, and 9 <= q3
        ([1, 1, 2, 2, 3, 3, 4, 4], [1, 1, 2, 2, 3, 3, 4, 4]),  # n = 8: Q[1], Q[3], Q[5]
        ([7, 1, 1, 1, 1], [4, 1, 1, 1, 1]),  # ties at the bottom: q1 = q2 = q3 = 1
        ([0, 0, 0], [0, 0, 0]),
    ],
)
def test_levels_by_nearest_rank_quartiles(counts: list[int], levels: list[int]) -> None:
    assert quartile_levels(counts) == levels


def test_nine_counts_by_hand() -> None:
    # Q = [1, 2, 3, 4, 5, 6, 7, 8, 9], n = 9: q1 = Q[ceil(9/4) - 1] = Q[2] = 3,
    # q2 = Q[ceil(4.5) - 1] = Q[4] = 5, q3 = Q[ceil(6.75) - 1] = Q[6] = 7.
    assert quartile_levels(list(range(1, 10))) == [1, 1, 1, 2, 2, 3, 3, 4, 4]


def test_default_range_is_the_365_days_ending_as_of() -> None:
    memory = Memory().mentor("m1").activity("m1", "2026-03-25T10:00:00+00:00")
    memory.activity("m1", "2025-03-25T10:00:00+00:00")  # day 366 back: outside
    memory.activity("m1", "2025-03-26T10:00:00+00:00", completed=False)  # first day: inside
    calendar = memory.ask(stats.contribution_calendar("m1", CalendarArgs(as_of=AS_OF)))
    assert (calendar.start_date, calendar.end_date) == (date(2025, 3, 26), AS_OF)
    assert len(calendar.days) == 365
    assert (calendar.total_activities, calendar.completed_activities) == (2, 1)
    assert calendar.active_days == 1  # only completed activities make a day active
    assert calendar.days[0].count == 1
    assert calendar.days[0].completed == 0
    assert calendar.days[0].weekday == 3  # 2025-03-26 was a Wednesday
    assert calendar.days[-1].weekday == 3  # and so was 2026-03-25


def test_ties_a_single_active_day_and_the_max() -> None:
    memory = Memory().mentor("m1")
    for hour in (9, 10, 11):
        memory.activity("m1", f"2026-03-20T{hour:02d}:00:00+00:00")
    memory.activity("m1", "2026-03-21T09:00:00+00:00")
    memory.activity("m1", "2026-03-22T09:00:00+00:00")
    args = CalendarArgs(date(2026, 3, 19), date(2026, 3, 23), AS_OF)
    calendar = memory.ask(stats.contribution_calendar("m1", args))
    # Q = [1, 1, 3]: q1 = Q[0] = 1, q2 = Q[1] = 1, q3 = Q[2] = 3.
    assert levels_of(calendar) == {"2026-03-20": 3, "2026-03-21": 1, "2026-03-22": 1}
    assert [d.count for d in calendar.days] == [0, 3, 1, 1, 0]
    assert calendar.max_count == 3


def test_366_days_is_the_longest_range() -> None:
    memory = Memory().mentor("m1")
    longest = CalendarArgs(date(2025, 3, 25), AS_OF, AS_OF)  # 366 days counted inclusively
    assert len(memory.ask(stats.contribution_calendar("m1", longest)).days) == 366
    too_long = CalendarArgs(date(2025, 3, 24), AS_OF, AS_OF)
    with pytest.raises(InvalidInput) as raised:
        memory.ask(stats.contribution_calendar("m1", too_long))
    assert [p.param for p in raised.value.problems] == ["end_date"]


@pytest.mark.parametrize(
    ("args", "param"),
    [
        ({"start_date": date(2026, 3, 1)}, "end_date"),
        ({"end_date": date(2026, 3, 1)}, "start_date"),
        ({"start_date": date(2026, 3, 2), "end_date": date(2026, 3, 1)}, "start_date"),
        ({"start_date": date(2026, 3, 20), "end_date": date(2026, 3, 26)}, "end_date"),
    ],
)
def test_bad_ranges(args: dict[str, date], param: str) -> None:
    memory = Memory().mentor("m1")
    with pytest.raises(InvalidInput) as raised:
        memory.ask(stats.contribution_calendar("m1", CalendarArgs(as_of=AS_OF, **args)))
    assert [p.param for p in raised.value.problems] == [param]


def test_a_dst_day_in_new_york() -> None:
    # 2026-03-08 has 23 hours in New York: 04:30Z is 23:30 on the 7th (EST, -5), 07:30Z is
    # 03:30 on the 8th (EDT, -4), 03:59Z on the 9th is 23:59 on the 8th.
    memory = Memory().mentor("m1", "America/New_York")
    for instant in ("2026-03-08T04:30:00+00:00", "2026-03-08T07:30:00+00:00",
                    "2026-03-09T03:59:00+00:00"):  # fmt: skip
        memory.activity("m1", instant)
    args = CalendarArgs(date(2026, 3, 7), date(2026, 3, 9), AS_OF)
    calendar = memory.ask(stats.contribution_calendar("m1", args))
    assert [(d.date.isoformat(), d.count) for d in calendar.days] == [
        ("2026-03-07", 1), ("2026-03-08", 2), ("2026-03-09", 0),
    ]  # fmt: skip


def test_a_plus_14_zone_and_its_as_of() -> None:
    # Kiritimati is UTC+14: 2026-03-24T10:00Z is already the 25th there, 11:00Z the 26th...
    # which is after as_of in that zone, so it does not exist for the request.
    memory = Memory().mentor("m1", "Pacific/Kiritimati")
    memory.activity("m1", "2026-03-24T09:59:00+00:00")  # 23:59 on the 24th
    memory.activity("m1", "2026-03-24T10:00:00+00:00")  # 00:00 on the 25th
    memory.activity("m1", "2026-03-25T10:00:00+00:00")  # 00:00 on the 26th: after as_of
    args = CalendarArgs(date(2026, 3, 24), AS_OF, AS_OF)
    calendar = memory.ask(stats.contribution_calendar("m1", args))
    assert [(d.date.isoformat(), d.count) for d in calendar.days] == [
        ("2026-03-24", 1), ("2026-03-25", 1),
    ]  # fmt: skip
    utc = memory.ask(stats.contribution_calendar("m1", CalendarArgs(
        date(2026, 3, 24), AS_OF, AS_OF, tz="UTC")))  # fmt: skip
    assert [d.count for d in utc.days] == [2, 1]
