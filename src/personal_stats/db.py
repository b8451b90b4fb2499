"""The database: engine, per-request sessions with a time limit, and schema migrations."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from personal_stats.errors import Unavailable
from personal_stats.settings import Settings

SessionFactory = async_sessionmaker[AsyncSession]
UNREACHABLE = (OperationalError, InterfaceError, OSError, TimeoutError)


def create_engine(settings: Settings, *, bulk: bool = False) -> AsyncEngine:
    """The SQLAlchemy engine of writes and migrations (reads go through `storage`). Every
    wait on the database is bounded by `db_timeout`, except that a `bulk` engine's statements
    (imports: a COPY, an index build, the COMMIT that checks deferred references) may take up
    to `bulk_timeout`."""
    url, timeout = settings.database_url, settings.db_timeout
    if url.startswith("sqlite"):
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
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for an import
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-16384")  # 16 MiB of pages per connection
        cursor.close()

    return configure


def _begin_sqlite(connection: Any) -> None:
    # `sqlite_begin="IMMEDIATE"` takes the write lock at once (migrations, imports).
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


class Database:
    """An engine and its ORM sessions (for the command line's writes and for tests)."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.timeout = settings.db_timeout
        self.sessions: SessionFactory = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for one request, within the time limit; a database that cannot be
        reached or answers too late raises `Unavailable`."""
        try:
            async with asyncio.timeout(self.timeout), self.sessions() as session:
                yield session
        except UNREACHABLE as error:
            raise Unavailable("the database cannot be reached; try again shortly") from error
        except DBAPIError as error:
            if error.connection_invalidated:
                raise Unavailable("the database connection was lost; try again") from error
            raise

    async def ping(self) -> None:
        """Raise `Unavailable` unless the database answers a trivial query in time."""
        async with self.session() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]

    async def dispose(self) -> None:
        await self.engine.dispose()
