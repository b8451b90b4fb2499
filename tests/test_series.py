"""Monthly series, breakdown and contribution history, against hand-worked expectations."""

from datetime import date
from typing import Any

import pytest

from personal_stats.core import stats
from personal_stats.core.errors import InvalidInput
from personal_stats.core.params import MonthRangeArgs, PageArgs, WindowArgs, YearRangeArgs
from personal_stats.core.results import MonthItem
from tests.helpers import SessionFactory, activity, activity_type, add, ask, mentor

AS_OF = date(2026, 3, 25)


async def ask_about_m1(
    question: Any, kind: Any, sessions: SessionFactory, page: PageArgs | None, args: dict[str, Any]
) -> Any:
    """One of the core's list questions about mentor m1, as of AS_OF unless given."""
    return await ask(sessions, question("m1", kind(**{"as_of": AS_OF} | args), page or PageArgs()))


async def series(sessions: SessionFactory, page: PageArgs | None = None, **args: Any) -> Any:
    return await ask_about_m1(stats.monthly_series, MonthRangeArgs, sessions, page, args)


async def history(sessions: SessionFactory, page: PageArgs | None = None, **args: Any) -> Any:
    return await ask_about_m1(stats.contribution_history, YearRangeArgs, sessions, page, args)


async def breakdown(sessions: SessionFactory, page: PageArgs | None = None, **args: Any) -> Any:
    return await ask_about_m1(stats.activity_breakdown, WindowArgs, sessions, page, args)


async def test_series_defaults_to_january_through_as_of_month(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1", tz="America/New_York"),
        activity("m1", "2026-02-01T03:00:00Z", minutes=9),  # Jan 31, 22:00 in New York
        activity("m1", "2026-02-01T06:00:00Z", minutes=30, status="cancelled"),  # Feb 1
        activity("m1", "2026-03-26T03:30:00Z"),  # Mar 25, 23:30 EDT: still as_of
        activity("m1", "2026-03-26T04:30:00Z"),  # Mar 26 in New York: after as_of
    )
    page = await series(sessions)
    assert page.data == [
        MonthItem(2026, 1, "Jan 2026", 1, 1, 0.2),
        MonthItem(2026, 2, "Feb 2026", 1, 0, 0.0),
        MonthItem(2026, 3, "Mar 2026", 1, 1, 0.5),
    ]
    assert (page.pagination.page, page.pagination.limit, page.pagination.total) == (1, 20, 3)


