"""Write transactions: one writer at a time on every engine, references checked at the
commit, and the data version they read."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select

from personal_stats.core.errors import Unavailable
from personal_stats.storage.models import DataVersion

WRITE_LOCK = 7_423_110_002  # the advisory lock of writers on PostgreSQL


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction, one at a time on every engine: SQLite's BEGIN IMMEDIATE takes
    the write lock at once; on PostgreSQL an advisory lock serialises writers of every
    instance. Readers are never blocked by it. References are checked at the commit. A
    write that waits for another writer's lock longer than the engine's time limit raises
    `Unavailable` (its client is told to try again) and writes nothing."""
    async with engine.connect() as connection:
        connection = await connection.execution_options(sqlite_begin="IMMEDIATE")
        try:
            await connection.begin()  # SQLite: BEGIN IMMEDIATE waits for the lock
            if connection.dialect.name == "postgresql":
                await connection.execute(text(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})"))
        except (TimeoutError, DBAPIError) as error:
            if isinstance(error, DBAPIError) and "locked" not in str(error.orig).lower():
                raise
            raise Unavailable("another write holds the database; try again shortly") from error
        try:
            await defer_foreign_keys(connection)
            yield connection
        except BaseException:
            await connection.rollback()
            raise
        await connection.commit()


async def defer_foreign_keys(connection: AsyncConnection) -> None:
    """Records may come in any order: check references when the transaction commits."""
    if connection.dialect.name == "sqlite":
        await connection.execute(text("PRAGMA defer_foreign_keys = ON"))
    else:
        await connection.execute(text("SET CONSTRAINTS ALL DEFERRED"))


async def data_version(connection: AsyncConnection) -> int:
    return int((await connection.execute(select(col(DataVersion.version)))).scalar_one())
