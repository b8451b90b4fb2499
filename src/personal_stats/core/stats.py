"""The stats core: the questions about a mentor, as generators that yield plain read
requests (`reads`) and compute every figure from the answers. No session, no I/O: a storage
driver answers the reads (see `service`), and tests can answer them from lists.

Each question checks its arguments in the documented order (id, values, mentor exists,
rules needing the mentor) before it reads anything else.
"""

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from personal_stats.core import bests, figures
from personal_stats.core.errors import InvalidInput, NotFound
from personal_stats.core.figures import ONE_DAY, Tally
from personal_stats.core.params import (
    NO_REST_DAYS,
    Args,
    AsOfArgs,
    CalendarArgs,
    MonthRangeArgs,
    PageArgs,
    RestArgs,
    WindowArgs,
    YearRangeArgs,
    check_mentor_id,
    raise_if,
)
from personal_stats.core.reads import (
    CompletedBeforeRead,
    FirstActivityRead,
    LocalActivitiesRead,
    LocalActivity,
    MentorRow,
    MentorsRead,
    MilestonesRead,
    Question,
    Standing,
    StandingRead,
    TodayRead,
    TypesRead,
)
from personal_stats.core.results import (
    BreakdownComparison,
    BreakdownItem,
    Calendar,
    CalendarDay,
    ComparedBreakdownItem,
    ComparedPage,
    ComparedSummary,
    MonthCount,
    MonthItem,
    Page,
    Pagination,
    PersonalRecords,
    RestingComparedSummary,
    RestingRecords,
    RestingSummary,
    Summary,
    SummaryChange,
    SummaryComparison,
    T,
    YearItem,
)
from personal_stats.core.rounding import hours, percentage, rate
from personal_stats.core.windows import (
    DEFAULT_PERIOD,
    HISTORY_START,
    Compare,
    Period,
    Window,
    add_months,
    comparison_window,
    instants,
    local_day,
    local_days,
    local_midnight,
    months_between,
    period_window,
)

MAX_MENTORS_PER_QUERY = 100
CALENDAR_DAYS = 365  # the default range of the calendar, ending on as_of
QUIET_DAY = Tally()  # the tally of a day without activities: read, never added to
# Completed instants read at a time when a streak reaches before its window: a few at first
# (most runs end soon), four times as many each time after.
EARLIER_FIRST_BATCH, EARLIER_GROWTH = 16, 4
_EVERYTHING_KNOWN = -(10**9)


@dataclass(frozen=True)
class Reporting:
    """Whom a request reports on, in which time zone, and which day counts as today."""

    mentor: MentorRow
    tz: str
    as_of: date


def find_mentor(mentor_id: str) -> Question[MentorRow | None]:
    """The mentor with this id, or None."""
    check_mentor_id(mentor_id, "id")
    found: dict[str, MentorRow] = yield MentorsRead((mentor_id,))
    return found.get(mentor_id)


def find_mentors(mentor_ids: Sequence[str]) -> Question[list[MentorRow | None]]:
    """The mentors with these ids, in order, None for each unknown id."""
    if len(mentor_ids) > MAX_MENTORS_PER_QUERY:
        raise InvalidInput.one("ids", f"at most {MAX_MENTORS_PER_QUERY} ids per request")
    for mentor_id in mentor_ids:
        check_mentor_id(mentor_id, "ids")
    found = yield MentorsRead(tuple(dict.fromkeys(mentor_ids)))
    return [found.get(mentor_id) for mentor_id in mentor_ids]


