"""The composition root: builds the engine and both adapters into one Starlette app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from personal_stats import rest
from personal_stats.db import create_engine, create_schema, session_factory
from personal_stats.graphql.app import StatsGraphQL
from personal_stats.graphql.schema import build_schema
from personal_stats.settings import Settings


def create_app(settings: Settings | None = None) -> Starlette:
    """The service: REST under /api/v1/personal-stats, GraphQL and GraphiQL at /graphql."""
    settings = settings or Settings.from_env()
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    graphql = StatsGraphQL(build_schema(), sessions)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await create_schema(engine)
        yield
        await engine.dispose()

    app = Starlette(
        routes=[*rest.routes(), Route("/graphql", graphql)],
        exception_handlers=rest.EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.sessions = sessions
    return app
