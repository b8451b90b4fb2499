"""The composition root: builds the database, both adapters and the middleware into one
Starlette app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from personal_stats import docs, rest
from personal_stats.cache import StatsCache
from personal_stats.db import Database
from personal_stats.graphql.app import StatsGraphQL
from personal_stats.graphql.schema import build_schema
from personal_stats.limits import BodySizeLimit
from personal_stats.observability import (
    AccessLog,
    instrument_engine,
    is_valid_request_id,
    metrics,
)
from personal_stats.schema import upgrade
from personal_stats.settings import Settings


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> Starlette:
    """The service: REST under /api/v1/personal-stats, GraphQL and GraphiQL at /graphql,
    OpenAPI at /openapi.json and /docs, health at /healthz and /readyz, metrics at /metrics."""
    settings = settings or Settings()
    database = Database(settings)
    cache = StatsCache()
    cache.sessions = database.sessions
    instrument_engine(database.engine)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if migrate:
            await upgrade(database.engine)
        await cache.prepare()
        yield
        await close(app)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        await database.ping()
        return JSONResponse({"status": "ready"})

    app = Starlette(
        routes=[
            *rest.routes(),
            *docs.routes(),
            Route("/graphql", StatsGraphQL(build_schema(settings), database, cache)),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        middleware=[
            Middleware(
                CorrelationIdMiddleware,
                header_name="X-Request-ID",
                validator=is_valid_request_id,
            ),
            Middleware(AccessLog),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
                allow_headers=["Content-Type", "If-None-Match", "X-Request-ID"],
                expose_headers=["ETag", "Last-Modified", "X-Request-ID"],
                max_age=600,
            ),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers=rest.EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.database = database
    app.state.cache = cache
    return app


async def close(app: Starlette) -> None:
    """Release what `create_app` acquired: background work first, then the database."""
    await app.state.cache.close()
    await app.state.database.dispose()