def summary(mentor_id: str, args: WindowArgs, rest: RestArgs = NO_REST_DAYS) -> Question[Summary]:
    """The summary card of a mentor for a window; with `compare`, beside the same figures
    over the earlier window (SPEC section 17); with rest days, its daily streaks pass over
    them (SPEC section 20)."""
    reporting = yield from _start(mentor_id, args, rest)
    window = yield from _window(reporting, args)
    earlier = _earlier_window(window, args.compare)
    now = yield from _over(reporting, window.start_date, window.end_date)
    types = yield TypesRead()
    daily, weekly = yield from _streaks(reporting, window, now.days, rest.days)
    found = Summary(
        mentor_id=mentor_id,
        mentor_name=reporting.mentor.name,
        period=window.period,
        start_date=window.start_date,
        end_date=window.end_date,
        timezone=reporting.tz,
        **now.figures(),
        most_common_activity_type=figures.most_common(
            Counter(types[a.type_id].code for a in now.activities)
        ),
        most_active_weekday=figures.most_active_weekday(a.day for a in now.activities),
        streak_days=daily,
        longest_streak_days=figures.longest_run(now.days, rest.days),
        weekly_streak_weeks=weekly,
    )
    if args.compare is None or earlier is None:
        return found if rest.names is None else RestingSummary(**vars(found),
                                                                rest_days=rest.names)  # fmt: skip
    before = yield from _over(reporting, *earlier)
    comparison = SummaryComparison(
        compare=args.compare,
        start_date=earlier[0],
        end_date=earlier[1],
        **before.figures(),
        change=_change(now, before),
    )
    if rest.names is None:
        return ComparedSummary(**vars(found), comparison=comparison)
    return RestingComparedSummary(**vars(found), comparison=comparison, rest_days=rest.names)


def personal_records(
    mentor_id: str, args: AsOfArgs, rest: RestArgs = NO_REST_DAYS
) -> Question[PersonalRecords]:
    """A mentor's bests over every activity whose local date is on or before as_of, and
    the milestones (SPEC section 19)."""
    reporting = yield from _start(mentor_id, args, rest)
    end = local_midnight(reporting.as_of + ONE_DAY, reporting.tz)
    history = yield LocalActivitiesRead(reporting.mentor.id, HISTORY_START, end, reporting.tz)
    counts = figures.tally(history)
    completed = [a for a in history if a.completed]
    per_day = Counter(a.day for a in completed)
    reached = bests.reached(counts.completed)
    rows = (yield MilestonesRead(reporting.mentor.id, end, reached)) if reached else []
    found = PersonalRecords(
        mentor_id=mentor_id,
        as_of=reporting.as_of,
        timezone=reporting.tz,
        # the least local date (a zone's clock may turn back across a midnight)
        first_activity_date=date.fromordinal(min(a.day for a in history)) if history else None,
        total_activities=counts.total,
        completed_activities=counts.completed,
        total_hours_logged=hours(counts.minutes),
        best_day=bests.best_day(per_day),
        best_week=bests.best_week(per_day),
        best_month=bests.best_month(per_day),
        most_hours_month=bests.most_hours_month(completed),
        longest_streak=bests.longest_streak(per_day, rest.days),
        longest_weekly_streak=bests.longest_weekly_streak(per_day),
        milestones=bests.milestones(rows, reporting.tz),
        next_milestone=bests.next_milestone(counts.completed),
    )
    if rest.names is None:
        return found
    return RestingRecords(**vars(found), rest_days=rest.names)


@dataclass(frozen=True)
class _Over:
    """A mentor's activities over a window, their counts, active days and standing."""

    activities: list[LocalActivity]
    counts: Tally
    days: set[int]
    standing: Standing

    def figures(self) -> dict[str, Any]:
        """The figures that a summary and its comparison both report, by field."""
        counts = self.counts
        return {
            "total_activities": counts.total,
            "completed_activities": counts.completed,
            "cancelled_activities": counts.total - counts.completed,
            "completion_rate": self.completion_rate,
            "avg_session_duration_minutes": counts.average_minutes,
            "total_hours_logged": hours(counts.minutes),
            "active_days": len(self.days),
            "peer_rank_percentile": self.percentile,
        }

    @property
    def completion_rate(self) -> float | None:
        return rate(self.counts.completed, self.counts.total) if self.counts.total else None

    @property
    def percentile(self) -> int | None:
        standing = self.standing
        if not standing.peers:
            return None
        return figures.percentile(standing.below, standing.equal, standing.peers)


