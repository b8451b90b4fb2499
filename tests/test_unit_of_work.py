"""One unit of work per request: every field of a GraphQL query reads one snapshot, even when
an import commits between two of them, and what a request loaded is not read again."""

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from graphql import ExecutionResult

from personal_stats.adapters.graphql import subscription
from personal_stats.adapters.graphql.schema import build_schema
from personal_stats.core.reads import Question, R
from personal_stats.core.stats import find_mentor
from personal_stats.service.stats_service import StatsService, UnitOfWork
from personal_stats.storage import tokens
from personal_stats.storage.feed import Changes
from personal_stats.support.settings import Settings
from tests.helpers import Clock, SessionFactory, activity, add, database_url, mentor

TWO_FIELDS = """{
  first: personalStats(mentorId: "m1", asOf: "2026-03-25") { totalActivities }
  second: personalStats(mentorId: "m1", asOf: "2026-03-26") { totalActivities }
}"""
DASHBOARD = """{
  mentors(ids: ["m1", "m2"]) {
    name
    personalStats(asOf: "2026-03-25") { totalActivities peerRankPercentile }
    monthlySeries(asOf: "2026-03-25") { data { totalActivities } }
    activityBreakdown(asOf: "2026-03-25") { data { count } }
    contributionHistory(asOf: "2026-03-25") { data { totalActivities } }
  }
}"""


async def execute(service: StatsService, work: UnitOfWork, query: str) -> ExecutionResult:
    schema = build_schema(service.settings)
    return await schema.execute(query, context_value={"work": work})


