"""Each request's cost follows the mentor, not the table: the hot queries use their indexes
on both engines (EXPLAIN over a seeded data set), and none scans the activity table."""

import json
import sqlite3
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.service.seed import Plan, seed
from personal_stats.storage import Writes
from personal_stats.storage.bulk import sqlite_instant
from personal_stats.storage.postgres import dsn
from personal_stats.storage.statements import Statements, postgres_statements, sqlite_statements

NOW = datetime(2026, 11, 28, tzinfo=UTC)
MONTH_AGO = datetime(2026, 10, 29, tzinfo=UTC)
MENTOR = "mentor_000007"
HOT_QUERIES = {
    "one mentor's activities in a window": (
        "activities", {"mentor_id": MENTOR, "start": MONTH_AGO, "end": NOW},
        "ix_activity_mentor_started",
    ),
    "one mentor's streak, newest first": (
        "completed_before", {"mentor_id": MENTOR, "end": NOW, "limit": 512},
        "ix_activity_mentor_started",
    ),
    "one mentor's first activity": (
        "first_activity", {"mentor_id": MENTOR}, "ix_activity_mentor_started",
    ),
    "one mentor's milestones": (
        "milestones", {"mentor_id": MENTOR, "end": NOW, "positions": (1, 10, 25)},
        "ix_activity_mentor_started",
    ),
    "peer counts in a window (while the peer index is built)": (
        "completed_counts", {"start": MONTH_AGO, "end": NOW}, "ix_activity_status_started",
    ),
}  # fmt: skip


async def plan_of(engine: AsyncEngine, name: str, values: dict[str, Any]) -> str:
    """The engine's plan of the statement the read driver runs, with these parameters."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        statement = getattr(sqlite_statements(), name)
        texts = {k: sqlite_instant(v) if isinstance(v, datetime)
                 else json.dumps(v) if isinstance(v, tuple) else v
                 for k, v in values.items()}  # fmt: skip
        connection = sqlite3.connect(str(make_url(url).database))
        try:
            rows = connection.execute("EXPLAIN QUERY PLAN " + statement.sql,
                                      statement.args(**texts)).fetchall()  # fmt: skip
        finally:
            connection.close()
    else:
        statements: Statements = postgres_statements()
        statement = getattr(statements, name)
        connection = await asyncpg.connect(dsn(url))
        try:
            listed = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
            rows = await connection.fetch("EXPLAIN " + statement.sql, *statement.args(**listed))
        finally:
            await connection.close()
    return "\n".join(" ".join(str(part) for part in row) for row in rows)


@pytest.fixture
async def seeded(engine: AsyncEngine) -> AsyncEngine:
    await seed(Writes(engine), Plan(80, 3, 1, date(2026, 11, 28)), show_progress=False)
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return engine


@pytest.mark.parametrize("name", list(HOT_QUERIES))
async def test_hot_queries_use_their_index(seeded: AsyncEngine, name: str) -> None:
    statement, values, index = HOT_QUERIES[name]
    plan = await plan_of(seeded, statement, values)
    assert index in plan, plan
    assert "SCAN activity" not in plan  # SQLite's full scan (a SEARCH uses the index)
    assert "Seq Scan on activity" not in plan  # PostgreSQL's


@pytest.fixture
async def seeded_without_statistics(engine: AsyncEngine) -> AsyncEngine:
    """As a database is before anything runs ANALYZE: SQLite keeps no statistics unless
    asked, and the planner then prefers the index that matches the most terms."""
    await seed(Writes(engine), Plan(80, 3, 1, date(2026, 11, 28)), show_progress=False)
    return engine


@pytest.mark.parametrize("name", ["one mentor's milestones", "one mentor's streak, newest first"])
async def test_one_mentors_reads_use_the_mentors_index_without_statistics(
    seeded_without_statistics: AsyncEngine, name: str
) -> None:
    """A status beside the mentor must not lead the planner to walk every mentor's
    completed activities by the status index (it did for the milestones: 140 ms at L)."""
    statement, values, index = HOT_QUERIES[name]
    plan = await plan_of(seeded_without_statistics, statement, values)
    assert index in plan, plan
    assert "ix_activity_status_started" not in plan, plan