def _over(reporting: Reporting, first: date, last: date) -> Question[_Over]:
    start, end = instants(first, last, reporting.tz)
    activities = yield LocalActivitiesRead(reporting.mentor.id, start, end, reporting.tz)
    counts = figures.tally(activities)
    standing = yield StandingRead(start, end, counts.completed)
    days = {a.day for a in activities if a.completed}
    return _Over(activities, counts, days, standing)


def _change(now: _Over, before: _Over) -> SummaryChange:
    a, b = now.counts, before.counts
    return SummaryChange(
        total_activities_pct=figures.change_pct(a.total, b.total),
        completed_activities_pct=figures.change_pct(a.completed, b.completed),
        active_days_pct=figures.change_pct(len(now.days), len(before.days)),
        total_hours_logged_pct=figures.change_pct(a.minutes, b.minutes),
        avg_session_duration_minutes_pct=figures.change_pct(
            figures.exact_mean(a.minutes, a.completed), figures.exact_mean(b.minutes, b.completed)
        ),
        completion_rate_delta=figures.rate_delta(
            figures.exact_mean(a.completed, a.total), figures.exact_mean(b.completed, b.total)
        ),
        peer_rank_percentile_delta=(
            None
            if now.percentile is None or before.percentile is None
            else now.percentile - before.percentile
        ),
    )


def _earlier_window(window: Window, compare: Compare | None) -> tuple[date, date] | None:
    """The window compared with, if any; a rule that needs the mentor (SPEC section 17)."""
    if compare is None:
        return None
    try:
        return comparison_window(window, compare)
    except ValueError as error:
        raise InvalidInput.one("compare", str(error)) from None


def monthly_series(
    mentor_id: str, args: MonthRangeArgs, page: PageArgs
) -> Question[Page[MonthItem]]:
    """Activity per month over a range of months, oldest first, empty months included."""
    reporting = yield from _start(mentor_id, args, page)
    raise_if(args.as_of_problems(reporting.as_of))
    this_month = reporting.as_of.replace(day=1)
    if args.from_month and args.to_month:
        first, last = args.from_month, args.to_month
    elif args.months:
        first, last = add_months(this_month, 1 - args.months), this_month
    else:
        first, last = this_month.replace(month=1), this_month
    total = months_between(first, last)
    end = min(total, page.offset + page.limit)
    months = [add_months(first, i) for i in range(page.offset, end)]
    tallies: dict[date, Tally] = defaultdict(Tally)
    if months:
        page_last = add_months(months[-1], 1) - ONE_DAY
        for activity in (yield from _activities_on(reporting, months[0], page_last)):
            tallies[date.fromordinal(activity.day).replace(day=1)].add(activity)
    items = [
        MonthItem(
            year=month.year,
            month=month.month,
            month_label=figures.month_label(month.year, month.month),
            total_activities=tallies[month].total,
            completed_activities=tallies[month].completed,
            total_hours=hours(tallies[month].minutes),
        )
        for month in months
    ]
    return Page(items, Pagination(page.page, page.limit, total))


