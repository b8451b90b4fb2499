"""Compared with an earlier period (SPEC section 17): the earlier windows and the change
rules by hand, the figures end to end on both engines, the errors, REST and GraphQL parity,
and the core against a naive reference on random data."""

import calendar
import math
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personal_stats.core import stats
from personal_stats.core.figures import change_pct, rate_delta
from personal_stats.core.params import WindowArgs
from personal_stats.core.windows import Compare, Period, Window, comparison_window
from tests.helpers import SessionFactory, activity, activity_type, add, ask, mentor
from tests.test_graphql import as_graphql, graphql
from tests.test_property import ZONES, Row, build, local, reset, rows_strategy

PREVIOUS, YEARLY = Compare.PREVIOUS_PERIOD, Compare.YEAR_OVER_YEAR
D = date.fromisoformat


def earlier(period: Period, start: str, end: str, compare: Compare) -> tuple[str, str]:
    found = comparison_window(Window(period, D(start), D(end)), compare)
    return found[0].isoformat(), found[1].isoformat()


@pytest.mark.parametrize(
    ("period", "start", "end", "compare", "expected"),
    [
        # month to date on the 31st: against a 30-day month, February, February of a leap year
        (Period.MONTH_TO_DATE, "2026-05-01", "2026-05-31", PREVIOUS, ("2026-04-01", "2026-04-30")),
        (Period.MONTH_TO_DATE, "2026-03-01", "2026-03-31", PREVIOUS, ("2026-02-01", "2026-02-28")),
        (Period.MONTH_TO_DATE, "2024-03-01", "2024-03-31", PREVIOUS, ("2024-02-01", "2024-02-29")),
        (Period.MONTH_TO_DATE, "2026-03-01", "2026-03-14", PREVIOUS, ("2026-02-01", "2026-02-14")),
        (Period.MONTH_TO_DATE, "2026-01-01", "2026-01-31", PREVIOUS, ("2025-12-01", "2025-12-31")),
        (Period.MONTH_TO_DATE, "2026-03-01", "2026-03-31", YEARLY, ("2025-03-01", "2025-03-31")),
        # year to date on 29 February: the same days a year earlier, both ways
        (Period.YEAR_TO_DATE, "2024-01-01", "2024-02-29", PREVIOUS, ("2023-01-01", "2023-02-28")),
        (Period.YEAR_TO_DATE, "2024-01-01", "2024-02-29", YEARLY, ("2023-01-01", "2023-02-28")),
        (Period.YEAR_TO_DATE, "2026-01-01", "2026-11-30", PREVIOUS, ("2025-01-01", "2025-11-30")),
        # the n days before
        (Period.LAST_7_DAYS, "2026-03-19", "2026-03-25", PREVIOUS, ("2026-03-12", "2026-03-18")),
        (Period.LAST_30_DAYS, "2026-02-24", "2026-03-25", PREVIOUS, ("2026-01-25", "2026-02-23")),
        (Period.CUSTOM, "2026-01-10", "2026-01-20", PREVIOUS, ("2025-12-30", "2026-01-09")),
        (Period.CUSTOM, "2026-01-10", "2026-01-10", PREVIOUS, ("2026-01-09", "2026-01-09")),
        # year over year across 29 February: a day shorter, or the same length
        (Period.LAST_7_DAYS, "2026-03-19", "2026-03-25", YEARLY, ("2025-03-19", "2025-03-25")),
        (Period.CUSTOM, "2024-02-28", "2024-02-29", YEARLY, ("2023-02-28", "2023-02-28")),
        (Period.CUSTOM, "2024-02-29", "2024-03-01", YEARLY, ("2023-02-28", "2023-03-01")),
        (Period.CUSTOM, "2025-03-01", "2025-03-01", YEARLY, ("2024-03-01", "2024-03-01")),
        # the 1900 boundary, reached exactly
        (Period.LAST_7_DAYS, "1900-01-08", "1900-01-14", PREVIOUS, ("1900-01-01", "1900-01-07")),
        (Period.MONTH_TO_DATE, "1900-02-01", "1900-02-10", PREVIOUS, ("1900-01-01", "1900-01-10")),
        (Period.CUSTOM, "1901-01-01", "1901-01-05", YEARLY, ("1900-01-01", "1900-01-05")),
    ],
)
def test_the_earlier_window_by_hand(
    period: Period, start: str, end: str, compare: Compare, expected: tuple[str, str]
) -> None:
    assert earlier(period, start, end, compare) == expected


