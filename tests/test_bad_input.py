"""A catalogue of malformed requests over both interfaces: each gets the right 4xx (or
GraphQL error code) and a message that says what is wrong."""

from typing import Any

import httpx
import pytest

from tests.helpers import SessionFactory, add, mentor

S = "/api/v1/personal-stats"

# (path and query, status, parameter named in `errors` or None, words the detail contains)
REST_CASES = [
    (f"{S}/x'%20OR%20'1'='1", 400, "mentor_id", "characters"),
    (f"{S}/m1;DROP%20TABLE%20mentor", 400, "mentor_id", "characters"),
    (f"{S}/%2e%2e", 400, "mentor_id", "characters"),
    (f"{S}/..%2F..%2Fetc%2Fpasswd", 404, None, "No such resource"),
    (f"{S}/m1%00", 400, "mentor_id", "characters"),
    (f"{S}/{'m' * 65}", 400, "mentor_id", "1-64"),
    (f"{S}/ment%C3%B6r", 400, "mentor_id", "characters"),
    (f"{S}/m1?period=weekly", 400, "period", "one of"),
    (f"{S}/m1?period=LAST_7_DAYS", 400, "period", "one of"),
    (f"{S}/m1?period=", 400, "period", "empty"),
    (f"{S}/m1?start_date=2026-02-30&end_date=2026-03-01", 400, "start_date", "real calendar date"),
    (f"{S}/m1?as_of=2026-13-01", 400, "as_of", "real calendar date"),
    (f"{S}/m1?as_of=0000-01-01", 400, "as_of", "real calendar date"),
    (f"{S}/m1?as_of=3000-01-01", 400, "as_of", "1900-2999"),
    (f"{S}/m1?as_of=2026-W13-3", 400, "as_of", "YYYY-MM-DD"),
    (f"{S}/m1?as_of=2026-03-25T00:00:00", 400, "as_of", "YYYY-MM-DD"),
    (f"{S}/m1?as_of=20260325", 400, "as_of", "YYYY-MM-DD"),
    (f"{S}/m1?as_of=%00", 400, "as_of", "YYYY-MM-DD"),
    (f"{S}/m1?tz=Mars/Olympus_Mons", 400, "tz", "IANA"),
    (f"{S}/m1?tz=../../etc/passwd", 400, "tz", "IANA"),
    (f"{S}/m1?tz=", 400, "tz", "empty"),
    (f"{S}/m1?tz=utc%00", 400, "tz", "IANA"),
    (f"{S}/m1?period=last_7_days&period=last_7_days", 400, "period", "more than once"),
    (f"{S}/m1?period=last_7_days&start_date=2026-03-01&end_date=2026-03-02", 400, "period",
     "cannot be combined"),
    (f"{S}/m1?period=custom", 400, "period", "start_date and end_date"),
    (f"{S}/m1?start_date=2026-03-01", 400, "end_date", "required"),
    (f"{S}/m1?start_date=2026-03-02&end_date=2026-03-01", 400, "start_date", "after end_date"),
    (f"{S}/m1?start_date=2000-01-01&end_date=2026-03-01", 400, "end_date", "3660"),
    (f"{S}/m1?start_date=2998-12-01&end_date=2999-01-01", 400, "end_date", "as_of"),
    (f"{S}/m1/monthly-series?page=0", 400, "page", "1 to 1000000"),
    (f"{S}/m1/monthly-series?page=-1", 400, "page", "1 to 1000000"),
    (f"{S}/m1/monthly-series?page=1e3", 400, "page", "whole number"),
    (f"{S}/m1/monthly-series?page=99999999999999999999", 400, "page", "whole number"),
    (f"{S}/m1/monthly-series?limit=101", 400, "limit", "1 to 100"),
    (f"{S}/m1/monthly-series?limit=ten", 400, "limit", "whole number"),
    (f"{S}/m1/monthly-series?months=0", 400, "months", "1 to 120"),
    (f"{S}/m1/monthly-series?months=1.5", 400, "months", "whole number"),
    (f"{S}/m1/monthly-series?from=2026-1&to=2026-02", 400, "from", "YYYY-MM"),
    (f"{S}/m1/monthly-series?from=2026-00&to=2026-02", 400, "from", "no month"),
    (f"{S}/m1/monthly-series?from=2026-02&to=2026-01", 400, "from", "after to"),
    (f"{S}/m1/monthly-series?from=2026-01", 400, "to", "required"),
    (f"{S}/m1/monthly-series?months=3&from=2026-01&to=2026-02", 400, "months", "combined"),
    (f"{S}/m1/monthly-series?from=2026-01&to=2999-12", 400, "to", "120 months"),
    (f"{S}/m1/contribution-history?to_year=2999", 400, "to_year", "as_of"),
    (f"{S}/m1/contribution-history?from_year=abc", 400, "from_year", "whole number"),
    (f"{S}/m1/contribution-history?from_year=1899", 400, "from_year", "1900 to 2999"),
    (f"{S}/m1/contribution-history?from_year=1900&to_year=2020", 400, "from_year", "100 years"),
    (f"{S}/m1/contribution-history?from_year=2020&to_year=2019", 400, "from_year", "after"),
    (f"{S}/m1/nothing", 404, None, "No such resource"),
    (f"{S}/ghost", 404, None, "ghost"),
]  # fmt: skip


