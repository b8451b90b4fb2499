"""The stats core: the four questions about a mentor, answered from SQL.

Every function takes an open session and keyword arguments, checks them in the documented
order (id, values, mentor exists, rules needing the mentor) and returns plain records.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from personal_stats import figures, queries
from personal_stats.cache import StatsCache
from personal_stats.errors import InvalidInput, NotFound
from personal_stats.figures import ONE_DAY, LocalActivity, Tally
from personal_stats.params import (
    MonthRangeArgs,
    PageArgs,
    WindowArgs,
    YearRangeArgs,
    check_mentor_id,
    raise_if,
)
from personal_stats.queries import MentorRow
from personal_stats.results import (
    BreakdownItem,
    MonthCount,
    MonthItem,
    Page,
    Pagination,
    Summary,
    T,
    YearItem,
)
from personal_stats.rounding import hours, percentage, rate
from personal_stats.windows import (
    DEFAULT_PERIOD,
    Period,
    Window,
    add_months,
    instants,
    local_date,
    local_midnight,
    months_between,
    period_window,
    today_in,
    zone,
)

MAX_MENTORS_PER_QUERY = 100


@dataclass(frozen=True)
class Reporting:
    """Whom a request reports on, in which time zone, and which day counts as today."""

    mentor: MentorRow
    tz: str
    as_of: date


async def find_mentor(session: AsyncSession, *, mentor_id: str) -> MentorRow | None:
    """The mentor with this id, or None."""
    check_mentor_id(mentor_id, "id")
    return await queries.get_mentor(session, mentor_id)


async def find_mentors(
    session: AsyncSession, *, mentor_ids: Sequence[str]
) -> list[MentorRow | None]:
    """The mentors with these ids, in order, None for each unknown id."""
    if len(mentor_ids) > MAX_MENTORS_PER_QUERY:
        raise InvalidInput.one("ids", f"at most {MAX_MENTORS_PER_QUERY} ids per request")
    for mentor_id in mentor_ids:
        check_mentor_id(mentor_id, "ids")
    found = await queries.get_mentors(session, set(mentor_ids))
    return [found.get(mentor_id) for mentor_id in mentor_ids]


async def get_summary(
    session: AsyncSession, *, mentor_id: str, args: WindowArgs, cache: StatsCache | None = None
) -> Summary:
    """The summary card of a mentor for a window."""
    cache = cache or StatsCache(maxsize=0)
    reporting = await _start(session, mentor_id, args)
    window = await _window(session, reporting, args)
    start, end = instants(window.start_date, window.end_date, reporting.tz)
    activities = await _local_activities(session, reporting, start, end)
    types = await cache.activity_types(session)
    completed_days = {a.day for a in activities if a.completed}
    counts = figures.tally(activities)
    standing = await cache.standing(session, start, end, counts.completed)
    return Summary(
        mentor_id=mentor_id,
        mentor_name=reporting.mentor.name,
        period=window.period,
        start_date=window.start_date,
        end_date=window.end_date,
        timezone=reporting.tz,
        total_activities=counts.total,
        completed_activities=counts.completed,
        cancelled_activities=counts.total - counts.completed,
        completion_rate=rate(counts.completed, counts.total) if counts.total else None,
        avg_session_duration_minutes=counts.average_minutes,
        total_hours_logged=hours(counts.minutes),
        most_common_activity_type=figures.most_common(
            Counter(types[a.type_id].code for a in activities)
        ),
        most_active_weekday=figures.most_active_weekday(a.day for a in activities),
        peer_rank_percentile=(
            figures.percentile(standing.below, standing.equal, standing.peers)
            if standing.peers
            else None
        ),
        streak_days=await _streak(session, reporting, window, completed_days),
        longest_streak_days=figures.longest_run(completed_days),
        active_days=len(completed_days),
    )


async def get_monthly_series(
    session: AsyncSession, *, mentor_id: str, args: MonthRangeArgs, page: PageArgs
) -> Page[MonthItem]:
    """Activity per month over a range of months, oldest first, empty months included."""
    reporting = await _start(session, mentor_id, args, page)
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
        activities = await _local_activities_on(session, reporting, months[0], page_last)
        for activity in activities:
            tallies[activity.day.replace(day=1)].add(activity)
    items = []
    for month in months:
        month_tally = tallies[month]
        items.append(
            MonthItem(
                year=month.year,
                month=month.month,
                month_label=figures.month_label(month.year, month.month),
                total_activities=month_tally.total,
                completed_activities=month_tally.completed,
                total_hours=hours(month_tally.minutes),
            )
        )
    return Page(items, Pagination(page.page, page.limit, total))


async def get_activity_breakdown(
    session: AsyncSession,
    *,
    mentor_id: str,
    args: WindowArgs,
    page: PageArgs,
    cache: StatsCache | None = None,
) -> Page[BreakdownItem]:
    """Activity per activity type in a window, most frequent first."""
    cache = cache or StatsCache(maxsize=0)
    reporting = await _start(session, mentor_id, args, page)
    window = await _window(session, reporting, args)
    start, end = instants(window.start_date, window.end_date, reporting.tz)
    activities = await _local_activities(session, reporting, start, end)
    by_type: dict[str, Tally] = defaultdict(Tally)
    for activity in activities:
        by_type[activity.type_id].add(activity)
    types = await cache.activity_types(session)
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
    return _paginate(items, page)


async def get_contribution_history(
    session: AsyncSession, *, mentor_id: str, args: YearRangeArgs, page: PageArgs
) -> Page[YearItem]:
    """Activity per month for a range of years, oldest year first: the heatmap."""
    reporting = await _start(session, mentor_id, args, page)
    as_of = reporting.as_of
    from_year = args.from_year
    if from_year is None:
        first = await _first_local_date(session, reporting)
        from_year = first.year if first and first <= as_of else as_of.year
    to_year = as_of.year if args.to_year is None else args.to_year
    raise_if(args.years_problems(from_year, to_year, as_of))
    total = to_year - from_year + 1
    years = range(
        from_year + page.offset, min(to_year, from_year + page.offset + page.limit - 1) + 1
    )
    tallies: dict[date, Tally] = defaultdict(Tally)
    if years:
        last_day = min(date(years[-1], 12, 31), as_of)
        activities = await _local_activities_on(session, reporting, date(years[0], 1, 1), last_day)
        for activity in activities:
            tallies[activity.day.replace(day=1)].add(activity)
    items = []
    for year in years:
        last_month = as_of.month if year == as_of.year else 12
        months = [tallies[date(year, month, 1)] for month in range(1, last_month + 1)]
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


async def _start(
    session: AsyncSession,
    mentor_id: str,
    args: WindowArgs | MonthRangeArgs | YearRangeArgs,
    page: PageArgs | None = None,
) -> Reporting:
    """Checks that need no mentor, then the mentor itself; fixes the time zone and today."""
    check_mentor_id(mentor_id)
    value_problems = args.value_problems() + (page.value_problems() if page else [])
    raise_if(value_problems)
    raise_if(args.rule_problems())
    mentor = await queries.get_mentor(session, mentor_id)
    if mentor is None:
        raise NotFound(f"no mentor with id {mentor_id!r}")
    tz = args.tz or mentor.timezone
    return Reporting(mentor, tz, args.as_of or today_in(tz))


async def _window(session: AsyncSession, reporting: Reporting, args: WindowArgs) -> Window:
    raise_if(args.as_of_problems(reporting.as_of))
    if args.start_date and args.end_date:
        return Window(Period.CUSTOM, args.start_date, args.end_date)
    period = args.period or DEFAULT_PERIOD
    first = None
    if period is Period.ALL_TIME:
        first = await _first_local_date(session, reporting)
    return period_window(period, reporting.as_of, first)


async def _first_local_date(session: AsyncSession, reporting: Reporting) -> date | None:
    first = await queries.first_activity_at(session, reporting.mentor.id)
    return local_date(first, reporting.tz) if first else None


async def _local_activities(
    session: AsyncSession, reporting: Reporting, start: datetime, end: datetime
) -> list[LocalActivity]:
    rows = await queries.activities_between(session, reporting.mentor.id, start, end)
    tz = zone(reporting.tz)
    return [
        LocalActivity(row.started_at.astimezone(tz).date(), row.completed, row.minutes, row.type_id)
        for row in rows
    ]


async def _local_activities_on(
    session: AsyncSession, reporting: Reporting, first: date, last: date
) -> list[LocalActivity]:
    """The mentor's activities on local dates [first, last], never after as_of."""
    start, end = instants(first, min(last, reporting.as_of), reporting.tz)
    return await _local_activities(session, reporting, start, end)


async def _streak(
    session: AsyncSession, reporting: Reporting, window: Window, completed_days: set[date]
) -> int:
    """Consecutive days with a completed activity going back from the window's end; a
    quiet last day does not break the streak yet. The run may reach before the window."""
    day = window.end_date if window.end_date in completed_days else window.end_date - ONE_DAY
    streak = 0
    while day >= window.start_date and day in completed_days:
        streak += 1
        day -= ONE_DAY
    if day >= window.start_date:
        return streak
    before = local_midnight(window.start_date, reporting.tz)
    tz = zone(reporting.tz)
    async for instant in queries.completed_before(session, reporting.mentor.id, before):
        activity_day = instant.astimezone(tz).date()
        if activity_day == day:
            streak += 1
            day -= ONE_DAY
        elif activity_day < day:
            break
    return streak


def _paginate(items: list[T], page: PageArgs) -> Page[T]:
    return Page(
        items[page.offset : page.offset + page.limit], Pagination(page.page, page.limit, len(items))
    )


async def get_data_version(session: AsyncSession) -> tuple[int, datetime]:
    """The data version (bumped by every import) and when it last changed."""
    return await queries.data_version(session)
