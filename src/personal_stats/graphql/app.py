"""The Strawberry ASGI app: each request gets one unit of work in its context."""

import contextlib
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from personal_stats.errors import Unavailable
from personal_stats.problems import problem
from personal_stats.service import StatsService, UnitOfWork, nothing
from personal_stats.web.pages import graphiql_page


class StatsGraphQL(GraphQL[dict[str, Any], None]):
    def __init__(self, schema: Schema, service: StatsService) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As Strawberry's, but request errors (malformed JSON, wrong content type, ...) are
        answered as problem+json like every other error of the service."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.method == "POST" and media_type != "application/json":
            detail = "GraphQL requests must be sent as application/json."
            await problem(415, detail)(scope, receive, send)
            return
        try:
            async with self.service.unit_of_work() as work:
                request.state.work = work
                response = await self.run(request)
        except HTTPException as error:
            headers = {"Allow": "GET, POST"} if error.status_code == 405 else None
            response = problem(error.status_code, error.reason, headers=headers)
        await response(scope, receive, send)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """The result, with the data version of the snapshot it was read from (SPEC 18);
        a query that read nothing opens the snapshot to tell it."""
        response = process_result(result)
        work: UnitOfWork = request.state.work
        with contextlib.suppress(Unavailable):  # then no version can be told
            if work.snapshot is None:
                await work.ask(nothing())
            extensions = response.get("extensions") or {}
            response["extensions"] = {**extensions, "dataVersion": work.version}
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the vendored packages: it works with no network beyond the service."""
        return HTMLResponse(graphiql_page())

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> dict[str, Any]:
        return {
            "request": request,
            "response": response,
            "work": request.state.work,
        }
