"""The GraphQL adapter over HTTP: the schema, errors, and parity with REST."""

import itertools
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from personal_stats.adapters.graphql.schema import build_schema, plain_sdl
from personal_stats.support.settings import Settings
from tests.helpers import SessionFactory, activity, activity_type, add, mentor

BASE = "/api/v1/personal-stats"
SUMMARY_FIELDS = """mentorId mentorName period startDate endDate timezone totalActivities
  completedActivities cancelledActivities completionRate avgSessionDurationMinutes
  totalHoursLogged mostCommonActivityType mostActiveWeekday peerRankPercentile streakDays
  longestStreakDays activeDays weeklyStreakWeeks"""
PAGINATION = "pagination { page limit total }"
SERIES_FIELDS = (
    f"data {{ year month monthLabel totalActivities completedActivities totalHours }} {PAGINATION}"
)
BREAKDOWN_FIELDS = f"""data {{ activityTypeId activityTypeName activityTypeCode count percentage
  avgDurationMinutes totalHours }} {PAGINATION}"""
HISTORY_FIELDS = f"""data {{ year totalActivities totalHours monthlyBreakdown {{ month count }}
  peakMonth zeroActivityMonths }} {PAGINATION}"""

ARGUMENT_TYPES = {
    "mentorId": "ID!", "period": "StatsPeriod", "startDate": "Date", "endDate": "Date",
    "asOf": "Date", "tz": "String", "from": "String", "to": "String", "months": "Int",
    "fromYear": "Int", "toYear": "Int", "page": "Int", "limit": "Int",
}  # fmt: skip
CALENDAR_FIELDS = """mentorId startDate endDate timezone totalActivities completedActivities
  activeDays maxCount days { date weekday count completed level }"""
