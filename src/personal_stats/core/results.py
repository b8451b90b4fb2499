"""The answers of the stats core: plain records, free of any framework."""

import datetime as dt
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from personal_stats.core.windows import Compare, Period, Weekday

T = TypeVar("T")


@dataclass(frozen=True)
class Summary:
    mentor_id: str
    mentor_name: str
    period: Period
    start_date: date
    end_date: date
    timezone: str
    total_activities: int
    completed_activities: int
    cancelled_activities: int
    completion_rate: float | None
    avg_session_duration_minutes: int | None
    total_hours_logged: float
    most_common_activity_type: str | None
    most_active_weekday: str | None
    peer_rank_percentile: int | None
    streak_days: int
    longest_streak_days: int
    active_days: int
    weekly_streak_weeks: int


@dataclass(frozen=True)
class SummaryChange:
    total_activities_pct: float | None
    completed_activities_pct: float | None
    active_days_pct: float | None
    total_hours_logged_pct: float | None
    avg_session_duration_minutes_pct: float | None
    completion_rate_delta: float | None
    peer_rank_percentile_delta: int | None


@dataclass(frozen=True)
class SummaryComparison:
    """The summary's figures over the earlier window, and the changes (SPEC section 17)."""

    compare: Compare
    start_date: date
    end_date: date
    total_activities: int
    completed_activities: int
    cancelled_activities: int
    completion_rate: float | None
    avg_session_duration_minutes: int | None
    total_hours_logged: float
    active_days: int
    peer_rank_percentile: int | None
    change: SummaryChange


@dataclass(frozen=True)
class ComparedSummary(Summary):
    """The summary with `comparison`, when asked with `compare` (else a `Summary`, which has
    no such key)."""

    comparison: SummaryComparison | None = None


@dataclass(frozen=True)
class RestingSummary(Summary):
    """The summary asked with rest days (SPEC section 20): they are named, Monday first
    (else a `Summary`, which has no such key)."""

    rest_days: tuple[Weekday, ...] = ()


@dataclass(frozen=True)
class RestingComparedSummary(ComparedSummary):
    """The summary asked with `compare` and rest days."""

    rest_days: tuple[Weekday, ...] = ()


@dataclass(frozen=True)
class MonthItem:
    year: int
    month: int
    month_label: str
    total_activities: int
    completed_activities: int
    total_hours: float


@dataclass(frozen=True)
class BreakdownItem:
    activity_type_id: str
    activity_type_name: str
    activity_type_code: str
    count: int
    percentage: float
    avg_duration_minutes: int | None
    total_hours: float


@dataclass(frozen=True)
class ComparedBreakdownItem(BreakdownItem):
    previous_count: int = 0  # of this type, any status, in the earlier window
    count_change_pct: float | None = None


@dataclass(frozen=True)
class BreakdownComparison:
    compare: Compare
    start_date: date
    end_date: date
    total_activities: int  # of every type and status in the earlier window


@dataclass(frozen=True)
class MonthCount:
    month: int
    count: int


@dataclass(frozen=True)
class YearItem:
    year: int
    total_activities: int
    total_hours: float
    monthly_breakdown: list[MonthCount]
    peak_month: int | None
    zero_activity_months: int


@dataclass(frozen=True)
class Pagination:
    page: int
    limit: int
    total: int


@dataclass(frozen=True)
class Page(Generic[T]):
    data: list[T]
    pagination: Pagination


@dataclass(frozen=True)
class CalendarDay:
    date: date
    weekday: int  # 1 = Monday ... 7 = Sunday
    count: int
    completed: int
    level: int  # 0-4


@dataclass(frozen=True)
class Calendar:
    mentor_id: str
    start_date: date
    end_date: date
    timezone: str
    total_activities: int
    completed_activities: int
    active_days: int
    max_count: int
    days: list[CalendarDay]


@dataclass(frozen=True)
class ComparedPage(Page[T]):
    """A breakdown page with `comparison`, when asked with `compare` (else a `Page`)."""

    comparison: BreakdownComparison | None = None


@dataclass(frozen=True)
class BestDay:
    date: dt.date
    completed_activities: int


@dataclass(frozen=True)
class BestWeek:
    week_start: date  # its Monday
    completed_activities: int


@dataclass(frozen=True)
class BestMonth:
    year: int
    month: int
    completed_activities: int


@dataclass(frozen=True)
class MostHoursMonth:
    year: int
    month: int
    total_hours: float


@dataclass(frozen=True)
class LongestStreak:
    days: int
    start_date: date  # the first and the last date of the run that hold a completed activity
    end_date: date


@dataclass(frozen=True)
class LongestWeeklyStreak:
    weeks: int
    start_week: date  # Mondays
    end_week: date


@dataclass(frozen=True)
class Milestone:
    completed_activities: int
    date: dt.date
    activity_id: str


@dataclass(frozen=True)
class NextMilestone:
    completed_activities: int
    remaining: int


@dataclass(frozen=True)
class PersonalRecords:
    """A mentor's bests over their whole history up to as_of (SPEC section 19)."""

    mentor_id: str
    as_of: date
    timezone: str
    first_activity_date: date | None
    total_activities: int
    completed_activities: int
    total_hours_logged: float
    best_day: BestDay | None
    best_week: BestWeek | None
    best_month: BestMonth | None
    most_hours_month: MostHoursMonth | None
    longest_streak: LongestStreak | None
    longest_weekly_streak: LongestWeeklyStreak | None
    milestones: list[Milestone]
    next_milestone: NextMilestone | None


@dataclass(frozen=True)
class RestingRecords(PersonalRecords):
    """The records asked with rest days: they are named, Monday first."""

    rest_days: tuple[Weekday, ...] = ()