@pytest.mark.parametrize(
    ("period", "start", "end", "compare"),
    [
        (Period.ALL_TIME, "2020-01-01", "2026-03-25", PREVIOUS),
        (Period.ALL_TIME, "2020-01-01", "2026-03-25", YEARLY),
        (Period.LAST_7_DAYS, "1900-01-07", "1900-01-13", PREVIOUS),  # would start 1899-12-31
        (Period.MONTH_TO_DATE, "1900-01-01", "1900-01-31", PREVIOUS),
        (Period.YEAR_TO_DATE, "1900-01-01", "1900-03-01", PREVIOUS),
        (Period.CUSTOM, "1900-12-31", "1901-01-01", YEARLY),
    ],
)
def test_no_earlier_window(period: Period, start: str, end: str, compare: Compare) -> None:
    with pytest.raises(ValueError, match=r"all_time|1900-01-01"):
        comparison_window(Window(period, D(start), D(end)), compare)


def test_the_change_rules_by_hand() -> None:
    assert change_pct(0, 0) == 0.0
    assert change_pct(5, 0) is None  # new
    assert change_pct(0, 5) == -100.0
    assert change_pct(8, 10) == -20.0  # a fall
    assert change_pct(12, 10) == 20.0
    assert change_pct(449, 400) == 12.3  # +12.25 exactly: half away from zero
    assert change_pct(351, 400) == -12.3  # -12.25 exactly
    assert change_pct(10, 3) == 233.3  # 233.33...
    tiny = change_pct(99_999, 100_000)  # -0.001: rounds to zero, and to +0.0
    assert tiny == 0.0
    assert math.copysign(1, tiny) == 1
    assert change_pct(Fraction(105, 2), Fraction(50)) == 5.0  # means: 52.5 against 50
    assert change_pct(None, Fraction(50)) is None
    assert rate_delta(Fraction(1, 2), Fraction(1001, 2000)) == -0.001  # -0.0005 exactly
    assert rate_delta(Fraction(11, 12), Fraction(9, 10)) == 0.017  # 0.01666...
    assert rate_delta(Fraction(1, 3), None) is None
    assert math.copysign(1, rate_delta(Fraction(1, 2), Fraction(10001, 20000)) or 1) == 1


@pytest.fixture
async def two_windows(sessions: SessionFactory) -> None:
    """m1 in [2026-03-19, 2026-03-25]: 3 activities, 2 completed (30 + 45 minutes) on 2 days;
    in [2026-03-12, 2026-03-18]: 2 activities, both completed (60 + 30) on 1 day. Peers m2
    (1 completed in each window) and m3 (none)."""
    await add(
        sessions, mentor("m1"), mentor("m2"), mentor("m3"),
        activity("m1", "2026-03-19T10:00:00Z", 30),
        activity("m1", "2026-03-21T10:00:00Z", 45),
        activity("m1", "2026-03-22T10:00:00Z", 20, status="cancelled"),
        activity("m1", "2026-03-12T09:00:00Z", 60),
        activity("m1", "2026-03-12T11:00:00Z", 30),
        activity("m2", "2026-03-20T10:00:00Z"),
        activity("m2", "2026-03-13T10:00:00Z"),
    )  # fmt: skip


SUMMARY = "/api/v1/personal-stats/m1"
WEEK = {"period": "last_7_days", "as_of": "2026-03-25"}


@pytest.mark.usefixtures("two_windows")
async def test_the_summary_with_its_comparison_by_hand(client: httpx.AsyncClient) -> None:
    body = (await client.get(SUMMARY, params=WEEK | {"compare": "previous_period"})).json()
    plain = (await client.get(SUMMARY, params=WEEK)).json()
    assert "comparison" not in plain
    assert {k: v for k, v in body.items() if k != "comparison"} == plain
    assert body["comparison"] == {
        "compare": "previous_period", "start_date": "2026-03-12", "end_date": "2026-03-18",
        "total_activities": 2, "completed_activities": 2, "cancelled_activities": 0,
        "completion_rate": 1.0, "avg_session_duration_minutes": 45, "total_hours_logged": 1.5,
        "active_days": 1,
        "peer_rank_percentile": 100,  # 2 against 1 and 0
        "change": {
            "total_activities_pct": 50.0,  # 3 against 2
            "completed_activities_pct": 0.0,  # 2 against 2
            "active_days_pct": 100.0,  # 2 against 1
            "total_hours_logged_pct": -16.7,  # 75 minutes against 90
            "avg_session_duration_minutes_pct": -16.7,  # 37.5 against 45
            "completion_rate_delta": -0.333,  # 2/3 - 1
            "peer_rank_percentile_delta": 0,  # 100 - 100
        },
    }  # fmt: skip
    assert plain["peer_rank_percentile"] == 100


