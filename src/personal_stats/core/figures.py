"""Figures computed from one mentor's activities once they carry local dates. Pure."""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from personal_stats.core.reads import ActivityRow, LocalActivity, PeerCounts, Standing
from personal_stats.core.rounding import div_half_up, half_away
from personal_stats.core.windows import local_days, weekday_of

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_ABBREVIATIONS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
ONE_DAY = timedelta(days=1)
NO_REST: frozenset[int] = frozenset()
Counts = np.ndarray[Any, np.dtype[np.int64]]


@dataclass
class Tally:
    """Counts and completed minutes of a group of activities."""

    total: int = 0
    completed: int = 0
    minutes: int = 0

    def add(self, activity: LocalActivity) -> None:
        self.total += 1
        if activity.completed:
            self.completed += 1
            self.minutes += activity.minutes

    @property
    def average_minutes(self) -> int | None:
        return div_half_up(self.minutes, self.completed) if self.completed else None


def change_pct(current: Fraction | int | None, previous: Fraction | int | None) -> float | None:
    """100 x (current - previous) / previous, exact, to 1 decimal half away from zero; 0.0
    from 0 to 0; None from 0 to anything else, or when either side is None."""
    if current is None or previous is None:
        return None
    if previous == 0:
        return 0.0 if current == 0 else None
    return half_away(Fraction(100) * (current - previous) / previous, 1)


def exact_mean(total: int, count: int) -> Fraction | None:
    return Fraction(total, count) if count else None


def rate_delta(current: Fraction | None, previous: Fraction | None) -> float | None:
    """The difference of two exact rates, to 3 decimals half away from zero."""
    if current is None or previous is None:
        return None
    return half_away(current - previous, 3)


def localize(rows: Sequence[ActivityRow], tz: str) -> list[LocalActivity]:
    """The rows with their local dates in zone `tz`."""
    days = local_days([row[0] for row in rows], tz)
    return [
        LocalActivity(day, bool(completed), minutes, type_id)
        for day, (_, completed, minutes, type_id) in zip(days, rows, strict=True)
    ]


def tally(activities: Iterable[LocalActivity]) -> Tally:
    result = Tally()
    for activity in activities:
        result.add(activity)
    return result


def most_common(counts: Counter[str]) -> str | None:
    """The key with the highest count; ties go to the smallest key in code-point order."""
    return min(counts, key=lambda key: (-counts[key], key)) if counts else None


def most_active_weekday(days: Iterable[int]) -> str | None:
    """The weekday with most of `days` (ordinals); ties go to the earliest from Monday."""
    counts = Counter(weekday_of(day) for day in days)
    if not counts:
        return None
    return WEEKDAYS[min(counts, key=lambda weekday: (-counts[weekday], weekday))]


def runs(days: Iterable[int], rest: frozenset[int] = NO_REST) -> list[tuple[int, int, int]]:
    """Every run of consecutive days (ordinals) in time order, as (length, first day, last
    day): days in a row, or apart by rest days alone (weekdays in `rest`, SPEC section 20),
    which neither break a run nor add to its length."""
    found: list[tuple[int, int, int]] = []
    length = first = previous = 0
    for day in sorted(set(days)):
        if length and _bridged(previous, day, rest):
            length += 1
        else:
            if length:
                found.append((length, first, previous))
            length, first = 1, day
        previous = day
    if length:
        found.append((length, first, previous))
    return found


def _bridged(previous: int, day: int, rest: frozenset[int]) -> bool:
    """Whether nothing but rest days lies between two days of a run."""
    return day - previous <= _longest_steps(rest)[weekday_of(previous)]


@lru_cache(maxsize=128)  # one per set of rest days (never all seven)
def _longest_steps(rest: frozenset[int]) -> tuple[int, ...]:
    """For each weekday, the longest step from it to a next day of the same run: 1, plus
    the rest days that follow it in a row (fewer than seven)."""
    steps = []
    for weekday in range(7):
        step = 1
        while (weekday + step) % 7 in rest:
            step += 1
        steps.append(step)
    return tuple(steps)


