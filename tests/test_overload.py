"""Overload is shed, not queued, and no client holds what the others need: past the limit of
requests in flight an immediate 503; a request counts in flight only once its body is in;
a head or a body sent too slowly is cut off."""

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from personal_stats.server.app import close, create_app
from personal_stats.server.middleware import Admission, BodyLimits, RequestMachinery
from personal_stats.server.overload import AT_THE_LIMIT, BUSY, BUSY_HEAD, busy
from personal_stats.server.protocol import GuardedHttpToolsProtocol
from personal_stats.support.settings import Settings
from tests.helpers import on_the_loops_clock
from tests.servers import free_port, serving


def machinery(app: Any, limit: int, body_seconds: float = 10.0) -> RequestMachinery:
    return RequestMachinery(app, admission=Admission(limit), bodies=BodyLimits(1024, body_seconds))


async def test_requests_past_the_limit_get_an_immediate_503() -> None:
    release = asyncio.Event()
    arrivals: asyncio.Queue[str] = asyncio.Queue()
    started = 0

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal started
        started += 1
        arrivals.put_nowait(scope["path"])
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = machinery(slow_app, limit=2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        held = [asyncio.create_task(client.get("/api/v1/anything")) for _ in range(2)]
        await arrivals.get()
        await arrivals.get()
        refused = await asyncio.wait_for(client.get("/api/v1/anything"), timeout=1)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 503
        assert started == 2  # the refused request never reached the app
        health = asyncio.create_task(client.get("/healthz"))  # probes are always answered
        assert await arrivals.get() == "/healthz"
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held, health)] == [200, 200, 200]
        assert (await client.get("/api/v1/anything")).status_code == 200  # capacity is back


@on_the_loops_clock
async def test_a_slow_body_never_counts_in_flight_and_is_cut_off() -> None:
    """On the loop's own clock (run fast-forwarded): cut off when its 0.3 s have passed."""
    reached: list[bytes] = []
    stalled = asyncio.Event()

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"part": '
        stalled.set()
        await asyncio.sleep(30)  # the rest never comes in time
        yield b"1}"

    app = machinery(echo, limit=1, body_seconds=0.3)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        slow = [asyncio.create_task(client.post("/x", content=trickle())) for _ in range(3)]
        await stalled.wait()
        # Three bodies on their way, a limit of one in flight: a whole request still gets in.
        quick = await asyncio.wait_for(client.post("/x", content=b'{"a": 1}'), timeout=1)
        assert quick.status_code == 200
        assert reached == [b'{"a": 1}']  # the slow ones never reached the app
        answers = await asyncio.gather(*slow)
        assert asyncio.get_running_loop().time() == pytest.approx(0.3)
        assert [a.status_code for a in answers] == [408, 408, 408]
        assert answers[0].headers["connection"] == "close"
        assert "0.3 seconds" in answers[0].json()["detail"]
        assert reached == [b'{"a": 1}']


