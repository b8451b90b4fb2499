"""The Strawberry ASGI app, with the session factory in each request's context."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry import Schema
from strawberry.asgi import GraphQL

from personal_stats.db import Database


class StatsGraphQL(GraphQL[dict[str, Any], None]):
    def __init__(self, schema: Schema, database: Database) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.database = database

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> dict[str, Any]:
        return {"request": request, "response": response, "database": self.database}
