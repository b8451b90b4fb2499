"""The HTTP protocol `personal-stats serve` runs: uvicorn's httptools protocol with a
deadline for a request's head, and overload shed at the socket.

uvicorn closes a connection that idles between requests, but waits forever for one that
connects and sends nothing, or sends its request line and headers a byte at a time: each
such connection would hold a socket and its buffers for as long as the client likes. Here a
connection has `header_timeout` seconds from its start, and a request from its first byte,
to send the whole head; past that (checked once a second) it is answered 408 and closed.
(The body's deadline is the middleware's: it is read before the request counts as in
flight.)

A connection whose client takes none of the answer waiting for it (the transport's writing
stays paused) for `stall_timeout` seconds (30) is closed: an answer is not counted in flight
once it has started (the middleware), and this bounds how long a client that never reads
holds its connection and what waits in it (static files, JSON and cards alike).

A request's head (its line and headers) may have `max_head_bytes`; past that it is answered
431 and the connection closed, before the rest is read or kept (a 2 MB head was accepted).

While the worker is at its limit of requests in flight (the middleware's `Admission`, handed
over in the lifespan state), a new request is answered 503 here, with bytes written once at
start-up: no task, no middleware, no log line (a counter in /metrics); and the connection's
next request is read half a second later. Under 256 connections that ask again at once, the
refusals took most of the loop's time from the admitted requests (on PostgreSQL 55 answered
a second, each taking a second). The middleware sheds too, for requests that arrive together
and for any other server.
"""

import asyncio
from typing import Any

import orjson

from personal_stats.adapters.events import PUSH, is_stream
from personal_stats.frameworks.uvicorn import HttpProtocol, RequestCycle
from personal_stats.server.middleware import ALWAYS_ANSWERED, Admission
from personal_stats.server.overload import BUSY, BUSY_HEAD
from personal_stats.support.metrics import SHED_REQUESTS, STALLED_CONNECTIONS
from personal_stats.support.settings import Settings

# Without the app's settings in the lifespan state (another app), the settings' defaults.
DEFAULT_HEADER_TIMEOUT: float = Settings.model_fields["header_timeout"].default
DEFAULT_MAX_HEAD_BYTES: int = Settings.model_fields["max_head_bytes"].default
DEFAULT_STALL_TIMEOUT: float = Settings.model_fields["stall_timeout"].default

SWEEP_SECONDS = 1.0
READ_BYTES = 256 * 1024  # the most a read of the socket gives (asyncio's and uvloop's)
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024
SHED_PAUSE = 0.5  # seconds before the next request of a connection just refused is read
_LATE = b"The request's head did not arrive in time.\n"
TOO_LATE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_LATE), _LATE)
)
_LARGE = orjson.dumps({"type": "about:blank", "title": "Request Header Fields Too Large",
                       "status": 431, "detail": "The request's head is too large."})  # fmt: skip
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/problem+json\r\n"
    b"cache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_LARGE), _LARGE)
)


class _Refused(Exception):
    """Raised in a parser's callback to stop it (it then raises HttpParserCallbackError)."""


class _HeadTooLarge(_Refused):
    pass


