"""Strawberry types: the stats core's records with GraphQL names, built by `from_model`."""

from dataclasses import fields
from datetime import date
from typing import Any, Self

import strawberry
from strawberry.types import Info

from personal_stats.adapters.graphql.enums import CompareWith, StatsPeriod, Weekday
from personal_stats.adapters.graphql.fields import answers, ask, with_questions
from personal_stats.core import results, stats
from personal_stats.core.reads import MentorRow


def _copy(model: Any, **overrides: Any) -> dict[str, Any]:
    values = {field.name: getattr(model, field.name) for field in fields(model)}
    return values | overrides


@strawberry.type
class SummaryChange:
    total_activities_pct: float | None
    completed_activities_pct: float | None
    active_days_pct: float | None
    total_hours_logged_pct: float | None
    avg_session_duration_minutes_pct: float | None
    completion_rate_delta: float | None
    peer_rank_percentile_delta: int | None


@strawberry.type
class SummaryComparison:
    compare: CompareWith  # type: ignore[valid-type]
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

    @classmethod
    def from_model(cls, comparison: results.SummaryComparison) -> Self:
        change = SummaryChange(**_copy(comparison.change))
        return cls(**_copy(comparison, change=change))


@strawberry.type
class BreakdownComparison:
    compare: CompareWith  # type: ignore[valid-type]
    start_date: date
    end_date: date
    total_activities: int


@strawberry.type
@answers
class PersonalStats:
    mentor_id: str
    mentor_name: str
    period: StatsPeriod  # type: ignore[valid-type]
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
    comparison: SummaryComparison | None = None
    rest_days: list[Weekday] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The rest days asked for, Monday first; null without."
    )

    @classmethod
    def from_model(cls, summary: results.Summary) -> Self:
        compared = getattr(summary, "comparison", None)
        comparison = None if compared is None else SummaryComparison.from_model(compared)
        return cls(**_copy(summary, comparison=comparison, rest_days=_rest_days(summary)))


def _rest_days(answer: Any) -> list[Any] | None:
    """The rest days an answer names, or None when it was asked without."""
    named = getattr(answer, "rest_days", None)
    return None if named is None else list(named)


@strawberry.type
class MonthlySeriesItem:
    year: int
    month: int
    month_label: str
    total_activities: int
    completed_activities: int
    total_hours: float

    @classmethod
    def from_model(cls, item: results.MonthItem) -> Self:
        return cls(**_copy(item))


@strawberry.type
class ActivityBreakdownItem:
    activity_type_id: str
    activity_type_name: str
    activity_type_code: str
    count: int
    percentage: float
    avg_duration_minutes: int | None
    total_hours: float
    previous_count: int | None = None
    count_change_pct: float | None = None

    @classmethod
    def from_model(cls, item: results.BreakdownItem) -> Self:
        return cls(**_copy(item))


@strawberry.type
class MonthCount:
    month: int
    count: int


@strawberry.type
class ContributionYear:
    year: int
    total_activities: int
    total_hours: float
    monthly_breakdown: list[MonthCount]
    peak_month: int | None
    zero_activity_months: int

    @classmethod
    def from_model(cls, item: results.YearItem) -> Self:
        months = [MonthCount(month=m.month, count=m.count) for m in item.monthly_breakdown]
        return cls(**_copy(item, monthly_breakdown=months))


@strawberry.type
class Pagination:
    page: int
    limit: int
    total: int

    @classmethod
    def from_model(cls, pagination: results.Pagination) -> Self:
        return cls(**_copy(pagination))


@strawberry.type
@answers
class MonthlySeriesPage:
    data: list[MonthlySeriesItem]
    pagination: Pagination

    @classmethod
    def from_model(cls, page: results.Page[results.MonthItem]) -> Self:
        data = [MonthlySeriesItem.from_model(item) for item in page.data]
        return cls(data=data, pagination=Pagination.from_model(page.pagination))


