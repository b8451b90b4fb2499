"""Server-Sent Events of a mentor's changes (SPEC 18): `GET .../{mentor_id}/events`.

One task per stream (the request's own): it waits for its follower's next event (see `live`:
the pending event is state, merged while the client does not read) and sends it. A second,
small task waits for the client to go away. The worker's one `Pings` timer has each stream
send a `: ping` comment at most 15 seconds after the previous one, whatever else was sent.
A send the transport has not taken within 30 seconds ends the stream. The server's protocol
ends every stream at shutdown (`protocol.py` closes the hub), each with its last chunk.

Where the server offers it (`PUSH`, `personal-stats serve`'s protocol), an event told or a
ping due while the stream's task waits, its client having taken every byte before, is
written to the connection there and then, as a chunk of the response: one write, no task
woken, none of the layers of ASGI `send`. A write told to 10,000 streams took far more CPU
the ASGI way (bench/README.md). Anything else — the first chunk, the end, what is due for a
client that has not read what came before — goes the ASGI way, which waits for the client.

sse-starlette did this first; at 10,000 streams a worker its five tasks, task group and
cancel scopes per stream cost memory and CPU for every stream (bench/README.md), so the
protocol's few lines are written here instead.
"""

import asyncio
import logging
from collections.abc import Callable
from functools import partial

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from personal_stats.core.errors import InvalidInput
from personal_stats.core.params import check_mentor_id
from personal_stats.core.questions import BASE
from personal_stats.service.live import POKED, Event, Follower, Hub, in_turns
from personal_stats.service.stats_service import StatsService
from personal_stats.support.metrics import (
    EVENTS_PUSHED,
    EVENTS_SENT,
    OPEN_FOLLOWERS,
    STALLED_STREAMS,
)

LOG = logging.getLogger("personal_stats.events")
PATH = "/{mentor_id}/events"
RETRY = b"retry: 3000\n\n"  # milliseconds before a client reconnects
PING = b": ping\n\n"
PING_SECONDS = 14.0  # between two pings of a stream (the spec: at most 15)
TICK_SECONDS = 1.0  # of the pings' timer: a stream's first ping comes 13-14 s after it opens
STALLED_SECONDS = 30.0  # a send the transport has not taken by then ends the stream
# The scope's extension offered by the server's protocol: {"write": a callable that writes a
# body chunk of the started response at once, and says whether it could}.
PUSH = "personal_stats.push"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
]
_OPEN = OPEN_FOLLOWERS.labels("sse")
_SENT = {name: EVENTS_SENT.labels("sse", name) for name in ("stats-changed", "mentor-erased")}


def is_stream(path: str) -> bool:
    """Whether a path is a stream's (long-lived: never counted among requests in flight)."""
    return path.endswith("/events") and path.startswith(BASE)


async def events(request: Request, pings: "Pings") -> Response:
    """Checks in order: the id (400), the mentor (404), `Last-Event-ID` (400), room (503);
    then the stream."""
    mentor_id = request.path_params["mentor_id"]
    check_mentor_id(mentor_id)
    service: StatsService = request.app.state.service
    since = request.headers.get("last-event-id", request.query_params.get("last_event_id"))
    if since is not None and not (since.isascii() and since.isdigit() and len(since) <= 64):
        await service.require_mentor(mentor_id)
        raise InvalidInput.one("Last-Event-ID", "must be a non-negative integer (a data version)")
    client = request.client.host if request.client else None
    follower = await service.follow(mentor_id, None if since is None else int(since), client)
    return EventStream(service.live, follower, pings)


