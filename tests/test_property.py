"""The stats core against a naive reference on random data (hypothesis)."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import delete

from personal_stats.core import stats
from personal_stats.core.params import CalendarArgs, MonthRangeArgs, PageArgs, WindowArgs
from personal_stats.core.windows import Period
from personal_stats.storage.models import Activity, ActivityType, Mentor
from tests.helpers import SessionFactory, activity_type, add, ask, mentor

ZONES = ["UTC", "America/New_York", "Pacific/Kiritimati", "Asia/Kathmandu",
         "America/Santiago", "Australia/Lord_Howe"]  # fmt: skip
TYPES = {"t1": "b", "t2": "B", "t3": "a"}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ORIGIN = datetime(2025, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    id: str
    mentor_id: str
    type_id: str
    completed: bool
    started_at: datetime
    minutes: int


rows_strategy = st.lists(
    st.builds(
        lambda i, m, t, c, offset, minutes: (i, m, t, c, offset, minutes),
        st.just(0), st.integers(0, 3), st.sampled_from(sorted(TYPES)), st.booleans(),
        st.integers(0, 170 * 24 * 60), st.integers(0, 1440),
    ),
    max_size=30,
)  # fmt: skip


def half_up(value: Fraction | Decimal, places: int) -> float:
    exact = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else value
    )
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def local(row: Row, tz: str) -> date:
    return row.started_at.astimezone(ZoneInfo(tz)).date()


def reference_window(period: Period, as_of: date, first: date | None) -> tuple[date, date]:
    days = {Period.LAST_7_DAYS: 7, Period.LAST_30_DAYS: 30, Period.LAST_90_DAYS: 90,
            Period.LAST_365_DAYS: 365}  # fmt: skip
    if period in days:
        return as_of - timedelta(days=days[period] - 1), as_of
    if period is Period.MONTH_TO_DATE:
        return date(as_of.year, as_of.month, 1), as_of
    if period is Period.YEAR_TO_DATE:
        return date(as_of.year, 1, 1), as_of
    return (first if first and first < as_of else as_of), as_of


def reference_summary(rows: list[Row], mentors: dict[str, str], me: str, tz: str,
                      period: Period, as_of: date) -> dict[str, object]:  # fmt: skip
    existing = [r for r in rows if local(r, tz) <= as_of]
    mine_all = [r for r in existing if r.mentor_id == me]
    first = min((local(r, tz) for r in mine_all), default=None)
    start, end = reference_window(period, as_of, first)
    mine = [r for r in mine_all if start <= local(r, tz) <= end]
    done = [r for r in mine if r.completed]
    minutes = sum(r.minutes for r in done)
    types = Counter(TYPES[r.type_id] for r in mine)
    weekdays = Counter(local(r, tz).weekday() for r in mine)
    best_type = sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))
    best_day = sorted(weekdays.items(), key=lambda kv: (-kv[1], kv[0]))
    active = {local(r, tz) for r in mine_all if r.completed}
    day = end if end in active else end - timedelta(days=1)
    streak = 0
    while day in active:
        streak, day = streak + 1, day - timedelta(days=1)
    weeks = {d - timedelta(days=d.weekday()) for d in active}  # their Mondays
    monday = end - timedelta(days=end.weekday())
    if monday not in weeks:
        monday -= timedelta(days=7)
    weekly = 0
    while monday in weeks:
        weekly, monday = weekly + 1, monday - timedelta(days=7)
    window_days = {local(r, tz) for r in done}
    longest = 0
    for d in window_days:
        length = 0
        while d + timedelta(days=length) in window_days:
            length += 1
        longest = max(longest, length)

    def completed_in_window(mentor_id: str) -> int:
        return sum(1 for r in existing if r.mentor_id == mentor_id and r.completed
                   and start <= local(r, tz) <= end)  # fmt: skip

    peers = [m for m in mentors if m != me]
    mine_count = completed_in_window(me)
    below = sum(1 for p in peers if completed_in_window(p) < mine_count)
    equal = sum(1 for p in peers if completed_in_window(p) == mine_count)
    rank = None
    if peers:
        rank = int(half_up(Fraction(100 * (2 * below + equal), 2 * len(peers)), 0))
    return {
        "start_date": start, "end_date": end, "total_activities": len(mine),
        "completed_activities": len(done), "cancelled_activities": len(mine) - len(done),
        "completion_rate": half_up(Fraction(len(done), len(mine)), 3) if mine else None,
        "avg_session_duration_minutes": (
            int(half_up(Fraction(minutes, len(done)), 0)) if done else None
        ),
        "total_hours_logged": half_up(Fraction(minutes, 60), 1),
        "most_common_activity_type": best_type[0][0] if best_type else None,
        "most_active_weekday": WEEKDAYS[best_day[0][0]] if best_day else None,
        "peer_rank_percentile": rank, "streak_days": streak,
        "longest_streak_days": longest, "active_days": len(window_days),
        "weekly_streak_weeks": weekly,
    }  # fmt: skip


async def reset(sessions: SessionFactory, mentors: dict[str, str], rows: list[Row]) -> None:
    async with sessions() as session:
        for model in (Activity, Mentor, ActivityType):
            await session.exec(delete(model))  # type: ignore[call-overload]
        await session.commit()
    await add(
        sessions,
        *[activity_type(type_id, code=code) for type_id, code in TYPES.items()],
        *[mentor(mentor_id, tz=tz) for mentor_id, tz in mentors.items()],
        *[Activity(id=r.id, mentor_id=r.mentor_id, activity_type_id=r.type_id,
                   status="completed" if r.completed else "cancelled",
                   started_at=r.started_at, duration_minutes=r.minutes) for r in rows],
    )  # fmt: skip


def build(
    zones: list[str], raw: list[tuple[int, int, str, bool, int, int]]
) -> tuple[dict[str, str], list[Row]]:
    mentors = {f"m{i}": zone for i, zone in enumerate(zones)}
    rows = [
        Row(f"a{n}", f"m{m % len(zones)}", t, c, ORIGIN + timedelta(minutes=offset), minutes)
        for n, (_, m, t, c, offset, minutes) in enumerate(raw)
    ]
    return mentors, rows


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=4),
    raw=rows_strategy,
    period=st.sampled_from([p for p in Period if p is not Period.CUSTOM]),
    as_of=st.dates(date(2025, 12, 1), date(2026, 5, 20)),
    tz=st.none() | st.sampled_from(ZONES),
)
async def test_summary_equals_the_reference(
    sessions: SessionFactory,
    zones: list[str],
    raw: list,
    period: Period,
    as_of: date,
    tz: str | None,
) -> None:
    mentors, rows = build(zones, raw)
    await reset(sessions, mentors, rows)
    reporting_tz = tz or mentors["m0"]
    expected = reference_summary(rows, mentors, "m0", reporting_tz, period, as_of)
    for indexed in (False, True):  # standings and streaks from SQL, then from the peer index
        question = stats.summary("m0", WindowArgs(period, as_of=as_of, tz=tz))
        got = await ask(sessions, question, indexed=indexed)
        assert {key: getattr(got, key) for key in expected} == expected, indexed


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=2),
    raw=rows_strategy,
    as_of=st.dates(date(2026, 1, 1), date(2026, 5, 20)),
    months=st.integers(1, 8),
)
async def test_monthly_series_equals_the_reference(
    sessions: SessionFactory, zones: list[str], raw: list, as_of: date, months: int
) -> None:
    mentors, rows = build(zones, raw)
    await reset(sessions, mentors, rows)
    tz = mentors["m0"]
    got = await ask(
        sessions, stats.monthly_series("m0", MonthRangeArgs(months=months, as_of=as_of), PageArgs())
    )
    expected = []
    year, month = as_of.year, as_of.month
    for _ in range(months):
        mine = [r for r in rows if r.mentor_id == "m0" and local(r, tz) <= as_of
                and (local(r, tz).year, local(r, tz).month) == (year, month)]  # fmt: skip
        done = [r for r in mine if r.completed]
        hours = half_up(Fraction(sum(r.minutes for r in done), 60), 1)
        expected.append((year, month, len(mine), len(done), hours))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    assert [(m.year, m.month, m.total_activities, m.completed_activities, m.total_hours)
            for m in got.data] == expected[::-1]  # fmt: skip


def reference_levels(counts: list[int]) -> list[int]:
    """SPEC section 14, literally: nearest-rank quartiles of the non-zero counts."""
    ranked = sorted(c for c in counts if c > 0)
    if not ranked:
        return [0] * len(counts)
    n = len(ranked)
    q1, q2, q3 = (ranked[-(-n * k // 4) - 1] for k in (1, 2, 3))
    levels = []
    for count in counts:
        if count == 0:
            levels.append(0)
        elif count <= q1:
            levels.append(1)
        elif count <= q2:
            levels.append(2)
        elif count <= q3:
            levels.append(3)
        else:
            levels.append(4)
    return levels


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=2),
    raw=rows_strategy,
    as_of=st.dates(date(2025, 12, 1), date(2026, 5, 20)),
    span=st.integers(1, 366),
    tz=st.none() | st.sampled_from(ZONES),
)
async def test_calendar_equals_the_reference(
    sessions: SessionFactory, zones: list[str], raw: list, as_of: date, span: int, tz: str | None
) -> None:
    mentors, rows = build(zones, raw)
    await reset(sessions, mentors, rows)
    reporting_tz = tz or mentors["m0"]
    start = as_of - timedelta(days=span - 1)
    args = CalendarArgs(start, as_of, as_of, tz)
    got = await ask(sessions, stats.contribution_calendar("m0", args))
    days = [start + timedelta(days=i) for i in range(span)]
    mine = [r for r in rows if r.mentor_id == "m0"]
    counts = [sum(1 for r in mine if local(r, reporting_tz) == day) for day in days]
    done = [sum(1 for r in mine if r.completed and local(r, reporting_tz) == day) for day in days]
    assert [(d.date, d.count, d.completed, d.level) for d in got.days] == list(
        zip(days, counts, done, reference_levels(counts), strict=True)
    )
    assert (got.total_activities, got.completed_activities) == (sum(counts), sum(done))
    assert got.active_days == sum(1 for c in done if c)
    assert got.max_count == max(counts)
