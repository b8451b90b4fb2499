"""Imports have their own time limit: a request limit far below what an import's statements
and commit take does not fail the import (it did on PostgreSQL, at COMMIT). The limit on a
statement's time is PostgreSQL's (SQLite's timeout is a wait for the write lock): the same
import on the request engine, with the request limit, fails."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.cli import _import_files
from personal_stats.server.app import close, create_app
from personal_stats.service.ingest import import_files
from personal_stats.storage import Writes, tokens
from personal_stats.storage.engine import create_engine
from personal_stats.storage.migrate import upgrade
from personal_stats.storage.models import Activity
from personal_stats.support.settings import Settings
from tests.conftest import reset_postgres

ACTIVITIES = 30_000


@asynccontextmanager
async def writes_held(engine: AsyncEngine) -> AsyncIterator[None]:
    """Another transaction holds the activity table against writes (reads go on): a write's
    statement on it waits past any request's time limit, on however fast a machine (a
    statement's own speed made the test depend on the machine's)."""
    async with engine.connect() as connection, connection.begin():
        await connection.execute(text("LOCK TABLE activity IN EXCLUSIVE MODE"))
        yield


def bulk_file(tmp_path: Path) -> Path:
    lines = [
        {"record": "activity_type", "id": "t9", "code": "t9", "name": "T9"},
        {"record": "mentor", "id": "bulk", "name": "Bulk"},
        *(
            {"record": "activity", "id": f"b{i}", "mentor_id": "bulk", "activity_type_id": "t9",
             "status": "completed", "started_at": f"2026-01-01T00:{i % 60:02d}:00Z",
             "duration_minutes": 5}
            for i in range(ACTIVITIES)
        ),
    ]  # fmt: skip
    path = tmp_path / "bulk.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    return path


async def test_a_long_import_outlives_the_request_time_limit(
    postgres_url: str, tmp_path: Path
) -> None:
    path = bulk_file(tmp_path)
    engine = create_engine(Settings(database_url=postgres_url))
    # 50 ms lets a connection be made; each batch of 10,000 upserts takes longer than that.
    settings = Settings(database_url=postgres_url, db_timeout=0.05)
    requests = create_engine(settings)  # the engine of requests: statements within 50 ms
    try:
        await upgrade(engine)
        await reset_postgres(engine)
        async with writes_held(engine):
            with pytest.raises(TimeoutError):
                await import_files(Writes(requests), [path])
        assert await activities(engine) == 0
        report = await _import_files(settings, [path], if_empty=False)  # the import's own
        assert report is not None
        assert report.activities == ACTIVITIES
        assert await activities(engine) == ACTIVITIES
    finally:
        await requests.dispose()
        await engine.dispose()


async def test_an_ingest_past_the_request_time_limit_is_a_503(
    postgres_url: str, tmp_path: Path
) -> None:
    """The write API's writes keep the request limit: past it, 503 and nothing written (not
    a problem of the body's)."""
    engine = create_engine(Settings(database_url=postgres_url))
    try:
        await upgrade(engine)
        await reset_postgres(engine)
        token = await tokens.create(engine, "bulk", ("ingest",))
        app = create_app(Settings(database_url=postgres_url, db_timeout=0.05,
                                  max_ingest_bytes=20_000_000))  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with (
            writes_held(engine),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            answer = await client.post(
                "/api/v1/ingest", content=bulk_file(tmp_path).read_bytes(),
                headers={"authorization": f"Bearer {token}",
                         "content-type": "application/x-ndjson"},
            )  # fmt: skip
        await close(app)
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "5"
        assert await activities(engine) == 0
    finally:
        await engine.dispose()


async def activities(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count = await connection.execute(select(func.count()).select_from(Activity))
        return int(count.scalar_one())
