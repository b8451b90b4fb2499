"""The write API (SPEC section 16): the activity service pushes records, and a mentor who
leaves is erased. Every route needs a bearer token with the `ingest` scope (erasing a
mentor: the `erase` scope); the body goes
through the import's own validation and is written in one transaction.

Checks run in this order: the token (401, 403), the rate limit (429), the content type
(415), the body's declared size (413) — all before the body is read (`before_body`) — then
its size as it arrives (413), its JSON (400), its records (422, or 413 past the record
limit). None of them writes anything.
"""

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from personal_stats.core import tokens
from personal_stats.core.errors import ImportRejected, StatsError, TooManyRecords
from personal_stats.core.params import is_valid_id
from personal_stats.http.problems import problem, problem_for
from personal_stats.service.ingest import body_source
from personal_stats.service.stats_service import StatsService
from personal_stats.support.metrics import INGEST_REQUESTS, INGESTED

BASE = "/api/v1/ingest"
MAX_RECORDS = 50_000
MEDIA_TYPES = {"application/json": False, "application/x-ndjson": True}  # -> JSON Lines?
LOG = logging.getLogger("personal_stats.auth")
CHECKED = "personal_stats.checked"  # the scope's key of the token that `before_body` passed


def _unauthorized(detail: str, error: str) -> Response:
    challenge = f'Bearer realm="personal-stats", error="{error}"'
    return problem(401, detail, headers={"WWW-Authenticate": challenge})


async def _authorize(request: Request, service: StatsService, scope: str) -> Response | str:
    """The token's name, or the response that refuses the request. A token is taken from
    the Authorization header only; its value is never logged."""
    route = request.url.path
    if any(name in request.query_params for name in ("token", "access_token", "api_key")):
        LOG.warning("authentication refused", extra={"route": route, "reason": "query string"})
        return _unauthorized("Tokens are accepted in the Authorization header only "
                             "(Authorization: Bearer <token>).", "invalid_request")  # fmt: skip
    header = request.headers.get("authorization")
    if header is None:
        LOG.info("authentication missing", extra={"route": route})
        return problem(401, "This endpoint needs a bearer token.",
                       headers={"WWW-Authenticate": 'Bearer realm="personal-stats"'})  # fmt: skip
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip() or " " in value.strip():
        LOG.warning("authentication refused", extra={"route": route, "reason": "malformed"})
        return _unauthorized("The Authorization header must read 'Bearer <token>'.",
                             "invalid_request")  # fmt: skip
    found = await service.authenticate(value.strip())
    if found is None:
        LOG.warning("authentication refused", extra={"route": route, "reason": "unknown"})
        return _unauthorized("The token is unknown, revoked or expired.", "invalid_token")
    request.state.token = found.name  # named in the access log
    if scope not in found.scopes:
        challenge = f'Bearer realm="personal-stats", error="insufficient_scope", scope="{scope}"'
        return problem(403, f"The token lacks the {scope!r} scope.",
                       headers={"WWW-Authenticate": challenge})  # fmt: skip
    wait = service.rate_limit.wait(found.name)
    if wait:
        return problem(429, "Too many requests with this token; slow down.",
                       headers={"Retry-After": str(max(1, round(wait + 0.5)))})  # fmt: skip
    return found.name


async def before_body(scope: Scope) -> Response | None:
    """The ingest's checks that need no body (the token, its scope, the rate, the content
    type), made by the request middleware before it reads the body: a client without a
    token holds nothing while it sends its body, or never does. None when they pass (the
    token's name is then kept for `ingest`), else the refusal."""
    if scope["method"] != "POST" or scope["path"] != BASE:
        return None
    try:
        checked = await _checked(Request(scope))
    except StatsError as error:  # the database cannot check the token now: 503
        return problem_for(error)
    if isinstance(checked, Response):
        return checked
    scope[CHECKED] = checked
    return None


async def _checked(request: Request) -> Response | str:
    """The token's name when the checks before the body pass, else the refusal."""
    service: StatsService = request.app.state.service
    authorized = await _authorize(request, service, tokens.INGEST)
    if isinstance(authorized, Response):
        return _counted(authorized, "refused")
    if _media_type(request) not in MEDIA_TYPES:
        detail = "Send application/json (an import document) or application/x-ndjson (JSON Lines)."
        return _counted(problem(415, detail), "refused", authorized)
    return authorized


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def ingest(request: Request) -> Response:
    service: StatsService = request.app.state.service
    authorized = request.scope.get(CHECKED) or await _checked(request)  # no body: not yet
    if isinstance(authorized, Response):
        return authorized
    body = await request.body()
    source = body_source(body, lines=MEDIA_TYPES[_media_type(request)])
    try:
        report = await service.ingest(source, authorized, MAX_RECORDS)
    except TooManyRecords as error:
        detail = f"The body holds more than {error.limit} records; send smaller batches."
        return _counted(problem(413, detail), "refused", authorized)
    except ImportRejected as rejected:
        errors = [{"location": p.location or "body", "message": p.message}
                  for p in rejected.located]  # fmt: skip
        status = 400 if rejected.malformed else 422
        detail = (
            "The body is not valid JSON."
            if status == 400
            else "Invalid records; nothing was written."
        )
        body_ = problem(status, detail, extra={"errors": errors})
        return _counted(body_, "rejected", authorized)
    counts = {"activity_types": report.activity_types, "mentors": report.mentors,
              "activities": report.activities}  # fmt: skip
    for kind, count in counts.items():
        INGESTED.labels(authorized, kind).inc(count)
    return _written(JSONResponse(counts), report.data_version, authorized)


async def delete_activity_route(request: Request) -> Response:
    service: StatsService = request.app.state.service
    return await _delete(request, "activity", tokens.INGEST, service.delete_activity)


async def erase_mentor_route(request: Request) -> Response:
    service: StatsService = request.app.state.service
    return await _delete(request, "mentor", tokens.ERASE, service.erase_mentor)


async def _delete(
    request: Request,
    kind: str,
    scope: str,
    remove: Callable[[str, str], Awaitable[int | None]],
) -> Response:
    service: StatsService = request.app.state.service
    authorized = await _authorize(request, service, scope)
    if isinstance(authorized, Response):
        return _counted(authorized, "refused")
    record_id = request.path_params["record_id"]
    if not is_valid_id(record_id):
        return _counted(problem(404, f"No {kind} with this id."), "refused", authorized)
    version = await remove(record_id, authorized)
    if version is None:
        return _counted(problem(404, f"No {kind} with id {record_id!r}."), "refused", authorized)
    return _written(Response(status_code=204), version, authorized)


def _written(response: Response, version: int, token: str) -> Response:
    """A write's answer: the data version after it."""
    response.headers["X-Data-Version"] = str(version)
    return _counted(response, "written", token)


def _counted(response: Response, outcome: str, token: str = "") -> Response:
    INGEST_REQUESTS.labels(token or "none", outcome).inc()
    return response


def routes() -> list[Route]:
    return [
        Route(BASE, ingest, methods=["POST"]),
        Route(f"{BASE}/activities/{{record_id}}", delete_activity_route, methods=["DELETE"]),
        Route(f"{BASE}/mentors/{{record_id}}", erase_mentor_route, methods=["DELETE"]),
    ]
