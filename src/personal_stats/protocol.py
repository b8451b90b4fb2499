"""The HTTP protocol `personal-stats serve` runs: uvicorn's httptools protocol with a
deadline for a request's head.

uvicorn closes a connection that idles between requests, but waits forever for one that
connects and sends nothing, or sends its request line and headers a byte at a time: each
such connection would hold a socket and its buffers for as long as the client likes. Here a
connection has `header_timeout` seconds from its start, and a request from its first byte,
to send the whole head; past that it is answered 408 and closed. (The body's deadline is
the middleware's: it is read before the request counts as in flight.)
"""

import asyncio
from functools import cache

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from personal_stats.settings import Settings

_LATE = b"The request's head did not arrive in time.\n"
TOO_LATE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_LATE), _LATE)
)


@cache
def header_timeout() -> float:
    """The setting, read once per worker process (each builds its own settings)."""
    return Settings().header_timeout


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_head()

    def on_headers_complete(self) -> None:
        self._stop_waiting()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        if self.head_deadline is None:
            self.head_deadline = self.loop.call_later(header_timeout(), self._head_too_late)

    def _stop_waiting(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_too_late(self) -> None:
        self.head_deadline = None
        if not self.transport.is_closing():
            self.transport.write(TOO_LATE)
            self.transport.close()
