"""The composition root: builds the service, both adapters and the middleware into one
Starlette app."""

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute

from personal_stats.adapters import events, write_api
from personal_stats.adapters.graphql.app import StatsGraphQL
from personal_stats.adapters.graphql.persisted import Persisted
from personal_stats.adapters.graphql.schema import build_schema
from personal_stats.adapters.rest import docs
from personal_stats.adapters.rest import routes as rest
from personal_stats.adapters.web import pages
from personal_stats.server import health
from personal_stats.server.middleware import Admission, BodyLimits, RequestMachinery
from personal_stats.service.live import Hub
from personal_stats.service.stats_service import StatsService
from personal_stats.storage.engine import create_engine
from personal_stats.storage.migrate import upgrade
from personal_stats.support import tracing
from personal_stats.support.document_ids import sha256_of
from personal_stats.support.settings import Settings


def create_app(settings: Settings, *, migrate: bool = True, freeze_heap: bool = True) -> Starlette:
    """The service: REST under /api/v1/personal-stats (and each mentor's events), GraphQL
    (and its subscriptions) and GraphiQL at /graphql,
    OpenAPI at /openapi.json and /docs, health at /healthz and /readyz, metrics at /metrics.
    Its start-up migrates the database when `migrate`, and moves the process's heap out of
    the collector's reach when `freeze_heap` (a process that runs many apps in turn, as the
    tests do, has no heap of one app's to keep)."""
    if tracing.TRACER is None:
        tracing.configure()  # by the OTEL_* variables, when set (`support.tracing`)
    service = StatsService(settings)
    admission = Admission(settings.max_in_flight)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        if migrate:
            await upgrade_schema(settings)
        await service.start()
        # What start-up built lives as long as the process: moved out of the collector's
        # reach, a full collection no longer walks it (its pauses showed in the p99 at L:
        # bench/README.md).
        keeping = None
        if freeze_heap:
            gc.collect()
            gc.freeze()
            keeping = asyncio.create_task(keep_long_lived(service.live), name="gc of streams")
        # The server's protocol sheds by the admission too, and times heads (protocol.py).
        # ...and ends the live streams when the server stops (a stream would never end).
        yield {
            "admission": admission,
            "header_timeout": settings.header_timeout,
            "max_head_bytes": settings.max_head_bytes,
            "stall_timeout": settings.stall_timeout,
            "live": service.live,
        }
        if keeping is not None:
            keeping.cancel()
            gc.unfreeze()
        await close(app)

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
            before_body=write_api.before_body,
        )
    ]
    if tracing.TRACER is not None:
        from personal_stats.server.spans import ServerSpans  # needs the otel extra

        middleware.insert(0, Middleware(ServerSpans))
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
    persisted = Persisted(
        trusted=settings.graphql_documents == "trusted",
        shipped={sha256_of(text): text for text in pages.documents().values()},
        find_stored=service.persisted_document,
    )
    graphql = StatsGraphQL(
        build_schema(settings), service, pages.graphiql_page(), persisted, settings.cors_origins
    )
    app = Starlette(
        routes=[  # matched in order: the busiest first
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),  # subscriptions
            *rest.routes(),
            *events.routes(),
            *health.routes(service, admission, _secret(settings.metrics_token)),
            *write_api.routes(),
            *docs.routes(),
            *pages.routes(service),
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
    engine = create_engine(settings)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def close(app: Starlette) -> None:
    """Release what `create_app` acquired: background work first, then the database."""
    await app.state.service.close()


FREEZE_CHECK_SECONDS = 5.0
FREEZE_AFTER_JOINS = 500  # streams opened since the last freeze
SWEEP_SECONDS = 600.0  # a full collection of what was frozen, when anything was


async def keep_long_lived(hub: Hub) -> None:
    """Streams live long and hold many objects (tasks, frames, the connection's); at 10,000
    streams a full collection walked a million of them, freeing none, and young ones took
    long too (bench/README.md). Once streams have opened, survivors are moved out of the collector's
    reach (`gc.freeze`, after a young collection); every ten minutes, if anything was frozen,
    one full collection frees what closed streams left in cycles."""
    joined, swept_at, frozen = hub.joined, time.monotonic(), False
    while True:
        await asyncio.sleep(FREEZE_CHECK_SECONDS)
        if hub.joined - joined >= FREEZE_AFTER_JOINS:
            joined, frozen = hub.joined, True
            gc.collect(1)
            gc.freeze()
        elif frozen and time.monotonic() - swept_at >= SWEEP_SECONDS:
            swept_at, frozen = time.monotonic(), False
            gc.unfreeze()
            gc.collect()
            gc.freeze()


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()
