"""A span per statement of the write engine, under the span of the request that wrote (only
when tracing: `support.tracing`). Imported only then: it needs the otel extra."""

from collections.abc import Coroutine
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.support import tracing

T = TypeVar("T")
_SPAN = "personal_stats_span"


def trace_statements(engine: AsyncEngine) -> None:
    """Open a span at each statement the engine runs and end it when the statement ends
    (a connection runs one statement at a time: its span is kept in the connection's info)."""
    sync = engine.sync_engine

    @event.listens_for(sync, "before_cursor_execute")
    def started(conn: Any, _cursor: Any, statement: str, _p: Any, _x: Any, _m: bool) -> None:
        verb = statement.split(None, 1)[0].upper() if statement.strip() else "STATEMENT"
        attributes = {"db.system.name": sync.dialect.name, "db.operation.name": verb}
        conn.info[_SPAN] = tracing.TRACER.start_span(f"db {verb}", attributes=attributes)

    @event.listens_for(sync, "after_cursor_execute")
    def ended(conn: Any, _cursor: Any, _s: str, _p: Any, _x: Any, _m: bool) -> None:
        span = conn.info.pop(_SPAN, None)
        if span is not None:
            span.end()

    @event.listens_for(sync, "handle_error")
    def failed(exception_context: Any) -> None:
        conn = exception_context.connection
        span = conn.info.pop(_SPAN, None) if conn is not None else None
        if span is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()


def carried(work: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
    """`work`, to run on the write lane's loop within the current (request's) trace."""
    current = otel_context.get_current()

    async def within() -> T:
        token = otel_context.attach(current)
        try:
            return await work
        finally:
            otel_context.detach(token)

    return within()