def activity_breakdown(
    mentor_id: str, args: WindowArgs, page: PageArgs
) -> Question[Page[BreakdownItem]]:
    """Activity per activity type in a window, most frequent first; with `compare`, each
    type's count beside its count over the earlier window."""
    reporting = yield from _start(mentor_id, args, page)
    window = yield from _window(reporting, args)
    earlier = _earlier_window(window, args.compare)
    activities = yield from _activities_on(reporting, window.start_date, window.end_date)
    by_type: dict[str, Tally] = defaultdict(Tally)
    for activity in activities:
        by_type[activity.type_id].add(activity)
    types = yield TypesRead()
    items = [
        BreakdownItem(
            activity_type_id=type_id,
            activity_type_name=types[type_id].name,
            activity_type_code=types[type_id].code,
            count=type_tally.total,
            percentage=percentage(type_tally.total, len(activities)),
            avg_duration_minutes=type_tally.average_minutes,
            total_hours=hours(type_tally.minutes),
        )
        for type_id, type_tally in by_type.items()
    ]
    items.sort(key=lambda item: (-item.count, item.activity_type_id))
    found = _paginate(items, page)
    if args.compare is None or earlier is None:
        return found
    before = yield from _activities_on(reporting, *earlier)
    previous = Counter(activity.type_id for activity in before)
    compared: list[BreakdownItem] = [
        ComparedBreakdownItem(**vars(item), previous_count=previous[item.activity_type_id],
                              count_change_pct=figures.change_pct(
                                  item.count, previous[item.activity_type_id]))
        for item in found.data
    ]  # fmt: skip
    comparison = BreakdownComparison(args.compare, earlier[0], earlier[1], len(before))
    return ComparedPage(compared, found.pagination, comparison)


def contribution_history(
    mentor_id: str, args: YearRangeArgs, page: PageArgs
) -> Question[Page[YearItem]]:
    """Activity per month for a range of years, oldest year first: the heatmap."""
    reporting = yield from _start(mentor_id, args, page)
    as_of = reporting.as_of
    from_year = args.from_year
    if from_year is None:
        first = yield from _first_local_date(reporting)
        from_year = first.year if first and first <= as_of else as_of.year
    to_year = as_of.year if args.to_year is None else args.to_year
    raise_if(args.years_problems(from_year, to_year, as_of))
    total = to_year - from_year + 1
    years = range(
        from_year + page.offset, min(to_year, from_year + page.offset + page.limit - 1) + 1
    )
    month_starts = [date(year, month, 1).toordinal() for year in years for month in range(1, 13)]
    tallies = [Tally() for _ in month_starts]  # one a month of the years, in order
    if years:
        last_day = min(date(years[-1], 12, 31), as_of)
        for activity in (yield from _activities_on(reporting, date(years[0], 1, 1), last_day)):
            tallies[bisect_right(month_starts, activity.day) - 1].add(activity)
    items = []
    for number, year in enumerate(years):
        last_month = as_of.month if year == as_of.year else 12
        months = tallies[number * 12 : number * 12 + last_month]
        counts = [month_tally.total for month_tally in months]
        year_total = sum(counts)
        items.append(
            YearItem(
                year=year,
                total_activities=year_total,
                total_hours=hours(sum(month_tally.minutes for month_tally in months)),
                monthly_breakdown=[MonthCount(i + 1, n) for i, n in enumerate(counts)],
                peak_month=counts.index(max(counts)) + 1 if year_total else None,
                zero_activity_months=counts.count(0),
            )
        )
    return Page(items, Pagination(page.page, page.limit, total))


def contribution_calendar(mentor_id: str, args: CalendarArgs) -> Question[Calendar]:
    """One entry per local date of a range (by default the 365 days ending as_of), with
    GitHub-style levels: the daily heatmap."""
    reporting = yield from _start(mentor_id, args)
    raise_if(args.as_of_problems(reporting.as_of))
    last = args.end_date or reporting.as_of
    first = args.start_date or last - (CALENDAR_DAYS - 1) * ONE_DAY
    tallies: dict[int, Tally] = defaultdict(Tally)
    for activity in (yield from _activities_on(reporting, first, last)):
        tallies[activity.day].add(activity)
    dates = [first + i * ONE_DAY for i in range((last - first).days + 1)]
    on = [tallies.get(day.toordinal(), QUIET_DAY) for day in dates]
    counts = [tally.total for tally in on]
    days = [
        CalendarDay(day, day.isoweekday(), tally.total, tally.completed, level)
        for day, tally, level in zip(dates, on, figures.quartile_levels(counts), strict=True)
    ]
    return Calendar(
        mentor_id=mentor_id,
        start_date=first,
        end_date=last,
        timezone=reporting.tz,
        total_activities=sum(counts),
        completed_activities=sum(day.completed for day in days),
        active_days=sum(1 for day in days if day.completed),
        max_count=max(counts),
        days=days,
    )