async def test_an_import_between_two_fields_is_invisible_to_both(
    client: httpx.AsyncClient, sessions: SessionFactory, engine: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Over HTTP: the second field is held until an ingest, sent meanwhile, has committed;
    both fields answer from the snapshot the first one opened."""
    await add(sessions, mentor("m1"), activity("m1", "2026-03-20T10:00:00Z"))
    token = await tokens.create(engine, "writer", ("ingest",))
    first_answered, committed = asyncio.Event(), asyncio.Event()
    ask, asked = UnitOfWork.ask, Counter[str]()

    async def held_after_the_first(self: UnitOfWork, question: Question[R]) -> R:
        asked["questions"] += 1
        if asked["questions"] > 1:  # every later question waits for the commit
            await committed.wait()
        answer = await ask(self, question)
        first_answered.set()
        return answer

    monkeypatch.setattr(UnitOfWork, "ask", held_after_the_first)
    reading = asyncio.create_task(client.post("/graphql", json={"query": TWO_FIELDS}))
    await asyncio.wait_for(first_answered.wait(), 10)
    new = {
        "record": "activity",
        "id": "new1",
        "mentor_id": "m1",
        "activity_type_id": "t1",
        "status": "completed",
        "started_at": "2026-03-21T10:00:00Z",
        "duration_minutes": 5,
    }
    written = await client.post("/api/v1/ingest", content=json.dumps(new).encode(),
                                headers={"content-type": "application/x-ndjson",
                                         "authorization": f"Bearer {token}"})  # fmt: skip
    assert written.status_code == 200  # committed while the query is between its fields
    committed.set()
    answer = (await reading).json()
    assert answer["data"] == {"first": {"totalActivities": 1}, "second": {"totalActivities": 1}}
    assert answer["extensions"]["dataVersion"] < int(written.headers["X-Data-Version"])
    later = (await client.post("/graphql", json={"query": TWO_FIELDS})).json()
    assert later["data"] == {"first": {"totalActivities": 2}, "second": {"totalActivities": 2}}


async def test_a_dashboard_query_reads_each_mentor_once_in_one_snapshot(
    sessions: SessionFactory,
) -> None:
    await add(
        sessions, mentor("m1"), mentor("m2"),
        activity("m1", "2026-03-20T10:00:00Z"), activity("m2", "2025-03-20T10:00:00Z"),
    )  # fmt: skip
    service = StatsService(Settings(database_url=database_url(sessions)))
    try:
        async with service.unit_of_work() as work:
            result = await execute(service, work, DASHBOARD)
            snapshot = work.snapshot
        assert result.errors is None
        assert result.data is not None
        assert [m["personalStats"]["totalActivities"] for m in result.data["mentors"]] == [1, 0]
        assert [m["contributionHistory"]["data"][-1]["totalActivities"]
                for m in result.data["mentors"]] == [1, 0]  # fmt: skip
        assert work.fetched["MentorsRead"] == 1  # both mentors, once, for every nested field
        assert work.fetched["TypesRead"] <= 1
        # Rows are shared: the selection asks each mentor's history and more, so each
        # mentor's rows are read once, whole, and every question takes its slice.
        assert work.fetched["ActivitiesRead"] == 2
        assert snapshot is not None
        assert work.snapshot is snapshot  # one snapshot throughout
    finally:
        await service.close()


async def test_every_question_of_a_request_has_the_same_today(sessions: SessionFactory) -> None:
    """Today is the request's: the unit of work's instant, in each question's time zone,
    however long the request takes (not the wall clock when each field is resolved)."""
    await add(sessions, mentor("m1", tz="Asia/Tokyo"), activity("m1", "2026-03-20T10:00:00Z"))
    service = StatsService(Settings(database_url=database_url(sessions)))
    query = """{
      tokyo: personalStats(mentorId: "m1", period: LAST_7_DAYS) { endDate }
      utc: personalStats(mentorId: "m1", period: LAST_7_DAYS, tz: "UTC") { endDate }
      calendar: contributionCalendar(mentorId: "m1") { endDate }
    }"""
    try:
        async with service.unit_of_work() as work:
            work.now = datetime(2026, 3, 25, 23, 30, tzinfo=UTC)  # 08:30 on the 26th in Tokyo
            result = await execute(service, work, query)
        assert result.errors is None
        assert result.data == {
            "tokyo": {"endDate": "2026-03-26"},
            "utc": {"endDate": "2026-03-25"},
            "calendar": {"endDate": "2026-03-26"},
        }
    finally:
        await service.close()


async def test_a_question_inside_rows_already_read_reads_nothing(
    sessions: SessionFactory,
) -> None:
    await add(
        sessions, mentor("m2"),
        activity("m2", "2025-03-20T10:00:00Z"), activity("m2", "2026-03-01T10:00:00Z"),
        activity("m2", "2026-03-25T23:59:59Z"), activity("m2", "2026-03-26T00:00:00Z"),
    )  # fmt: skip
    query = """{
      history: contributionHistory(mentorId: "m2", asOf: "2026-03-26") { data { totalActivities } }
      week: personalStats(mentorId: "m2", period: LAST_7_DAYS, asOf: "2026-03-25") {
        totalActivities }
      month: personalStats(mentorId: "m2", period: MONTH_TO_DATE, asOf: "2026-03-25") {
        totalActivities }
    }"""
    service = StatsService(Settings(database_url=database_url(sessions)))
    try:
        async with service.unit_of_work() as work:
            result = await execute(service, work, query)
        assert result.errors is None
        assert result.data == {
            "history": {"data": [{"totalActivities": 1}, {"totalActivities": 3}]},
            "week": {"totalActivities": 1},  # 03-19..03-25: 23:59:59 in, midnight after out
            "month": {"totalActivities": 2},  # 03-01..03-25
        }
        assert work.fetched["ActivitiesRead"] == 1  # the history's rows served both summaries
    finally:
        await service.close()


class SlowQuestions(UnitOfWork):
    """A unit of work whose every question takes 0.7 s of its clock."""

    async def _drive(self, question: Question[R], snapshot: Any) -> R:
        clock = self.service.clock
        assert isinstance(clock, Clock)
        clock.now += 0.7
        return await super()._drive(question, snapshot)


async def test_the_time_budget_is_the_requests_not_each_questions(
    sessions: SessionFactory,
) -> None:
    """Three questions of 0.7 s each against a budget of 1.25 s: each alone is within it; the
    third would start at 1.4 s, past it for the request, and is refused before it starts (also
    when what it reads is already in memory: no await would let a timeout fire)."""
    await add(sessions, mentor("m1"))
    service = StatsService(Settings(database_url=database_url(sessions), db_timeout=1.25))
    service.clock = clock = Clock()
    query = """{
      a: personalStats(mentorId: "m1", asOf: "2026-03-25") { totalActivities }
      b: personalStats(mentorId: "m1", asOf: "2026-03-26") { totalActivities }
      c: personalStats(mentorId: "m1", asOf: "2026-03-27") { totalActivities }
    }"""
    try:
        schema = build_schema(service.settings)
        async with service.unit_of_work() as plain:
            work = SlowQuestions(service, plain.stack)
            result = await schema.execute(query, context_value={"work": work})
        [error] = result.errors or []  # a and b were answered; c is non-null: no data at all
        assert error.path == ["c"]
        assert error.extensions == {"code": "SERVICE_UNAVAILABLE"}
        assert clock.now == pytest.approx(1.4)  # a and b ran in turn; c was refused unstarted
        async with service.unit_of_work() as plain:  # the next request has a budget of its own
            work = SlowQuestions(service, plain.stack)
            result = await schema.execute(query.replace("c: ", "# "), context_value={"work": work})
        assert result.errors is None
    finally:
        await service.close()


async def test_rows_read_for_one_question_widen_for_the_next(sessions: SessionFactory) -> None:
    """Without the history in the selection, rows are read as the questions come: a range
    inside the rows read is sliced; one that is not widens them (read once more)."""
    await add(
        sessions, mentor("m1"),
        activity("m1", "2026-03-20T10:00:00Z"), activity("m1", "2025-06-01T10:00:00Z"),
    )  # fmt: skip
    query = """{ mentor(id: "m1") {
      week: personalStats(period: LAST_7_DAYS, asOf: "2026-03-25") { totalActivities }
      year: personalStats(period: LAST_365_DAYS, asOf: "2026-03-25") { totalActivities }
      month: personalStats(period: MONTH_TO_DATE, asOf: "2026-03-25") { totalActivities }
    } }"""
    service = StatsService(Settings(database_url=database_url(sessions)))
    try:
        async with service.unit_of_work() as work:
            result = await execute(service, work, query)
        assert result.errors is None
        assert result.data == {"mentor": {"week": {"totalActivities": 1},
                                          "year": {"totalActivities": 2},
                                          "month": {"totalActivities": 1}}}  # fmt: skip
        assert work.fetched["ActivitiesRead"] == 2  # the week, then the year (the month inside)
    finally:
        await service.close()


async def test_a_dashboard_with_its_comparisons_reads_no_more_rows(
    sessions: SessionFactory,
) -> None:
    """The earlier windows' figures come from the rows the request already read: a dashboard
    asking both reads each mentor's rows once, as without the comparison."""
    await add(
        sessions, mentor("m1"), mentor("m2"),
        activity("m1", "2026-03-20T10:00:00Z"), activity("m1", "2026-02-10T10:00:00Z"),
        activity("m2", "2025-03-20T10:00:00Z"),
    )  # fmt: skip
    compared = DASHBOARD.replace(
        'personalStats(asOf: "2026-03-25")',
        'personalStats(asOf: "2026-03-25", compare: PREVIOUS_PERIOD) '
        "{ comparison { totalActivities change { totalActivitiesPct } } }\n"
        '    also: personalStats(asOf: "2026-03-25")',
    ).replace('activityBreakdown(asOf: "2026-03-25")',
              'activityBreakdown(asOf: "2026-03-25", compare: YEAR_OVER_YEAR)')  # fmt: skip
    service = StatsService(Settings(database_url=database_url(sessions)))
    try:
        async with service.unit_of_work() as work:
            result = await execute(service, work, compared)
        assert result.errors is None
        assert result.data is not None
        first = result.data["mentors"][0]
        # m1: 1 activity in the window, 1 (10 February) in the 30 days before: no change.
        assert first["personalStats"]["comparison"] == {
            "totalActivities": 1, "change": {"totalActivitiesPct": 0.0}
        }  # fmt: skip
        assert work.fetched["ActivitiesRead"] == 2  # each mentor's rows once, whole
    finally:
        await service.close()


@pytest.mark.parametrize("released", [True, False])
async def test_a_subscriptions_event_lets_go_of_its_snapshot_before_it_is_sent(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch, released: bool
) -> None:
    """With one connection in the pool, another question is answered while the client holds
    the event it was sent: the event's snapshot was let go. Without the release, the same
    question waits for that connection."""
    if not released:

        async def kept(self: Any, result: Any) -> Any:
            yield

        monkeypatch.setattr(subscription.ReleaseEventWork, "on_stream_result", kept)
    await add(sessions, mentor("m1"))
    settings = Settings(database_url=database_url(sessions), pool_size=1)
    service = StatsService(settings)
    schema = build_schema(settings)
    events = await schema.subscribe(
        'subscription { statsChanged(mentorId: "m1") { dataVersion mentor { name } } }',
        context_value={"service": service},
    )
    try:
        assert not isinstance(events, ExecutionResult)
        async with service.unit_of_work() as work:
            await work.answer(find_mentor, "m1")
            version = work.version + 1  # a write after the one the subscription knows of
        first = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.05)  # the subscription follows
        service.live.heard(Changes(version, {"m1": version}))
        result = await asyncio.wait_for(first, 5)  # the event as the sender has it
        assert result.errors is None
        assert result.data is not None
        assert result.data["statsChanged"]["mentor"] == {"name": "M1"}
        try:
            async with asyncio.timeout(1), service.unit_of_work() as other:
                answered = await other.answer(find_mentor, "m1") is not None
        except TimeoutError:
            answered = False
        assert answered is released
    finally:
        await events.aclose()  # type: ignore[union-attr]
        await service.close()
