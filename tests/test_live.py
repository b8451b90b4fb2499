"""Live updates (SPEC 18) over real servers: the event stream after every kind of write and
from every process, throttling, resuming, the stream cap, clients that never read, several
workers and instances, a lost listener, the subscription, and shutdown. What depends on time
alone (the throttle, the pings) is tested on the loop's clock in test_hub.py; how soon an
event follows its write is measured by bench/live.py, not asserted here."""

import asyncio
import json
import os
import resource
import signal
import socket
import sys
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.storage import tokens
from personal_stats.storage.changes import bump_data_version
from personal_stats.storage.feed import CHANGES_KEPT
from personal_stats.storage.transactions import write_transaction
from tests.servers import free_port, serving, wait_until_ready
from tests.streams import (
    EVENTS,
    Streams,
    Subscription,
    activity,
    activity_type,
    ingest,
    mentor,
    remove,
)

pytestmark = pytest.mark.slow  # real servers, browsers or processes of their own

INTERVAL = 0.5  # PERSONAL_STATS_EVENTS_MIN_INTERVAL's default


@pytest.fixture
async def token(engine: AsyncEngine) -> str:
    return await tokens.create(engine, "activity-service", ("ingest", "erase"))


@pytest.fixture
def base(database_url: str, engine: AsyncEngine, tmp_path: Path) -> Iterator[str]:
    with serving(database_url, tmp_path / "server.log") as found:
        yield found


@pytest.fixture
async def streams(base: str) -> AsyncIterator[Streams]:
    opened = Streams(base)
    yield opened
    await opened.close()


async def seed(base: str, token: str) -> int:
    """Mentors a and b, a type, an activity of a's; the version made."""
    return await ingest(base, token, activity_type("t1"), mentor("a"), mentor("b"),
                        activity("a1", "a"))  # fmt: skip


async def test_every_kind_of_write_reaches_the_stream_within_a_second(
    base: str, token: str, streams: Streams, database_url: str, tmp_path: Path
) -> None:
    await seed(base, token)
    stream = await streams.open("a")
    first = await stream.next()
    assert first.fields == {"retry": "3000"}
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert stream.response.headers["cache-control"] == "no-cache"
    assert stream.response.headers["x-accel-buffering"] == "no"

    async def expect(write: Coroutine[None, None, int], own: bool) -> None:
        made = await write
        event = await stream.event()
        assert event.event == "stats-changed"
        assert event.data == {"mentor_id": "a", "data_version": made, "own_data_changed": own}
        assert event.fields["id"] == str(made)
        await asyncio.sleep(INTERVAL)  # a quiet stretch: the next change is told at once

    await expect(ingest(base, token, activity("a2", "a")), own=True)
    await expect(ingest(base, token, activity("b1", "b")), own=False)  # the peer rank may move
    await expect(ingest(base, token, activity_type("t2")), own=False)
    await expect(ingest(base, token, {**mentor("a"), "name": "Renamed"}), own=True)
    await expect(_removed(base, token, "/api/v1/ingest/activities/a2"), own=True)
    # `personal-stats import` in a process of its own
    document = tmp_path / "more.json"
    document.write_text(json.dumps({"activities": [
        {"id": "a3", "mentor_id": "a", "activity_type_id": "t1", "status": "completed",
         "started_at": "2026-03-05T10:00:00Z", "duration_minutes": 20}]}))  # fmt: skip
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": database_url}
    await expect(_imported(document, env, base), own=True)
    # erasure: its own event, then the stream ends
    await _removed(base, token, "/api/v1/ingest/mentors/a")
    erased = await stream.event()
    version = await _version(base)
    assert erased.event == "mentor-erased"
    assert erased.data == {"mentor_id": "a", "data_version": version}
    async with asyncio.timeout(3):
        await stream.ended.wait()
    assert stream.error is None
    # An erased mentor is unknown: 404 before any stream opens.
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.get(EVENTS.format("a"))).status_code == 404


async def _removed(base: str, token: str, path: str) -> int:
    await remove(base, token, path)
    return await _version(base)