class EventStream(Response):
    """The stream of one follower (a Response, so that Starlette sends it as it is)."""

    def __init__(self, hub: Hub, follower: Follower, pings: "Pings") -> None:
        self.hub = hub
        self.follower = follower
        self.pings = pings
        self.push: Callable[[bytes], bool] | None = None
        self.bucket: int | None = None  # its place among the pings', once it has started
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _OPEN.inc()
        watcher = asyncio.create_task(self._until_gone(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            if scope["method"] != "HEAD":
                push = scope.get("extensions", {}).get(PUSH, {}).get("write")
                await self._events(send, push)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except TimeoutError:  # the client stopped reading: the connection is closed
            STALLED_STREAMS.inc()
            LOG.info("stream closed: its client took nothing for %g seconds", STALLED_SECONDS)
        finally:
            watcher.cancel()
            self.pings.remove(self)
            self.hub.leave(self.follower)
            _OPEN.dec()

    async def _events(self, send: Send, push: Callable[[bytes], bool] | None) -> None:
        await _chunk(send, RETRY)
        if push is not None:  # the response has started, chunked: events may be pushed
            self.push = push
            self.follower.deliver = partial(_pushed, push)
        self.pings.add(self)
        while (event := await self.follower.next()) is not None:
            if event is POKED:
                await _chunk(send, PING)
            else:
                _SENT[event.name].inc()
                await _chunk(send, encoded(event))

    def ping(self) -> None:
        """Its ping: written at once where it can be (its task waits, its client has taken
        every byte before), else sent by its task."""
        if not (self.push is not None and self.follower.waiting and self.push(PING)):
            self.follower.poke()

    async def _until_gone(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.follower.end()


class Pings:
    """The one timer of a worker's pings: its streams in a ring of buckets, one per tick of
    the timer; each tick pings one bucket's streams (`TURN` at a time, other work answered
    in between) and they stay there, due again a ring later. A timer per stream kept 10,000
    timers in the event loop's heap, and each request's own timers paid for the heap's
    depth under the REST summary at 10,000 idle streams (bench/README.md)."""

    def __init__(self, seconds: float = PING_SECONDS, tick: float = TICK_SECONDS) -> None:
        self.tick = tick
        self.ring: list[set[EventStream]] = [set() for _ in range(round(seconds / tick))]
        self.at = 0  # the bucket of the next tick
        self.timer: asyncio.TimerHandle | None = None
        self.tick_at = 0.0  # the loop's time of the next tick (they do not drift)

    def add(self, stream: EventStream) -> None:
        """A stream pinged from now on: first between a ring less a tick and a ring later."""
        stream.bucket = (self.at - 1) % len(self.ring)
        self.ring[stream.bucket].add(stream)
        if self.timer is None:
            loop = asyncio.get_running_loop()
            self.tick_at = loop.time() + self.tick
            self.timer = loop.call_at(self.tick_at, self._tick)

    def remove(self, stream: EventStream) -> None:
        if stream.bucket is not None:
            self.ring[stream.bucket].discard(stream)
            stream.bucket = None

    def _tick(self) -> None:
        self.tick_at += self.tick
        self.timer = asyncio.get_running_loop().call_at(self.tick_at, self._tick)
        due = list(self.ring[self.at])
        self.at = (self.at + 1) % len(self.ring)
        in_turns(due, _ping_open)


def _ping_open(streams: list[EventStream]) -> None:
    for stream in streams:
        if stream.bucket is not None:  # not closed since its tick began
            stream.ping()


def _pushed(push: Callable[[bytes], bool], event: Event) -> bool:
    if not push(encoded(event)):
        return False
    _SENT[event.name].inc()
    EVENTS_PUSHED.inc()
    return True


async def _chunk(send: Send, body: bytes) -> None:
    """Send one chunk; `TimeoutError` when the transport has not taken it in time."""
    message: Message = {"type": "http.response.body", "body": body, "more_body": True}
    async with asyncio.timeout(STALLED_SECONDS):
        await send(message)


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


def routes() -> list[Route]:
    pings = Pings()

    async def endpoint(request: Request) -> Response:
        return await events(request, pings)

    return [Route(f"{base}{PATH}", endpoint, methods=["GET"]) for base in (BASE, BASE + BASE)]
