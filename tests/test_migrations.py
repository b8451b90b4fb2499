"""Alembic migrations build exactly the schema the models describe, on both engines."""

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from personal_stats.service.ingest import import_files
from personal_stats.storage import Writes, models  # noqa: F401 - the tables of SQLModel.metadata
from personal_stats.storage.engine import create_engine
from personal_stats.storage.migrate import current_revision, head_revision, upgrade
from personal_stats.support.settings import Settings

DEMO = Path(__file__).parents[1] / "fixtures" / "demo.json"


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no table at all: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.mark.parametrize("first_load", [False, True])
async def test_migrated_schema_equals_the_models(empty_database: str, first_load: bool) -> None:
    """Also after a first import, which drops indexes and references to load faster."""
    engine = create_engine(Settings(database_url=empty_database))
    try:
        await upgrade(engine)
        await upgrade(engine)  # a second run has nothing to do
        assert await current_revision(engine) == head_revision()
        if first_load:
            await import_files(Writes(engine), [DEMO])
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
            indexes = await connection.run_sync(
                lambda sync: {i["name"] for i in inspect(sync).get_indexes("activity")}
            )
            references = await connection.run_sync(
                lambda sync: {
                    (tuple(k["constrained_columns"]), k["referred_table"])
                    for k in inspect(sync).get_foreign_keys("activity")
                }
            )
    finally:
        await engine.dispose()
    assert differences == []
    assert {"ix_activity_mentor_started", "ix_activity_status_started"} <= indexes
    assert references == {(("mentor_id",), "mentor"), (("activity_type_id",), "activity_type")}


async def test_a_database_made_before_migrations_is_adopted(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(Settings(database_url=url))
    try:
        first_tables = [
            SQLModel.metadata.tables[name] for name in ("activity_type", "mentor", "activity")
        ]
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all, tables=first_tables)
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


def test_migrate_command(empty_database: str) -> None:
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": empty_database}
    result = subprocess.run(
        [sys.executable, "-m", "personal_stats.cli", "migrate"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"database schema at revision {head_revision()}"