async def _imported(document: Path, env: dict[str, str], base: str) -> int:
    command = [sys.executable, "-m", "personal_stats.cli", "import", str(document)]
    process = await asyncio.create_subprocess_exec(*command, env=env,
                                                   stdout=asyncio.subprocess.DEVNULL)  # fmt: skip
    assert await process.wait() == 0
    return await _version(base)


async def _version(base: str) -> int:
    async with httpx.AsyncClient(base_url=base) as http:
        return int((await http.get("/api/v1/personal-stats/b")).headers["x-data-version"])


async def test_writes_in_a_row_are_told_once_each_with_whose_they_were(
    base: str, token: str, streams: Streams
) -> None:
    """Three writes in a row: the events that follow end at the newest version, each told
    once, and the one whose versions hold a's own write says so. How many events that takes
    depends on when the writes land against the throttle's interval (one, typically; its
    timing is tested on the loop's clock in test_hub.py), so no count is asserted here."""
    await seed(base, token)
    stream = await streams.open("a")
    first = await ingest(base, token, activity("b1", "b"))
    told = await stream.event()
    assert told.data["data_version"] == first
    assert told.data["own_data_changed"] is False
    own = await ingest(base, token, activity("a2", "a"))
    await ingest(base, token, activity("b2", "b"))
    last = await ingest(base, token, activity("b3", "b"))
    events = [await stream.event(seconds=2)]
    while events[-1].data["data_version"] < last:
        events.append(await stream.event(seconds=2))
    versions = [event.data["data_version"] for event in events]
    assert versions == sorted(set(versions))
    assert versions[-1] == last
    since = [first, *versions[:-1]]
    assert [event.data["own_data_changed"] for event in events] == [
        earlier < own <= version for earlier, version in zip(since, versions, strict=True)
    ]
    # nothing else came of those three: the next event is the next write's
    after = await ingest(base, token, activity("b4", "b"))
    event = await stream.event()
    assert event.data["data_version"] == after


async def test_last_event_id_resumes_from_the_change_log(
    base: str, token: str, streams: Streams, engine: AsyncEngine
) -> None:
    start = await seed(base, token)
    others = await ingest(base, token, activity("b1", "b"))
    # older, only others changed since: told at once, not own
    stream = await streams.open("a", {"Last-Event-ID": str(start)})
    event = await stream.event(seconds=1)
    assert event.data == {"mentor_id": "a", "data_version": others, "own_data_changed": False}
    own = await ingest(base, token, activity("a2", "a"))
    # older, a's own records changed since; the query parameter of a first connection
    stream = await streams.open("a", query=f"?last_event_id={others}")
    event = await stream.event(seconds=1)
    assert event.data == {"mentor_id": "a", "data_version": own, "own_data_changed": True}
    # equal: nothing until the next change (the header wins over the query parameter)
    equal = await streams.open("a", {"Last-Event-ID": str(own)}, query=f"?last_event_id={start}")
    # newer (the database was replaced): as older, own unknown so true
    newer = await streams.open("a", {"Last-Event-ID": str(own + 100)})
    event = await newer.event(seconds=1)
    assert event.data == {"mentor_id": "a", "data_version": own, "own_data_changed": True}
    later = await ingest(base, token, activity("b2", "b"))
    event = await equal.event()
    assert event.data == {"mentor_id": "a", "data_version": later, "own_data_changed": False}
    # past the change log: writes of b's alone, more than the log keeps; a's own change
    # cannot be ruled out any more
    async with write_transaction(engine) as connection:  # one version at a time, one commit
        for _ in range(CHANGES_KEPT + 1):
            now = await bump_data_version(connection, ["b"])
    await asyncio.sleep(1.5)
    stream = await streams.open("a", {"Last-Event-ID": str(later)})
    event = await stream.event(seconds=1)
    assert event.data == {"mentor_id": "a", "data_version": now, "own_data_changed": True}
    # ...while within the log, the same writes are others'
    stream = await streams.open("a", {"Last-Event-ID": str(now - 5)})
    event = await stream.event(seconds=1)
    assert event.data == {"mentor_id": "a", "data_version": now, "own_data_changed": False}


