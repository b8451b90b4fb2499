"""Every test gets a clean database: a new SQLite file, and, when
PERSONAL_STATS_TEST_POSTGRES_URL is set, the same test again on emptied PostgreSQL tables."""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.app import close, create_app
from personal_stats.db import Database, SessionFactory
from personal_stats.migrate import upgrade
from personal_stats.settings import Settings

POSTGRES_URL = os.environ.get("PERSONAL_STATS_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """A PostgreSQL run that was asked for must not turn into a silent skip."""
    if POSTGRES_URL:
        asyncio.run(_check_postgres())


async def _check_postgres() -> None:
    database = Database(Settings(database_url=POSTGRES_URL, db_timeout=10))
    try:
        await database.ping()
    except Exception as error:
        raise pytest.UsageError(f"cannot reach PostgreSQL at {POSTGRES_URL}: {error}") from error
    finally:
        await database.dispose()


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
                "instant_change CASCADE"
            )
        )


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(Settings(database_url=database_url))
    await upgrade(database.engine)
    if database.engine.dialect.name == "postgresql":
        await reset_postgres(database.engine)
    yield database
    await database.dispose()


@pytest.fixture
def engine(database: Database) -> AsyncEngine:
    return database.engine


@pytest.fixture
def sessions(database: Database) -> SessionFactory:
    return database.sessions


@pytest.fixture
async def client(database: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the whole app over the test's database (already migrated)."""
    app = create_app(Settings(database_url=database_url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await close(app)
