"""Tracing (SPEC section 21) with an in-memory exporter, on both engines: a REST and a
GraphQL request each give a server span (continuing an incoming `traceparent`), the GraphQL
operation its span (name and document id, not the variables), every database read its span
under them; log lines inside a span carry its trace id; without OTEL_* nothing is traced."""

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.server.app import create_app
from personal_stats.server.spans import ServerSpans
from personal_stats.storage import tokens
from personal_stats.support import tracing
from personal_stats.support.logs import JsonLines
from personal_stats.support.settings import Settings
from tests.helpers import SessionFactory, activity, add, mentor
from tests.servers import free_port

DASHBOARD_DOCUMENT = (
    Path(__file__).parents[1] / "src/personal_stats/adapters/web/documents/dashboard.graphql"
)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
QUERY = """query Card($id: ID!) {
  personalStats(mentorId: $id, asOf: "2026-03-25") { totalActivities }
}"""


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.uninstall()
        provider.shutdown()


@pytest.fixture
async def traced(
    exported: InMemorySpanExporter, database_url: str, sessions: SessionFactory
) -> AsyncIterator[httpx.AsyncClient]:
    await add(sessions, mentor("m1"), activity("m1", "2026-03-20T10:00:00Z"))
    app = create_app(Settings(database_url=database_url), migrate=False, freeze_heap=False)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        exported.clear()  # what start-up read (the peer index) is not a request's
        yield client


def under(span: ReadableSpan, spans: list[ReadableSpan]) -> list[ReadableSpan]:
    """The spans below `span`, at any depth."""
    children = [
        s for s in spans if s.parent is not None and s.parent.span_id == span.context.span_id
    ]
    return children + [g for c in children for g in under(c, spans)]


async def test_a_rest_request_continues_the_trace_with_its_reads(
    traced: httpx.AsyncClient, exported: InMemorySpanExporter
) -> None:
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    response = await traced.get("/api/v1/personal-stats/m1", params={"as_of": "2026-03-25"},
                                headers=headers)  # fmt: skip
    assert response.status_code == 200
    spans = list(exported.get_finished_spans())
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.name == "GET /api/v1/personal-stats/{mentor_id}"
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == PARENT_ID
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 200
    reads = under(server, spans)
    assert {s.name for s in reads} >= {"db mentors", "db activities"}
    assert all(s.context.trace_id == server.context.trace_id for s in reads)
    assert {s.attributes["db.system.name"] for s in reads if s.attributes} <= {
        "sqlite",
        "postgresql",
    }


async def test_a_graphql_request_has_its_operation_span(
    traced: httpx.AsyncClient, exported: InMemorySpanExporter
) -> None:
    response = await traced.post("/graphql", json={"query": QUERY, "variables": {"id": "m1"}})
    assert response.json()["data"] == {"personalStats": {"totalActivities": 1}}
    spans = list(exported.get_finished_spans())
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.name == "POST /graphql"
    (operation,) = [s for s in under(server, spans) if s.name == "query Card"]
    assert operation.attributes is not None
    assert dict(operation.attributes) == {
        "graphql.operation.type": "query",
        "graphql.operation.name": "Card",
        "graphql.document.id": "sha256:" + hashlib.sha256(QUERY.encode()).hexdigest(),
    }
    assert "m1" not in json.dumps(dict(operation.attributes))  # no variables
    assert "db activities" in {s.name for s in under(operation, spans)}


async def test_the_dashboards_request_shows_http_graphql_and_database_spans(
    traced: httpx.AsyncClient, exported: InMemorySpanExporter
) -> None:
    """As the dashboard sends it: its own document by id, with GET."""
    text = DASHBOARD_DOCUMENT.read_text()
    variables = json.dumps({"id": "m1", "asOf": "2026-03-25"})
    document_id = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    response = await traced.get("/graphql", params={"documentId": document_id,
                                                    "variables": variables})  # fmt: skip
    assert response.json()["data"]["mentor"]["personalStats"]["totalActivities"] == 1
    spans = list(exported.get_finished_spans())
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.name == "GET /graphql"
    (operation,) = [s for s in under(server, spans) if s.name == "query Dashboard"]
    assert (operation.attributes or {})["graphql.document.id"] == document_id
    reads = {s.name for s in under(operation, spans)}
    assert {"db mentors", "db activities"} <= reads, reads


