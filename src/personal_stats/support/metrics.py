"""Prometheus metrics of the service, and their exposition."""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response

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
OPEN_FOLLOWERS = Gauge(
    "personal_stats_open_followers", "Open event streams (sse) and subscriptions (graphql)",
    ["kind"], multiprocess_mode="livesum",
)  # fmt: skip
EVENTS_SENT = Counter(
    "personal_stats_events_sent", "Events sent to streams (sse) and subscriptions (graphql)",
    ["kind", "event"],
)  # fmt: skip
EVENTS_PUSHED = Counter(
    "personal_stats_events_pushed",
    "Stream events written to the connection at once as they were told, not by the stream's"
    " own task (the rest waited for a client that had not read the previous bytes)",
)
SUBSCRIPTION_FIELDS = Counter(
    "personal_stats_subscription_fields",
    "Fields of a mentor's own records in subscription events: asked, or reused from an earlier "
    "event while the records stand",
    ["how"],
)
SUBSCRIPTION_EXECUTIONS = Counter(
    "personal_stats_subscription_executions",
    "Subscription events executed (ran) or answered with another subscriber's result (shared)",
    ["how"],
)
STALLED_CONNECTIONS = Counter(
    "personal_stats_stalled_connections",
    "Connections closed because their client took none of its answer for the stall timeout",
)
STALLED_STREAMS = Counter(
    "personal_stats_stalled_streams", "Streams closed because their client stopped reading"
)
PEER_INDEX_READY = Gauge(
    "personal_stats_peer_index_ready", "1 when the peer index of the newest version is built",
    multiprocess_mode="livemin",
)  # fmt: skip
PEER_INDEX_VERSION = Gauge(
    "personal_stats_peer_index_version", "Data version of the peer index",
    multiprocess_mode="livemin",
)  # fmt: skip


def observe_operation(operation_type: str, result: object, seconds: float) -> None:
    """Count and time one GraphQL operation: ok, or error when it has errors or no result."""
    outcome = "error" if result is None or getattr(result, "errors", None) else "ok"
    GRAPHQL_OPERATIONS.labels(operation_type, outcome).observe(seconds)


def exposition(registry: CollectorRegistry) -> Response:
    """The registry's metrics in Prometheus's text format."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
