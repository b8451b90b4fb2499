"""Each request's cost follows the mentor, not the table: the hot queries use their indexes
on both engines (EXPLAIN over a seeded data set), and none scans the activity table."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Executable, text
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats import queries
from personal_stats.seed import Plan, seed

NOW = datetime(2026, 11, 28, tzinfo=UTC)
MONTH_AGO = datetime(2026, 10, 29, tzinfo=UTC)
HOT_QUERIES = {
    "one mentor's activities in a window": (
        queries._ACTIVITIES.params(mentor_id="mentor_000007", start=MONTH_AGO, end=NOW),
        "ix_activity_mentor_started",
    ),
    "one mentor's streak, newest first": (
        queries._COMPLETED_BEFORE.params(mentor_id="mentor_000007", end=NOW, batch=512),
        "ix_activity_mentor_started",
    ),
    "one mentor's first activity": (
        queries._FIRST_ACTIVITY.params(mentor_id="mentor_000007"),
        "ix_activity_mentor_started",
    ),
    "peer counts in a window (once per window and data version)": (
        queries._COMPLETED_COUNTS.params(start=MONTH_AGO, end=NOW),
        "ix_activity_status_started",
    ),
}


async def plan_of(engine: AsyncEngine, statement: Executable) -> str:
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    async with engine.connect() as connection:
        rows = await connection.execute(text(prefix + sql))
        return "\n".join(" ".join(str(part) for part in row) for row in rows)


@pytest.fixture
async def seeded(engine: AsyncEngine) -> AsyncEngine:
    await seed(engine, Plan(80, 3, 1, date(2026, 11, 28)), show_progress=False)
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return engine


@pytest.mark.parametrize("name", list(HOT_QUERIES))
async def test_hot_queries_use_their_index(seeded: AsyncEngine, name: str) -> None:
    statement, index = HOT_QUERIES[name]
    plan = await plan_of(seeded, statement)
    assert index in plan, plan
    assert "SCAN activity" not in plan  # SQLite's full scan (a SEARCH uses the index)
    assert "Seq Scan on activity" not in plan  # PostgreSQL's
