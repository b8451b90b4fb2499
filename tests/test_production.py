"""PostgreSQL in production: outages, health, concurrent imports, workers and instances."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.server.app import close, create_app
from personal_stats.service.ingest import import_files
from personal_stats.storage import Writes
from personal_stats.storage.engine import create_engine
from personal_stats.storage.migrate import upgrade
from personal_stats.support.settings import Settings
from tests.conftest import reset_postgres
from tests.proxy import Proxy
from tests.servers import serving

SUMMARY = "/api/v1/personal-stats/m1?as_of=2026-03-25"
GRAPHQL = {"query": '{ personalStats(mentorId: "m1", asOf: "2026-03-25") { totalActivities } }'}


def document(activities: int, mentor_name: str = "Mira") -> dict[str, Any]:
    return {
        "activity_types": [{"id": "t1", "code": "talk", "name": "Talk"}],
        "mentors": [{"id": "m1", "name": mentor_name, "timezone": "Europe/Paris"}],
        "activities": [
            {"id": f"a{i}", "mentor_id": "m1", "activity_type_id": "t1", "status": "completed",
             "started_at": f"2026-03-{1 + i % 24:02d}T10:00:00Z", "duration_minutes": 30}
            for i in range(activities)
        ],
    }  # fmt: skip


def write(path: Path, content: dict[str, Any]) -> Path:
    path.write_text(json.dumps(content))
    return path


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[Proxy]:
    target = urlsplit(postgres_url.replace("+asyncpg", ""))
    proxy = Proxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def proxied_client(
    proxy: Proxy, postgres_url: str, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The app reaching PostgreSQL through the proxy, with a one-second time limit."""
    netloc = urlsplit(postgres_url).netloc
    host_port = netloc.rsplit("@", 1)[-1]
    url = postgres_url.replace(host_port, f"127.0.0.1:{proxy.port}")
    app = create_app(Settings(database_url=url, db_timeout=1.0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await close(app)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_outage_answers_503_in_bounded_time_and_recovers(
    proxy: Proxy, proxied_client: httpx.AsyncClient, engine: AsyncEngine, tmp_path: Path
) -> None:
    await import_files(Writes(engine), [write(tmp_path / "d.json", document(3))])
    assert (await proxied_client.get(SUMMARY)).json()["total_activities"] == 3
    assert (await proxied_client.get("/readyz")).status_code == 200

    proxy.sever()
    for _ in range(2):  # the pooled connection dies, then a new one hangs
        # answered within its time limit, not hanging on the severed connection
        response = await asyncio.wait_for(proxied_client.get(SUMMARY), 10)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
    answer = (await proxied_client.post("/graphql", json=GRAPHQL)).json()
    assert answer["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert (await proxied_client.get("/readyz")).status_code == 503
    assert (await proxied_client.get("/healthz")).status_code == 200

    proxy.restore()
    assert (await proxied_client.get(SUMMARY)).json()["total_activities"] == 3
    answer = (await proxied_client.post("/graphql", json=GRAPHQL)).json()
    assert answer["data"]["personalStats"]["totalActivities"] == 3


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert set(ready["peer_index"]) >= {"ready", "version", "mentors", "answered"}


async def test_readyz_is_503_when_the_database_cannot_be_opened() -> None:
    app = create_app(Settings(database_url="sqlite+aiosqlite:////no/such/dir/stats.db"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/readyz")
        assert (await http.get("/healthz")).status_code == 200
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("first_load", [False, True])
async def test_reads_never_see_half_an_import(
    engine: AsyncEngine, client: httpx.AsyncClient, tmp_path: Path, first_load: bool
) -> None:
    """Also during a first load into an empty table, which is built another way (indexes
    once at the end; on PostgreSQL a table built aside and swapped in)."""
    if not first_load:
        await import_files(Writes(engine), [write(tmp_path / "first.json", document(0))])
    big = write(tmp_path / "big.json", document(20_000, mentor_name="Mira Updated"))
    importing = asyncio.create_task(import_files(Writes(engine), [big]))
    seen: set[tuple[int, str]] = set()
    overlapping = 0  # reads that began and ended while the import was under way
    while not importing.done():
        response = await client.get(SUMMARY)
        overlapping += not importing.done()
        if response.status_code == 404 and first_load:  # the mentor does not exist yet
            seen.add((0, "Mira"))
        else:
            assert response.status_code == 200, response.text
            body = response.json()
            seen.add((body["total_activities"], body["mentor_name"]))
        await asyncio.sleep(0)
    await importing
    assert overlapping > 0
    body = (await client.get(SUMMARY)).json()
    seen.add((body["total_activities"], body["mentor_name"]))
    assert seen <= {(0, "Mira"), (20_000, "Mira Updated")}
    assert (20_000, "Mira Updated") in seen


@pytest.fixture
def two_workers(database_url: str, engine: AsyncEngine, tmp_path: Path) -> Iterator[str]:
    """`personal-stats serve --workers 2` on the test database; yields its base URL."""
    with serving(database_url, tmp_path / "server.log", "--workers", "2") as base:
        yield base


@pytest.mark.slow
def test_every_worker_sees_an_import_from_another_process(
    two_workers: str, database_url: str, tmp_path: Path
) -> None:
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "personal_stats.cli", "import"]
    subprocess.run([*command, str(write(tmp_path / "a.json", document(2)))], env=env, check=True)
    with httpx.Client(base_url=two_workers) as http:
        assert {http.get(SUMMARY).json()["total_activities"] for _ in range(20)} == {2}
        subprocess.run(
            [*command, str(write(tmp_path / "b.json", document(5)))], env=env, check=True
        )
    # A fresh connection each time (one connection stays with one worker); each asks which
    # worker it reached and the summary, until both workers have answered.
    answers: dict[int, set[int]] = {}
    for _ in range(200):
        with httpx.Client(base_url=two_workers) as fresh:
            worker = fresh.get("/readyz").json()["worker"]
            answers.setdefault(worker, set()).add(fresh.get(SUMMARY).json()["total_activities"])
        if len(answers) == 2:
            break
    assert len(answers) == 2, answers
    assert all(totals == {5} for totals in answers.values()), answers


async def test_two_instances_share_one_database(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    instances = [create_app(Settings(database_url=database_url)) for _ in range(2)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        for app in instances
    ]
    await import_files(Writes(engine), [write(tmp_path / "a.json", document(1))])
    assert [(await c.get(SUMMARY)).json()["total_activities"] for c in clients] == [1, 1]
    await import_files(Writes(engine), [write(tmp_path / "b.json", document(4))])
    assert [(await c.get(SUMMARY)).json()["total_activities"] for c in clients] == [4, 4]
    for http, app in zip(clients, instances, strict=True):
        await http.aclose()
        await close(app)


DEMO = Path(__file__).parents[1] / "fixtures" / "demo.json"
QUERIES = [
    "?as_of=2026-03-25",
    "?period=all_time&tz=Pacific/Kiritimati",
    "/monthly-series?months=30&tz=America/Sao_Paulo&limit=100",
    "/activity-breakdown?period=last_365_days",
    "/contribution-history?tz=Asia/Kathmandu",
]


async def bodies(url: str, mentor_ids: list[str]) -> list[Any]:
    app = create_app(Settings(database_url=url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        found = [
            (await http.get(f"/api/v1/personal-stats/{mentor_id}{query}")).json()
            for mentor_id in mentor_ids
            for query in QUERIES
        ]
    await close(app)
    return found


async def test_postgres_and_sqlite_give_identical_figures(
    postgres_url: str, tmp_path: Path
) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    for url in (sqlite_url, postgres_url):
        engine = create_engine(Settings(database_url=url))
        await upgrade(engine)
        if url == postgres_url:
            await reset_postgres(engine)
        await import_files(Writes(engine), [DEMO])
        await engine.dispose()
    mentor_ids = [mentor["id"] for mentor in json.loads(DEMO.read_text())["mentors"]]
    on_sqlite = await bodies(sqlite_url, mentor_ids)
    assert all("status" not in body for body in on_sqlite)  # no error bodies
    assert on_sqlite == await bodies(postgres_url, mentor_ids)
