"""Every test gets a clean database: a new SQLite file, and, when
PERSONAL_STATS_TEST_POSTGRES_URL is set, the same test again on emptied PostgreSQL tables.
Run in parallel (`pytest -n`), each worker has a PostgreSQL database of its own, made on
the same server next to the one named (`test_gw0`, `test_gw1`, …)."""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from personal_stats.server.app import create_app
from personal_stats.storage.engine import create_engine, ping
from personal_stats.storage.migrate import upgrade
from personal_stats.support.settings import Settings
from tests.helpers import SessionFactory


def _workers_database(url: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker:
        return url
    named = make_url(url)
    return named.set(database=f"{named.database}_{worker}").render_as_string(hide_password=False)


NAMED_POSTGRES_URL = os.environ.get("PERSONAL_STATS_TEST_POSTGRES_URL", "")
POSTGRES_URL = _workers_database(NAMED_POSTGRES_URL)
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """A PostgreSQL run that was asked for must not turn into a silent skip."""
    if POSTGRES_URL:
        asyncio.run(_check_postgres())


async def _check_postgres() -> None:
    engine = create_engine(Settings(database_url=NAMED_POSTGRES_URL, db_timeout=10))
    try:
        async with asyncio.timeout(10):
            await ping(engine)
            if POSTGRES_URL != NAMED_POSTGRES_URL:
                await _create_workers_database(engine)
    except Exception as error:
        raise pytest.UsageError(f"cannot reach PostgreSQL at {POSTGRES_URL}: {error}") from error
    finally:
        await engine.dispose()


async def _create_workers_database(engine: AsyncEngine) -> None:
    name = make_url(POSTGRES_URL).database
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        exists = await connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
        if not exists:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL test database; CI always sets it, elsewhere its tests are skipped."""
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("PERSONAL_STATS_TEST_POSTGRES_URL must be set in CI")
        pytest.skip("PERSONAL_STATS_TEST_POSTGRES_URL is not set")
    return POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return POSTGRES_URL
    return f"sqlite+aiosqlite:///{tmp_path / 'stats.db'}"


async def reset_postgres(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "TRUNCATE activity, mentor, activity_type, api_token, activity_change, "
                "instant_change, persisted_document CASCADE"
            )
        )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The test's database, migrated and empty."""
    engine = create_engine(Settings(database_url=database_url))
    await upgrade(engine)
    if engine.dialect.name == "postgresql":
        await reset_postgres(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@pytest.fixture
async def client(engine: AsyncEngine, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the whole app over the test's database, started and stopped by the
    app's own lifespan as a server starts and stops it (the database is migrated already; the
    heap of this process, which runs hundreds of apps in turn, is not frozen)."""
    app = create_app(Settings(database_url=database_url), migrate=False, freeze_heap=False)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        yield http
