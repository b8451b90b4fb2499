"""Request ids, one JSON access-log line per request, and Prometheus metrics."""

import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any

from asgi_correlation_id import correlation_id
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

ACCESS_LOG = logging.getLogger("personal_stats.access")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

HTTP_REQUESTS = Counter(
    "personal_stats_http_requests", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "personal_stats_http_request_duration_seconds", "Time to answer an HTTP request",
    ["method", "route", "status"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
GRAPHQL_OPERATIONS = Histogram(
    "personal_stats_graphql_operation_duration_seconds", "GraphQL operations and their time",
    ["operation_type", "outcome"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
DB_QUERIES = Histogram(
    "personal_stats_db_query_duration_seconds", "Time of each SQL statement",
    ["dialect"], buckets=LATENCY_BUCKETS,
)  # fmt: skip

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def is_valid_request_id(value: str) -> bool:
    """Accept a caller's X-Request-ID when it is short and plain; otherwise a new one is made."""
    return _REQUEST_ID.fullmatch(value) is not None


def logging_config(level: str) -> dict[str, Any]:
    """`logging.config.dictConfig` settings: JSON lines on stderr for every logger. Uvicorn
    applies them in each worker process."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": JsonFormatter,
                "fmt": "{asctime}{levelname}{name}{message}",
                "style": "{",
            }
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }


class AccessLog:
    """ASGI middleware: one log line and the HTTP metrics for every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            duration = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, status).inc()
            HTTP_LATENCY.labels(method, route, status).observe(duration)
            ACCESS_LOG.info(
                "request",
                extra={
                    "method": method, "path": scope["path"], "route": route, "status": status,
                    "duration_ms": round(duration * 1000, 3), "request_id": correlation_id.get(),
                },
            )  # fmt: skip


class OperationMetrics(SchemaExtension):
    """Counts and times every GraphQL operation by type and outcome."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            operation_type = context.operation_type.value
        except Exception:  # the document did not parse: no operation to name
            operation_type = "unknown"
        result = context.result
        outcome = "error" if result is None or getattr(result, "errors", None) else "ok"
        GRAPHQL_OPERATIONS.labels(operation_type, outcome).observe(time.perf_counter() - started)


def instrument_engine(engine: AsyncEngine) -> None:
    """Time every SQL statement the engine runs."""
    dialect = engine.dialect.name

    def before(connection: Any, *_: Any) -> None:
        connection.info.setdefault("query_started", []).append(time.perf_counter())

    def after(connection: Any, *_: Any) -> None:
        started = connection.info["query_started"].pop()
        DB_QUERIES.labels(dialect).observe(time.perf_counter() - started)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)


async def metrics(_request: Request) -> Response:
    """Prometheus exposition; with PROMETHEUS_MULTIPROC_DIR set, of all worker processes."""
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