async def test_checks_come_before_the_stream_in_order(base: str, token: str) -> None:
    await seed(base, token)
    async with httpx.AsyncClient(base_url=base) as http:

        async def status(path: str, headers: dict[str, str] | None = None) -> int:
            answer = await http.get(path, headers=headers)
            assert answer.headers["content-type"] == "application/problem+json"
            return answer.status_code

        assert await status(EVENTS.format("bad%20id"), {"Last-Event-ID": "x"}) == 400
        assert await status(EVENTS.format("nobody"), {"Last-Event-ID": "x"}) == 404
        for bad in ("x", "-1", "1.5", "", "+1", "0x1"):
            assert await status(EVENTS.format("a"), {"Last-Event-ID": bad}) == 400
        for bad in ("-3", "%D9%A1"):  # the second: an Arabic-Indic digit one
            assert await status(EVENTS.format("a") + f"?last_event_id={bad}") == 400
        doubled = "/api/v1/personal-stats" + EVENTS.format("a")
        async with http.stream("GET", doubled) as answer:
            assert answer.status_code == 200
            assert await anext(answer.aiter_lines()) == "retry: 3000"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_stream_cap_refuses_with_503_and_streams_take_no_request_slot(
    database_url: str, engine: AsyncEngine, token: str, tmp_path: Path
) -> None:
    limits = {"PERSONAL_STATS_MAX_STREAMS": "2", "PERSONAL_STATS_MAX_IN_FLIGHT": "1"}
    with serving(database_url, tmp_path / "server.log", settings=limits) as base:
        await seed(base, token)
        streams = Streams(base)
        first = await streams.open("a")
        subscription = await Subscription.open(base, SUBSCRIPTION, {"id": "b"})
        async with httpx.AsyncClient(base_url=base) as http:
            refused = await http.get(EVENTS.format("a"))
            assert refused.status_code == 503
            assert int(refused.headers["retry-after"]) > 0
            # the two streams take none of the one request slot
            assert (await http.get("/api/v1/personal-stats/a")).status_code == 200
            # a WebSocket holds a place from its upgrade: with none left, its handshake is 503
            with pytest.raises(websockets.InvalidStatus) as third:
                await Subscription.open(base, SUBSCRIPTION, {"id": "a"})
            assert third.value.response.status_code == 503
            assert int(third.value.response.headers["retry-after"]) > 0
            await first.response.aclose()
            await streams.close()
            for _ in range(50):  # once the server has noticed the disconnect, there is room
                async with http.stream("GET", EVENTS.format("a")) as answer:
                    if answer.status_code == 200:
                        break
                await asyncio.sleep(0.1)
            assert answer.status_code == 200
        await subscription.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_client_that_never_reads_delays_no_one(
    base: str, token: str, streams: Streams
) -> None:
    await seed(base, token)
    stalled = []
    for _ in range(20):  # connections that send their request and never read a byte
        raw = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        raw.sendall(b"GET /api/v1/personal-stats/a/events HTTP/1.1\r\nHost: x\r\n\r\n")
        stalled.append(raw)
    reader = await streams.open("a")
    try:
        for i in range(4):
            version = await ingest(base, token, activity(f"a{10 + i}", "a"))
            event = await reader.event()
            assert event.data["data_version"] == version
            await asyncio.sleep(INTERVAL)
    finally:
        for raw in stalled:
            raw.close()


