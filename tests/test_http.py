"""HTTP behaviour around the answers: caching validators, CORS, request ids, access log,
metrics, body and GraphQL limits."""

import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.server.app import close, create_app
from personal_stats.service.ingest import import_files
from personal_stats.storage import Writes
from personal_stats.storage.engine import create_engine
from personal_stats.storage.migrate import upgrade
from personal_stats.support.settings import Settings

SUMMARY = "/api/v1/personal-stats/m1?as_of=2026-03-25"


def document(minutes: int) -> dict[str, Any]:
    return {
        "activity_types": [{"id": "t1", "code": "talk", "name": "Talk"}],
        "mentors": [{"id": "m1", "name": "Mira"}],
        "activities": [{"id": "a1", "mentor_id": "m1", "activity_type_id": "t1",
                        "status": "completed", "started_at": "2026-03-20T10:00:00Z",
                        "duration_minutes": minutes}],
    }  # fmt: skip


async def load(engine: AsyncEngine, tmp_path: Path, minutes: int = 30) -> None:
    path = tmp_path / f"d{minutes}.json"
    path.write_text(json.dumps(document(minutes)))
    await import_files(Writes(engine), [path])


@pytest.fixture
async def configured(database_url: str, engine: AsyncEngine) -> AsyncIterator[Any]:
    """Build a client of an app with some settings changed."""
    apps = []

    def build(**settings: Any) -> httpx.AsyncClient:
        app = create_app(Settings(database_url=database_url, **settings))
        apps.append(app)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

    yield build
    for app in apps:
        await close(app)