async def test_readyz_is_503_while_the_worker_is_saturated(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    app = create_app(Settings(database_url=url, max_in_flight=1))
    service = app.state.service
    entered, release = asyncio.Event(), asyncio.Event()
    plain = service.unit_of_work

    @asynccontextmanager
    async def held() -> AsyncIterator[Any]:  # the one request in flight waits for `release`
        entered.set()
        await release.wait()
        async with plain() as work:
            yield work

    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://test")
    try:
        async with app.router.lifespan_context(app), client:
            ready = await client.get("/readyz")
            assert (ready.status_code, ready.json()["status"]) == (200, "ready")
            service.unit_of_work = held
            request = asyncio.create_task(client.get("/api/v1/personal-stats/m1"))
            await entered.wait()
            saturated = await client.get("/readyz")
            assert saturated.status_code == 503
            assert saturated.json() | {"worker": 0} == {
                "status": "saturated", "worker": 0, "in_flight": 1,
                "peer_index": saturated.json()["peer_index"],
            }  # fmt: skip
            assert saturated.headers["retry-after"] == "1"
            release.set()
            assert (await request).status_code == 404  # no such mentor: answered all the same
            assert (await client.get("/readyz")).status_code == 200
    finally:
        await close(app)


@pytest.mark.slow
def test_slow_heads_and_bodies_are_cut_off_by_a_real_server(tmp_path: Path) -> None:
    """64 connections that send half a head or half a body hold nothing: every other
    request is answered meanwhile, and each of them gets 408 once its deadline passes."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'real.db'}"
    timeouts = {"PERSONAL_STATS_HEADER_TIMEOUT": "2", "PERSONAL_STATS_BODY_TIMEOUT": "2",
                "PERSONAL_STATS_MAX_IN_FLIGHT": "8"}  # fmt: skip
    with serving(url, tmp_path / "server.log", settings=timeouts) as base, ExitStack() as opened:
        port = int(base.rsplit(":", 1)[1])
        slow = []
        for number in range(64):
            connection = opened.enter_context(socket.create_connection(("127.0.0.1", port)))
            if number % 2:  # half a body
                connection.sendall(b"POST /graphql HTTP/1.1\r\nhost: x\r\n"
                                   b"content-type: application/json\r\n"
                                   b"content-length: 100\r\n\r\n{\"query\": ")  # fmt: skip
            else:  # half a head
                connection.sendall(b"GET /api/v1/personal-stats/m1 HTTP/1.1\r\nhost: x\r\n")
            slow.append(connection)
        with httpx.Client(base_url=base, timeout=10) as client:
            answered = [client.get("/api/v1/personal-stats/m1").status_code for _ in range(20)]
        assert answered == [404] * 20  # unknown mentor: each answered, none shed
        for connection in slow:  # each cut off once its deadline passed (else: a time-out)
            connection.settimeout(10)
            reply = b""
            while chunk := connection.recv(4096):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 408 "), reply


@pytest.mark.slow
def test_a_head_past_its_limit_is_431_and_closed(tmp_path: Path) -> None:
    """A 2 MB header (one piece, or trickled) and 80 headers of 1 KB are refused with 431 and
    the connection closed; a head just under 64 KB, and a small head with a 200 KB body in
    the same packets, are served."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'real.db'}"
    with serving(url, tmp_path / "server.log") as base:
        port = int(base.rsplit(":", 1)[1])

        def reply_to(*pieces: bytes) -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                try:
                    for piece in pieces:
                        connection.sendall(piece)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # refused before all was sent: the answer is waiting
                reply = b""
                while chunk := connection.recv(65536):
                    reply += chunk
                    if b"\r\n\r\n" in reply and not reply.startswith(b"HTTP/1.1 431"):
                        break  # an answer that keeps the connection: enough of it
                return reply

        line = b"GET /healthz HTTP/1.1\r\nhost: x\r\n"
        huge = b"x-huge: " + b"a" * 2_000_000 + b"\r\n\r\n"
        assert reply_to(line + huge).startswith(b"HTTP/1.1 431 ")
        trickled = [line] + [huge[i : i + 8192] for i in range(0, len(huge), 8192)]
        assert reply_to(*trickled).startswith(b"HTTP/1.1 431 ")
        many = b"".join(b"x-h%d: %s\r\n" % (i, b"b" * 1000) for i in range(80))
        assert reply_to(line + many + b"\r\n").startswith(b"HTTP/1.1 431 ")
        under = b"".join(b"x-h%d: %s\r\n" % (i, b"b" * 1000) for i in range(60))
        assert reply_to(line + under + b"\r\n").startswith(b"HTTP/1.1 200 ")
        body = b'{"query": "{ __typename }", "padding": "' + b"p" * 200_000 + b'"}'
        post = (b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n" % len(body))  # fmt: skip
        answer = reply_to(post + body)
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]  # the body's limit, not the head's


@pytest.mark.slow
def test_clients_that_never_read_hold_no_place_and_are_closed(tmp_path: Path) -> None:
    """24 clients ask for the 3.5 MB GraphiQL bundle and never read: with 4 requests in flight
    allowed, every other client is still answered (an answer stops counting in flight once
    it starts; before, they held every place and others got 503 for as long as they stayed),
    and each of them is closed once it has taken nothing for the stall timeout (2 s here)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'real.db'}"
    settings = {"PERSONAL_STATS_MAX_IN_FLIGHT": "4", "PERSONAL_STATS_STALL_TIMEOUT": "2"}
    bundle = b"GET /static/vendor/graphiql-3.8.3/graphiql.min.js HTTP/1.1\r\nhost: x\r\n\r\n"
    with serving(url, tmp_path / "server.log", settings=settings) as base, ExitStack() as opened:
        port = int(base.rsplit(":", 1)[1])
        idle = []
        for _ in range(24):
            connection = socket.socket()
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            connection.connect(("127.0.0.1", port))
            opened.enter_context(connection)
            connection.sendall(bundle)
            idle.append(connection)
            time.sleep(0.05)  # one after the other, each answer started (else some are shed)
        time.sleep(0.5)  # their answers fill their buffers and wait
        with httpx.Client(base_url=base, timeout=5) as client:
            answered = [client.get("/api/v1/personal-stats/m1").status_code for _ in range(20)]
            assert answered == [404] * 20  # unknown mentor: answered, none shed
            deadline = time.monotonic() + 10
            while True:
                metrics = client.get("/metrics").text
                closed = next(
                    float(line.split()[-1])
                    for line in metrics.splitlines()
                    if line.startswith("personal_stats_stalled_connections_total")
                )
                if closed >= 24:
                    break
                assert time.monotonic() < deadline, f"{closed} of 24 closed"
                time.sleep(0.2)
        for connection in idle:  # each was closed: reading ends before the whole bundle
            connection.settimeout(5)
            received = 0
            try:
                while chunk := connection.recv(1 << 20):
                    received += len(chunk)
            except ConnectionResetError:
                pass
            assert received < 3_000_000


async def test_the_servers_protocol_sheds_at_the_socket_while_the_worker_is_saturated() -> None:
    """uvicorn with the service's protocol, an app holding its one place: the next request
    is answered 503 by the protocol (the app never sees it), the connection stays usable,
    and once the place is free the same connection gets its answer."""
    admission = Admission(1)
    holding_it, release = asyncio.Event(), asyncio.Event()
    seen: list[str] = []

    async def holding(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["path"])
        if scope["path"] == "/hold":
            holding_it.set()
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    machinery = RequestMachinery(holding, admission=admission, bodies=BodyLimits(1024, 10))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["admission"] = admission
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await machinery(scope, receive, send)

    port = free_port()
    config = uvicorn.Config(app, port=port, http=GuardedHttpToolsProtocol, log_level="warning",
                            loop="asyncio")  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn tells it by this flag alone
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            held = asyncio.create_task(client.get("/hold"))
            await holding_it.wait()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as other:
                shed = await other.get("/api/v1/anything")
                assert shed.status_code == 503
                assert shed.headers["retry-after"] == "1"
                assert shed.headers["content-type"] == "application/problem+json"
                assert shed.json()["detail"] == AT_THE_LIMIT
                assert "x-request-id" not in shed.headers  # no middleware: the protocol's
                head = await other.head("/api/v1/anything")
                assert (head.status_code, head.content) == (503, b"")
                assert (await other.get("/healthz")).status_code == 200  # probes pass
                assert seen == ["/hold", "/healthz"]
                release.set()
                assert (await held).status_code == 200
                again = await other.get("/api/v1/anything")  # the same connection, served
                assert (again.status_code, again.text) == (200, "ok")
    finally:
        server.should_exit = True
        await serving


def test_the_shed_answer_is_one_answer_at_the_socket_and_in_the_app() -> None:
    """The protocol's bytes and the middleware's response are the same 503: its status,
    problem document, Retry-After, no-store and nosniff."""
    expected = {"type": "about:blank", "title": "Service Unavailable", "status": 503,
                "detail": AT_THE_LIMIT}  # fmt: skip
    head, _, body = BUSY.partition(b"\r\n\r\n")
    assert head + b"\r\n\r\n" == BUSY_HEAD
    status, *lines = head.decode().split("\r\n")
    assert status == "HTTP/1.1 503 Service Unavailable"
    headers = dict(line.split(": ", 1) for line in lines)
    assert json.loads(body) == expected
    assert headers == {
        "content-type": "application/problem+json",
        "content-length": str(len(body)),
        "retry-after": "1",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }
    response = busy()
    assert response.status_code == 503
    assert json.loads(bytes(response.body)) == expected
    assert response.headers["retry-after"] == "1"
    assert response.headers["cache-control"] == "no-store"
