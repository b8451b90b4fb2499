"""The one ASGI middleware of every request: what lets it in and what it leaves with.

In order: the request's id (the caller's X-Request-ID when it is plain, else a new one); its
body, read whole before anything else within a size limit and a deadline (a client that
sends slowly is cut off with 408 and holds nothing the others need); a place among the
requests in flight, counted only while the service works on one — from its body's end to
its answer's start — (past the limit, an immediate 503 with Retry-After: overload is shed,
not queued); the answer's security
headers; one access-log line and the HTTP metrics. One layer instead of five: each layer
cost a coroutine and a wrapped `send` per request.
"""

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personal_stats.adapters.events import is_stream
from personal_stats.http.problems import problem
from personal_stats.server.overload import NOSNIFF, busy
from personal_stats.support.metrics import HTTP_LATENCY, HTTP_REQUESTS

ACCESS_LOG = logging.getLogger("personal_stats.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

ALWAYS_ANSWERED = frozenset({"/healthz", "/readyz", "/metrics"})
DRAIN_BYTES = 64 * 1024 * 1024  # of a refused body, read and dropped before the 413
DRAIN_SECONDS = 5.0
# Pages load scripts, styles, images and data from the service alone and are never framed.
PAGE_POLICY = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
)
# A card opened on its own runs nothing and loads nothing; embedded with <img> it is a picture.
CARD_POLICY = (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'")


@dataclass
class Admission:
    """The requests the service is working on, and how many it may."""

    limit: int
    in_flight: int = 0

    @property
    def saturated(self) -> bool:
        return self.in_flight >= self.limit


@dataclass(frozen=True)
class BodyLimits:
    """Bytes a body may have (`larger` for paths under `larger_prefix`), and the seconds a
    client has to send it."""

    max_bytes: int
    seconds: float
    larger_prefix: str = ""
    larger: int = 0

    def is_larger(self, path: str) -> bool:
        return bool(self.larger_prefix) and path.startswith(self.larger_prefix)

    def for_path(self, path: str) -> int:
        return self.larger if self.is_larger(path) else self.max_bytes


class RequestMachinery:
    """See the module's docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        admission: Admission,
        bodies: BodyLimits,
        before_body: Callable[[Scope], Awaitable[ASGIApp | None]] | None = None,
    ) -> None:
        self.app = app
        self.admission = admission
        self.bodies = bodies
        # The checks that need no body of the larger bodies' paths: what they refuse is
        # answered at once, its body unread (the server's protocol reads and drops it).
        self.before_body = before_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if is_valid_request_id(given) else uuid.uuid4().hex
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_security_headers(
                    [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                )
            await send(message)

        try:
            replay = await self._body(scope, receive, send_and_note, headers)
            if replay is not None:
                await self._admitted(scope, replay, send_and_note)
        finally:
            log_request(scope, status, time.perf_counter() - started, request_id)

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        admission = self.admission
        if scope["path"] in ALWAYS_ANSWERED or is_stream(scope["path"]):
            # probes: always answered; streams: long-lived, with a limit of their own
            await self.app(scope, receive, send)
            return
        if admission.saturated:
            await busy()(scope, receive, send)
            return
        admission.in_flight += 1
        counted = True

        async def send_releasing(message: Message) -> None:
            # The answer is made once it starts: the request stops counting in flight, so
            # that a client that does not read its answer holds no place others need (its
            # connection is closed when it takes nothing for a while: protocol.py).
            nonlocal counted
            if counted and message["type"] == "http.response.start":
                counted = False
                admission.in_flight -= 1
            await send(message)

        try:
            # One turn of the loop before the work: requests that arrived together are all
            # counted first (a request that never waits would otherwise be alone "in
            # flight" while the rest queue unseen), so a backlog is shed, not served late.
            await asyncio.sleep(0)
            await self.app(scope, receive, send_releasing)
        finally:
            if counted:
                admission.in_flight -= 1

    async def _body(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes]
    ) -> Receive | None:
        """The request's `receive`, its body read whole first (then replayed); None when
        it was answered instead: 413 for a body over the limit, 408 for one sent too
        slowly."""
        declared = headers.get(b"content-length")
        if declared in (None, b"0") and b"transfer-encoding" not in headers:
            return receive  # no body: nothing to wait for
        limit = self.bodies.for_path(scope["path"])
        if self.before_body is not None and self.bodies.is_larger(scope["path"]):
            refusal = await self.before_body(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return None
        if declared is not None and declared.isdigit() and int(declared) > limit:
            detail = f"The request body is over the limit of {limit} bytes."
            closing = {} if await _drained(receive, int(declared)) else {"Connection": "close"}
            await problem(413, detail, headers=closing)(scope, receive, send)
            return None
        chunks: list[bytes] = []
        received = 0
        try:
            async with asyncio.timeout(self.bodies.seconds):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return None  # the client went away
                    chunks.append(message.get("body", b""))
                    received += len(chunks[-1])
                    if received > limit:
                        if message.get("more_body", False):
                            await _drained(receive, DRAIN_BYTES)
                        detail = f"The request body is over the limit of {limit} bytes."
                        await problem(413, detail)(scope, receive, send)
                        return None
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            detail = f"The request body did not arrive within {self.bodies.seconds:g} seconds."
            await problem(408, detail, headers={"Connection": "close"})(scope, receive, send)
            return None
        body: bytes | None = b"".join(chunks)

        async def replay() -> Message:
            nonlocal body
            if body is None:
                return await receive()  # after the body: a disconnect, when it comes
            message = {"type": "http.request", "body": body, "more_body": False}
            body = None
            return message

        return replay


def _with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`nosniff` on every answer; the content security policy of a page or of a card."""
    headers.append(NOSNIFF)
    for name, value in headers:
        if name.lower() == b"content-type":
            if value.startswith(b"text/html"):
                headers.append(PAGE_POLICY)
            elif value.startswith(b"image/svg+xml"):
                headers.append(CARD_POLICY)
            break
    return headers


async def _drained(receive: Receive, size: int) -> bool:
    """Read and drop the rest of a refused body, so that a client that sends its whole body
    before it reads the answer can read the 413: closing a connection with bytes unread
    resets it. Bounded in bytes and time (no client holds a slot for long); False when the
    body was larger or slower than that."""
    if size > DRAIN_BYTES:
        return False
    drained = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while drained <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return bool(message["type"] == "http.request")
                drained += len(message.get("body", b""))
    except TimeoutError:
        return False
    return False


def is_valid_request_id(value: str) -> bool:
    """Accept a caller's X-Request-ID when it is short and plain; otherwise a new one is made."""
    return _REQUEST_ID.fullmatch(value) is not None


def log_request(scope: Scope, status: int, duration: float, request_id: str) -> None:
    """One access-log line and the HTTP metrics of an answered request."""
    route = getattr(scope.get("route"), "path", "unmatched")
    method = scope["method"]
    HTTP_REQUESTS.labels(method, route, status).inc()
    HTTP_LATENCY.labels(method, route, status).observe(duration)
    line = {
        "method": method, "path": scope["path"], "route": route, "status": status,
        "duration_ms": round(duration * 1000, 3), "request_id": request_id,
    }  # fmt: skip
    token = scope.get("state", {}).get("token")
    if token is not None:  # the write API's token, by name (never its value)
        line["token"] = token
    ACCESS_LOG.info("request", extra=line)
