"""JSON responses shared by the HTTP adapters: the core's records as JSON, and RFC 9457
problem+json errors."""

import dataclasses
import json
from collections.abc import Mapping
from datetime import date
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse, Response

from personal_stats.errors import Problem


class StatsJSONResponse(JSONResponse):
    """JSON of the core's records: dataclasses and dates become plain JSON."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, default=_plain, ensure_ascii=False, separators=(",", ":")
        ).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    raise TypeError(f"cannot serialize {type(value).__name__}")


def problem(
    status: int,
    detail: str,
    errors: list[Problem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = [{"param": e.param, "message": e.message} for e in errors]
    return StatsJSONResponse(body, status, headers, media_type="application/problem+json")
