"""Which errors of the database drivers mean "the database cannot serve now": one
classification for every path, reads, writes, token checks, health and the change feed.

Such an error is the service's 503 with Retry-After (GraphQL's SERVICE_UNAVAILABLE), never a
500: the connection refused, reset or closed (a pooled one included), the server starting up
or shutting down, a statement cancelled or past its time, no room (connections, disk, memory),
a read-only server, SQLite's disk I/O errors, a file it cannot open or write, a lock it
cannot take. Anything else is a fault of the request or of the code.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError

from personal_stats.core.errors import Unavailable

_POSTGRES = (
    asyncpg.PostgresConnectionError,  # refused, reset, rejected, gone
    asyncpg.InterfaceError,  # "connection is closed", a pool closing
    asyncpg.exceptions.OperatorInterventionError,  # starting up, shutting down, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby, or a read-only server
)
# SQLite's primary result codes of a database that cannot serve now.
_SQLITE_CODES = {
    5,  # SQLITE_BUSY
    6,  # SQLITE_LOCKED
    7,  # SQLITE_NOMEM
    8,  # SQLITE_READONLY
    10,  # SQLITE_IOERR
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
    15,  # SQLITE_PROTOCOL
}


def is_unavailable(error: BaseException) -> bool:
    """Whether `error`, or any error it wraps (SQLAlchemy's `.orig`, a `raise ... from`),
    means the database cannot serve now."""
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        if _cannot_serve(found):
            return True
        wrapped = found.orig if isinstance(found, DBAPIError) else None
        found = wrapped if isinstance(wrapped, BaseException) else found.__cause__
    return False


def _cannot_serve(error: BaseException) -> bool:
    if isinstance(error, (OSError, *_POSTGRES)):  # OSError: refused, reset, timed out
        return True
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_CODES
    return False


@contextmanager
def unavailable_as(detail: str) -> Iterator[None]:
    """Within the block, an error that means the database cannot serve now is raised as
    `Unavailable(detail)`; any other goes on as it is."""
    try:
        yield
    except Unavailable:
        raise
    except Exception as error:
        if is_unavailable(error):
            raise Unavailable(detail) from error
        raise
