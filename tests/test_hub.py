"""The hub of live updates on its own: throttling, merging for a client that does not read,
joining while a telling is under way, erasure, shutdown; and a stream whose transport takes
nothing is closed."""

import asyncio
import itertools
import json
import logging
import socket
from pathlib import Path

import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from personal_stats.adapters import events
from personal_stats.core.errors import Unavailable
from personal_stats.server.app import close, create_app, upgrade_schema
from personal_stats.server.protocol import _Push
from personal_stats.service.ingest import import_files
from personal_stats.service.live import POKED, Event, Hub
from personal_stats.storage import Writes
from personal_stats.storage.engine import create_engine
from personal_stats.storage.feed import Changes, changes_in_log, heard, notice
from personal_stats.support.settings import Settings
from tests.helpers import on_the_loops_clock


def changed(version: int, *mentors: str, erased: tuple[str, ...] = ()) -> Changes:
    return Changes(version, dict.fromkeys(mentors, version), dict.fromkeys(erased, version))


@on_the_loops_clock
async def test_the_first_change_is_told_at_once_the_next_ones_when_the_interval_ends() -> None:
    """On the loop's own clock (run fast-forwarded): not a moment early, not a moment late."""
    hub = Hub(min_interval=0.3, capacity=10)
    a = hub.join("a", since=1, version=1, own=False)
    hub.heard(changed(2, "b"))
    assert a.ready() is not None  # told at once, in the same turn of the loop
    await asyncio.sleep(0.1)
    hub.heard(changed(3, "a"))
    hub.heard(changed(4, "b"))
    assert a.ready() is None  # within the interval: waiting
    await asyncio.sleep(0.199)
    assert a.ready() is None
    await asyncio.sleep(0.001)  # 0.3 since the first telling
    event = a.ready()
    assert event is not None
    assert (event.version, event.own) == (4, True)  # merged: a's own change among them
    assert hub.tellings == 2
    await asyncio.sleep(0.3)  # quiet again: told at once
    hub.heard(changed(5, "b"))
    event = a.ready()
    assert event is not None
    assert (event.version, event.own) == (5, False)


@on_the_loops_clock
async def test_a_follower_that_does_not_read_gets_one_merged_event() -> None:
    hub = Hub(min_interval=0.01, capacity=10)
    reading = hub.join("a", since=1, version=1, own=False)
    stalled = hub.join("a", since=1, version=1, own=False)
    told = []
    for version, mentor in ((2, "b"), (3, "a"), (4, "b"), (5, "b")):
        hub.heard(changed(version, mentor))
        told.append(await reading.next())
        await asyncio.sleep(0.02)
    assert [(e.version, e.own) for e in told if e] == [(2, False), (3, True), (4, False),
                                                       (5, False)]  # fmt: skip
    event = await stalled.next()
    assert event is not None
    assert (event.version, event.own) == (5, True)
    assert stalled.ready() is None  # nothing piled up behind it


@on_the_loops_clock
async def test_a_follower_joining_during_a_telling_misses_nothing_and_repeats_nothing() -> None:
    hub = Hub(min_interval=0.01, capacity=10)
    hub.heard(changed(2, "a"))
    hub.heard(changed(3, "b"))  # waiting for the interval
    # opened on a snapshot of version 3: version 3 is not news to it...
    late = hub.join("a", since=3, version=3, own=False)
    await asyncio.sleep(0.03)
    assert late.ready() is None
    # ...opened on version 2 while 3 was told already: told at once
    hub.heard(changed(4, "a"))
    earlier = hub.join("a", since=2, version=2, own=False)
    event = earlier.ready()
    assert event is not None
    assert (event.version, event.own) == (4, True)


