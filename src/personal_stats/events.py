"""Server-Sent Events of a mentor's changes (SPEC 18): `GET .../{mentor_id}/events`.

sse-starlette's `EventSourceResponse` does the protocol's work: the response head at once,
the `: ping` comment every 15 seconds whatever else was sent, a disconnect noticed, a send
the transport has not taken within 30 seconds ending the stream (a client that stops
reading), and uvicorn's shutdown noticed. The events come from the service's `Hub` (see
`live`): one follower per stream, whose pending event is state, merged while its client
does not read.
"""

import asyncio
import logging
from collections.abc import AsyncIterator

import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import AppStatus, SendTimeoutError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from personal_stats.errors import InvalidInput
from personal_stats.live import Event, Follower, Hub
from personal_stats.metrics import EVENTS_SENT, OPEN_FOLLOWERS, STALLED_STREAMS
from personal_stats.params import check_mentor_id
from personal_stats.rest import BASE
from personal_stats.service import StatsService

LOG = logging.getLogger("personal_stats.events")
PATH = "/{mentor_id}/events"
RETRY = b"retry: 3000\n\n"  # milliseconds before a client reconnects
PING_SECONDS = 15
STALLED_SECONDS = 30.0  # a send the transport has not taken by then ends the stream
SHUTDOWN_GRACE = 5.0  # seconds sse-starlette leaves the streams to end by themselves
EXIT_CHECK_SECONDS = 0.25
_OPEN = OPEN_FOLLOWERS.labels("sse")
_SENT = {name: EVENTS_SENT.labels("sse", name) for name in ("stats-changed", "mentor-erased")}


def is_stream(path: str) -> bool:
    """Whether a path is a stream's (long-lived: never counted among requests in flight)."""
    return path.endswith("/events") and path.startswith(BASE)


async def events(request: Request) -> Response:
    """Checks in order: the id (400), the mentor (404), `Last-Event-ID` (400), room (503);
    then the stream."""
    mentor_id = request.path_params["mentor_id"]
    check_mentor_id(mentor_id)
    service: StatsService = request.app.state.service
    since = request.headers.get("last-event-id", request.query_params.get("last_event_id"))
    if since is not None and not (since.isascii() and since.isdigit() and len(since) <= 64):
        await service.require_mentor(mentor_id)
        raise InvalidInput.one("Last-Event-ID", "must be a non-negative integer (a data version)")
    follower = await service.follow(mentor_id, None if since is None else int(since))
    return _EventStream(
        _stream(service.live, follower),
        headers={"Cache-Control": "no-cache"},
        ping=PING_SECONDS,
        ping_message_factory=lambda: ServerSentEvent(comment="ping", sep="\n"),
        sep="\n",
        send_timeout=STALLED_SECONDS,
        shutdown_grace_period=SHUTDOWN_GRACE,
        background=BackgroundTask(service.live.leave, follower),  # never iterated: HEAD
    )


class _EventStream(EventSourceResponse):
    """A stream whose client stopped reading ends quietly: it is not the service's error."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            STALLED_STREAMS.inc()
            LOG.info("stream closed: its client took nothing for %g seconds", STALLED_SECONDS)


async def _stream(hub: Hub, follower: Follower) -> AsyncIterator[bytes]:
    _OPEN.inc()
    try:
        yield RETRY
        while (event := await follower.next()) is not None:
            _SENT[event.name].inc()
            yield encoded(event)
    finally:
        hub.leave(follower)
        _OPEN.dec()


def encoded(event: Event) -> bytes:
    """The event as the stream sends it: its id is the data version."""
    data = {"mentor_id": event.mentor_id, "data_version": event.version}
    if event.name == "stats-changed":
        data["own_data_changed"] = event.own
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (
        event.version,
        event.name.encode(),
        orjson.dumps(data),
    )


async def end_on_exit(hub: Hub) -> None:
    """Ends every stream once the server is told to stop (sse-starlette hears uvicorn's
    signal): each ends with its last chunk, and its client reconnects after `retry`."""
    # A flag sse-starlette sets, with no event to wait on.
    while not AppStatus.should_exit:  # noqa: ASYNC110
        await asyncio.sleep(EXIT_CHECK_SECONDS)
    hub.close()


def routes() -> list[Route]:
    return [Route(f"{base}{PATH}", events, methods=["GET"]) for base in (BASE, BASE + BASE)]
