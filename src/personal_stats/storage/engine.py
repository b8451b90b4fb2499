"""The SQLAlchemy engine of writes, migrations and the command line (reads have their own
drivers: `sqlite`, `postgres`), and the SQLite settings every connection shares."""

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from personal_stats.support.settings import Settings

# What code outside `storage` may name without importing a database library.
Engine = AsyncEngine
Connection = AsyncConnection
DatabaseError = SQLAlchemyError

# Every SQLite connection, read or write: WAL, so that readers never wait for a writer;
# 16 MiB of pages.
# secure_delete: a delete overwrites what it frees with zeroes (an erased mentor leaves no
# trace in the file, with `changes.leave_no_trace` for the write-ahead log).
SQLITE_PRAGMAS = ("journal_mode=WAL", "cache_size=-16384", "secure_delete=ON")


def is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite")


def create_engine(settings: Settings, *, bulk: bool = False) -> AsyncEngine:
    """The engine. Every wait on the database is bounded by `db_timeout`, except that a
    `bulk` engine's statements (imports: a COPY, an index build, the COMMIT that checks
    deferred references) may take up to `bulk_timeout`."""
    url, timeout = settings.database_url, settings.db_timeout
    if is_sqlite(url):
        # Few connections: each is a thread, and SQLite reads do not need many.
        engine = create_async_engine(
            url, connect_args={"timeout": timeout}, pool_size=4, max_overflow=4,
            hide_parameters=True,
        )  # fmt: skip
        event.listen(engine.sync_engine, "connect", _configure_sqlite(timeout))
        event.listen(engine.sync_engine, "begin", _begin_sqlite)
        return engine
    statement_timeout = settings.bulk_timeout if bulk else timeout
    connect_args: dict[str, Any] = {"timeout": timeout, "command_timeout": statement_timeout}
    # No pre-ping: a connection that died is invalidated by the error it raises (the request
    # gets a 503), and the pool connects afresh for the next one.
    return create_async_engine(
        url, pool_size=settings.pool_size, pool_timeout=timeout, connect_args=connect_args,
        hide_parameters=True,  # no names or token digests in tracebacks and logs
    )  # fmt: skip


def _configure_sqlite(timeout: float) -> Any:
    def configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself, so that a read is one snapshot too (the driver
        # would otherwise run each SELECT outside a transaction).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (*SQLITE_PRAGMAS, f"busy_timeout={int(timeout * 1000)}", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return configure


def _begin_sqlite(connection: Any) -> None:
    # `sqlite_begin="IMMEDIATE"` takes the write lock at once (migrations, imports).
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers a trivial query."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