@strawberry.type
@answers
class ActivityBreakdownPage:
    data: list[ActivityBreakdownItem]
    pagination: Pagination
    comparison: BreakdownComparison | None = None

    @classmethod
    def from_model(cls, page: results.Page[results.BreakdownItem]) -> Self:
        data = [ActivityBreakdownItem.from_model(item) for item in page.data]
        compared = getattr(page, "comparison", None)
        comparison = None if compared is None else BreakdownComparison(**_copy(compared))
        return cls(data=data, pagination=Pagination.from_model(page.pagination),
                   comparison=comparison)  # fmt: skip


@strawberry.type
@answers
class ContributionHistoryPage:
    data: list[ContributionYear]
    pagination: Pagination

    @classmethod
    def from_model(cls, page: results.Page[results.YearItem]) -> Self:
        data = [ContributionYear.from_model(item) for item in page.data]
        return cls(data=data, pagination=Pagination.from_model(page.pagination))


@strawberry.type
class CalendarDay:
    date: date
    weekday: int
    count: int
    completed: int
    level: int

    @classmethod
    def from_model(cls, day: results.CalendarDay) -> Self:
        return cls(**_copy(day))


@strawberry.type
@answers
class ContributionCalendar:
    mentor_id: str
    start_date: date
    end_date: date
    timezone: str
    total_activities: int
    completed_activities: int
    active_days: int
    max_count: int
    days: list[CalendarDay]

    @classmethod
    def from_model(cls, calendar: results.Calendar) -> Self:
        return cls(**_copy(calendar, days=[CalendarDay.from_model(d) for d in calendar.days]))


@strawberry.type
class BestDay:
    date: date
    completed_activities: int


@strawberry.type
class BestWeek:
    week_start: date
    completed_activities: int


@strawberry.type
class BestMonth:
    year: int
    month: int
    completed_activities: int


@strawberry.type
class MostHoursMonth:
    year: int
    month: int
    total_hours: float


@strawberry.type
class LongestStreak:
    days: int
    start_date: date
    end_date: date


@strawberry.type
class LongestWeeklyStreak:
    weeks: int
    start_week: date
    end_week: date


@strawberry.type
class Milestone:
    completed_activities: int
    date: date
    activity_id: str


@strawberry.type
class NextMilestone:
    completed_activities: int
    remaining: int


_PARTS = {
    "best_day": BestDay, "best_week": BestWeek, "best_month": BestMonth,
    "most_hours_month": MostHoursMonth, "longest_streak": LongestStreak,
    "longest_weekly_streak": LongestWeeklyStreak, "next_milestone": NextMilestone,
}  # fmt: skip


@strawberry.type
@answers
class PersonalRecords:
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
    rest_days: list[Weekday] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The rest days asked for, Monday first; null without."
    )

    @classmethod
    def from_model(cls, found: results.PersonalRecords) -> Self:
        parts = {name: None if (part := getattr(found, name)) is None else kind(**_copy(part))
                 for name, kind in _PARTS.items()}  # fmt: skip
        milestones = [Milestone(**_copy(m)) for m in found.milestones]
        return cls(**_copy(found, **parts, milestones=milestones, rest_days=_rest_days(found)))


@strawberry.federation.type(keys=["id"])  # an entity of a supergraph (SPEC 21)
@with_questions(of_the_mentor=True)
class Mentor:
    id: strawberry.ID
    name: str
    timezone: str

    # The unit of work its questions ask: a subscription event's own; else the request's.
    work: strawberry.Private[Any] = None

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> "Mentor | None":
        """The mentor a supergraph's representation names (`_entities`), as `mentor(id)`
        finds it; null when unknown."""
        found = await ask(info, stats.find_mentor, id)
        return cls.from_model(found) if found else None

    @classmethod
    def from_model(cls, mentor: MentorRow, work: Any = None) -> "Mentor":
        return cls(
            id=strawberry.ID(mentor.id), name=mentor.name, timezone=mentor.timezone, work=work
        )