def named_calendar(mentor_id: str, args: CalendarArgs) -> Question[tuple[Calendar, str]]:
    """The calendar and the mentor's name (for a card that shows both)."""
    calendar = yield from contribution_calendar(mentor_id, args)
    found: dict[str, MentorRow] = yield MentorsRead((mentor_id,))  # already loaded: no read
    return calendar, found[mentor_id].name


def _start(
    mentor_id: str,
    args: WindowArgs | MonthRangeArgs | YearRangeArgs | CalendarArgs | AsOfArgs,
    *more: Args,
) -> Question[Reporting]:
    """Checks that need no mentor, then the mentor itself; fixes the time zone and today."""
    check_mentor_id(mentor_id)
    raise_if(args.value_problems() + [p for record in more for p in record.value_problems()])
    raise_if(args.rule_problems())
    found = yield MentorsRead((mentor_id,))
    mentor = found.get(mentor_id)
    if mentor is None:
        raise NotFound(f"no mentor with id {mentor_id!r}")
    tz = args.tz or mentor.timezone
    return Reporting(mentor, tz, args.as_of or (yield TodayRead(tz)))


def _window(reporting: Reporting, args: WindowArgs) -> Question[Window]:
    raise_if(args.as_of_problems(reporting.as_of))
    if args.start_date and args.end_date:
        return Window(Period.CUSTOM, args.start_date, args.end_date)
    period = args.period or DEFAULT_PERIOD
    first = None
    if period is Period.ALL_TIME:
        first = yield from _first_local_date(reporting)
    return period_window(period, reporting.as_of, first)


def _first_local_date(reporting: Reporting) -> Question[date | None]:
    second = yield FirstActivityRead(reporting.mentor.id)
    return None if second is None else date.fromordinal(local_day(second, reporting.tz))


def _activities_on(reporting: Reporting, first: date, last: date) -> Question[list[LocalActivity]]:
    """The mentor's activities on local dates [first, last], never after as_of."""
    start, end = instants(first, min(last, reporting.as_of), reporting.tz)
    found: list[LocalActivity] = yield LocalActivitiesRead(
        reporting.mentor.id, start, end, reporting.tz
    )
    return found


def _streaks(
    reporting: Reporting, window: Window, days: set[int], rest: frozenset[int]
) -> Question[tuple[int, int]]:
    """The daily and the weekly streak ending with the window; both may reach before it, so
    earlier completed activities are read, a batch at a time, only while a run needs them."""
    known = set(days)
    known_from = window.start_date.toordinal()
    batch = EARLIER_FIRST_BATCH
    end = window.end_date.toordinal()
    before = instants(window.start_date, window.start_date, reporting.tz)[0]
    while True:
        daily = figures.daily_run(known, end, known_from, rest)
        weekly = figures.weekly_run(known, end, known_from)
        if daily is not None and weekly is not None:
            return daily, weekly
        seconds = yield CompletedBeforeRead(reporting.mentor.id, before, batch)
        known.update(local_days(seconds, reporting.tz))
        if len(seconds) < batch:
            known_from = _EVERYTHING_KNOWN
        else:
            known_from = local_day(seconds[-1], reporting.tz)
            before = datetime.fromtimestamp(seconds[-1], UTC)
            batch *= EARLIER_GROWTH


def _paginate(items: list[T], page: PageArgs) -> Page[T]:
    return Page(
        items[page.offset : page.offset + page.limit], Pagination(page.page, page.limit, len(items))
    )
