"""Request ids, one JSON access-log line per request, and Prometheus metrics."""

import asyncio
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from personal_stats.problems import problem

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

INGEST_REQUESTS = Counter(
    "personal_stats_ingest_requests", "Requests to the write API by token name and outcome",
    ["token", "outcome"],
)  # fmt: skip
INGESTED = Counter(
    "personal_stats_ingested_records", "Records written through the write API, by token name",
    ["token", "kind"],
)  # fmt: skip
PEER_INDEX_READY = Gauge(
    "personal_stats_peer_index_ready", "1 when the peer index of the newest version is built",
    multiprocess_mode="livemin",
)  # fmt: skip
PEER_INDEX_VERSION = Gauge(
    "personal_stats_peer_index_version", "Data version of the peer index",
    multiprocess_mode="livemin",
)  # fmt: skip
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_LOG_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message and every `extra` field."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "asctime": self.formatTime(record),
            "levelname": record.levelname,
            "name": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _LOG_RECORD_FIELDS:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def is_valid_request_id(value: str) -> bool:
    """Accept a caller's X-Request-ID when it is short and plain; otherwise a new one is made."""
    return _REQUEST_ID.fullmatch(value) is not None


def logging_config(level: str) -> dict[str, Any]:
    """`logging.config.dictConfig` settings: JSON lines on stderr for every logger. Uvicorn
    applies them in each worker process."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonLines}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }


class RequestMachinery:
    """The one ASGI middleware of every request: its id (the caller's X-Request-ID when it
    is plain, else a new one), a cap on requests in flight (beyond it an immediate 503 with
    Retry-After: overload is shed, not queued), the body size limit, and one access-log line
    and the HTTP metrics. One layer instead of four: each layer cost a coroutine and a
    wrapped `send` per request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        max_body_bytes: int,
        larger_bodies: tuple[str, int] = ("", 0),
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_body_bytes = max_body_bytes
        self.larger_bodies = larger_bodies  # (path prefix, limit) of bodies that may be larger
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if is_valid_request_id(given) else uuid.uuid4().hex
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if self.in_flight >= self.max_in_flight and scope["path"] not in _ALWAYS_ANSWERED:
                detail = "The service is at its limit of requests in flight; try again shortly."
                await problem(503, detail, headers={"Retry-After": "1"})(
                    scope, receive, send_and_note
                )
                return
            self.in_flight += 1
            try:
                # One turn of the loop before the work: requests that arrived together are all
                # counted first (a request that never waits would otherwise be alone "in
                # flight" while the rest queue unseen), so a backlog is shed, not served late.
                await asyncio.sleep(0)
                await self._within_body_limit(scope, receive, send_and_note, headers)
            finally:
                self.in_flight -= 1
        finally:
            duration = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, status).inc()
            HTTP_LATENCY.labels(method, route, status).observe(duration)
            line = {
                "method": method, "path": scope["path"], "route": route, "status": status,
                "duration_ms": round(duration * 1000, 3), "request_id": request_id,
            }  # fmt: skip
            token = scope.get("state", {}).get("token")
            if token is not None:  # the write API's token, by name (never its value)
                line["token"] = token
            ACCESS_LOG.info("request", extra=line)

    async def _within_body_limit(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes]
    ) -> None:
        """A body over the limit is answered 413 before it is read whole."""
        prefix, larger = self.larger_bodies
        limit = larger if prefix and scope["path"].startswith(prefix) else self.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            detail = f"The request body is over the limit of {limit} bytes."
            closing = {} if await _drained(receive, int(declared)) else {"Connection": "close"}
            await problem(413, detail, headers=closing)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                if message.get("more_body", False):
                    await _drained(receive, DRAIN_BYTES)
                raise HTTPException(413)  # answered as problem+json by the app's handler
            return message

        await self.app(scope, receive_within_limit, send)


_ALWAYS_ANSWERED = frozenset({"/healthz", "/readyz", "/metrics"})
DRAIN_BYTES = 64 * 1024 * 1024  # of a refused body, read and dropped before the 413
DRAIN_SECONDS = 5.0


async def _drained(receive: Receive, size: int) -> bool:
    """Read and drop the rest of a refused body, so that a client that sends its whole body
    before it reads the answer can read the 413: closing a connection with bytes unread
    resets it. Bounded in bytes and time (no client holds a slot for long); False when the
    body was larger or slower than that."""
    if size > DRAIN_BYTES:
        return False
    drained = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while drained <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return bool(message["type"] == "http.request")
                drained += len(message.get("body", b""))
    except TimeoutError:
        return False
    return False


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


async def metrics(_request: Request) -> Response:
    """Prometheus exposition; with PROMETHEUS_MULTIPROC_DIR set, of all worker processes."""
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
