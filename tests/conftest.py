"""Every test gets a clean database: a new SQLite file, and, when
PERSONAL_STATS_TEST_POSTGRES_URL is set, the same test again on emptied PostgreSQL tables."""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from personal_stats.app import close, create_app
from personal_stats.settings import Settings
from personal_stats.storage.engine import create_engine, ping
from personal_stats.storage.migrate import upgrade
from tests.helpers import SessionFactory

POSTGRES_URL = os.environ.get("PERSONAL_STATS_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """A PostgreSQL run that was asked for must not turn into a silent skip."""
    if POSTGRES_URL:
        asyncio.run(_check_postgres())


async def _check_postgres() -> None:
    engine = create_engine(Settings(database_url=POSTGRES_URL, db_timeout=10))
    try:
        async with asyncio.timeout(10):
            await ping(engine)
    except Exception as error:
        raise pytest.UsageError(f"cannot reach PostgreSQL at {POSTGRES_URL}: {error}") from error
    finally:
        await engine.dispose()


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
    """An HTTP client of the whole app over the test's database (already migrated)."""
    app = create_app(Settings(database_url=database_url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await close(app)