async def test_etag_revalidation_and_change_after_import(
    client: httpx.AsyncClient, engine: AsyncEngine, tmp_path: Path
) -> None:
    await load(engine, tmp_path, minutes=30)
    first = await client.get(SUMMARY)
    etag = first.headers["etag"]
    assert etag.startswith('"')  # strong, not W/
    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["last-modified"].endswith(" GMT")
    again = await client.get(SUMMARY, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak_and_listed = await client.get(SUMMARY, headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak_and_listed.status_code == 304
    assert (await client.get(SUMMARY, headers={"If-None-Match": "*"})).status_code == 304
    other = await client.get(SUMMARY + "&period=last_7_days")
    assert other.headers["etag"] != etag

    await load(engine, tmp_path, minutes=60)
    changed = await client.get(SUMMARY, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["total_hours_logged"] == 1.0


async def test_every_rest_answer_carries_validators(
    client: httpx.AsyncClient, engine: AsyncEngine, tmp_path: Path
) -> None:
    await load(engine, tmp_path)
    for suffix in ("", "/monthly-series", "/activity-breakdown", "/contribution-history"):
        response = await client.get(f"/api/v1/personal-stats/m1{suffix}")
        assert response.status_code == 200
        assert {"etag", "last-modified", "cache-control"} <= set(response.headers)


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_allows_configured_origins(configured: Any) -> None:
    async with configured(cors_origins=["https://app.example"]) as http:
        preflight = await http.options(
            "/graphql",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type"},
        )  # fmt: skip
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        simple = await http.get("/healthz", headers={"Origin": "https://app.example"})
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        assert "etag" in simple.headers["access-control-expose-headers"].lower()
        stranger = await http.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in stranger.headers


def test_cors_origins_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONAL_STATS_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert given.headers["x-request-id"] == "trace-42"
    made = await client.get("/healthz")
    assert len(made.headers["x-request-id"]) >= 16
    hostile = await client.get("/healthz", headers={"X-Request-ID": "a b<script>"})
    assert hostile.headers["x-request-id"] != "a b<script>"


async def test_one_access_log_line_per_request(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="personal_stats.access"):
        await client.get("/api/v1/personal-stats/ghost", headers={"X-Request-ID": "r-1"})
    (record,) = [r for r in caplog.records if r.name == "personal_stats.access"]
    assert record.method == "GET"  # type: ignore[attr-defined]
    assert record.path == "/api/v1/personal-stats/ghost"  # type: ignore[attr-defined]
    assert record.route == "/api/v1/personal-stats/{mentor_id}"  # type: ignore[attr-defined]
    assert record.status == 404  # type: ignore[attr-defined]
    assert record.duration_ms > 0  # type: ignore[attr-defined]
    assert record.request_id == "r-1"  # type: ignore[attr-defined]


async def test_metrics(client: httpx.AsyncClient, engine: AsyncEngine, tmp_path: Path) -> None:
    await load(engine, tmp_path)
    await client.get(SUMMARY)
    await client.post("/graphql", json={"query": '{ mentor(id: "m1") { name } }'})
    await client.post("/graphql", json={"query": "{ nope }"})
    text = (await client.get("/metrics")).text
    assert (
        'personal_stats_http_requests_total{method="GET",'
        'route="/api/v1/personal-stats/{mentor_id}",status="200"}'
    ) in text
    assert (
        'personal_stats_graphql_operation_duration_seconds_count{operation_type="query",outcome="ok"}'
        in text
    )
    assert 'outcome="error"' in text
    assert "personal_stats_peer_index_ready" in text
    assert "personal_stats_http_request_duration_seconds_bucket" in text


async def test_body_over_the_limit_is_413(configured: Any) -> None:
    async with configured(max_body_bytes=1024) as http:
        big = {"query": '{ mentor(id: "m1") { name } }', "padding": "x" * 2000}
        declared = await http.post("/graphql", json=big)
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b" " * 500

        streamed = await http.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert streamed.json()["status"] == 413


async def graphql_error(http: httpx.AsyncClient, query: str) -> str:
    body = (await http.post("/graphql", json={"query": query})).json()
    assert {error["extensions"]["code"] for error in body["errors"]} == {"BAD_USER_INPUT"}
    return " ".join(error["message"] for error in body["errors"])


async def test_graphql_depth_alias_and_token_limits(configured: Any) -> None:
    async with configured(
        graphql_max_depth=3, graphql_max_aliases=2, graphql_max_tokens=40
    ) as http:
        deep = (
            '{ mentor(id: "m1") { contributionHistory { data { monthlyBreakdown { month } } } } }'
        )
        assert "exceeds maximum operation depth" in await graphql_error(http, deep)
        aliases = (
            '{ a: mentor(id: "m1") { id } b: mentor(id: "m1") { id } c: mentor(id: "m1") { id } }'
        )
        assert "aliases" in await graphql_error(http, aliases)
        many_tokens = "{ " + " ".join(["__typename"] * 50) + " }"
        assert "token" in (await graphql_error(http, many_tokens)).lower()
        ok = await http.post("/graphql", json={"query": '{ mentor(id: "m1") { id } }'})
        assert ok.json()["data"] == {"mentor": None}


async def test_introspection_and_suggestions_can_be_switched_off(configured: Any) -> None:
    introspection = "{ __schema { queryType { name } } }"
    async with configured() as http:
        assert (await http.post("/graphql", json={"query": introspection})).json()["data"]
        assert "Did you mean" in await graphql_error(http, '{ mentr(id: "m1") { id } }')
    async with configured(graphql_introspection=False, graphql_field_suggestions=False) as http:
        assert "introspection" in (await graphql_error(http, introspection)).lower()
        assert "Did you mean" not in await graphql_error(http, '{ mentr(id: "m1") { id } }')


async def test_batched_graphql_requests_are_refused(client: httpx.AsyncClient) -> None:
    query = {"query": "{ __typename }"}
    response = await client.post("/graphql", json=[query, query])
    assert response.status_code == 400


async def test_unexpected_errors_never_show_a_stack_trace(tmp_path: Path) -> None:
    # A migrated database whose data_version row is gone: opening a snapshot fails with an
    # error no handler expects (not the database being unreachable).
    url = f"sqlite+aiosqlite:///{tmp_path / 'broken.db'}"
    engine = create_engine(Settings(database_url=url))
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM data_version"))
    await engine.dispose()
    app = create_app(Settings(database_url=url))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        rest = await http.get(SUMMARY)
        graphql = await http.post("/graphql", json={"query": '{ mentor(id: "m1") { id } }'})
    await close(app)
    assert rest.status_code == 500
    assert rest.json()["detail"] == "The server failed to answer this request."
    assert "Traceback" not in rest.text
    assert "data_version" not in rest.text
    assert rest.headers["content-type"] == "application/problem+json"
    (error,) = graphql.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "data_version" not in error["message"]


async def test_openapi_document_and_offline_docs(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    # six questions, the two cards, the event stream, and the write API's three
    assert len(document["paths"]) == 12
    base = "/api/v1/personal-stats/{mentor_id}"
    for card in ("summary", "calendar"):
        drawn = document["paths"][f"{base}/cards/{card}.svg"]["get"]
        assert list(drawn["responses"]["200"]["content"]) == ["image/svg+xml"]
        assert "theme" in {p["name"] for p in drawn["parameters"]}
    stream = document["paths"][f"{base}/events"]["get"]
    assert list(stream["responses"]["200"]["content"]) == ["text/event-stream"]
    assert {"last_event_id", "Last-Event-ID"} <= {p["name"] for p in stream["parameters"]}
    assert "Retry-After" in stream["responses"]["503"]["description"]
    ingest = document["paths"]["/api/v1/ingest"]["post"]
    assert ingest["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert {"401", "403", "413", "415", "422", "429"} <= set(ingest["responses"])
    summary = document["paths"]["/api/v1/personal-stats/{mentor_id}"]["get"]
    parameters = {p["name"]: p["schema"] for p in summary["parameters"]}
    assert parameters["period"]["enum"][0] == "last_7_days"
    assert "enum" not in parameters["tz"]  # ~600 names: a string, checked by the service
    assert re.fullmatch(parameters["tz"]["pattern"], "America/Argentina/Buenos_Aires")
    assert re.fullmatch(parameters["tz"]["pattern"], "Etc/GMT+5")
    assert summary["security"] == []  # public
    assert document["servers"] == [{"url": "/", "description": "This service"}]
    titles = [schema["title"] for schema in document["components"]["schemas"].values()]
    assert titles == list(document["components"]["schemas"])  # each titled by its own name
    rate = document["components"]["schemas"]["PersonalStats"]["properties"]["completion_rate"]
    assert {"type": "null"} in rate["anyOf"]
    assert "application/problem+json" in summary["responses"]["400"]["content"]
    # The rules between parameters, which no schema states, are in each description.
    assert "`start_date` and `end_date` together" in summary["description"]
    series = document["paths"]["/api/v1/personal-stats/{mentor_id}/monthly-series"]["get"]
    assert "`months` beside `from`/`to`" in series["description"]
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "http" not in page.text.replace("/openapi.json", "")  # no CDN
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/docs/assets/{asset}" in page.text
        assert (await client.get(f"/docs/assets/{asset}")).status_code == 200


async def test_pages_cards_and_answers_carry_security_headers(
    client: httpx.AsyncClient, engine: AsyncEngine, tmp_path: Path
) -> None:
    await load(engine, tmp_path)
    pages = ["/", "/dashboard/m1", "/docs", "/graphql"]
    for path in pages:
        response = await client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff"
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response.headers["content-security-policy"].split(";")
        )
        assert policy["default-src"] == "'self'"
        assert policy["script-src"] == "'self'"  # no inline script, no eval
        assert policy["frame-ancestors"] == "'none'"
        assert policy["object-src"] == "'none'"
    card = await client.get("/api/v1/personal-stats/m1/cards/summary.svg?as_of=2026-03-25")
    assert (
        card.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    )
    assert card.headers["x-content-type-options"] == "nosniff"
    for response in (await client.get(SUMMARY), await client.get("/api/v1/personal-stats/x y")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in response.headers  # JSON runs nowhere


async def test_no_error_may_be_cached(client: httpx.AsyncClient) -> None:
    """A shared cache must not keep an error as the answer of its URL: every problem+json
    answer, and the HTML 404 page, carry Cache-Control: no-store."""
    asked = [
        ("GET", "/nope", {}),
        ("GET", "/api/v1/personal-stats/nobody", {}),
        ("GET", "/api/v1/personal-stats/bad!id", {}),
        ("GET", "/api/v1/personal-stats/nobody/cards/summary.svg", {}),
        ("GET", "/dashboard/nobody", {}),
        ("POST", "/api/v1/ingest", {}),
        ("PUT", "/graphql", {}),
        ("POST", "/graphql", {"content": "x", "headers": {"content-type": "text/plain"}}),
    ]
    for method, path, options in asked:
        answer = await client.request(method, path, **options)
        assert answer.status_code >= 400, path
        assert answer.headers["cache-control"] == "no-store", (method, path)


async def test_metrics_can_be_kept_from_the_public(configured: Any) -> None:
    """Open by default; with PERSONAL_STATS_METRICS_TOKEN set, only with that bearer token."""
    async with configured() as http:
        assert (await http.get("/metrics")).status_code == 200
    async with configured(metrics_token="s3cret-metrics") as http:
        refused = [
            await http.get("/metrics"),
            await http.get("/metrics", headers={"authorization": "Bearer wrong"}),
            await http.get("/metrics", headers={"authorization": "Basic s3cret-metrics"}),
        ]
        assert [r.status_code for r in refused] == [401, 401, 401]
        assert "s3cret" not in refused[0].text
        shown = await http.get("/metrics", headers={"authorization": "Bearer s3cret-metrics"})
        assert shown.status_code == 200
        assert "personal_stats_http_requests_total" in shown.text
        assert (await http.get("/healthz")).status_code == 200  # the probes stay open
