"""Personal records and milestones (SPEC section 19) and rest days (section 20): the SPEC's
own example and every tie rule by hand in the core, a +14 zone and a DST change, a naive
reference for the streaks, end to end on both engines over REST and GraphQL, the errors,
and the summary card."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import parse
from hypothesis import given
from hypothesis import strategies as st

from personal_stats.adapters.graphql.cost import cost_of
from personal_stats.adapters.graphql.schema import build_schema
from personal_stats.core import stats
from personal_stats.core.errors import InvalidInput
from personal_stats.core.figures import daily_run, localize, longest_run
from personal_stats.core.params import AsOfArgs, RestArgs, WindowArgs
from personal_stats.core.reads import MilestonesRead, Question
from personal_stats.core.results import PersonalRecords
from personal_stats.core.windows import HISTORY_END, Period, Weekday
from personal_stats.service import stats_service
from personal_stats.service.stats_service import StatsService
from personal_stats.support.settings import Settings
from tests.helpers import SessionFactory, activity, add, ask, database_url, mentor
from tests.memory import Memory
from tests.test_graphql import as_graphql, graphql

D = date.fromisoformat
SAT_SUN = RestArgs((Weekday.SATURDAY, Weekday.SUNDAY))
EVERYTHING = -(10**9)  # every day's activity is known


NO_REST = RestArgs()


def records(memory: Memory, as_of: str, rest: RestArgs = NO_REST, **args: Any) -> Any:
    return memory.ask(stats.personal_records("m", AsOfArgs(as_of=D(as_of), **args), rest))


def summary(memory: Memory, as_of: str, rest: RestArgs = NO_REST) -> Any:
    args = WindowArgs(period=Period.LAST_30_DAYS, as_of=D(as_of))
    return memory.ask(stats.summary("m", args, rest))


# -- rest days (SPEC section 20) ------------------------------------------------------------


def thursday_to_monday() -> Memory:
    """The SPEC's example: completed on Thu 2026-03-05, Fri 03-06 and Mon 03-09 only."""
    memory = Memory().mentor("m")
    for day in ("2026-03-05", "2026-03-06", "2026-03-09"):
        memory.activity("m", f"{day}T10:00:00+00:00")
    return memory


@pytest.mark.parametrize(
    ("as_of", "with_rest", "plain"),
    [("2026-03-09", 3, 1), ("2026-03-10", 3, 1), ("2026-03-11", 0, 0)],
)
def test_the_specs_thursday_to_monday_example(as_of: str, with_rest: int, plain: int) -> None:
    memory = thursday_to_monday()
    assert summary(memory, as_of, SAT_SUN).streak_days == with_rest
    assert summary(memory, as_of, SAT_SUN).longest_streak_days == 3
    assert summary(memory, as_of).streak_days == plain
    assert summary(memory, as_of).longest_streak_days == 2


def test_a_rest_day_with_a_completed_activity_counts_like_any_other() -> None:
    memory = thursday_to_monday().activity("m", "2026-03-07T10:00:00+00:00")  # Saturday
    assert summary(memory, "2026-03-09", SAT_SUN).streak_days == 4
    assert summary(memory, "2026-03-09").streak_days == 1  # Sunday breaks it without
    # Only Sunday rests: Thu, Fri, Sat, (Sun), Mon
    assert summary(memory, "2026-03-09", RestArgs((Weekday.SUNDAY,))).streak_days == 4


def test_rest_days_change_only_the_daily_streaks() -> None:
    memory = thursday_to_monday().activity("m", "2026-03-06T12:00:00+00:00", completed=False)
    plain, rested = summary(memory, "2026-03-09"), summary(memory, "2026-03-09", SAT_SUN)
    changed = {k for k, v in vars(rested).items() if vars(plain).get(k, "absent") != v}
    assert changed == {"streak_days", "longest_streak_days", "rest_days"}
    assert rested.rest_days == (Weekday.SATURDAY, Weekday.SUNDAY)
    assert not hasattr(plain, "rest_days")