@pytest.mark.usefixtures("two_windows")
async def test_the_breakdown_with_its_comparison_by_hand(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await add(sessions, activity_type("t2"), activity("m1", "2026-03-14T10:00:00Z", type_id="t2"))
    url = f"{SUMMARY}/activity-breakdown"
    body = (await client.get(url, params=WEEK | {"compare": "year_over_year"})).json()
    assert body["comparison"] == {"compare": "year_over_year", "start_date": "2025-03-19",
                                  "end_date": "2025-03-25", "total_activities": 0}  # fmt: skip
    assert [(i["count"], i["previous_count"], i["count_change_pct"]) for i in body["data"]] == [
        (3, 0, None)
    ]
    body = (await client.get(url, params=WEEK | {"compare": "previous_period"})).json()
    assert body["comparison"]["total_activities"] == 3  # t1 twice and t2 (not listed)
    assert [(i["activity_type_id"], i["previous_count"], i["count_change_pct"])
            for i in body["data"]] == [("t1", 2, 50.0)]  # fmt: skip
    plain = (await client.get(url, params=WEEK)).json()
    assert "comparison" not in plain
    assert "previous_count" not in plain["data"][0]


@pytest.mark.usefixtures("two_windows")
async def test_compare_errors_name_it(client: httpx.AsyncClient) -> None:
    for value in ("", "previous", "PREVIOUS_PERIOD"):
        response = await client.get(SUMMARY, params={"compare": value})
        assert response.status_code == 400
        assert [e["param"] for e in response.json()["errors"]] == ["compare"]
    for params in (
        {"period": "all_time"},
        {"start_date": "1900-01-01", "end_date": "1900-01-05", "as_of": "2026-01-01"},
    ):
        response = await client.get(SUMMARY, params=params | {"compare": "year_over_year"})
        assert response.status_code == 400, params
        assert [e["param"] for e in response.json()["errors"]] == ["compare"]  # fmt: skip
    unknown = await client.get(
        "/api/v1/personal-stats/nobody", params={"period": "all_time", "compare": "previous_period"}
    )
    assert unknown.status_code == 404  # the mentor first, then the rule that needs it
    series = await client.get(f"{SUMMARY}/monthly-series", params={"compare": "x"})
    assert series.status_code == 200  # not a parameter there: ignored


@pytest.mark.usefixtures("two_windows")
async def test_the_etag_differs_with_compare(client: httpx.AsyncClient) -> None:
    plain = await client.get(SUMMARY, params=WEEK)
    compared = await client.get(SUMMARY, params=WEEK | {"compare": "previous_period"})
    assert plain.headers["etag"] != compared.headers["etag"]


PARITY_QUERY = """query ($id: ID!, $period: StatsPeriod, $asOf: Date, $compare: CompareWith) {
  personalStats(mentorId: $id, period: $period, asOf: $asOf, compare: $compare) {
    totalActivities peerRankPercentile
    comparison { compare startDate endDate totalActivities completedActivities
      cancelledActivities completionRate avgSessionDurationMinutes totalHoursLogged activeDays
      peerRankPercentile change { totalActivitiesPct completedActivitiesPct activeDaysPct
        totalHoursLoggedPct avgSessionDurationMinutesPct completionRateDelta
        peerRankPercentileDelta } }
  }
  mentor(id: $id) {
    activityBreakdown(period: $period, asOf: $asOf, compare: $compare) {
      data { activityTypeId count previousCount countChangePct }
      comparison { compare startDate endDate totalActivities }
    }
  }
}"""


@pytest.mark.usefixtures("two_windows")
@pytest.mark.parametrize("compare", ["previous_period", "year_over_year", None])
async def test_graphql_equals_rest_with_compare(
    client: httpx.AsyncClient, compare: str | None
) -> None:
    params = WEEK | ({"compare": compare} if compare else {})
    rest = (await client.get(SUMMARY, params=params)).json()
    breakdown = (await client.get(f"{SUMMARY}/activity-breakdown", params=params)).json()
    variables = {"id": "m1", "period": "LAST_7_DAYS", "asOf": "2026-03-25",
                 "compare": compare.upper() if compare else None}  # fmt: skip
    found = (await graphql(client, PARITY_QUERY, **variables))["data"]
    summary = found["personalStats"]
    assert summary["totalActivities"] == rest["total_activities"]
    expected = as_graphql(rest.get("comparison"))
    if expected is not None:
        expected["compare"] = expected["compare"].upper()  # enums upper-cased, as periods
    assert summary["comparison"] == expected
    page = found["mentor"]["activityBreakdown"]
    items = [{k: i.get(k) for k in ("activity_type_id", "count", "previous_count",
                                    "count_change_pct")} for i in breakdown["data"]]  # fmt: skip
    assert page["data"] == as_graphql(items)
    expected = as_graphql(breakdown.get("comparison"))
    if expected is not None:
        expected["compare"] = expected["compare"].upper()
    assert page["comparison"] == expected


def year_before(day: date) -> date:
    return day.replace(year=day.year - 1, day=28 if (day.month, day.day) == (2, 29) else day.day)


def reference_earlier(
    period: Period, start: date, end: date, compare: Compare
) -> tuple[date, date]:
    if period is Period.YEAR_TO_DATE:
        return date(start.year - 1, 1, 1), year_before(end)
    if compare is Compare.YEAR_OVER_YEAR:
        return year_before(start), year_before(end)
    if period is Period.MONTH_TO_DATE:
        year, month = (start.year, start.month - 1) if start.month > 1 else (start.year - 1, 12)
        return date(year, month, 1), date(
            year, month, min(end.day, calendar.monthrange(year, month)[1])
        )
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def rounded(value: Fraction, places: int) -> float:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)) + 0.0


