"""The composition root: builds the service, both adapters and the middleware into one
Starlette app."""

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from personal_stats import docs, rest, write_api
from personal_stats.graphql.app import StatsGraphQL
from personal_stats.graphql.schema import build_schema
from personal_stats.middleware import Admission, BodyLimits, RequestMachinery
from personal_stats.observability import PEER_INDEX_READY, PEER_INDEX_VERSION, metrics
from personal_stats.problems import StatsJSONResponse
from personal_stats.service import StatsService
from personal_stats.settings import Settings
from personal_stats.storage.migrate import upgrade
from personal_stats.web import pages


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> Starlette:
    """The service: REST under /api/v1/personal-stats, GraphQL and GraphiQL at /graphql,
    OpenAPI at /openapi.json and /docs, health at /healthz and /readyz, metrics at /metrics.
    Without settings (a uvicorn worker), they are read from the environment, once."""
    settings = settings or Settings()
    service = StatsService(settings)
    admission = Admission(settings.max_in_flight)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Admission]]:
        if migrate:
            await upgrade_schema(settings)
        await service.start()
        # What start-up built lives as long as the process: moved out of the collector's
        # reach, a full collection no longer walks it (60-80 ms pauses at L, in the p99).
        gc.collect()
        gc.freeze()
        yield {"admission": admission}  # the server's protocol sheds by it too (protocol.py)
        gc.unfreeze()
        await close(app)

    async def healthz(_request: Request) -> Response:
        return StatsJSONResponse({"status": "ok"})

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

    async def metrics_with_index(request: Request) -> Response:
        state = service.peers.state()
        PEER_INDEX_READY.set(1 if state["ready"] else 0)
        PEER_INDEX_VERSION.set(state["version"] or 0)
        return await metrics(request)

    middleware = [
        Middleware(
            RequestMachinery,
            admission=admission,
            bodies=BodyLimits(
                settings.max_body_bytes,
                settings.body_timeout,
                larger_prefix=write_api.BASE,
                larger=settings.max_ingest_bytes,
            ),
        )
    ]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "HEAD", "POST", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "If-None-Match", "X-Request-ID"],
                expose_headers=["ETag", "Last-Modified", "X-Request-ID"],
                max_age=600,
            )
        )
    graphql = StatsGraphQL(build_schema(settings), service)
    app = Starlette(
        routes=[  # matched in order: the busiest first
            Route("/graphql", graphql),
            *rest.routes(),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *write_api.routes(),
            *docs.routes(),
            *pages.routes(service),
            Route("/metrics", metrics_with_index, methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers=rest.EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.graphql = graphql
    app.state.settings = settings
    return app


async def upgrade_schema(settings: Settings) -> None:
    from personal_stats.storage.engine import create_engine

    engine = create_engine(settings)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def close(app: Starlette) -> None:
    """Release what `create_app` acquired: background work first, then the database."""
    await app.state.service.close()
