"""Health and metrics: /healthz (the process answers), /readyz (the database answers and
the worker has room for another request) and /metrics (Prometheus; behind a bearer token
when PERSONAL_STATS_METRICS_TOKEN is set)."""

import hashlib
import hmac
import os

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from personal_stats.http.problems import StatsJSONResponse, problem
from personal_stats.server.middleware import Admission
from personal_stats.service.stats_service import StatsService
from personal_stats.support.metrics import PEER_INDEX_READY, PEER_INDEX_VERSION, exposition


async def healthz(_request: Request) -> Response:
    return StatsJSONResponse({"status": "ok"})


def routes(service: StatsService, admission: Admission, metrics_token: str | None) -> list[Route]:
    async def readyz(_request: Request) -> Response:
        """Ready when the database answers and the worker has room for another request
        (503 while it is at its limit of requests in flight, so that a load balancer sends
        the next one elsewhere); the detail tells whether the peer index of the newest data
        version is built (until then standings are counted in SQL)."""
        await service.ping()
        detail = {
            "status": "saturated" if admission.saturated else "ready",
            "worker": os.getpid(),
            "in_flight": admission.in_flight,
            "peer_index": service.peers.state(),
        }
        if admission.saturated:
            return StatsJSONResponse(detail, 503, {"Retry-After": "1"})
        return StatsJSONResponse(detail)

    registry = _registry()

    async def metrics(request: Request) -> Response:
        if metrics_token is not None and not _bearer_is(request, metrics_token):
            challenge = {"WWW-Authenticate": 'Bearer realm="personal-stats metrics"'}
            return problem(401, "The metrics need the metrics token.", headers=challenge)
        state = service.peers.state()
        PEER_INDEX_READY.set(1 if state["ready"] else 0)
        PEER_INDEX_VERSION.set(state["version"] or 0)
        return exposition(registry)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def _bearer_is(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = hashlib.sha256(token.encode()).digest()
    offered = hashlib.sha256(given.strip().encode()).digest()
    return scheme.lower() == "bearer" and hmac.compare_digest(expected, offered)


def _registry() -> CollectorRegistry:
    """This process's metrics; with prometheus_client's PROMETHEUS_MULTIPROC_DIR set (several
    workers), every worker's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
