"""The server span of every HTTP request and WebSocket (only when tracing: `support.tracing`):
it continues an incoming `traceparent`, is named by the route rather than the path (a mentor's
id is not part of the name), and carries the method, the path and the status."""

import re
from typing import Any

from opentelemetry import propagate, trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personal_stats.support import tracing

# A mentor's id in a path, as the routes write it.
_MENTOR = re.compile(r"^(/api/v1/personal-stats(?:/api/v1/personal-stats)?|/dashboard)/[^/]+")


def route_of(path: str) -> str:
    return _MENTOR.sub(r"\1/{mentor_id}", path)


class ServerSpans:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or tracing.TRACER is None:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope.get("method", "WEBSOCKET")
        attributes: dict[str, Any] = {"http.request.method": method, "url.path": scope["path"]}
        with tracing.TRACER.start_as_current_span(
            f"{method} {route_of(scope['path'])}", context=propagate.extract(headers),
            kind=trace.SpanKind.SERVER, attributes=attributes,
        ) as span:  # fmt: skip

            async def noting(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    if message["status"] >= 500:
                        span.set_status(trace.Status(trace.StatusCode.ERROR))
                await send(message)

            await self.app(scope, receive, noting)