FIELDS = {
    "personalStats": SUMMARY_FIELDS,
    "monthlySeries": SERIES_FIELDS,
    "activityBreakdown": BREAKDOWN_FIELDS,
    "contributionHistory": HISTORY_FIELDS,
    "contributionCalendar": CALENDAR_FIELDS,
}
REST_SUFFIX = {
    "personalStats": "",
    "monthlySeries": "/monthly-series",
    "activityBreakdown": "/activity-breakdown",
    "contributionHistory": "/contribution-history",
    "contributionCalendar": "/contribution-calendar",
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def as_graphql(value: Any, key: str = "") -> Any:
    """The REST body as GraphQL shows it: camelCase keys, upper-case periods."""
    if isinstance(value, dict):
        return {camel(k): as_graphql(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [as_graphql(item) for item in value]
    return value.upper() if key == "period" else value


async def graphql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def ask(client: httpx.AsyncClient, field: str, **args: Any) -> dict[str, Any]:
    declared = ", ".join(f"${name}: {ARGUMENT_TYPES[name]}" for name in args)
    passed = ", ".join(f"{name}: ${name}" for name in args)
    query = f"query ({declared}) {{ {field}({passed}) {{ {FIELDS[field]} }} }}"
    return await graphql(client, query, **args)


@pytest.fixture
async def seeded(sessions: SessionFactory) -> None:
    rows: list[Any] = [
        activity_type("t2", code="group_workshop", name="Group Workshop"),
        mentor("m1", tz="America/New_York", name="James"),
        mentor("m2", tz="Asia/Tokyo"),
        mentor("m3"),
    ]
    for i in range(60):
        day = f"2025-{1 + i % 12:02d}-{1 + (i * 7) % 28:02d}"
        rows.append(
            activity(
                "m1",
                f"{day}T{(i * 5) % 24:02d}:30:00Z",
                minutes=10 + i,
                type_id="t1" if i % 3 else "t2",
                status="cancelled" if i % 7 == 0 else "completed",
            )
        )
        rows.append(activity("m2", f"2026-{1 + i % 3:02d}-{1 + i % 28:02d}T20:00:00Z", minutes=25))
    await add(sessions, *rows)


WINDOW_CASES = [
    {},
    {"asOf": "2025-12-31"},
    {"asOf": "2025-06-15", "period": "LAST_7_DAYS"},
    {"asOf": "2025-06-15", "period": "LAST_90_DAYS", "tz": "Pacific/Kiritimati"},
    {"asOf": "2025-12-31", "period": "YEAR_TO_DATE", "tz": "UTC"},
    {"asOf": "2025-09-30", "period": "MONTH_TO_DATE"},
    {"asOf": "2025-12-31", "period": "ALL_TIME", "tz": "Asia/Tokyo"},
    {"asOf": "2025-12-31", "period": "LAST_365_DAYS"},
    {"startDate": "2025-02-01", "endDate": "2025-05-31", "asOf": "2025-12-31"},
    {"startDate": "2025-02-01", "endDate": "2025-05-31", "period": "CUSTOM", "tz": "UTC"},
]
PAGE_CASES = [{}, {"page": 2, "limit": 1}, {"page": 50, "limit": 100}]
SERIES_CASES = [
    {"asOf": "2025-12-31"},
    {"months": 14, "asOf": "2026-02-10", "tz": "Europe/Berlin"},
    {"from": "2024-11", "to": "2025-04"},
]
HISTORY_CASES = [{}, {"asOf": "2025-07-04"}, {"fromYear": 2020, "toYear": 2025, "tz": "UTC"}]
CALENDAR_CASES = [
    {},
    {"asOf": "2025-12-31"},
    {"asOf": "2025-06-30", "tz": "Pacific/Kiritimati"},
    {"startDate": "2025-02-01", "endDate": "2025-05-31", "asOf": "2025-12-31"},
    {"startDate": "2025-01-01", "endDate": "2026-01-01", "tz": "America/New_York"},
]


def rest_query(args: dict[str, Any]) -> dict[str, str]:
    names = {"startDate": "start_date", "endDate": "end_date", "asOf": "as_of",
             "fromYear": "from_year", "toYear": "to_year"}  # fmt: skip
    return {names.get(k, k): str(v).lower() if k == "period" else str(v) for k, v in args.items()}


PARITY_CASES = (
    [("personalStats", case) for case in WINDOW_CASES]
    + [("activityBreakdown", {**w, **p}) for w, p in itertools.product(WINDOW_CASES, PAGE_CASES)]
    + [("monthlySeries", {**s, **p}) for s, p in itertools.product(SERIES_CASES, PAGE_CASES)]
    + [("contributionHistory", {**h, **p}) for h, p in itertools.product(HISTORY_CASES, PAGE_CASES)]
    + [("contributionCalendar", case) for case in CALENDAR_CASES]
)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("field", "args"), PARITY_CASES)
@pytest.mark.parametrize("mentor_id", ["m1", "m2"])
async def test_graphql_equals_rest(
    client: httpx.AsyncClient, field: str, args: dict[str, Any], mentor_id: str
) -> None:
    rest = await client.get(f"{BASE}/{mentor_id}{REST_SUFFIX[field]}", params=rest_query(args))
    assert rest.status_code == 200, rest.text
    answer = await ask(client, field, mentorId=mentor_id, **args)
    assert "errors" not in answer
    assert answer["data"][field] == as_graphql(rest.json())


@pytest.mark.usefixtures("seeded")
async def test_mentor_fields_equal_the_top_level_ones(client: httpx.AsyncClient) -> None:
    nested = f"""{{ mentor(id: "m1") {{ id name timezone
        personalStats(asOf: "2025-12-31", period: ALL_TIME) {{ {SUMMARY_FIELDS} }}
        monthlySeries(months: 3, asOf: "2025-12-31") {{ {SERIES_FIELDS} }}
        activityBreakdown(asOf: "2025-12-31") {{ {BREAKDOWN_FIELDS} }}
        contributionHistory(asOf: "2025-12-31") {{ {HISTORY_FIELDS} }}
        contributionCalendar(asOf: "2025-12-31") {{ {CALENDAR_FIELDS} }} }} }}"""
    mentor_data = (await graphql(client, nested))["data"]["mentor"]
    assert (mentor_data["id"], mentor_data["name"], mentor_data["timezone"]) == (
        "m1", "James", "America/New_York",
    )  # fmt: skip
    top = await ask(client, "personalStats", mentorId="m1", asOf="2025-12-31", period="ALL_TIME")
    assert mentor_data["personalStats"] == top["data"]["personalStats"]
    top = await ask(client, "monthlySeries", mentorId="m1", months=3, asOf="2025-12-31")
    assert mentor_data["monthlySeries"] == top["data"]["monthlySeries"]
    top = await ask(client, "activityBreakdown", mentorId="m1", asOf="2025-12-31")
    assert mentor_data["activityBreakdown"] == top["data"]["activityBreakdown"]
    top = await ask(client, "contributionHistory", mentorId="m1", asOf="2025-12-31")
    assert mentor_data["contributionHistory"] == top["data"]["contributionHistory"]
    top = await ask(client, "contributionCalendar", mentorId="m1", asOf="2025-12-31")
    assert mentor_data["contributionCalendar"] == top["data"]["contributionCalendar"]


@pytest.mark.usefixtures("seeded")
async def test_mentors_keeps_order_with_nulls_for_unknown_ids(client: httpx.AsyncClient) -> None:
    answer = await graphql(client, '{ mentors(ids: ["m3", "ghost", "m1"]) { id } }')
    assert answer["data"]["mentors"] == [{"id": "m3"}, None, {"id": "m1"}]


@pytest.mark.usefixtures("seeded")
async def test_mentors_refuses_more_than_100_ids(client: httpx.AsyncClient) -> None:
    ids = [f"m{i}" for i in range(101)]
    answer = await graphql(client, "query ($ids: [ID!]!) { mentors(ids: $ids) { id } }", ids=ids)
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.usefixtures("seeded")
async def test_unknown_mentor_is_null_for_mentor_and_not_found_for_stats(
    client: httpx.AsyncClient,
) -> None:
    assert (await graphql(client, '{ mentor(id: "ghost") { id } }'))["data"] == {"mentor": None}
    answer = await ask(client, "personalStats", mentorId="ghost")
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ('{ mentor(id: "bad id") { id } }', {}),
        ('{ mentors(ids: ["ok", "bad/id"]) { id } }', {}),
        ('{ personalStats(mentorId: "x y") { streakDays } }', {}),
        ('{ personalStats(mentorId: "m1", asOf: "2025-1-01") { streakDays } }', {}),
        ('{ personalStats(mentorId: "m1", asOf: "20250101") { streakDays } }', {}),
        ('{ personalStats(mentorId: "m1", period: WEEKLY) { streakDays } }', {}),
        ('{ personalStats(mentorId: "m1", tz: "Mars/Base") { streakDays } }', {}),
        ('{ personalStats(mentorId: "m1", startDate: "2025-01-01") { streakDays } }', {}),
        ('{ monthlySeries(mentorId: "m1", from: "2025-1") { pagination { total } } }', {}),
        ('{ monthlySeries(mentorId: "m1", months: 0) { pagination { total } } }', {}),
        ('{ activityBreakdown(mentorId: "m1", limit: 101) { pagination { total } } }', {}),
        ('{ contributionHistory(mentorId: "m1", page: 0) { pagination { total } } }', {}),
        ("{ contributionHistory(mentorId: 5, page: 99999999999) { data { year } } }", {}),
        ('{ personalStats(mentorId: "m1") { noSuchField } }', {}),
        (
            'query ($d: Date) { personalStats(mentorId: "m1", asOf: $d) { streakDays } }',
            {"d": "2025-02-30"},
        ),
        (
            'query ($d: Date) { personalStats(mentorId: "m1", asOf: $d) { streakDays } }',
            {"d": 20250201},
        ),
        ("{ personalStats(", {}),
    ],
)
async def test_bad_input_is_bad_user_input(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> None:
    answer = await graphql(client, query, **variables)
    codes = {error["extensions"]["code"] for error in answer["errors"]}
    assert codes == {"BAD_USER_INPUT"}
    assert all(error["message"] for error in answer["errors"])


@pytest.mark.usefixtures("seeded")
async def test_invalid_input_names_each_parameter(client: httpx.AsyncClient) -> None:
    answer = await ask(client, "monthlySeries", mentorId="m1", months=0, page=0, limit=0)
    error = answer["errors"][0]
    assert [e["param"] for e in error["extensions"]["errors"]] == ["months", "page", "limit"]


async def test_graphiql_is_served_to_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_checked_in_schema_matches_the_code() -> None:
    checked_in = Path(__file__).parents[1] / "schema.graphql"
    assert checked_in.read_text() == plain_sdl(build_schema(Settings())) + "\n"


def test_schema_has_the_specified_shape() -> None:
    sdl = plain_sdl(build_schema(Settings()))
    assert "mentors(ids: [ID!]!): [Mentor]!" in sdl
    assert re.search(r"enum StatsPeriod \{\s+LAST_7_DAYS", sdl)
    assert "scalar Date" in sdl


def test_unexpected_errors_are_masked() -> None:
    from graphql import GraphQLError

    from personal_stats.adapters.graphql.errors import add_code

    error = GraphQLError("secret: /srv/db password", path=["x"], original_error=KeyError("pw"))
    add_code(error)
    assert error.formatted["message"] == "Internal server error."
    assert error.formatted["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}


ERROR_CASES = [
    ("personalStats", {"mentorId": "ghost"}, 404, "NOT_FOUND", []),
    ("personalStats", {"mentorId": "bad id"}, 400, "BAD_USER_INPUT", ["mentor_id"]),
    ("personalStats", {"mentorId": "m1", "tz": "Nowhere"}, 400, "BAD_USER_INPUT", ["tz"]),
    ("personalStats", {"mentorId": "m1", "startDate": "2025-01-01"}, 400, "BAD_USER_INPUT",
     ["end_date"]),
    ("personalStats", {"mentorId": "m1", "startDate": "2025-01-01", "endDate": "2099-01-01"},
     400, "BAD_USER_INPUT", ["end_date"]),
    ("monthlySeries", {"mentorId": "m1", "months": 121, "page": 0}, 400, "BAD_USER_INPUT",
     ["months", "page"]),
    ("monthlySeries", {"mentorId": "m1", "from": "2025-13", "to": "2025-01"}, 400,
     "BAD_USER_INPUT", ["from"]),
    ("activityBreakdown", {"mentorId": "ghost", "limit": 100}, 404, "NOT_FOUND", []),
    ("contributionHistory", {"mentorId": "m1", "fromYear": 2025, "toYear": 2024}, 400,
     "BAD_USER_INPUT", ["from_year"]),
    ("contributionCalendar", {"mentorId": "m1", "startDate": "2025-01-01"}, 400,
     "BAD_USER_INPUT", ["end_date"]),
    ("contributionCalendar", {"mentorId": "m1", "startDate": "2024-01-01",
                              "endDate": "2025-01-01", "asOf": "2025-06-01"}, 400,
     "BAD_USER_INPUT", ["end_date"]),
    ("contributionCalendar", {"mentorId": "ghost"}, 404, "NOT_FOUND", []),
]  # fmt: skip


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("field", "args", "status", "code", "params"), ERROR_CASES)
async def test_errors_mean_the_same_on_both_interfaces(
    client: httpx.AsyncClient,
    field: str,
    args: dict[str, Any],
    status: int,
    code: str,
    params: list[str],
) -> None:
    rest_args = {k: v for k, v in args.items() if k != "mentorId"}
    path = f"{BASE}/{args['mentorId'].replace(' ', '%20')}{REST_SUFFIX[field]}"
    rest = await client.get(path, params=rest_query(rest_args))
    assert rest.status_code == status
    assert [e["param"] for e in rest.json().get("errors", [])] == params
    answer = await ask(client, field, **args)
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == code
    # GraphQL names its arguments in camelCase; REST in snake_case.
    camel = [p.split("_")[0] + "".join(w.capitalize() for w in p.split("_")[1:]) for p in params]
    assert [e["param"] for e in error["extensions"].get("errors", [])] == camel