def test_rest_days_are_named_monday_first_whatever_the_order_given() -> None:
    given_order = RestArgs((Weekday.SUNDAY, Weekday.MONDAY, Weekday.SATURDAY))
    found = summary(thursday_to_monday(), "2026-03-09", given_order)
    assert found.rest_days == (Weekday.MONDAY, Weekday.SATURDAY, Weekday.SUNDAY)


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ((Weekday.MONDAY, Weekday.MONDAY), "names monday twice"),
        (tuple(Weekday), "must leave at least one day that is not a rest day"),
    ],
)
def test_a_day_twice_or_all_seven_is_refused(days: tuple[Weekday, ...], message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        summary(thursday_to_monday(), "2026-03-09", RestArgs(days))
    assert [(p.param, p.message) for p in raised.value.problems] == [("rest_days", message)]


def reference_longest(days: set[int], rest: frozenset[int]) -> int:
    """Naive: walk every date from the first to the last, counting active dates; a date
    without activity ends the run unless its weekday rests."""
    if not days:
        return 0
    best = run = 0
    for day in range(min(days), max(days) + 1):
        if day in days:
            run += 1
            best = max(best, run)
        elif date.fromordinal(day).weekday() not in rest:
            run = 0
    return best


@given(
    days=st.sets(st.integers(738_000, 738_080), max_size=40),
    rest=st.frozensets(st.integers(0, 6), max_size=6),
    end=st.integers(738_000, 738_090),
)
def test_a_rest_day_streak_is_never_shorter_than_the_plain_one(
    days: set[int], rest: frozenset[int], end: int
) -> None:
    upto = {d for d in days if d <= end}
    plain, rested = daily_run(upto, end, EVERYTHING), daily_run(upto, end, EVERYTHING, rest)
    assert plain is not None
    assert rested is not None
    assert rested >= plain
    assert longest_run(days, rest) >= longest_run(days)
    assert longest_run(days, rest) == reference_longest(days, rest)
    assert longest_run(days) == reference_longest(days, frozenset())


# -- personal records (SPEC section 19) -----------------------------------------------------


def test_a_mentor_without_activities() -> None:
    found = records(Memory().mentor("m"), "2026-03-09")
    assert found == PersonalRecords(
        mentor_id="m", as_of=D("2026-03-09"), timezone="UTC", first_activity_date=None,
        total_activities=0, completed_activities=0, total_hours_logged=0.0, best_day=None,
        best_week=None, best_month=None, most_hours_month=None, longest_streak=None,
        longest_weekly_streak=None, milestones=[], next_milestone=found.next_milestone,
    )  # fmt: skip
    assert (found.next_milestone.completed_activities, found.next_milestone.remaining) == (1, 1)


def test_only_cancelled_activities() -> None:
    memory = Memory().mentor("m").activity("m", "2026-03-02T10:00:00+00:00", completed=False)
    found = records(memory, "2026-03-09")
    assert found.first_activity_date == D("2026-03-02")
    assert (found.total_activities, found.completed_activities) == (1, 0)
    assert found.best_day is None
    assert found.most_hours_month is None
    assert found.milestones == []


def test_every_tie_goes_to_the_earliest() -> None:
    memory = Memory().mentor("m")
    # March: 2 on 03-03, 2 on 03-10, 1 on 03-16 (weeks of 03-02, 03-09, 03-16 in a row).
    # April: 2 on 04-07, 2 on 04-14, 1 on 04-21 (weeks of 04-06, 04-13, 04-20 in a row).
    # Every day holds at most 2, every week at most 2, each month 5, each run of days 1.
    for at in ("03-03T09", "03-03T10", "03-10T09", "03-10T10", "03-16T09",
               "04-07T09", "04-07T10", "04-14T09", "04-14T10", "04-21T09"):  # fmt: skip
        memory.activity("m", f"2026-{at}:00:00+00:00", minutes=12)
    found = records(memory, "2026-04-30")
    assert (found.best_day.date, found.best_day.completed_activities) == (D("2026-03-03"), 2)
    best_week = found.best_week
    assert (best_week.week_start, best_week.completed_activities) == (D("2026-03-02"), 2)
    assert (found.best_month.year, found.best_month.month) == (2026, 3)
    assert found.best_month.completed_activities == 5
    # 60 minutes in each month: March, the earliest
    assert (found.most_hours_month.month, found.most_hours_month.total_hours) == (3, 1.0)
    streak = found.longest_streak
    assert (streak.days, streak.start_date, streak.end_date) == (
        1,
        D("2026-03-03"),
        D("2026-03-03"),
    )
    weekly = found.longest_weekly_streak
    assert (weekly.weeks, weekly.start_week, weekly.end_week) == (
        3,
        D("2026-03-02"),
        D("2026-03-16"),
    )


def test_tied_runs_go_to_the_earliest_and_rest_days_join_them() -> None:
    memory = Memory().mentor("m")
    for day in ("2026-03-05", "2026-03-06", "2026-03-09", "2026-03-10", "2026-03-19", "2026-03-20"):
        memory.activity("m", f"{day}T10:00:00+00:00")
    plain = records(memory, "2026-03-31").longest_streak
    assert (plain.days, plain.start_date, plain.end_date) == (2, D("2026-03-05"), D("2026-03-06"))
    rested = records(memory, "2026-03-31", SAT_SUN).longest_streak
    assert (rested.days, rested.start_date, rested.end_date) == (
        4,
        D("2026-03-05"),
        D("2026-03-10"),
    )
    assert records(memory, "2026-03-31", SAT_SUN).rest_days == (Weekday.SATURDAY, Weekday.SUNDAY)


def test_the_most_hours_month_may_hold_zero_minutes() -> None:
    memory = Memory().mentor("m").activity("m", "2026-02-10T10:00:00+00:00", minutes=0)
    memory.activity("m", "2026-01-10T10:00:00+00:00", minutes=90, completed=False)
    found = records(memory, "2026-03-09")
    assert (found.most_hours_month.year, found.most_hours_month.month) == (2026, 2)
    assert found.most_hours_month.total_hours == 0.0
    assert found.first_activity_date == D("2026-01-10")  # of any status


def test_milestones_follow_the_instant_then_the_id() -> None:
    memory = Memory().mentor("m", "Europe/Berlin")
    # The same instant written with two offsets: the id decides ("B" < "a" in code points).
    memory.activity("m", "2026-03-01T10:00:00+00:00", id="a1")
    memory.activity("m", "2026-03-01T11:00:00+01:00", id="B2")
    memory.activity("m", "2026-03-01T09:00:00+00:00", completed=False, id="A0")
    for n in range(3, 11):
        memory.activity("m", f"2026-03-{n:02d}T23:30:00+00:00", id=f"x{n:02d}")
    found = records(memory, "2026-03-31")
    assert [(m.completed_activities, m.activity_id) for m in found.milestones] == [
        (1, "B2"), (10, "x10")]  # fmt: skip
    # 23:30 UTC on 03-10 is 00:30 on 03-11 in Berlin
    assert found.milestones[1].date == D("2026-03-11")
    assert (found.next_milestone.completed_activities, found.next_milestone.remaining) == (25, 15)


def test_only_activities_up_to_as_of_count() -> None:
    memory = Memory().mentor("m")
    for day in range(1, 12):
        memory.activity("m", f"2026-03-{day:02d}T10:00:00+00:00")
    found = records(memory, "2026-03-09")
    assert found.completed_activities == 9
    assert [m.completed_activities for m in found.milestones] == [1]
    assert found.longest_streak.end_date == D("2026-03-09")


def test_a_plus_fourteen_zone_and_a_dst_change() -> None:
    memory = Memory().mentor("m", "Pacific/Kiritimati")  # UTC+14
    memory.activity("m", "2026-03-05T10:30:00+00:00")  # 00:30 on 03-06 there
    found = records(memory, "2026-03-06")
    assert found.best_day.date == D("2026-03-06")
    assert records(memory, "2026-03-05").completed_activities == 0
    # New York springs forward on 2026-03-08: 04:30 UTC is 23:30 on 03-07 (EST), 03:30 UTC
    # on 03-09 is 23:30 on 03-08 (EDT)
    memory = Memory().mentor("m", "America/New_York")
    for at in ("2026-03-07T04:30:00", "2026-03-08T04:30:00", "2026-03-09T03:30:00"):
        memory.activity("m", at + "+00:00")
    streak = records(memory, "2026-03-31").longest_streak
    assert (streak.days, streak.start_date, streak.end_date) == (
        3,
        D("2026-03-06"),
        D("2026-03-08"),
    )


def test_past_ten_thousand_there_is_no_next_milestone() -> None:
    memory = Memory().mentor("m")
    start = date(2000, 1, 1)
    for n in range(10_000):
        memory.activity("m", f"{start + timedelta(days=n // 3)}T{10 + n % 3}:00:00+00:00")
    found = records(memory, "2030-01-01")
    assert [m.completed_activities for m in found.milestones] == [
        1, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000]  # fmt: skip
    assert found.milestones[-1].date == start + timedelta(days=9_999 // 3)
    assert found.next_milestone is None
    assert found.best_day.completed_activities == 3


# -- end to end, both engines ---------------------------------------------------------------

RECORDS = "/api/v1/personal-stats/m1/records"


@pytest.fixture
async def history(sessions: SessionFactory) -> None:
    """m1 (Berlin): the SPEC's Thursday-to-Monday days, a cancelled one, and two activities
    at one instant whose ids differ in case and '_' (code-point order: 'Z' < '_' < 'a')."""
    rows: list[Any] = [mentor("m1", "Europe/Berlin"), mentor("m2")]

    def with_id(row: Any, activity_id: str) -> Any:
        row.id = activity_id
        return row

    for day in ("2026-03-05", "2026-03-06", "2026-03-09"):
        rows.append(with_id(activity("m1", f"{day}T10:00:00Z", 45), f"on{day}"))
    rows.append(activity("m1", "2026-03-10T10:00:00Z", 30, status="cancelled"))
    for activity_id in ("x_b", "xZb", "xab"):
        rows.append(with_id(activity("m1", "2026-03-01T08:00:00Z", 20), activity_id))
    for n in range(4):  # 23:30 in Berlin
        rows.append(with_id(activity("m1", f"2026-02-{10 + n:02d}T22:30:00Z", 15), f"feb{n}"))
    await add(sessions, *rows)


@pytest.mark.usefixtures("history")
async def test_the_records_end_to_end(client: httpx.AsyncClient) -> None:
    response = await client.get(RECORDS, params={"as_of": "2026-03-11"})
    assert response.status_code == 200, response.text
    assert response.headers["x-data-version"]
    assert response.headers["etag"]
    body = response.json()
    assert "rest_days" not in body
    assert body["first_activity_date"] == "2026-02-10"
    assert (body["total_activities"], body["completed_activities"]) == (11, 10)
    assert body["total_hours_logged"] == 4.3  # 255 minutes: 4.25 h, half up to one decimal
    assert body["best_day"] == {"date": "2026-03-01", "completed_activities": 3}
    assert body["best_week"] == {"week_start": "2026-02-09", "completed_activities": 4}
    assert body["best_month"] == {"year": 2026, "month": 3, "completed_activities": 6}
    # March: 3 x 45 + 3 x 20 = 195 minutes (3.25 h: 3.3); February 60
    assert body["most_hours_month"] == {"year": 2026, "month": 3, "total_hours": 3.3}
    assert body["longest_streak"] == {"days": 4, "start_date": "2026-02-10",
                                      "end_date": "2026-02-13"}  # fmt: skip
    assert body["longest_weekly_streak"] == {"weeks": 3, "start_week": "2026-02-23",
                                             "end_week": "2026-03-09"}  # fmt: skip
    # by instant: the four in February, the three at 08:00 on 03-01, then 03-05, 03-06, 03-09
    assert body["milestones"] == [
        {
            "completed_activities": 1,
            "date": "2026-02-10",
            "activity_id": "feb0",
        },
        {
            "completed_activities": 10,
            "date": "2026-03-09",
            "activity_id": "on2026-03-09",
        },
    ]
    assert body["next_milestone"] == {"completed_activities": 25, "remaining": 15}
    query = {"as_of": "2026-03-11", "rest_days": "sunday,saturday"}
    rested = (await client.get(RECORDS, params=query)).json()
    assert rested["rest_days"] == ["saturday", "sunday"]
    assert rested["longest_streak"] == {"days": 4, "start_date": "2026-02-10",
                                        "end_date": "2026-02-13"}  # fmt: skip
    # 03-05, 03-06, (Sat, Sun), 03-09 make 3; the earlier run of 4 stays the longest
    doubled = await client.get("/api/v1/personal-stats" + RECORDS, params={"as_of": "2026-03-11"})
    assert doubled.json() == body


@pytest.mark.usefixtures("history")
async def test_storage_orders_milestones_by_instant_then_id_in_code_points(
    sessions: SessionFactory,
) -> None:
    """The three activities at one instant are the 5th to 7th: 'xZb' < 'x_b' < 'xab' in
    code points (a locale's collation would order them otherwise), on both engines."""

    def read() -> Question[list[tuple[int, int, str]]]:
        found: list[tuple[int, int, str]] = yield MilestonesRead("m1", HISTORY_END, (5, 6, 7, 99))
        return found

    rows = await ask(sessions, read())
    at_eight = int(datetime(2026, 3, 1, 8, tzinfo=UTC).timestamp())
    assert rows == [(5, at_eight, "xZb"), (6, at_eight, "x_b"), (7, at_eight, "xab")]


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("funday", "'funday' is not a day of the week"),
        ("Saturday", "'Saturday' is not a day of the week"),
        ("sat", "'sat' is not a day of the week"),
        ("saturday, sunday", "' sunday' is not a day of the week"),
        ("saturday,,sunday", "must not have an empty item"),
        ("saturday,", "must not have an empty item"),
        ("", "must not be empty"),
        ("sunday,sunday", "names sunday twice"),
        (",".join(day.value for day in Weekday), "must leave at least one day"),
    ],
)
@pytest.mark.parametrize("path", ["", "/records", "/cards/summary.svg"])
async def test_every_rest_days_error_is_a_400_naming_it(
    client: httpx.AsyncClient, value: str, message: str, path: str
) -> None:
    response = await client.get(f"/api/v1/personal-stats/m1{path}", params={"rest_days": value})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["param"] == "rest_days"
    assert error["message"].startswith(message)


