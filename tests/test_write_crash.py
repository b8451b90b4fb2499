"""A writer killed mid-request leaves the database as it was before that request: a client
that disconnects while sending, and a server killed with SIGKILL during a large ingest."""

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.storage import tokens
from personal_stats.storage.transactions import WRITE_LOCK
from tests.servers import free_port, wait_until_ready
from tests.test_write_api import counts, lines, records

pytestmark = pytest.mark.slow  # real servers, browsers or processes of their own

CLI = [sys.executable, "-m", "personal_stats.cli"]


class Server:
    """`personal-stats serve` on the test's database, restartable."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.env = os.environ | {"PERSONAL_STATS_DATABASE_URL": database_url,
                                 "PERSONAL_STATS_MAX_INGEST_BYTES": "20000000"}  # fmt: skip
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen([*CLI, "serve", "--port", str(self.port)],
                                            env=self.env, stdout=output, stderr=output)  # fmt: skip
        wait_until_ready(self.base, self.log)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)


@pytest.fixture
def server(database_url: str, engine: AsyncEngine, tmp_path: Path) -> Iterator[Server]:
    running = Server(database_url, tmp_path / "server.log")
    running.start()
    yield running
    running.stop()


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10)


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=30)


def send_half(port: int, head: bytes, body: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(head + body[: len(body) // 2])
        time.sleep(0.2)


async def test_a_client_that_disconnects_mid_body_writes_nothing(
    server: Server, engine: AsyncEngine
) -> None:
    token = await tokens.create(engine, "writer", ("ingest",))
    headers = {"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"}
    body = lines(records(2000))
    head = "".join(
        [f"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n",
         *(f"{name}: {value}\r\n" for name, value in headers.items()), "\r\n"]
    )  # fmt: skip
    await asyncio.to_thread(send_half, server.port, head.encode(), body)
    await asyncio.sleep(0.5)
    assert await counts(engine) == (0, 0, 0)
    assert (await asyncio.to_thread(get, f"{server.base}/healthz")).status_code == 200
    answer = await asyncio.to_thread(post, f"{server.base}/api/v1/ingest", body, headers)
    assert answer.status_code == 200  # and it keeps serving


async def write_lock_held(engine: AsyncEngine) -> bool:
    """Whether a writer holds the write lock (`storage.transactions`): SQLite's, which a
    BEGIN IMMEDIATE that may not wait cannot take; PostgreSQL's advisory lock."""
    if engine.dialect.name == "sqlite":
        path = str(engine.url.database)

        def locked() -> bool:
            connection = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError as error:
                return "locked" in str(error)
            finally:
                connection.close()

        return await asyncio.to_thread(locked)
    async with engine.connect() as connection:
        found = await connection.execute(
            text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                 "AND ((classid::bigint << 32) | objid::bigint) = :key AND database = "
                 "(SELECT oid FROM pg_database WHERE datname = current_database()))"),
            {"key": WRITE_LOCK},
        )  # fmt: skip
        return bool(found.scalar_one())


async def kill_once_writing(
    server: Server, engine: AsyncEngine, body: bytes, headers: dict[str, str]
) -> None:
    """Send the body; once the server holds the write lock (the write has begun), kill it."""

    def send() -> None:
        with contextlib.suppress(httpx.TransportError):  # the server dies under it
            httpx.post(f"{server.base}/api/v1/ingest", content=body, headers=headers,
                       timeout=30)  # fmt: skip

    sender = threading.Thread(target=send)
    sender.start()
    async with asyncio.timeout(30):  # another process's lock: polled, no event can tell
        while not await write_lock_held(engine):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    await asyncio.to_thread(server.stop, signal.SIGKILL)
    await asyncio.to_thread(sender.join, 30)


async def test_a_server_killed_during_a_large_ingest_leaves_nothing_of_it(
    server: Server, engine: AsyncEngine
) -> None:
    token = await tokens.create(engine, "writer", ("ingest",))
    headers = {"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"}
    url = f"{server.base}/api/v1/ingest"
    assert (await asyncio.to_thread(post, url, lines(records(5)), headers)).status_code == 200
    before = await counts(engine)
    big = lines(records(49_000, prefix="big"))
    await kill_once_writing(server, engine, big, headers)
    assert await counts(engine) == before  # nothing of the killed request
    await asyncio.to_thread(server.start)  # a new server on the same database serves at once
    summary = await asyncio.to_thread(
        get, f"{server.base}/api/v1/personal-stats/w1?as_of=2026-03-25"
    )
    assert summary.status_code == 200
    assert summary.json()["total_activities"] == 5
    assert (await asyncio.to_thread(get, f"{server.base}/readyz")).json()["status"] == "ready"
