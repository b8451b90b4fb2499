"""Logs as JSON lines, one access-log line per request, and Prometheus metrics."""

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response
from starlette.types import Scope
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

INGEST_REQUESTS = Counter(
    "personal_stats_ingest_requests", "Requests to the write API by token name and outcome",
    ["token", "outcome"],
)  # fmt: skip
INGESTED = Counter(
    "personal_stats_ingested_records", "Records written through the write API, by token name",
    ["token", "kind"],
)  # fmt: skip
SHED_REQUESTS = Counter(
    "personal_stats_shed_requests",
    "Requests answered 503 by the server's protocol while the worker was at its limit",
)
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


def log_request(scope: Scope, status: int, duration: float, request_id: str) -> None:
    """One access-log line and the HTTP metrics of an answered request."""
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
        observe_operation(operation_type, context.result, time.perf_counter() - started)


def observe_operation(operation_type: str, result: object, seconds: float) -> None:
    """Count and time one GraphQL operation: ok, or error when it has errors or no result."""
    outcome = "error" if result is None or getattr(result, "errors", None) else "ok"
    GRAPHQL_OPERATIONS.labels(operation_type, outcome).observe(seconds)


def exposition(registry: CollectorRegistry) -> Response:
    """The registry's metrics in Prometheus's text format."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