@pytest.mark.usefixtures("history")
async def test_rest_days_elsewhere_is_an_unknown_parameter(client: httpx.AsyncClient) -> None:
    for path in ("/monthly-series", "/activity-breakdown", "/contribution-calendar"):
        plain = await client.get(f"/api/v1/personal-stats/m1{path}")
        given_ = await client.get(f"/api/v1/personal-stats/m1{path}", params={"rest_days": "x"})
        assert given_.status_code == 200
        assert given_.json() == plain.json()


@pytest.mark.usefixtures("history")
async def test_the_summary_with_rest_days_end_to_end(client: httpx.AsyncClient) -> None:
    params = {"period": "last_7_days", "as_of": "2026-03-10"}
    plain = await client.get("/api/v1/personal-stats/m1", params=params)
    rested = await client.get("/api/v1/personal-stats/m1",
                              params=params | {"rest_days": "saturday,sunday"})  # fmt: skip
    assert "rest_days" not in plain.json()
    assert (plain.json()["streak_days"], rested.json()["streak_days"]) == (1, 3)
    assert rested.json()["rest_days"] == ["saturday", "sunday"]
    assert plain.headers["etag"] != rested.headers["etag"]
    del rested.json()["rest_days"]
    expected = plain.json() | {"streak_days": 3, "longest_streak_days": 3,
                               "rest_days": ["saturday", "sunday"]}  # fmt: skip
    assert rested.json() == expected
    card = await client.get("/api/v1/personal-stats/m1/cards/summary.svg",
                            params=params | {"rest_days": "sunday,saturday"})  # fmt: skip
    assert card.status_code == 200
    assert "3 days (longest 3 days); rest days: Sat, Sun" in card.text
    plain_card = await client.get("/api/v1/personal-stats/m1/cards/summary.svg", params=params)
    assert "rest days" not in plain_card.text