async def test_every_worker_tells_its_streams(
    database_url: str, engine: AsyncEngine, token: str, tmp_path: Path
) -> None:
    with serving(database_url, tmp_path / "server.log", "--workers", "2") as base:
        await seed(base, token)
        streams = Streams(base)
        by_worker: dict[int, list[object]] = {}
        try:
            for _ in range(40):  # until both workers hold streams
                stream, worker = await streams.open_on_worker("a")
                assert worker is not None
                by_worker.setdefault(worker, []).append(stream)
                if len(by_worker) == 2 and min(len(s) for s in by_worker.values()) >= 2:
                    break
            assert len(by_worker) == 2
            version = await ingest(base, token, activity("a2", "a"))
            for held in by_worker.values():
                for stream in held:
                    event = await stream.event()  # type: ignore[attr-defined]
                    assert event.data["data_version"] == version
        finally:
            await streams.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_instances_on_one_postgres_database(
    postgres_url: str, engine: AsyncEngine, token: str, tmp_path: Path
) -> None:
    with (
        serving(postgres_url, tmp_path / "a.log") as first,
        serving(postgres_url, tmp_path / "b.log") as second,
    ):
        await seed(first, token)
        streams = Streams(first)
        try:
            stream = await streams.open("a")
            version = await ingest(second, token, activity("a2", "a"))
            event = await stream.event()
            assert event.data == {"mentor_id": "a", "data_version": version,
                                  "own_data_changed": True}  # fmt: skip
        finally:
            await streams.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_killed_listener_comes_back_and_loses_no_change(
    postgres_url: str, engine: AsyncEngine, token: str, tmp_path: Path
) -> None:
    with serving(postgres_url, tmp_path / "server.log") as base:
        await seed(base, token)
        streams = Streams(base)
        try:
            stream = await streams.open("a")
            # the server's own listener, alone: the connections of servers of earlier tests on
            # this database may still be listed for a moment after those servers stopped
            for _ in range(50):
                if await _listeners(engine) == 1:
                    break
                await asyncio.sleep(0.1)
            killed = await _terminate_listeners(engine)
            assert killed == 1  # one listening connection per worker
            # written while the listener is gone: told once it is back, from the change log
            version = await ingest(base, token, activity("a2", "a"))
            event = await stream.event(seconds=5)
            assert event.data == {"mentor_id": "a", "data_version": version,
                                  "own_data_changed": True}  # fmt: skip
            for _ in range(50):
                if await _listeners(engine) == 1:
                    break
                await asyncio.sleep(0.1)
            assert await _listeners(engine) == 1
            await asyncio.sleep(INTERVAL)
            version = await ingest(base, token, activity("b1", "b"))
            event = await stream.event()
            assert event.data["data_version"] == version
        finally:
            await streams.close()


_FEED = "application_name = 'personal-stats change feed' AND datname = current_database()"


