"""uvicorn's httptools protocol, opened where the service's protocol needs it (`protocol.py`).

uvicorn has no public way to act between a request's head and its ASGI task, nor on a
connection's bytes before they are parsed: the service's protocol subclasses uvicorn's
(`HttpToolsProtocol`, an internal class) and overrides the methods below. The one private
method, `_start_asgi_task`, is opened here as `start_request`; the others are the httptools
parser's callbacks and asyncio's protocol methods, whose signatures are listed so that a
release that changes them fails the fence test.
"""

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.supervisors import Multiprocess as Multiprocess

from personal_stats.frameworks import Hook

RELEASES = "uvicorn 0.55.x"
_PROTOCOL = "uvicorn.protocols.http.httptools_impl.HttpToolsProtocol"
_CYCLE = "uvicorn.protocols.http.httptools_impl.RequestResponseCycle"
_FLOW = "uvicorn.protocols.http.flow_control.FlowControl"

HOOKS = (
    # Overridden: where a request's task starts (the shed path, an event stream's push).
    Hook(f"{_PROTOCOL}._start_asgi_task", ("self", "cycle", "app"), RELEASES),
    # Overridden: the head's deadline and size, a request behind a stream, a stalled client.
    Hook(f"{_PROTOCOL}.connection_made", ("self", "transport"), RELEASES),
    Hook(f"{_PROTOCOL}.data_received", ("self", "data"), RELEASES),
    Hook(f"{_PROTOCOL}.on_message_begin", ("self",), RELEASES),
    Hook(f"{_PROTOCOL}.on_url", ("self", "url"), RELEASES),
    Hook(f"{_PROTOCOL}.on_header", ("self", "name", "value"), RELEASES),
    Hook(f"{_PROTOCOL}.on_headers_complete", ("self",), RELEASES),
    Hook(f"{_PROTOCOL}.send_400_response", ("self", "msg"), RELEASES),
    Hook(f"{_PROTOCOL}.pause_writing", ("self",), RELEASES),
    Hook(f"{_PROTOCOL}.resume_writing", ("self",), RELEASES),
    Hook(f"{_PROTOCOL}.shutdown", ("self",), RELEASES),
    # Called: a refused request's end, so that the connection's next one is read.
    Hook(f"{_PROTOCOL}.on_response_complete", ("self",), RELEASES),
    # Read or set.
    *(Hook(f"{_PROTOCOL}.{name}", None, RELEASES)
      for name in ("app_state", "connections", "cycle", "flow", "loop", "transport")),
    *(Hook(f"{_CYCLE}.{name}", None, RELEASES)
      for name in ("scope", "keep_alive", "response_started", "response_complete",
                   "chunked_encoding", "disconnected", "flow", "transport")),
    Hook(f"{_FLOW}.write_paused", None, RELEASES),
    # Called: several workers sharing one socket, as uvicorn's own command runs them.
    Hook("uvicorn.supervisors.Multiprocess.__init__", ("self", "config", "sockets"), RELEASES),
    Hook("uvicorn.supervisors.Multiprocess.run", ("self",), RELEASES),
    Hook(f"{_FLOW}.pause_reading", ("self",), RELEASES),
    Hook(f"{_FLOW}.resume_reading", ("self",), RELEASES),
)  # fmt: skip

RequestCycle = RequestResponseCycle


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `start_request`, called where uvicorn starts a
    request's ASGI task (for the first request of a connection and each pipelined one)."""

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        self.start_request(cycle, app)

    def start_request(self, cycle: RequestResponseCycle, app: Any) -> None:
        """Starts the request's ASGI task; a subclass may answer the request itself."""
        super()._start_asgi_task(cycle, app)
