"""The plan of the plainest documents (one question of `Query`, plain fields of its answer)
answers exactly as graphql-core's execution does, on both engines: each request is sent as a
document with a plan and as the same question through a fragment (a document the plan never
takes), and both answers (data and errors) must be equal; the counters tell which way each
went."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.server.app import create_app
from personal_stats.support.settings import Settings
from tests.helpers import SessionFactory, activity, add, mentor

FIELDS = """mentorId mentorName period startDate endDate timezone totalActivities
    completedActivities cancelledActivities completionRate avgSessionDurationMinutes
    totalHoursLogged mostCommonActivityType mostActiveWeekday peerRankPercentile streakDays
    longestStreakDays activeDays weeklyStreakWeeks"""
ARGUMENTS = """mentorId: $id, period: $period, startDate: $startDate, endDate: $endDate,
    asOf: $asOf, tz: $tz"""
VARIABLES = (
    "$id: ID!, $period: StatsPeriod, $startDate: Date, $endDate: Date, $asOf: Date, $tz: String"
)
PLANNED = f"query Card({VARIABLES}) {{ personalStats({ARGUMENTS}) {{ {FIELDS} }} }}"
EXECUTED = (f"query Card({VARIABLES}) {{ ...Card }} "
            f"fragment Card on Query {{ personalStats({ARGUMENTS}) {{ {FIELDS} }} }}")  # fmt: skip
CASES: list[dict[str, Any]] = [
    {"id": "m1", "asOf": "2026-03-25"},
    {"id": "m1", "asOf": "2026-03-25", "period": "ALL_TIME"},
    {"id": "m1", "asOf": "2026-03-25", "period": "LAST_7_DAYS", "tz": "Pacific/Kiritimati"},
    {"id": "m1", "startDate": "2026-03-01", "endDate": "2026-03-21", "asOf": "2026-03-25"},
    {"id": "m2", "asOf": "2026-03-25", "period": "YEAR_TO_DATE"},
    {"id": "m2"},  # today
    # each of these is refused; the plan gives up and the executor reports it
    {"id": "nobody", "asOf": "2026-03-25"},
    {"id": "not an id!"},
    {"id": "m1", "startDate": "2026-03-01"},
    {"id": "m1", "startDate": "2026-03-21", "endDate": "2026-03-01", "asOf": "2026-03-25"},
    {"id": "m1", "tz": "Mars/Olympus"},
    {"id": "m1", "period": "LAST_WEEK"},
    {"id": "m1", "asOf": "2026-02-30"},
    {"id": 12},
    {"period": "ALL_TIME"},
]


@pytest.fixture
async def served(
    database_url: str, engine: AsyncEngine, sessions: SessionFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    await add(
        sessions,
        mentor("m1", tz="America/New_York"),
        mentor("m2"),
        activity("m1", "2026-03-20T03:30:00Z", minutes=45),
        activity("m1", "2026-03-21T12:00:00Z", status="cancelled"),
        activity("m1", "2026-03-22T23:30:00Z", minutes=20),
        activity("m2", "2026-01-05T10:00:00Z", minutes=90),
    )
    app = create_app(Settings(database_url=database_url), migrate=False, freeze_heap=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http, app.state.graphql


def _placeless(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer without its errors' locations (the two documents' texts differ)."""
    errors = [{k: v for k, v in e.items() if k != "locations"} for e in answer.get("errors", ())]
    return {**answer, "errors": errors}


@pytest.mark.parametrize("variables", CASES, ids=[json.dumps(c) for c in CASES])
async def test_a_plan_answers_as_the_executor_does(
    served: tuple[httpx.AsyncClient, Any], variables: dict[str, Any]
) -> None:
    http, graphql = served
    planned = (await http.post("/graphql", json={"query": PLANNED, "variables": variables})).json()
    took_the_plan = graphql.answered["planned"]
    executed = (
        await http.post("/graphql", json={"query": EXECUTED, "variables": variables})
    ).json()
    assert graphql.answered["planned"] == took_the_plan  # the fragment's document: executed
    assert _placeless(planned) == _placeless(executed)
    refused = "errors" in executed
    assert took_the_plan == (0 if refused else 1)


async def test_what_has_no_plan_is_executed(served: tuple[httpx.AsyncClient, Any]) -> None:
    """Lists, objects, `__typename`, two questions, a directive: no plan."""
    http, graphql = served
    for selection in (
        'personalStats(mentorId: "m1", restDays: [SUNDAY]) { restDays }',
        'personalStats(mentorId: "m1") { comparison { compare } }',
        'personalStats(mentorId: "m1") { __typename }',
        'personalStats(mentorId: "m1") { streakDays } mentor(id: "m1") { name }',
        'personalStats(mentorId: "m1") { streakDays @include(if: true) }',
        'mentor(id: "m1") { name }',
    ):
        answer = await http.post("/graphql", json={"query": "{ " + selection + " }"})
        assert "errors" not in answer.json(), answer.json()
    assert graphql.answered["planned"] == 0
    assert graphql.answered["executed"] == 6