async def _terminate_listeners(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        found = await connection.execute(
            text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {_FEED}")
        )
        return len(found.all())


async def _listeners(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        found = await connection.execute(
            text(f"SELECT count(*) FROM pg_stat_activity WHERE {_FEED}")
        )
        return int(found.scalar_one())


SUBSCRIPTION = """subscription Live($id: ID!) {
  statsChanged(mentorId: $id) {
    dataVersion ownDataChanged
    mentor { id name personalStats(period: ALL_TIME) { totalActivities totalHoursLogged } }
  }
}"""


async def test_the_subscription_answers_each_event_at_its_version(base: str, token: str) -> None:
    await seed(base, token)
    subscription = await Subscription.open(base, SUBSCRIPTION, {"id": "a"})
    try:
        await asyncio.sleep(0.2)
        version = await ingest(base, token, activity("a2", "a", minutes=90))
        message = await subscription.message()
        assert message["type"] == "next", message
        changed = message["payload"]["data"]["statsChanged"]
        async with httpx.AsyncClient(base_url=base) as http:
            rest = await http.get("/api/v1/personal-stats/a?period=all_time")
        assert rest.headers["x-data-version"] == str(version)
        assert changed == {
            "dataVersion": version,
            "ownDataChanged": True,
            "mentor": {"id": "a", "name": "Mentor a", "personalStats": {
                "totalActivities": 2, "totalHoursLogged": 2.0}},
        }  # fmt: skip
        assert rest.json()["total_activities"] == 2
        await asyncio.sleep(INTERVAL)
        version = await ingest(base, token, activity("b1", "b"))
        changed = (await subscription.message())["payload"]["data"]["statsChanged"]
        assert (changed["dataVersion"], changed["ownDataChanged"]) == (version, False)
        await remove(base, token, "/api/v1/ingest/mentors/a")
        assert await subscription.message() == {"id": "1", "type": "complete"}
    finally:
        await subscription.close()


async def test_subscription_errors_limits_and_the_legacy_protocol(base: str, token: str) -> None:
    await seed(base, token)
    for mentor_id, code in (("nobody", "NOT_FOUND"), ("bad id", "BAD_USER_INPUT")):
        subscription = await Subscription.open(base, SUBSCRIPTION, {"id": mentor_id})
        message = await subscription.message()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == code
        await subscription.close()
    # the limits of every document: 21 aliases is past the default 20
    aliased = " ".join(f"x{i}: dataVersion" for i in range(21))
    subscription = await Subscription.open(
        base, f'subscription {{ statsChanged(mentorId: "a") {{ {aliased} }} }}', {}
    )
    message = await subscription.message()
    assert message["type"] == "error"
    assert "aliases" in message["payload"][0]["message"].lower()
    await subscription.close()
    # a client asking only for the legacy graphql-ws protocol is refused
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as legacy:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _init_and_read(legacy)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4406


async def _init_and_read(socket: Any) -> None:
    await socket.send(json.dumps({"type": "connection_init"}))
    await asyncio.wait_for(socket.recv(), 3)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_cost_budget_applies_to_subscriptions(
    database_url: str, engine: AsyncEngine, token: str, tmp_path: Path
) -> None:
    with serving(database_url, tmp_path / "server.log",
                 settings={"PERSONAL_STATS_GRAPHQL_MAX_COST": "10"}) as base:  # fmt: skip
        await seed(base, token)
        costly = """subscription { statsChanged(mentorId: "a") { mentor {
            contributionHistory(limit: 100) { data { year } } } } }"""  # 1 + 1 + 13 > 10
        subscription = await Subscription.open(base, costly, {})
        message = await subscription.message()
        assert message["type"] == "error"
        assert "cost" in message["payload"][0]["message"].lower()
        await subscription.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_metrics_count_open_streams_and_events(
    base: str, token: str, streams: Streams
) -> None:
    await seed(base, token)
    await streams.open("a")
    subscription = await Subscription.open(base, SUBSCRIPTION, {"id": "b"})
    await asyncio.sleep(0.2)
    await ingest(base, token, activity("a2", "a"))
    await asyncio.sleep(1)
    async with httpx.AsyncClient(base_url=base) as http:
        metrics = (await http.get("/metrics")).text
    assert 'personal_stats_open_followers{kind="sse"} 1.0' in metrics
    assert 'personal_stats_open_followers{kind="graphql"} 1.0' in metrics
    assert 'personal_stats_events_sent_total{event="stats-changed",kind="sse"} 1.0' in metrics
    assert 'personal_stats_events_sent_total{event="stats-changed",kind="graphql"} 1.0' in metrics
    assert "personal_stats_events_pushed_total 1.0" in metrics  # the stream's, below ASGI
    await subscription.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_shutdown_ends_every_stream_cleanly(
    database_url: str, engine: AsyncEngine, token: str, tmp_path: Path
) -> None:
    port = free_port()
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "personal_stats.cli", "serve", "--port", str(port)]
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = await asyncio.create_subprocess_exec(*command, env=env, stdout=output,
                                                      stderr=asyncio.subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_until_ready, base)
        await seed(base, token)
        streams = Streams(base)
        opened = [await streams.open("a") for _ in range(3)]
        for stream in opened:
            await stream.next()
        server.send_signal(signal.SIGTERM)
        for stream in opened:
            async with asyncio.timeout(10):
                await stream.ended.wait()
            assert stream.error is None  # the last chunk came: no stream cut short
        await streams.close()
        # uvicorn raises the signal again once it has shut down gracefully
        async with asyncio.timeout(15):
            assert await server.wait() in (0, -signal.SIGTERM)
        assert "Application shutdown complete." in log.read_text()
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_raises_its_open_files_limit_for_the_streams(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    """A soft limit of 1,024 open files (a common default) would refuse connections long
    before 10,000 streams; `serve` raises it towards the hard limit."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 11_024:
        pytest.skip(f"this machine's hard limit of open files is {hard}")
    low = {"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))}
    with serving(database_url, tmp_path / "server.log", popen=low) as base:
        pid = httpx.get(f"{base}/readyz").json()["worker"]
        limits = Path(f"/proc/{pid}/limits").read_text()
        soft = next(line.split()[3] for line in limits.splitlines()
                    if line.startswith("Max open files"))  # fmt: skip
        assert int(soft) >= 11_024


async def test_a_websocket_message_past_the_body_limit_is_refused_unread(base: str) -> None:
    """Messages up to 16 MiB were read and scanned (the loop blocked ~2 s for one that
    large); now a message past the body limit (64 KB) closes the connection unread."""
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"],
                                  max_size=None) as socket:  # fmt: skip
        await socket.send(json.dumps({"type": "connection_init"}))
        assert await socket.recv() == '{"type":"connection_ack"}'
        padding = " " * (1024 * 1024)
        await socket.send('{"id": "1", "type": "subscribe", "payload": {"query": "' + padding)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/healthz")).status_code == 200


async def test_a_query_sent_over_the_websocket_is_answered_next_then_complete(
    base: str, token: str
) -> None:
    """graphql-transport-ws carries any operation: a query gets `next` with the same answer
    as over HTTP, then `complete` (it was an INTERNAL_SERVER_ERROR: no unit of work)."""
    await seed(base, token)
    query = '{ mentor(id: "a") { name personalStats(period: ALL_TIME) { totalActivities } } }'
    async with httpx.AsyncClient(base_url=base) as http:
        over_http = (await http.post("/graphql", json={"query": query})).json()
    subscription = await Subscription.open(base, query, {})
    try:
        answer = await subscription.message()
        assert answer["type"] == "next", answer
        assert answer["payload"]["data"] == over_http["data"]
        assert answer["payload"]["data"]["mentor"]["personalStats"]["totalActivities"] == 1
        assert await subscription.message() == {"id": "1", "type": "complete"}
    finally:
        await subscription.close()
    missing = await Subscription.open(
        base, '{ personalStats(mentorId: "nobody") { streakDays } }', {}
    )
    try:
        answer = await missing.message()
        assert answer["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND", answer
        assert await missing.message() == {"id": "1", "type": "complete"}
    finally:
        await missing.close()


async def test_a_stream_ends_with_its_client_and_a_request_behind_it(base: str, token: str) -> None:
    """A request pipelined behind an event stream (which never ends by itself) is refused:
    the connection is closed, and the stream with it (before, the request was never answered
    and the stream stayed counted after the client hung up); a client that just hangs up is
    forgotten too. /metrics counts no open stream within seconds either way."""
    await seed(base, token)
    port = int(base.rsplit(":", 1)[1])
    stream = b"GET /api/v1/personal-stats/a/events HTTP/1.1\r\nhost: x\r\n\r\n"
    behind = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(stream + behind)
    async with asyncio.timeout(3):
        received = await reader.read()  # to the end: the server closes the connection
    assert b'"status":"ok"' not in received  # refused: never answered behind the stream
    writer.close()
    await _no_open_streams(base)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(stream)
    await reader.readuntil(b"retry: 3000")
    assert await _open_streams(base) == 1
    writer.close()  # hangs up
    await _no_open_streams(base)


async def _open_streams(base: str) -> float:
    async with httpx.AsyncClient(base_url=base) as http:
        metrics = (await http.get("/metrics")).text
    line = next(m for m in metrics.splitlines()
                if m.startswith('personal_stats_open_followers{kind="sse"}'))  # fmt: skip
    return float(line.split()[-1])


async def _no_open_streams(base: str) -> None:
    for _ in range(60):  # 3 s
        if await _open_streams(base) == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a stream is still counted open 3 s after its client left")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_one_client_address_holds_at_most_its_share_of_streams(
    database_url: str, engine: AsyncEngine, token: str, tmp_path: Path
) -> None:
    """PERSONAL_STATS_MAX_STREAMS_PER_CLIENT (2 here) places per client address, streams and
    WebSockets together (one address could hold all 10,000); behind a trusted proxy the
    forwarded address counts (uvicorn trusts 127.0.0.1 by default)."""
    limits = {"PERSONAL_STATS_MAX_STREAMS_PER_CLIENT": "2"}
    with serving(database_url, tmp_path / "server.log", settings=limits) as base:
        await seed(base, token)
        streams = Streams(base)
        one, other = {"x-forwarded-for": "203.0.113.1"}, {"x-forwarded-for": "203.0.113.2"}
        try:
            await streams.open("a", one)
            socket = await websockets.connect(base.replace("http://", "ws://") + "/graphql",
                                              subprotocols=["graphql-transport-ws"],
                                              additional_headers=one)  # fmt: skip
            async with httpx.AsyncClient(base_url=base) as http:
                refused = await http.get(EVENTS.format("a"), headers=one)
                assert refused.status_code == 503
                assert "client address" in refused.json()["detail"]
                with pytest.raises(websockets.InvalidStatus) as handshake:
                    await websockets.connect(base.replace("http://", "ws://") + "/graphql",
                                             subprotocols=["graphql-transport-ws"],
                                             additional_headers=one)  # fmt: skip
                assert handshake.value.response.status_code == 503
                await streams.open("b", other)  # another address has its own share
                await socket.close()
                for _ in range(50):  # the closed socket's place is given back
                    async with http.stream("GET", EVENTS.format("a"), headers=one) as answer:
                        if answer.status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                assert answer.status_code == 200
        finally:
            await streams.close()


async def test_a_websocket_that_floods_messages_is_closed(base: str) -> None:
    """Past a burst of 100 messages at 20 a second, the socket is closed with 4429; a
    client within the rate is answered every time."""
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init"}))
        assert await socket.recv() == '{"type":"connection_ack"}'
        for _ in range(10):
            await socket.send(json.dumps({"type": "ping"}))
            assert json.loads(await socket.recv()) == {"type": "pong"}
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init"}))
        await socket.recv()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _flood_and_read(socket)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4429


async def _flood_and_read(socket: Any) -> None:
    for _ in range(300):
        await socket.send(json.dumps({"type": "ping"}))
    while True:  # the pongs, until the server closes
        await asyncio.wait_for(socket.recv(), 5)


async def test_subscribers_of_one_event_share_its_execution(base: str, token: str) -> None:
    """Three subscribers of mentor a with the same document and variables, one with another
    document, one of mentor b: a write of a's runs the event's operation once per document
    for a and once for b (/metrics: 3 ran, 2 shared), and the three get the same answer."""
    await seed(base, token)
    other = "subscription Live($id: ID!) { statsChanged(mentorId: $id) { dataVersion } }"
    same = [await Subscription.open(base, SUBSCRIPTION, {"id": "a"}) for _ in range(3)]
    apart = [await Subscription.open(base, other, {"id": "a"}),
             await Subscription.open(base, SUBSCRIPTION, {"id": "b"})]  # fmt: skip
    try:
        await asyncio.sleep(0.2)
        before = await _executions(base)
        version = await ingest(base, token, activity("a2", "a"))
        answers = [await s.message() for s in same]
        assert answers[0]["payload"]["data"]["statsChanged"]["dataVersion"] == version
        assert all(a["payload"] == answers[0]["payload"] for a in answers)
        for subscription in apart:
            assert (await subscription.message())["type"] == "next"
        after = await _executions(base)
        assert (after["ran"] - before["ran"], after["shared"] - before["shared"]) == (3, 2)
    finally:
        for subscription in same + apart:
            await subscription.close()


async def _executions(base: str, counted: str = "executions") -> dict[str, float]:
    """How many subscription executions ran and were shared (or, `counted="fields"`, how
    many fields of mentors' own records were asked and reused), from /metrics."""
    async with httpx.AsyncClient(base_url=base) as http:
        metrics = (await http.get("/metrics")).text
    found: dict[str, float] = {}
    prefix = f"personal_stats_subscription_{counted}_total{{how="
    for line in metrics.splitlines():
        if line.startswith(prefix):
            found[line[len(prefix) + 1 : line.index('"}')]] = float(line.split()[-1])
    return found


REUSING = """subscription Reusing($id: ID!) {
  statsChanged(mentorId: $id) {
    dataVersion
    first: mentor { ...Dashboard }
    second: mentor { ...Dashboard contributionCalendar(asOf: "2026-03-31") { maxCount } }
  }
}
fragment Dashboard on Mentor {
  contributionCalendar(asOf: "2026-03-31") { totalActivities days { date count } }
  monthlySeries(asOf: "2026-03-31", months: 1) { data { totalActivities } }
  personalStats(asOf: "2026-03-31", period: MONTH_TO_DATE) { peerRankPercentile }
}"""


async def test_fields_of_the_mentors_own_records_are_reused_while_they_stand(
    base: str, token: str
) -> None:
    """a has one activity (1 March), b none. Writes of b's move a's rank, not a's calendar
    or monthly series: the second event takes those four fields (two of each alias: `second`
    merges a field of its own into the calendar) from the first; a write of a's asks them
    again, and they count it. The rank is asked at every event: N = 1 peer, B below, E
    equal, 100 x (B + E/2) / N."""
    await seed(base, token)
    subscription = await Subscription.open(base, REUSING, {"id": "a"})
    try:
        await asyncio.sleep(0.2)

        async def event_after(*records: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
            before = await _executions(base, "fields")
            version = await ingest(base, token, *records)
            message = await subscription.message()
            after = await _executions(base, "fields")
            answer = message["payload"]["data"]["statsChanged"]
            assert answer["dataVersion"] == version
            counted = {how: after.get(how, 0) - before.get(how, 0) for how in ("asked", "reused")}
            return answer, counted

        def calendar(mentor: dict[str, Any]) -> tuple[int, dict[str, int]]:
            found = mentor["contributionCalendar"]
            return found["totalActivities"], {
                d["date"]: d["count"] for d in found["days"] if d["count"]
            }

        first, counted = await event_after(activity("b1", "b", day=1))  # a 1, b 1
        assert counted == {"asked": 4, "reused": 0}
        for mentor in (first["first"], first["second"]):
            assert calendar(mentor) == (1, {"2026-03-01": 1})
            assert mentor["monthlySeries"]["data"] == [{"totalActivities": 1}]
            assert mentor["personalStats"]["peerRankPercentile"] == 50  # E = 1
        assert "maxCount" not in first["first"]["contributionCalendar"]
        assert first["second"]["contributionCalendar"]["maxCount"] == 1

        second, counted = await event_after(activity("b2", "b", day=2))  # a 1, b 2
        assert counted == {"asked": 0, "reused": 4}
        assert second["first"]["personalStats"]["peerRankPercentile"] == 0  # B = 0, E = 0
        for name in ("first", "second"):
            assert second[name]["contributionCalendar"] == first[name]["contributionCalendar"]
            assert second[name]["monthlySeries"] == first[name]["monthlySeries"]

        third, counted = await event_after(activity("a2", "a", day=3))  # a 2, b 2
        assert counted == {"asked": 4, "reused": 0}
        for mentor in (third["first"], third["second"]):
            assert calendar(mentor) == (2, {"2026-03-01": 1, "2026-03-03": 1})
            assert mentor["monthlySeries"]["data"] == [{"totalActivities": 2}]
            assert mentor["personalStats"]["peerRankPercentile"] == 50
        assert "maxCount" not in third["first"]["contributionCalendar"]
    finally:
        await subscription.close()