def reference_change(now: Fraction | int | None, before: Fraction | int | None) -> float | None:
    if now is None or before is None:
        return None
    if before == 0:
        return 0.0 if now == 0 else None
    return rounded(Fraction(100) * (Fraction(now) - Fraction(before)) / Fraction(before), 1)


def reference_figures(rows: list[Row], mentors: dict[str, str], tz: str, as_of: date,
                      first: date, last: date) -> dict[str, Any]:  # fmt: skip
    inside = [r for r in rows if first <= local(r, tz) <= last and local(r, tz) <= as_of]
    mine = [r for r in inside if r.mentor_id == "m0"]
    done = [r for r in mine if r.completed]
    minutes = sum(r.minutes for r in done)
    counts = {m: sum(1 for r in inside if r.mentor_id == m and r.completed) for m in mentors}
    peers = [counts[m] for m in mentors if m != "m0"]
    below = sum(1 for c in peers if c < len(done))
    equal = sum(1 for c in peers if c == len(done))
    rank = int(rounded(Fraction(100 * (2 * below + equal), 2 * len(peers)), 0)) if peers else None
    return {
        "total": len(mine),
        "completed": len(done),
        "minutes": minutes,
        "days": len({local(r, tz) for r in done}),
        "rank": rank,
        "rate": Fraction(len(done), len(mine)) if mine else None,
        "mean": Fraction(minutes, len(done)) if done else None,
    }


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3),
    raw=rows_strategy,
    period=st.sampled_from([p for p in Period if p not in (Period.CUSTOM, Period.ALL_TIME)]),
    compare=st.sampled_from(list(Compare)),
    as_of=st.dates(date(2025, 12, 1), date(2026, 5, 20)),
)
async def test_the_comparison_equals_the_reference(
    sessions: SessionFactory, zones: list[str], raw: list, period: Period, compare: Compare,
    as_of: date,
) -> None:  # fmt: skip
    mentors, rows = build(zones, raw)
    await reset(sessions, mentors, rows)
    tz = mentors["m0"]
    for indexed in (False, True):
        got = await ask(sessions, stats.summary("m0", WindowArgs(period, as_of=as_of,
                                                                 compare=compare)),
                        indexed=indexed)  # fmt: skip
        comparison = got.comparison  # type: ignore[attr-defined]
        first, last = reference_earlier(period, got.start_date, got.end_date, compare)
        assert (comparison.start_date, comparison.end_date) == (first, last)
        now = reference_figures(rows, mentors, tz, as_of, got.start_date, got.end_date)
        before = reference_figures(rows, mentors, tz, as_of, first, last)
        assert comparison.total_activities == before["total"]
        assert comparison.completed_activities == before["completed"]
        assert comparison.active_days == before["days"]
        assert comparison.peer_rank_percentile == before["rank"]
        change = comparison.change
        assert change.total_activities_pct == reference_change(now["total"], before["total"])
        assert change.completed_activities_pct == reference_change(now["completed"],
                                                                   before["completed"])  # fmt: skip
        assert change.active_days_pct == reference_change(now["days"], before["days"])
        assert change.total_hours_logged_pct == reference_change(now["minutes"], before["minutes"])
        mean_pct = reference_change(now["mean"], before["mean"])
        assert change.avg_session_duration_minutes_pct == mean_pct
        expected_delta = (None if now["rate"] is None or before["rate"] is None
                          else rounded(now["rate"] - before["rate"], 3))  # fmt: skip
        assert change.completion_rate_delta == expected_delta
        assert change.peer_rank_percentile_delta == (
            None if now["rank"] is None or before["rank"] is None else now["rank"] - before["rank"]
        )
