"""GraphQL over HTTP (SPEC section 21; graphql.github.io/graphql-over-http), case by case on
both engines: the media type follows Accept; with application/graphql-response+json a request
that fails before execution is a 400 without `data`, one that executed is a 200; with
application/json every well-formed request is a 200; `variables` or `extensions` that are not
objects are a 400 with either. (tests/test_clients.py runs graphql-http's own audit.)"""

from typing import Any

import httpx
import pytest

from personal_stats.adapters.graphql.transport import GRAPHQL_RESPONSE, JSON, answer_media_type
from tests.helpers import SessionFactory, activity, add, mentor

NEW, OLD = GRAPHQL_RESPONSE, JSON


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, OLD),
        ("", OLD),
        ("*/*", OLD),
        ("application/*", OLD),
        ("application/json", OLD),
        (NEW, NEW),
        (f"{NEW}, {OLD}", NEW),
        (f"{OLD}, {NEW}", NEW),  # equal weights: the new one
        (f"{NEW}, {OLD};q=0.9", NEW),  # as Apollo Client 4 sends it
        (f"{OLD}, {NEW};q=0.5", OLD),
        (f"{NEW};q=0, {OLD}", OLD),
        (f"{NEW};q=oops, {OLD}", OLD),  # a weight that does not parse is 0
        ("text/html", None),
        ("text/html, */*;q=0.8", OLD),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", NEW),
    ],
)
def test_the_media_type_follows_accept(accept: str | None, expected: str | None) -> None:
    assert answer_media_type(accept) == expected


@pytest.fixture
async def one_mentor(sessions: SessionFactory) -> None:
    await add(sessions, mentor("m1"), activity("m1", "2026-03-20T10:00:00Z"))


async def post(client: httpx.AsyncClient, accept: str, body: Any) -> httpx.Response:
    return await client.post("/graphql", json=body, headers={"Accept": accept})


GOOD = {"query": '{ personalStats(mentorId: "m1", asOf: "2026-03-25") { totalActivities } }'}
CASES = {  # a request that fails before execution, and what the new media type answers
    "parse error": {"query": "{ personalStats("},
    "validation error": {"query": '{ personalStats(mentorId: "m1") { nope } }'},
    "variables that cannot be coerced": {
        "query": "query ($id: ID!) { personalStats(mentorId: $id) { totalActivities } }",
        "variables": {"id": {"not": "an id"}},
    },
    "a required variable missing": {
        "query": "query ($id: ID!) { personalStats(mentorId: $id) { totalActivities } }",
    },
}


@pytest.mark.usefixtures("one_mentor")
@pytest.mark.parametrize("case", list(CASES))
async def test_a_request_that_fails_before_execution(client: httpx.AsyncClient, case: str) -> None:
    new = await post(client, NEW, CASES[case])
    assert new.status_code == 400
    assert new.headers["content-type"] == NEW
    assert "data" not in new.json()
    assert new.json()["errors"]
    old = await post(client, OLD, CASES[case])
    assert old.status_code == 200
    assert old.headers["content-type"] == OLD
    assert old.json()["data"] is None
    assert old.json()["errors"] == new.json()["errors"]


@pytest.mark.usefixtures("one_mentor")
async def test_an_executed_request_is_a_200_in_both_media_types(
    client: httpx.AsyncClient,
) -> None:
    for accept in (NEW, OLD):
        found = await post(client, accept, GOOD)
        assert (found.status_code, found.headers["content-type"]) == (200, accept)
        assert found.json()["data"] == {"personalStats": {"totalActivities": 1}}
        assert found.headers["vary"] == "Accept"
        # A field's error after execution began: data is null, and it is still a 200.
        unknown = await post(client, accept, {"query": '{ personalStats(mentorId: "zz") '
                                                       "{ totalActivities } }"})  # fmt: skip
        assert unknown.status_code == 200
        assert unknown.json()["data"] is None
        assert unknown.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.usefixtures("one_mentor")
@pytest.mark.parametrize("value", [1, True, "{}", [], [{"a": 1}]])
@pytest.mark.parametrize("name", ["variables", "extensions"])
async def test_variables_and_extensions_that_are_not_objects_are_a_400(
    client: httpx.AsyncClient, name: str, value: Any
) -> None:
    for accept in (NEW, OLD):
        found = await post(client, accept, GOOD | {name: value})
        assert found.status_code == 400, found.text
        assert name in found.json()["detail"]
    assert (await post(client, NEW, GOOD | {name: None})).status_code == 200


@pytest.mark.usefixtures("one_mentor")
async def test_a_get_is_answered_as_a_post(client: httpx.AsyncClient) -> None:
    query = 'query ($id: ID!) { personalStats(mentorId: $id, asOf: "2026-03-25") {'
    query += " totalActivities } }"
    params = {"query": query, "variables": '{"id": "m1"}'}
    for accept in (NEW, OLD):
        found = await client.get("/graphql", params=params, headers={"Accept": accept})
        assert (found.status_code, found.headers["content-type"]) == (200, accept)
        assert found.json()["data"] == {"personalStats": {"totalActivities": 1}}
    bad = await client.get("/graphql", params=params | {"variables": "{nope"},
                           headers={"Accept": NEW})  # fmt: skip
    assert bad.status_code == 400
    invalid = await client.get("/graphql", params={"query": "{ nope }"}, headers={"Accept": NEW})
    assert invalid.status_code == 400
    assert "data" not in invalid.json()


@pytest.mark.usefixtures("one_mentor")
async def test_a_client_that_accepts_neither_media_type_gets_406(
    client: httpx.AsyncClient,
) -> None:
    found = await post(client, "text/html", GOOD)
    assert found.status_code == 406
    assert found.headers["content-type"] == "application/problem+json"