def longest_run(days: Iterable[int], rest: frozenset[int] = NO_REST) -> int:
    """The length of the longest run of `runs`."""
    return max((length for length, _, _ in runs(days, rest)), default=0)


def percentile(below: int, equal: int, peers: int) -> int:
    """round_half_up(100 * (below + equal / 2) / peers)."""
    return div_half_up(100 * (2 * below + equal), 2 * peers)


def month_label(year: int, month: int) -> str:
    return f"{MONTH_ABBREVIATIONS[month - 1]} {year}"


def daily_run(
    days: set[int], end: int, known_from: int, rest: frozenset[int] = NO_REST
) -> int | None:
    """Consecutive days (ordinals) in `days` going back from `end`, or from the day before
    when `end` has none, passing over rest days without one (weekdays in `rest`); None when
    the run reaches before `known_from`, the first day whose activity is known."""
    day = end if end in days else end - 1
    run = 0
    while day in days or weekday_of(day) in rest:
        run += day in days
        day -= 1
        if day < known_from:
            return None
    return run if day >= known_from else None


def weekly_run(days: set[int], end: int, known_from: int) -> int | None:
    """Consecutive Monday-to-Sunday weeks holding a day of `days` (none after `end`), going
    back from the week of `end`, or from the week before when that week has none; None when
    a week before `known_from` would decide."""
    monday = end - date.fromordinal(end).weekday()
    first = True
    run = 0
    while True:
        if any(day in days for day in range(monday, min(monday + 7, end + 1))):
            run += 1
        elif monday < known_from:
            return None
        elif not first:
            return run
        first = False
        monday -= 7


def standing_of_counts(counts: Counts, mentors: int, completed: int) -> Standing:
    """The standing of one of `mentors` mentors whose own count is `completed`, among these
    counts (in any order) and a count of 0 for every mentor they leave out. `counts` may
    also hold a 0 for a mentor that is gone and not among `mentors`: the mentors left out
    are then one fewer, and the zeros add up the same."""
    left_out = mentors - len(counts)
    below = int(np.count_nonzero(counts < completed)) + (left_out if completed > 0 else 0)
    equal = int(np.count_nonzero(counts == completed)) + (left_out if completed == 0 else 0)
    return Standing(peers=mentors - 1, below=below, equal=equal - 1)  # not the mentor itself


def standing_of_sorted(ranked: Counts, mentors: int, completed: int) -> Standing:
    """`standing_of_counts` of counts already in ascending order: two binary searches."""
    left_out = mentors - len(ranked)
    low = int(np.searchsorted(ranked, completed, side="left"))
    high = int(np.searchsorted(ranked, completed, side="right"))
    below = low + (left_out if completed > 0 else 0)
    equal = high - low + (left_out if completed == 0 else 0)
    return Standing(peers=mentors - 1, below=below, equal=equal - 1)


def standing_among(peers: PeerCounts, completed: int) -> Standing:
    """The standing of a mentor with `completed` completed activities among these counts."""
    counts = np.asarray(peers.counts, dtype=np.int64)
    if peers.ranked:
        return standing_of_sorted(counts, peers.mentors, completed)
    return standing_of_counts(counts, peers.mentors, completed)


def quartile_levels(counts: Sequence[int]) -> list[int]:
    """GitHub-style levels 0-4 of daily counts: 0 for none, else by the nearest-rank
    quartiles of the days that have any (a count <= q1 is 1, <= q2 is 2, <= q3 is 3, else 4)."""
    active = sorted(count for count in counts if count > 0)
    n = len(active)
    if not n:
        return [0] * len(counts)
    q1, q2, q3 = (active[-(-n * k // 4) - 1] for k in (1, 2, 3))
    return [
        0 if count == 0 else 1 if count <= q1 else 2 if count <= q2 else 3 if count <= q3 else 4
        for count in counts
    ]
