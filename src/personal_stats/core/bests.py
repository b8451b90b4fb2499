"""A mentor's bests over their whole history (SPEC section 19): the best day, week and
month, the longest daily and weekly runs, and the milestones. Every tie goes to the
earliest. Pure."""

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from typing import TypeVar

from personal_stats.core import figures
from personal_stats.core.reads import LocalActivity
from personal_stats.core.results import (
    BestDay,
    BestMonth,
    BestWeek,
    LongestStreak,
    LongestWeeklyStreak,
    Milestone,
    MostHoursMonth,
    NextMilestone,
)
from personal_stats.core.rounding import hours
from personal_stats.core.windows import local_day, weekday_of

MILESTONES = (1, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000)
Month = tuple[int, int]  # (year, month)
K = TypeVar("K", int, Month)


def _earliest_highest(counts: dict[K, int]) -> tuple[K, int] | None:
    """The key with the highest count; a tie goes to the smallest (earliest) key."""
    if not counts:
        return None
    key = min(counts, key=lambda k: (-counts[k], k))
    return key, counts[key]


def _month(day: int) -> Month:
    found = date.fromordinal(day)
    return found.year, found.month


def best_day(per_day: Counter[int]) -> BestDay | None:
    """The day of the most completed activities, of their count by day."""
    found = _earliest_highest(per_day)
    return None if found is None else BestDay(date.fromordinal(found[0]), found[1])


def best_week(per_day: Counter[int]) -> BestWeek | None:
    weeks: Counter[int] = Counter()
    for day, count in per_day.items():
        weeks[day - weekday_of(day)] += count
    found = _earliest_highest(weeks)
    return None if found is None else BestWeek(date.fromordinal(found[0]), found[1])


def best_month(per_day: Counter[int]) -> BestMonth | None:
    months: Counter[Month] = Counter()
    for day, count in per_day.items():
        months[_month(day)] += count
    found = _earliest_highest(months)
    return None if found is None else BestMonth(found[0][0], found[0][1], found[1])


def most_hours_month(completed: Iterable[LocalActivity]) -> MostHoursMonth | None:
    """Among the months that hold a completed activity, the one with the most completed
    minutes (it may be 0)."""
    minutes: dict[Month, int] = {}
    for activity in completed:
        month = _month(activity.day)
        minutes[month] = minutes.get(month, 0) + activity.minutes
    found = _earliest_highest(minutes)
    return None if found is None else MostHoursMonth(*found[0], hours(found[1]))


def longest_streak(completed_days: Iterable[int], rest: frozenset[int]) -> LongestStreak | None:
    """The longest run of `figures.runs` (the earliest of the longest)."""
    found = None
    for length, first, last in figures.runs(completed_days, rest):
        if found is None or length > found[0]:
            found = (length, first, last)
    if found is None:
        return None
    return LongestStreak(found[0], date.fromordinal(found[1]), date.fromordinal(found[2]))


def longest_weekly_streak(completed_days: Iterable[int]) -> LongestWeeklyStreak | None:
    """The longest run of consecutive Monday-to-Sunday weeks each holding a completed
    activity (the earliest of the longest)."""
    mondays = sorted({day - weekday_of(day) for day in completed_days})
    found = None
    start = 0
    for i, monday in enumerate(mondays):
        if i and monday - mondays[i - 1] != 7:
            start = i
        weeks = i - start + 1
        if found is None or weeks > found[0]:
            found = (weeks, mondays[start], monday)
    if found is None:
        return None
    return LongestWeeklyStreak(found[0], date.fromordinal(found[1]), date.fromordinal(found[2]))


def reached(completed: int) -> tuple[int, ...]:
    """The milestones reached with this many completed activities."""
    return tuple(n for n in MILESTONES if n <= completed)


def milestones(rows: Sequence[tuple[int, int, str]], tz: str) -> list[Milestone]:
    """The milestones of (position, epoch second, activity id) rows, ascending, with the
    local dates of their activities."""
    return [Milestone(n, date.fromordinal(local_day(second, tz)), activity_id)
            for n, second, activity_id in sorted(rows)]  # fmt: skip


def next_milestone(completed: int) -> NextMilestone | None:
    """The smallest milestone above `completed`, and how far it is; None from the last on."""
    above = [n for n in MILESTONES if n > completed]
    return NextMilestone(above[0], above[0] - completed) if above else None