class GuardedHttpToolsProtocol(HttpProtocol):
    """Notes when the connection began waiting for a head (a float per request: a timer per
    request cost a share of the cheapest request's time, bench/README.md); one sweep a second
    per worker closes the connections that waited too long."""

    waiting_since: float | None = None
    writes_paused_since: float | None = None  # the transport holds more than it will take
    max_head_bytes = DEFAULT_MAX_HEAD_BYTES
    head_bytes = 0  # of the head being read: its line and headers, as the parser gives them
    in_head = False  # whether a head is being read
    received_in_head = 0  # bytes received while a head is being read (a body's may be among them)
    lingering = False  # the head was refused: the connection is closing
    refused = False  # a request behind a stream: the connection is closed
    lingered = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        timeout = self.app_state.get("header_timeout", DEFAULT_HEADER_TIMEOUT)
        stall = self.app_state.get("stall_timeout", DEFAULT_STALL_TIMEOUT)
        self.max_head_bytes = self.app_state.get("max_head_bytes", DEFAULT_MAX_HEAD_BYTES)
        _Sweeper.of(self.loop).watch(self.connections, timeout, stall)
        self.waiting_since = self.loop.time()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.writes_paused_since = self.loop.time()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.writes_paused_since = None

    def stalled(self) -> None:
        """Its client has taken none of what waits for it for `stall_timeout` seconds."""
        self.writes_paused_since = None
        STALLED_CONNECTIONS.inc()
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.lingering:  # refused: what still comes is dropped until the connection closes
            self.lingered += len(data)
            if self.lingered > LINGER_BYTES:
                self.transport.close()
            return
        # The parser keeps a header until it ends: the bytes received while a head is read
        # count too, so that a header megabytes long is refused before it is all kept. The
        # last of them may be the body's, at most one read's worth.
        if self.in_head:
            self.received_in_head += len(data)
            if self.received_in_head > self.max_head_bytes + READ_BYTES:
                self.refuse_head()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and is_stream(cycle.scope["path"]):
            # A request sent behind an event stream would wait for the stream's end, which
            # never comes, while the connection's reading stays paused (a client that hangs
            # up would go unnoticed): the connection is closed, which ends the stream.
            self.refused = True
            self.transport.close()
            raise _Refused
        super().on_message_begin()
        self.head_bytes, self.received_in_head, self.in_head = 0, 0, True
        if self.waiting_since is None:
            self.waiting_since = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > self.max_head_bytes:
            raise _HeadTooLarge

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error, unless the error was ours: a head too large, or
        a request behind a stream."""
        if self.refused:
            return
        if self.head_bytes > self.max_head_bytes:
            self.refuse_head()
        else:
            super().send_400_response(msg)

    def refuse_head(self) -> None:
        """431, then the connection closes. Closing at once, with the client's bytes unread,
        would reset it, and the client could lose the answer: the answer is followed by the
        end of our side, and what the client still sends is read and dropped for a moment
        (up to LINGER_BYTES and LINGER_SECONDS) before the connection is closed."""
        self.in_head, self.waiting_since = False, None
        if self.transport.is_closing() or self.lingering:
            return
        self.transport.write(TOO_LARGE)
        self.lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def on_headers_complete(self) -> None:
        self.waiting_since = None
        self.in_head = False
        super().on_headers_complete()

    def start_request(self, cycle: RequestCycle, app: Any) -> None:
        admission: Admission | None = self.app_state.get("admission")
        path = cycle.scope["path"]
        stream = is_stream(path)
        if stream:
            cycle.scope.setdefault("extensions", {})[PUSH] = {"write": _Push(cycle)}
        if admission is None or not admission.saturated or stream or path in ALWAYS_ANSWERED:
            super().start_request(cycle, app)
            return
        SHED_REQUESTS.inc()
        cycle.response_complete = True  # a body that follows is read and dropped by the parser
        self.transport.write(BUSY_HEAD if cycle.scope["method"] == "HEAD" else BUSY)
        if not cycle.keep_alive:
            self.transport.close()
            return
        self.on_response_complete()
        # The connection's next request is read a moment later: a client that asks again at
        # once, whatever Retry-After says, would otherwise keep the loop busy refusing it.
        self.flow.pause_reading()
        self.loop.call_later(SHED_PAUSE, self.flow.resume_reading)

    def shutdown(self) -> None:
        """The server is stopping: every event stream and subscription of the worker ends
        now (each with its last chunk), or the server would wait for them forever."""
        hub = self.app_state.get("live")
        if hub is not None:
            hub.close()
        super().shutdown()

    def head_too_late(self) -> None:
        self.waiting_since = None
        if not self.transport.is_closing():
            self.transport.write(TOO_LATE)
            self.transport.close()


class _Push:
    """An event stream's `PUSH` extension: writes a chunk of the response at once, when the
    response has started, is chunked and is not over, and the client has taken every byte
    written before (else False: the stream sends it through ASGI, which waits)."""

    __slots__ = ("cycle",)

    def __init__(self, cycle: RequestCycle) -> None:
        self.cycle = cycle

    def __call__(self, body: bytes) -> bool:
        cycle = self.cycle
        if (
            not (cycle.response_started and cycle.chunked_encoding)
            or cycle.response_complete
            or cycle.disconnected
            or cycle.flow.write_paused
            or cycle.transport.get_write_buffer_size()
        ):
            return False
        cycle.transport.write(b"%x\r\n%s\r\n" % (len(body), body))
        return True


class _Sweeper:
    """Once a second, closes the connections of the worker that have waited for a head
    longer than the setting, and those whose client has taken nothing of what waits for it
    (the transport's writing paused) for `stall_timeout` seconds."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.connections: set[Any] | None = None
        self.timeout = DEFAULT_HEADER_TIMEOUT
        self.stall = DEFAULT_STALL_TIMEOUT

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> "_Sweeper":
        found = _SWEEPERS.get(loop)
        if found is None:
            found = _SWEEPERS[loop] = cls(loop)
        return found

    def watch(self, connections: set[Any], timeout: float, stall: float) -> None:
        if self.connections is None:
            self.connections, self.timeout, self.stall = connections, timeout, stall
            self.loop.call_later(SWEEP_SECONDS, self.sweep)

    def sweep(self) -> None:
        assert self.connections is not None
        now = self.loop.time()
        oldest, stalled_before = now - self.timeout, now - self.stall
        late, stalled = [], []
        for c in self.connections:
            if not isinstance(c, GuardedHttpToolsProtocol):
                continue
            if c.waiting_since is not None and c.waiting_since < oldest:
                late.append(c)
            elif c.writes_paused_since is not None and c.writes_paused_since < stalled_before:
                stalled.append(c)
        for connection in late:
            connection.head_too_late()
        for connection in stalled:
            connection.stalled()
        if not self.loop.is_closed():
            self.loop.call_later(SWEEP_SECONDS, self.sweep)


_SWEEPERS: dict[asyncio.AbstractEventLoop, _Sweeper] = {}
