"""The GraphQL endpoint: each request gets one unit of work in its context.

A query operation (a POST, or a GET with a document or a document's id: what every frontend
sends) takes the short way: its document's text comes from the request, or from its id
(`persisted`), and the document comes prepared from `Documents` (by text or by shape), its
cost is checked against the budget, and graphql-core executes it on the schema Strawberry
built; the answer is encoded with orjson. A GET of a document named by id carries the
validators REST answers carry (ETag, 304). Everything else (GraphiQL, batches, unusual
bodies) goes through Strawberry's own view.
"""

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from inspect import isawaitable
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError, OperationType, execute, get_operation_ast
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from personal_stats.adapters.graphql.documents import Documents
from personal_stats.adapters.graphql.executor import lean_executor, plain_fields
from personal_stats.adapters.graphql.persisted import Persisted, Refused
from personal_stats.adapters.graphql.plans import Plans
from personal_stats.adapters.graphql.schema import StatsSchema
from personal_stats.adapters.graphql.sockets import TextFrames, refuse_handshake
from personal_stats.adapters.graphql.spans import operation_attributes
from personal_stats.adapters.graphql.templates import Prepared
from personal_stats.adapters.graphql.transport import (
    GRAPHQL_RESPONSE,
    JSON,
    answer_media_type,
    status_and_payload,
)
from personal_stats.core.errors import Unavailable
from personal_stats.frameworks.strawberry import graphql_schema, is_awaitable, report_errors
from personal_stats.http.caching import still_current, validators
from personal_stats.http.problems import problem
from personal_stats.service.live import PLACE
from personal_stats.service.stats_service import StatsService, UnitOfWork, nothing
from personal_stats.support import tracing
from personal_stats.support.metrics import observe_operation

CONNECTION_INIT_SECONDS = 10  # a WebSocket that has not said connection_init by then is closed


VARY = {"Vary": "Accept"}  # the media type of an answer follows the request's Accept
NAMES_NO_DOCUMENT = frozenset(("query", "documentId", "extensions"))  # a GET without: GraphiQL


async def _parameters(request: Request) -> dict[str, Any] | None:
    """The GraphQL parameters of a POST's JSON body or a GET's query string (its `variables`
    and `extensions` JSON-encoded), or None when the body is not a JSON object (Strawberry's
    view answers it). `variables` and `extensions` must be JSON objects or null: else an
    `HTTPException` 400."""
    if request.method == "POST":
        try:
            found = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if not isinstance(found, dict):
            return None
        parameters: dict[str, Any] = found
    else:
        parameters = dict(request.query_params)
        for name in ("variables", "extensions"):
            if name in parameters:
                try:
                    parameters[name] = orjson.loads(parameters[name])
                except orjson.JSONDecodeError:
                    raise HTTPException(400, f"{name} is not JSON") from None
    for name in ("variables", "extensions"):
        if not isinstance(parameters.get(name), dict | None):
            raise HTTPException(400, f"{name} must be an object (or null)")
    return parameters