async def test_a_write_has_a_span_per_statement_under_its_request(
    traced: httpx.AsyncClient, exported: InMemorySpanExporter, engine: AsyncEngine
) -> None:
    """The write lane runs on a loop of its own: its statements still join the request's
    trace."""
    token = await tokens.create(engine, "tracing", ("ingest",))
    record = {"record": "activity", "id": "a-traced", "mentor_id": "m1",
              "activity_type_id": "t1", "status": "completed",
              "started_at": "2026-03-21T10:00:00Z", "duration_minutes": 30}  # fmt: skip
    response = await traced.post(
        "/api/v1/ingest", content=json.dumps(record) + "\n",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    spans = list(exported.get_finished_spans())
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.name == "POST /api/v1/ingest"
    statements = [s for s in under(server, spans) if s.name.startswith("db ")]
    verbs = {s.name for s in statements}
    assert {"db INSERT", "db UPDATE"} <= verbs, verbs
    # the activity itself, sent on the driver's own connection (COPY on PostgreSQL)
    (batch,) = [s for s in statements if (s.attributes or {}).get("db.operation.batch.size")]
    assert batch.name == ("db COPY" if engine.dialect.name == "postgresql" else "db INSERT")
    assert batch.attributes is not None
    assert batch.attributes["db.operation.batch.size"] == 1
    assert all(s.context.trace_id == server.context.trace_id for s in statements)


def test_log_lines_in_a_span_carry_its_trace_id(exported: InMemorySpanExporter) -> None:
    assert tracing.TRACER is not None
    record = logging.makeLogRecord({"msg": "inside", "levelname": "INFO", "name": "t"})
    with tracing.TRACER.start_as_current_span("work") as span:
        line = json.loads(JsonLines().format(record))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert "trace_id" not in json.loads(JsonLines().format(record))  # outside any span


def test_without_otel_variables_nothing_is_traced(database_url: str) -> None:
    assert not tracing.wanted({})
    assert not tracing.wanted({"PATH": "/usr/bin"})
    assert tracing.wanted({"OTEL_SERVICE_NAME": "stats"})
    assert not tracing.wanted({"OTEL_SERVICE_NAME": "stats", "OTEL_SDK_DISABLED": "true"})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "none"})
    assert tracing.configure({}) is False
    assert tracing.TRACER is None
    app = create_app(Settings(database_url=database_url), migrate=False, freeze_heap=False)
    assert ServerSpans not in [m.cls for m in app.user_middleware]


def test_the_environment_chooses_the_exporter() -> None:
    try:
        assert tracing.configure({"OTEL_TRACES_EXPORTER": "console"}) is True
        assert tracing.TRACER is not None
    finally:
        tracing.uninstall()
    with pytest.raises(ValueError, match="unknown exporter 'zipkin2'"):
        tracing.configure({"OTEL_TRACES_EXPORTER": "zipkin2"})
    tracing.uninstall()


async def test_operations_over_the_websocket_have_their_spans(
    traced: httpx.AsyncClient, exported: InMemorySpanExporter, database_url: str
) -> None:
    """A query sent over the WebSocket gets its operation span with its reads beneath; a
    subscription's span lasts until it completes (the app served by uvicorn in this process,
    where the in-memory exporter is)."""
    app = create_app(Settings(database_url=database_url), migrate=False, freeze_heap=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", loop="asyncio"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn tells it by this flag alone
        await asyncio.sleep(0.01)
    follow = "subscription Follow($id: ID!) { statsChanged(mentorId: $id) { dataVersion } }"
    try:
        url = f"ws://127.0.0.1:{port}/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            exported.clear()
            await socket.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await socket.recv()) == {"type": "connection_ack"}
            payload = {"query": QUERY, "variables": {"id": "m1"}}
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            answer = json.loads(await socket.recv())
            assert answer["payload"] == {"data": {"personalStats": {"totalActivities": 1}}}
            assert json.loads(await socket.recv()) == {"id": "1", "type": "complete"}
            payload = {"query": follow, "variables": {"id": "m1"}}
            await socket.send(json.dumps({"id": "2", "type": "subscribe", "payload": payload}))
            while "m1" not in app.state.service.live.following:  # noqa: ASYNC110 - no event tells it
                await asyncio.sleep(0.01)
            await socket.send(json.dumps({"id": "2", "type": "complete"}))
            await socket.send(json.dumps({"type": "ping"}))  # answered once both are handled
            assert json.loads(await socket.recv()) == {"type": "pong"}
    finally:
        server.should_exit = True
        await serving
    spans = list(exported.get_finished_spans())
    (card,) = [s for s in spans if s.name == "query Card"]
    assert dict(card.attributes or {}) == {
        "graphql.operation.type": "query",
        "graphql.operation.name": "Card",
        "graphql.document.id": "sha256:" + hashlib.sha256(QUERY.encode()).hexdigest(),
    }
    assert "db activities" in {s.name for s in under(card, spans)}
    (subscription,) = [s for s in spans if s.name == "subscription Follow"]
    assert dict(subscription.attributes or {})["graphql.operation.type"] == "subscription"