@on_the_loops_clock
async def test_a_merged_telling_is_news_to_each_follower_from_what_it_knew() -> None:
    """Changes merged while a telling waits keep each write's version: a follower that
    opened on a snapshot holding some of them hears only of the later ones."""
    hub = Hub(min_interval=0.05, capacity=10)
    hub.heard(changed(1, "x"))  # told at once: the interval begins
    hub.heard(changed(2, "a"))  # waits
    a = hub.join("a", since=2, version=2, own=False)  # its snapshot holds a's change
    hub.heard(changed(3, "b"))  # merged with 2's
    event = await a.next()
    assert event is not None
    assert (event.version, event.own) == (3, False)
    late = hub.join("a", since=2, version=2, own=False)  # after that telling, from recent ones
    event = late.ready()
    assert event is not None
    assert (event.version, event.own) == (3, False)
    # a erased at 4 and made again at 5, told as one: ends the followers from before 4 only
    hub.heard(changed(4, "a", erased=("a",)))
    again = hub.join("a", since=5, version=5, own=False)
    hub.heard(changed(5, "a"))
    event = await a.next()
    assert event is not None
    assert (event.name, event.version) == ("mentor-erased", 5)
    await asyncio.sleep(0.06)
    assert again.ready() is None  # nothing it did not know
    hub.heard(changed(6, "b"))
    await asyncio.sleep(0.06)
    event = again.ready()
    assert event is not None
    assert (event.name, event.version, event.own) == ("stats-changed", 6, False)


@on_the_loops_clock
async def test_erasure_ends_its_mentors_followers_and_shutdown_ends_all() -> None:
    hub = Hub(min_interval=0.01, capacity=10)
    a = hub.join("a", since=1, version=1, own=False)
    b = hub.join("b", since=1, version=1, own=False)
    hub.heard(changed(2, "a", erased=("a",)))
    event = await a.next()
    assert event is not None
    assert (event.name, event.version) == ("mentor-erased", 2)
    assert await a.next() is None
    event = await b.next()
    assert event is not None
    assert (event.version, event.own) == (2, False)
    hub.close()
    assert await b.next() is None
    with pytest.raises(Unavailable):
        hub.join("b", since=2, version=2, own=False)


def test_room_is_counted_and_given_back() -> None:
    hub = Hub(min_interval=0.5, capacity=2)
    first = hub.join("a", 1, 1, False)
    hub.join("a", 1, 1, False)
    with pytest.raises(Unavailable):
        hub.join("b", 1, 1, False)
    hub.leave(first)
    hub.leave(first)  # twice: counted once
    assert hub.count == 1
    hub.join("b", 1, 1, False)


def test_the_change_log_and_notices() -> None:
    rows = [(5, "a", False), (6, "b", True), (6, "c", False)]
    assert changes_in_log(4, 6, rows) == Changes(6, {"a": 5, "b": 6, "c": 6}, {"b": 6})
    assert changes_in_log(4, 6, [(5, "*", False)]).everyone == 5
    assert changes_in_log(4, 5000, []).everyone == 5000  # the log does not reach back
    assert changes_in_log(9, 6, []).everyone == 6  # the database was replaced
    assert heard(notice(7, ["a", "b"], "b"), since=6) == Changes(7, {"a": 7, "b": 7}, {"b": 7})
    assert heard(notice(7, ["a"], None), since=5) is None  # a gap: read the log
    many = notice(8, [f"mentor-{i:05d}" for i in range(2000)], None)
    assert len(many.encode()) < 8000
    assert heard(many, since=7) is None
    assert heard("not json", since=1) is None