@pytest.fixture
async def seeded(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"))


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("path", "status", "param", "words"), REST_CASES)
async def test_rest_catalogue(
    client: httpx.AsyncClient, path: str, status: int, param: str | None, words: str
) -> None:
    response = await client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert words in body["detail"]
    if param is not None:
        assert param in [error["param"] for error in body["errors"]]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_rest_methods(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, f"{S}/m1", content=b"{}")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


# (request keyword arguments, HTTP status, words in the problem's detail)
GRAPHQL_HTTP_CASES = [
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
    ({"content": b"{ __typename }", "headers": {"content-type": "text/plain"}}, 415,
     "application/json"),
    ({"content": b"query=1", "headers": {"content-type": "application/x-www-form-urlencoded"}},
     415, "application/json"),
    ({"json": {}}, 400, "No GraphQL query"),
    ({"json": {"query": 42}}, 400, "must be a string"),
    ({"json": {"query": "{ __typename }", "variables": [1, 2]}}, 400, "must be an object"),
    ({"json": {"query": "query A { __typename }", "operationName": "B"}}, 400,
     "Unknown operation"),
    ({"json": [{"query": "{ __typename }"}, {"query": "{ __typename }"}]}, 400, "Batching"),
]  # fmt: skip


@pytest.mark.parametrize(("request_args", "status", "words"), GRAPHQL_HTTP_CASES)
async def test_graphql_http_catalogue(
    client: httpx.AsyncClient, request_args: dict[str, Any], status: int, words: str
) -> None:
    response = await client.post("/graphql", **request_args)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


# (query, variables, words in the message)
GRAPHQL_CASES = [
    ('{ mentor(id: "1 OR 1=1") { id } }', {}, "characters"),
    ('{ mentor(id: "m1\\u0000") { id } }', {}, "characters"),
    ('{ personalStats(mentorId: "../etc/passwd") { streakDays } }', {}, "characters"),
    ("query ($id: ID!) { mentor(id: $id) { id } }", {"id": "x" * 65}, "1-64"),
    ("query ($ids: [ID!]!) { mentors(ids: $ids) { id } }", {"ids": [f"m{i}" for i in range(101)]},
     "at most 100"),
    ('{ personalStats(mentorId: "m1", asOf: "2026-02-30") { streakDays } }', {}, "real calendar"),
    ('{ personalStats(mentorId: "m1", asOf: "2026-3-1") { streakDays } }', {}, "YYYY-MM-DD"),
    ('{ personalStats(mentorId: "m1", asOf: 20260301) { streakDays } }', {}, "Date"),
    ('{ personalStats(mentorId: "m1", period: SOMETIMES) { streakDays } }', {}, "StatsPeriod"),
    ('{ personalStats(mentorId: "m1", period: "LAST_7_DAYS") { streakDays } }', {}, "StatsPeriod"),
    ('{ personalStats(mentorId: "m1", tz: "Mars/Base") { streakDays } }', {}, "IANA"),
    ('{ monthlySeries(mentorId: "m1", months: "3") { data { month } } }', {}, "Int"),
    ('{ monthlySeries(mentorId: "m1", months: 99999999999) { data { month } } }', {}, "Int"),
    ('{ monthlySeries(mentorId: "m1", from: "2026-13", to: "2026-12") { data { month } } }', {},
     "no month"),
    ('{ activityBreakdown(mentorId: "m1", limit: 0) { data { count } } }', {}, "1 to 100"),
    ('{ contributionHistory(mentorId: "m1", fromYear: 3000) { data { year } } }', {},
     "1900 to 2999"),
    ('{ personalStats(mentorId: "m1") { secretField } }', {}, "Cannot query field"),
    ("{ personalStats(mentorId: ", {}, "Syntax Error"),
    ('mutation { personalStats(mentorId: "m1") { streakDays } }', {}, "mutation"),
    ("query ($d: Date!) { personalStats(mentorId: \"m1\", asOf: $d) { streakDays } }",
     {"d": None}, "null"),
]  # fmt: skip


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("query", "variables", "words"), GRAPHQL_CASES)
async def test_graphql_catalogue(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], words: str
) -> None:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert {error["extensions"]["code"] for error in errors} == {"BAD_USER_INPUT"}
    assert any(words in error["message"] for error in errors), errors


def test_the_catalogue_has_at_least_40_cases() -> None:
    assert len(REST_CASES) + len(GRAPHQL_HTTP_CASES) + len(GRAPHQL_CASES) + 4 >= 40