def _answer(
    answer_in: str,
    result: ExecutionResult,
    payload: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer to a result, in this media type (`transport`), with these headers."""
    status, answer = status_and_payload(answer_in, result.data, result.errors, dict(payload))
    return Response(orjson.dumps(answer), status_code=status, media_type=answer_in,
                    headers={**(headers or {}), **VARY})  # fmt: skip


class StatsGraphQL(GraphQL[dict[str, Any], None]):
    websocket_adapter_class = TextFrames

    def __init__(
        self,
        schema: StatsSchema,
        service: StatsService,
        playground: str,
        persisted: Persisted,
        allowed_origins: Sequence[str] = (),
    ) -> None:
        """`playground`: the GraphiQL page's HTML (the pages for people draw it);
        `persisted`: the documents requests may name by id."""
        super().__init__(
            schema,
            graphql_ide="graphiql",
            # Pages on these origins may subscribe (the CORS setting's); a browser's WebSocket
            # from any other origin is refused, against cross-site WebSocket hijacking.
            allowed_origins=allowed_origins,
            # Only graphql-transport-ws: the legacy graphql-ws protocol skips connection_init.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=CONNECTION_INIT_SECONDS),
        )
        self.stats_schema = schema
        self.service = service
        self.playground = playground
        self.persisted = persisted
        plain = plain_fields(graphql_schema(schema))  # read by the executor and the plans
        self.executor = lean_executor(graphql_schema(schema), plain=plain)
        self.plans = Plans(graphql_schema(schema), plain)
        self.answered: Counter[str] = Counter()  # by a plan, or executed (the tests read it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As Strawberry's, but request errors (malformed JSON, wrong content type, ...) are
        answered as problem+json like every other error of the service."""
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.method == "POST" and media_type != "application/json":
            detail = "GraphQL requests must be sent as application/json."
            await problem(415, detail)(scope, receive, send)
            return
        short = request.method == "POST" or (
            request.method == "GET" and not NAMES_NO_DOCUMENT.isdisjoint(request.query_params)
        )
        try:
            async with self.service.unit_of_work() as work:
                request.state.work = work
                response = await self._short_way(request) if short else None
                if response is None:
                    response = await self.run(request)
        except HTTPException as error:
            headers = {"Allow": "GET, POST"} if error.status_code == 405 else None
            response = problem(error.status_code, error.reason, headers=headers)
        await response(scope, receive, send)

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket holds a place among the worker's streams, and among its client
        address's, from its upgrade until it closes; without room it is refused with 503."""
        hub = self.service.live
        client = scope["client"][0] if scope.get("client") else None
        try:
            place = hub.open_socket(client)
        except Unavailable as error:
            await receive()  # websocket.connect
            await refuse_handshake(send, str(error))
            return
        scope[PLACE] = place  # for its first subscription to take over
        try:
            await super().__call__(scope, receive, send)
        finally:
            hub.close_socket(place)

    async def _short_way(self, request: Request) -> Response | None:
        """The answer to one query operation (a POST, or a GET with a `query` or an id), in
        the media type the client accepts (`transport`), or None to let Strawberry's view
        answer (and report) anything else. `variables` or `extensions` that are not a JSON
        object (or null) are a 400; a document that cannot be had by its id, or a text in
        trusted mode, is refused before execution (`persisted`)."""
        answer_in = answer_media_type(request.headers.get("accept"))
        if answer_in is None:
            detail = (
                f"GraphQL answers are {GRAPHQL_RESPONSE} or {JSON}; the request accepts neither."
            )
            return problem(406, detail)
        body = await _parameters(request)
        if body is None:
            return None
        try:
            named = await self.persisted.named(body)
        except Refused as refused:
            error = refused.error()
            return _answer(answer_in, ExecutionResult(None, [error]), {"errors": [error.formatted]})
        query, variables = named.text, body.get("variables") or {}
        operation_name = body.get("operationName")
        if not isinstance(query, str):
            return None
        if not (operation_name is None or isinstance(operation_name, str)):
            return None
        started = time.perf_counter()
        documents: Documents = self.stats_schema.documents
        prepared, literals, problems = documents.prepare(query, operation_name, variables)
        named_as = operation_name
        if prepared.document is not None and not problems:
            operation = get_operation_ast(prepared.document, operation_name)
            if operation is None or operation.operation is not OperationType.QUERY:
                return None
            named_as = operation.name.value if operation.name else None
            self.persisted.remember(named)
        headers = None
        if request.method == "GET" and named.by_id and not problems:
            headers = await self._validators(request, answer_in)
            if still_current(request.headers.get("if-none-match"), headers["ETag"]):
                return Response(status_code=304, headers={**headers, **VARY})
        variables = {**variables, **literals}
        if tracing.TRACER is None:
            result = await self._execute(request, prepared, problems, variables, operation_name)
        else:
            name = f"query {named_as or 'anonymous'}"
            with tracing.TRACER.start_as_current_span(
                name, attributes=operation_attributes("query", named_as, query)
            ):
                result = await self._execute(request, prepared, problems, variables, operation_name)
        observe_operation("query", result, time.perf_counter() - started)
        payload = await self.process_result(request, result)
        return _answer(answer_in, result, payload, None if result.errors else headers)

    async def _validators(self, request: Request, answer_in: str) -> dict[str, str]:
        """The validators of a GET of a document named by id: its answer depends on the
        path, the query string, the media type and (as any GraphQL answer may) today's
        date. They are known before the document runs: the snapshot's version tells them."""
        work: UnitOfWork = request.state.work
        await work.ask(nothing())
        key = b"\0".join((request.scope["path"].encode(), request.scope["query_string"],
                          answer_in.encode()))  # fmt: skip
        return validators(work.version, work.changed_at, key, dated=True)

    async def _execute(
        self,
        request: Request,
        prepared: Prepared,
        errors: list[GraphQLError],
        variables: dict[str, Any],
        operation_name: str | None,
    ) -> ExecutionResult:
        if errors or prepared.document is None:
            report_errors(self.stats_schema, errors)
            return ExecutionResult(None, errors)
        plan = self.plans.of(prepared.document)
        if plan is not None:
            work: UnitOfWork = request.state.work
            data = await plan.answer(graphql_schema(self.stats_schema), variables, work)
            if data is not None:
                self.answered["planned"] += 1
                return ExecutionResult(data, None)
        self.answered["executed"] += 1
        context = {"request": request, "response": None, "work": request.state.work}
        executed = execute(
            graphql_schema(self.stats_schema), prepared.document, context_value=context,
            variable_values=variables, operation_name=operation_name,
            is_awaitable=is_awaitable,  # type: ignore[arg-type]
            executor_class=self.executor,
        )  # fmt: skip
        result = await executed if isawaitable(executed) else executed
        if result.errors:
            report_errors(self.stats_schema, result.errors)
        return ExecutionResult(result.data, result.errors)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """The result, with the data version of the snapshot it was read from (SPEC 18);
        a query that read nothing opens the snapshot to tell it. When it cannot be opened,
        no version is told: the database is unavailable, or the result's errors already
        report the failure (else it is the request's failure)."""
        response = process_result(result)
        work: UnitOfWork = request.state.work
        if work.snapshot is None:
            try:
                await work.ask(nothing())
            except Unavailable:
                pass
            except Exception:
                if not result.errors:
                    raise
        if work.snapshot is not None:
            extensions = response.get("extensions") or {}
            response["extensions"] = {**extensions, "dataVersion": work.version}
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """orjson's reader (bodies, GET variables, WebSocket messages): JSON nested deeper
        than 1,024 levels is a JSONDecodeError, which Strawberry answers as malformed (400,
        or 4400 on a WebSocket), where the standard library's reader ran out of stack (500)."""
        return orjson.loads(data)

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the vendored packages: it works with no network beyond the service."""
        return HTMLResponse(self.playground)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> dict[str, Any]:
        """A request's context holds its unit of work; a WebSocket's, the service (each
        subscription event opens its own unit of work)."""
        if isinstance(request, WebSocket):
            return {"request": request, "response": response, "service": self.service}
        return {"request": request, "response": response, "work": request.state.work}