async def test_series_over_months_and_pages(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"), activity("m1", "2025-12-10T10:00:00Z", minutes=60))
    page = await series(sessions, months=5)
    assert [(m.year, m.month) for m in page.data] == [
        (2025, 11), (2025, 12), (2026, 1), (2026, 2), (2026, 3),
    ]  # fmt: skip
    assert page.data[1].total_hours == 1.0
    second = await series(sessions, page=PageArgs(page=2, limit=2), months=5)
    assert [m.month_label for m in second.data] == ["Jan 2026", "Feb 2026"]
    assert second.pagination.total == 5
    past_the_end = await series(sessions, page=PageArgs(page=4, limit=2), months=5)
    assert past_the_end.data == []
    assert past_the_end.pagination.total == 5


async def test_series_from_to(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"))
    page = await series(sessions, from_month=date(2016, 4, 1), to_month=date(2026, 3, 1))
    assert page.pagination.total == 120
    assert page.data[0].month_label == "Apr 2016"


@pytest.mark.parametrize(
    ("args", "param"),
    [
        ({"from_month": date(2016, 3, 1), "to_month": date(2026, 3, 1)}, "to"),  # 121 months
        ({"from_month": date(2026, 3, 1), "to_month": date(2026, 2, 1)}, "from"),
        ({"from_month": date(2026, 1, 1), "to_month": date(2026, 4, 1)}, "to"),  # after as_of
        ({"from_month": date(2026, 1, 1)}, "to"),
        ({"months": 3, "to_month": date(2026, 1, 1)}, "months"),
        ({"months": 0}, "months"),
        ({"months": 121}, "months"),
    ],
)
async def test_series_errors(sessions: SessionFactory, args: dict[str, object], param: str) -> None:
    await add(sessions, mentor("m1"))
    with pytest.raises(InvalidInput) as raised:
        await series(sessions, **args)
    assert [p.param for p in raised.value.problems] == [param]


async def test_breakdown_orders_by_count_then_id(sessions: SessionFactory) -> None:
    await add(
        sessions,
        activity_type("b", code="beta", name="Beta"),
        activity_type("a", code="alpha", name="Alpha"),
        activity_type("c", code="gamma", name="Gamma"),
        mentor("m1"),
        activity("m1", "2026-03-20T10:00:00Z", minutes=30, type_id="b"),
        activity("m1", "2026-03-21T10:00:00Z", minutes=45, type_id="b"),
        activity("m1", "2026-03-20T10:00:00Z", minutes=20, type_id="a"),
        activity("m1", "2026-03-22T10:00:00Z", minutes=25, type_id="a", status="cancelled"),
        activity("m1", "2026-03-22T10:00:00Z", minutes=25, type_id="c", status="cancelled"),
        activity("m1", "2026-03-23T10:00:00Z", minutes=25, type_id="c", status="cancelled"),
        activity("m1", "2026-03-24T10:00:00Z", minutes=25, type_id="c", status="cancelled"),
    )
    page = await breakdown(sessions)
    rows = [
        (i.activity_type_id, i.activity_type_name, i.activity_type_code, i.count, i.percentage,
         i.avg_duration_minutes, i.total_hours)
        for i in page.data
    ]  # fmt: skip
    assert rows == [
        ("c", "Gamma", "gamma", 3, 42.9, None, 0.0),  # 3/7
        ("a", "Alpha", "alpha", 2, 28.6, 20, 0.3),  # 20 min -> 0.33 h
        ("b", "Beta", "beta", 2, 28.6, 38, 1.3),  # 37.5 -> 38; 75 min -> 1.25 -> 1.3
    ]
    second = await breakdown(sessions, page=PageArgs(page=2, limit=2))
    assert [(i.activity_type_id, i.percentage) for i in second.data] == [("b", 28.6)]
    assert second.pagination.total == 3


async def test_history_defaults_from_the_first_activity_year(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1", tz="Asia/Tokyo"),
        activity("m1", "2023-12-31T16:00:00Z", minutes=90),  # Jan 1 2024 in Tokyo
        activity("m1", "2024-03-05T01:00:00Z"),
        activity("m1", "2024-03-06T01:00:00Z", status="cancelled"),
        activity("m1", "2024-07-05T01:00:00Z"),
        activity("m1", "2024-07-06T01:00:00Z"),
        activity("m1", "2026-03-25T14:00:00Z"),  # Mar 25, 23:00 in Tokyo
        activity("m1", "2026-03-25T16:00:00Z"),  # Mar 26 in Tokyo: after as_of
    )
    page = await history(sessions)
    assert [y.year for y in page.data] == [2024, 2025, 2026]
    y2024, y2025, y2026 = page.data
    assert [m.count for m in y2024.monthly_breakdown] == [1, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0]
    assert (y2024.total_activities, y2024.total_hours) == (5, 3.0)  # 90 + 3 x 30 completed
    assert (y2024.peak_month, y2024.zero_activity_months) == (3, 9)  # March and July tie
    assert (y2025.total_activities, y2025.peak_month, y2025.zero_activity_months) == (0, None, 12)
    assert [m.month for m in y2026.monthly_breakdown] == [1, 2, 3]
    assert (y2026.total_activities, y2026.peak_month, y2026.zero_activity_months) == (1, 3, 2)


async def test_history_without_activity_is_this_year_only(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"))
    page = await history(sessions)
    assert [y.year for y in page.data] == [2026]
    assert page.data[0].peak_month is None


async def test_history_pages(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"), activity("m1", "2021-05-05T10:00:00Z"))
    page = await history(sessions, page=PageArgs(page=2, limit=4))
    assert [y.year for y in page.data] == [2025, 2026]
    assert page.pagination.total == 6


@pytest.mark.parametrize(
    ("args", "param"),
    [
        ({"to_year": 2027}, "to_year"),
        ({"from_year": 2026, "to_year": 2025}, "from_year"),
        ({"from_year": 1926}, "from_year"),  # 1926-2026 is 101 years
        ({"from_year": 1899}, "from_year"),
    ],
)
async def test_history_errors(
    sessions: SessionFactory, args: dict[str, object], param: str
) -> None:
    await add(sessions, mentor("m1"))
    with pytest.raises(InvalidInput) as raised:
        await history(sessions, **args)
    assert [p.param for p in raised.value.problems] == [param]


async def test_history_of_exactly_100_years(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"))
    page = await history(sessions, from_year=1927, page=PageArgs(limit=100))
    assert page.pagination.total == 100
    assert len(page.data) == 100


async def test_a_page_far_past_the_end_is_empty(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"))
    far = PageArgs(page=999_999, limit=1)
    page = await series(sessions, page=far, months=1, as_of=date(2426, 7, 12))
    assert (page.data, page.pagination.total) == ([], 1)
    assert (await history(sessions, page=far)).data == []
    assert (await breakdown(sessions, page=far)).data == []