@on_the_loops_clock
async def test_a_follower_is_told_at_once_through_its_stream_else_its_reader_is_woken() -> None:
    """While its reader waits, a follower whose stream can write the event has it written
    there and then, no task woken; when the stream cannot (its client has not read what came
    before), the reader is woken and sends it; an erasure always goes to the reader."""
    hub = Hub(min_interval=0.0, capacity=10)
    a = hub.join("a", since=1, version=1, own=False)
    delivered: list[Event] = []
    can = True

    def deliver(event: Event) -> bool:
        if can:
            delivered.append(event)
        return can

    a.deliver = deliver
    read: list[Event] = []

    async def reader() -> None:
        while (event := await a.next()) is not None:
            read.append(event)

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.01)  # the reader waits
    hub.heard(changed(2, "a"))
    hub.heard(changed(3, "b"))
    await asyncio.sleep(0.01)
    assert [(e.version, e.own) for e in delivered] == [(2, True), (3, False)]
    assert read == []
    can = False
    hub.heard(changed(4, "a"))
    await asyncio.sleep(0.01)
    assert [(e.version, e.own) for e in read] == [(4, True)]
    can = True
    hub.heard(changed(5, "a", erased=("a",)))
    await asyncio.wait_for(task, 1)
    assert [(e.name, e.version) for e in read[1:]] == [("mentor-erased", 5)]
    assert len(delivered) == 2


@on_the_loops_clock
async def test_one_timer_pings_every_stream_each_ring_at_once_else_through_its_reader() -> None:
    """A ring of 4 ticks of 0.05 s: a stream is first pinged a ring after it starts (the
    timer starts with it), then every 0.2 s, written at once while its reader waits and its
    push takes it; when the push cannot, its reader is poked and sends it; a stream that
    ended is not pinged."""
    hub = Hub(min_interval=0.0, capacity=10)
    pings = events.Pings(seconds=0.2, tick=0.05)
    loop = asyncio.get_running_loop()
    pushed: list[float] = []
    can = True

    def push(body: bytes) -> bool:
        assert body == events.PING
        if can:
            pushed.append(loop.time())
        return can

    follower = hub.join("a", since=1, version=1, own=False)
    stream = events.EventStream(hub, follower, pings)
    stream.push = push
    other = events.EventStream(hub, hub.join("b", since=1, version=1, own=False), pings)
    other.push = push
    reader = asyncio.create_task(follower.next())
    await asyncio.sleep(0.01)  # the reader waits
    started = loop.time()
    pings.add(stream)
    pings.add(other)
    pings.remove(other)  # ended: never pinged
    await asyncio.sleep(0.45)
    assert not reader.done()  # no task woken for a ping
    assert [round(at - started, 6) for at in pushed] == [0.2, 0.4]  # both of a's
    can = False
    await asyncio.sleep(0.2)
    assert reader.done()
    assert reader.result() is POKED
    assert len(pushed) == 2


@on_the_loops_clock
async def test_a_stream_is_pinged_at_most_15_seconds_apart_whatever_was_sent() -> None:
    """SPEC 18 on the stream's own clock, at its real interval: events at 5 s and 10 s do
    not hold the pings back, and no two chunks are ever more than 15 s apart."""
    loop = asyncio.get_running_loop()
    hub = Hub(min_interval=0.0, capacity=10)
    stream = events.EventStream(hub, hub.join("a", since=1, version=1, own=False), events.Pings())
    sent: list[tuple[float, bytes]] = []
    gone = asyncio.Event()

    async def receive() -> dict[str, str]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        body = message.get("body")
        if isinstance(body, bytes) and body:
            sent.append((loop.time(), body))

    task = asyncio.create_task(stream({"type": "http", "method": "GET"}, receive, send))  # type: ignore[arg-type]
    await asyncio.sleep(5)
    hub.heard(changed(2, "a"))
    await asyncio.sleep(5)
    hub.heard(changed(3, "b"))
    await asyncio.sleep(50)
    gone.set()
    await task
    times = [0.0] + [at for at, _ in sent] + [60.0]
    kinds = [body if body in (events.PING, events.RETRY) else body.split(b"\n")[1]
             for _, body in sent]  # fmt: skip
    assert kinds[:3] == [events.RETRY, b"event: stats-changed", b"event: stats-changed"]
    assert [at for at, _ in sent[1:3]] == [5.0, 10.0]
    assert set(kinds[3:]) == {events.PING}
    assert max(b - a for a, b in itertools.pairwise(times)) <= 15
    assert [round(at, 6) for at, _ in sent[3:]] == [14, 28, 42, 56]  # every 14 s