PARITY = """query ($id: ID!, $asOf: Date, $rest: [Weekday!]) {
  personalRecords(mentorId: $id, asOf: $asOf, restDays: $rest) {
    mentorId asOf timezone firstActivityDate totalActivities completedActivities
    totalHoursLogged bestDay { date completedActivities }
    bestWeek { weekStart completedActivities } bestMonth { year month completedActivities }
    mostHoursMonth { year month totalHours } longestStreak { days startDate endDate }
    longestWeeklyStreak { weeks startWeek endWeek }
    milestones { completedActivities date activityId }
    nextMilestone { completedActivities remaining } restDays
  }
  personalStats(mentorId: $id, asOf: $asOf, period: LAST_30_DAYS, restDays: $rest) {
    streakDays longestStreakDays restDays
  }
  mentor(id: $id) { personalRecords(asOf: $asOf, restDays: $rest) { longestStreak { days } } }
}"""


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize("rest", [None, [], ["SUNDAY", "SATURDAY"], ["WEDNESDAY"]])
async def test_graphql_equals_rest(client: httpx.AsyncClient, rest: list[str] | None) -> None:
    query: dict[str, str] = {"as_of": "2026-03-11"}
    if rest:
        query["rest_days"] = ",".join(day.lower() for day in rest)
    body = (await client.get(RECORDS, params=query)).json()
    summary_ = (await client.get("/api/v1/personal-stats/m1",
                                 params=query | {"period": "last_30_days"})).json()  # fmt: skip
    found = await graphql(client, PARITY, id="m1", asOf="2026-03-11", rest=rest)
    assert "errors" not in found, found
    expected = as_graphql(body)
    expected["restDays"] = [d.upper() for d in body["rest_days"]] if "rest_days" in body else None
    assert found["data"]["personalRecords"] == expected
    stats_ = found["data"]["personalStats"]
    assert (stats_["streakDays"], stats_["longestStreakDays"]) == (
        summary_["streak_days"], summary_["longest_streak_days"])  # fmt: skip
    assert stats_["restDays"] == expected["restDays"]
    mentor_field = found["data"]["mentor"]["personalRecords"]["longestStreak"]
    assert mentor_field == {"days": body["longest_streak"]["days"]}


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize(
    ("rest", "message"),
    [("[MONDAY, MONDAY]", "names monday twice"),
     ("[MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY]", "must leave")],
)  # fmt: skip
async def test_graphql_rest_day_errors_are_bad_user_input(
    client: httpx.AsyncClient, rest: str, message: str
) -> None:
    for field in ("personalRecords", "personalStats"):
        found = await graphql(
            client, f'{{ {field}(mentorId: "m1", restDays: {rest}) {{ restDays }} }}'
        )
        (error,) = found["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "rest_days" in error["message"] or error["extensions"].get("param") == "rest_days"
        assert message in error["message"] or message in str(error["extensions"])


DASHBOARD = """query ($tz: String) {
  mentor(id: "m1") {
    personalStats(asOf: "2026-03-11", tz: $tz) { totalActivities streakDays }
    monthlySeries(asOf: "2026-03-11", tz: $tz) { data { totalActivities } }
    personalRecords(asOf: "2026-03-11") { completedActivities }
  }
}"""


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize(("tz", "zones"), [(None, 1), ("Asia/Tokyo", 2)])
async def test_a_dashboard_with_records_reads_and_localises_the_history_once(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch, tz: str | None, zones: int
) -> None:
    """The records beside other questions: one read of the whole history, localised once
    per zone asked in (the records use the mentor's zone; a `tz` elsewhere is a second)."""
    localised: list[tuple[int, str]] = []

    def counting(rows: Any, zone_name: str) -> Any:
        localised.append((len(rows), zone_name))
        return localize(rows, zone_name)

    monkeypatch.setattr(stats_service, "localize", counting)
    service = StatsService(Settings(database_url=database_url(sessions)))
    try:
        async with service.unit_of_work() as work:
            schema = build_schema(service.settings)
            result = await schema.execute(DASHBOARD, {"tz": tz}, context_value={"work": work})
        assert result.errors is None, result.errors
        assert result.data is not None
        assert result.data["mentor"]["personalRecords"] == {"completedActivities": 10}
        assert work.fetched["ActivitiesRead"] == 1
        assert len(localised) == zones  # each of all 11 rows once per zone
        assert {count for count, _ in localised} == {11}
    finally:
        await service.close()


def test_the_records_cost_one() -> None:
    """Not paginated: 1, whatever it holds (its milestones are at most 11); on `Mentor`, 1
    more for the mentor, as every question."""
    on_query = parse('{ personalRecords(mentorId: "m1") { milestones { date } } }')
    on_mentor = parse('{ mentor(id: "m1") { personalRecords { bestDay { date } } } }')
    assert cost_of(on_query, None, {}) == 1
    assert cost_of(on_mentor, None, {}) == 2
