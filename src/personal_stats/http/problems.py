"""JSON responses shared by the HTTP adapters: the core's records as JSON, and RFC 9457
problem+json errors."""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response

from personal_stats.core.errors import InvalidInput, NotFound, Problem, StatsError, Unavailable


class StatsJSONResponse(JSONResponse):
    """JSON of the core's records: orjson writes dataclasses, dates and enums itself."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem(
    status: int,
    detail: str,
    errors: list[Problem] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """An RFC 9457 problem+json response (`extra`: more members, such as located errors).
    No cache keeps it (`no-store`): an error is the answer of its moment, not of the URL."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = [{"param": e.param, "message": e.message} for e in errors]
    body.update(extra or {})
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return StatsJSONResponse(body, status, headers, media_type="application/problem+json")


def problem_for(error: StatsError) -> Response:
    """The one place where the core's errors become HTTP responses."""
    if isinstance(error, InvalidInput):
        return problem(400, f"Invalid request parameters: {error}", error.problems)
    if isinstance(error, NotFound):
        return problem(404, str(error).capitalize() + ".")
    if isinstance(error, Unavailable):
        return problem(503, str(error).capitalize() + ".", headers={"Retry-After": "5"})
    return problem(500, "The server failed to answer this request.")