async def test_the_push_extension_writes_a_chunk_only_when_the_client_has_taken_the_last() -> None:
    """The server protocol's `PUSH` on a real socket: a chunk of the started response is
    written at once; with bytes still waiting for the client it is not (the stream sends it
    through ASGI, which waits)."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    cycle = RequestResponseCycle(
        scope={"type": "http", "method": "GET", "path": "/", "http_version": "1.1"},
        transport=transport, flow=FlowControl(transport), logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test"), access_log=False, default_headers=[],
        message_event=asyncio.Event(), expect_100_continue=False, keep_alive=True,
        on_response=lambda: None,
    )  # fmt: skip
    push = _Push(cycle)
    assert not push(b"early")  # no response yet
    await cycle.send({"type": "http.response.start", "status": 200, "headers": []})
    assert push(b"data: 1\n\n")
    theirs.setblocking(False)
    await asyncio.sleep(0.01)
    received = theirs.recv(65536)
    assert received.endswith(b"\r\n\r\n9\r\ndata: 1\n\n\r\n")
    assert b"transfer-encoding: chunked" in received
    transport.write(b"x" * 50_000_000)  # more than the socket holds: the rest waits
    assert transport.get_write_buffer_size() > 0
    assert not push(b"data: 2\n\n")
    transport.abort()
    theirs.close()


async def test_a_stream_whose_transport_takes_nothing_is_closed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The ASGI server's `send` waits while the transport's buffer is full; one that never
    returns stands for a client that never reads."""
    monkeypatch.setattr(events, "STALLED_SECONDS", 0.3)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db'}")
    await upgrade_schema(settings)
    engine = create_engine(settings)
    document = tmp_path / "a.json"
    document.write_text(json.dumps({"mentors": [{"id": "a", "name": "A"}]}))
    await import_files(Writes(engine), [document])
    await engine.dispose()
    app = create_app(settings)
    path = "/api/v1/personal-stats/a/events"
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [], "app": app, "root_path": "",
             "scheme": "http", "server": ("test", 80), "client": ("test", 1),
             "http_version": "1.1", "asgi": {"version": "3.0"}}  # fmt: skip
    sent: list[dict[str, object]] = []
    forever = asyncio.Event()

    async def send(message: dict[str, object]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            await forever.wait()  # the transport accepts nothing more

    async def receive() -> dict[str, object]:
        await forever.wait()
        return {"type": "http.disconnect"}

    try:
        async with asyncio.timeout(5):
            await app(scope, receive, send)
        assert sent[0]["type"] == "http.response.start"
        assert sent[0]["status"] == 200
        assert sent[1]["body"] == b"retry: 3000\n\n"
        assert len(sent) == 2  # the stream ended: nothing more was tried
        assert app.state.service.live.count == 0
    finally:
        await close(app)


async def test_an_erasure_the_log_does_not_name_is_told_as_each_gone_mentors() -> None:
    """The change log logs an erasure as `*`, erased: read back it is "someone erased" (and
    anyone changed); named with the mentors found gone, their followers hear the erasure and
    the others a change."""
    from personal_stats.storage.feed import changes_in_log

    read = changes_in_log(3, 5, [(4, "a", False), (5, "*", True)])
    assert (read.someone_erased, read.everyone, read.mentors) == (5, 5, {"a": 4})
    named = read.naming(["b"])
    assert named.erased == {"b": 5}
    assert named.someone_erased == 0
    hub = Hub(min_interval=0.01, capacity=10)
    a, b = hub.join("a", 3, 3, False), hub.join("b", 3, 3, False)
    hub.heard(named)
    assert (a.ready(), b.ready()) == (
        Event("stats-changed", "a", 5, True),
        Event("mentor-erased", "b", 5),
    )
