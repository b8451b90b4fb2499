"""Figures computed from one mentor's activities once they carry local dates. Pure."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from personal_stats.rounding import div_half_up

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_ABBREVIATIONS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LocalActivity:
    day: date
    completed: bool
    minutes: int
    type_id: str


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


def tally(activities: Iterable[LocalActivity]) -> Tally:
    result = Tally()
    for activity in activities:
        result.add(activity)
    return result


def most_common(counts: Counter[str]) -> str | None:
    """The key with the highest count; ties go to the smallest key in code-point order."""
    return min(counts, key=lambda key: (-counts[key], key)) if counts else None


def most_active_weekday(days: Iterable[date]) -> str | None:
    """The weekday with most of `days`; ties go to the earliest from Monday."""
    counts = Counter(day.weekday() for day in days)
    if not counts:
        return None
    return WEEKDAYS[min(counts, key=lambda weekday: (-counts[weekday], weekday))]


def longest_run(days: Iterable[date]) -> int:
    """The length of the longest run of consecutive dates."""
    longest = current = 0
    previous: date | None = None
    for day in sorted(set(days)):
        current = current + 1 if previous and day - previous == ONE_DAY else 1
        longest = max(longest, current)
        previous = day
    return longest


def percentile(below: int, equal: int, peers: int) -> int:
    """round_half_up(100 * (below + equal / 2) / peers)."""
    return div_half_up(100 * (2 * below + equal), 2 * peers)


def month_label(year: int, month: int) -> str:
    return f"{MONTH_ABBREVIATIONS[month - 1]} {year}"
