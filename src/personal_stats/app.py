"""The composition root: builds the database and both adapters into one Starlette app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from personal_stats import docs, rest
from personal_stats.db import Database
from personal_stats.graphql.app import StatsGraphQL
from personal_stats.graphql.schema import build_schema
from personal_stats.schema import upgrade
from personal_stats.settings import Settings


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> Starlette:
    """The service: REST under /api/v1/personal-stats, GraphQL and GraphiQL at /graphql,
    health at /healthz and /readyz."""
    settings = settings or Settings()
    database = Database(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if migrate:
            await upgrade(database.engine)
        yield
        await database.dispose()

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        await database.ping()
        return JSONResponse({"status": "ready"})

    app = Starlette(
        routes=[
            *rest.routes(),
            *docs.routes(),
            Route("/graphql", StatsGraphQL(build_schema(), database)),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        exception_handlers=rest.EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.database = database
    return app
