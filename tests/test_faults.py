"""Database faults are 503 with Retry-After on every path, never 500: a private PostgreSQL
stopped (`pg_ctl stop -m immediate`, a crash) and started again under a real server, and a
SQLite database whose files cannot grow (a disk I/O error on write); after either, the service
recovers without a restart, and open streams hear the next write within a second."""

import asyncio
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from personal_stats.storage.faults import is_unavailable
from tests.helpers import run_cli
from tests.servers import free_port, serving
from tests.streams import Streams, activity, activity_type, ingest, mentor

pytestmark = pytest.mark.slow  # real servers, browsers or processes of their own

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def test_the_classification_of_driver_errors() -> None:
    """What the drivers raise when the database cannot serve, bare or wrapped by SQLAlchemy,
    and errors that are the request's or the code's."""
    import sqlite3

    def wrapped(error: BaseException) -> DBAPIError:
        return DBAPIError("SELECT 1", None, error)

    io_error = sqlite3.OperationalError("disk I/O error")
    io_error.sqlite_errorcode = 10 | (3 << 8)  # type: ignore[attr-defined]  # SQLITE_IOERR_WRITE
    constraint = sqlite3.IntegrityError("UNIQUE constraint failed")
    constraint.sqlite_errorcode = 19 | (8 << 8)  # type: ignore[attr-defined]  # CONSTRAINT
    cannot_serve = [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients already"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT"),
        io_error,
    ]
    for error in cannot_serve:
        assert is_unavailable(error), error
        assert is_unavailable(wrapped(error)), error
    chained = RuntimeError("while writing")
    chained.__cause__ = wrapped(ConnectionRefusedError())
    assert is_unavailable(chained)
    for error in [
        ValueError("bad"),
        KeyError("x"),
        constraint,
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedTableError("relation does not exist"),
        OperationalError("SELECT", None, sqlite3.OperationalError("no such table: x")),
    ]:
        assert not is_unavailable(error), error


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, on a free port, run as the postgres user."""

    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *arguments: str) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), *arguments]
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                       capture_output=True, timeout=60)  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.ctl("start", "-w", "-l", str(self.folder / "log"), "-o", options)

    def crash(self) -> None:
        self.ctl("stop", "-m", "immediate", "-w")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if PG_BIN is None or shutil.which("runuser") is None or os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the fault tests need PostgreSQL's binaries, runuser and root")
        pytest.skip("no PostgreSQL binaries, runuser or root here")
    # Not under pytest's folder, which only root may enter.
    folder = Path(tempfile.mkdtemp(prefix="personal-stats-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    initdb = [str(PG_BIN / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-A", "trust"]
    subprocess.run(["runuser", "-u", "postgres", "--", *initdb], check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    cluster = PrivatePostgres(folder, free_port())
    cluster.start()
    try:
        yield cluster
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                        str(folder / "data"), "stop", "-m", "immediate"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def create_token(database_url: str) -> str:
    made = run_cli("token", "create", "faults", database_url=database_url)
    assert made.returncode == 0, made.stderr
    return made.stdout.split()[0]


async def unavailable_everywhere(base: str, token: str) -> None:
    """Every path answers 503 problem+json with Retry-After (GraphQL: SERVICE_UNAVAILABLE)."""
    bearer = {"authorization": f"Bearer {token}"}
    ndjson = bearer | {"content-type": "application/x-ndjson"}
    one_mentor = '{"record": "mentor", "id": "c", "name": "C"}'
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        answers = [
            await http.get("/api/v1/personal-stats/a?period=all_time"),
            await http.get("/readyz"),
            await http.post("/api/v1/ingest", headers=ndjson, content=one_mentor),
            await http.delete("/api/v1/ingest/activities/a1", headers=bearer),
            await http.get("/api/v1/personal-stats/a/events"),
        ]
        for answer in answers:
            assert answer.status_code == 503, (answer.request.url, answer.status_code, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert "retry-after" in answer.headers, answer.request.url
        graphql = await http.post("/graphql", json={"query": '{ mentor(id: "a") { name } }'})
        assert graphql.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert (await http.get("/healthz")).status_code == 200


async def test_a_crashed_postgresql_is_503_everywhere_then_recovers(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    url = private_postgres.url
    with serving(url, tmp_path / "server.log") as base:
        token = create_token(url)
        await ingest(base, token, activity_type("t1"), mentor("a"), activity("a1", "a"))
        streams = Streams(base)
        try:
            stream = await streams.open("a")
            private_postgres.crash()
            await unavailable_everywhere(base, token)
            private_postgres.start()
            deadline = time.monotonic() + 10
            while True:  # the first write once it is back: reconnecting may take a moment
                async with httpx.AsyncClient(base_url=base) as http:
                    ready = await http.get("/readyz")
                if ready.status_code == 200:
                    break
                assert time.monotonic() < deadline, ready.text
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.6)  # the change feed, trying every half second, is back too
            version = await ingest(base, token, activity("a2", "a"))
            event = await stream.event(seconds=3)
            assert event.data["data_version"] == version
        finally:
            await streams.close()


def test_an_unwritable_sqlite_database_is_503_for_writes_and_recovers(tmp_path: Path) -> None:
    """The server's files may not grow past 1 MB (RLIMIT_FSIZE: a write past it fails as on
    a full disk): a batch that needs more is a 503, with nothing written; reads go on; with
    the limit lifted, the next write succeeds, without a restart."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'stats.db'}"
    token = create_token(url)
    limit = 1_000_000

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    with serving(url, tmp_path / "server.log", popen={"preexec_fn": small_files},
                 settings={"PERSONAL_STATS_LOG_LEVEL": "warning"}) as base:  # fmt: skip
        asyncio.run(ingest(base, token, activity_type("t1"), mentor("a"), activity("a1", "a")))
        big = "\n".join(
            f'{{"record": "activity", "id": "big{i}", "mentor_id": "a", "activity_type_id": "t1",'
            f' "status": "completed", "started_at": "2026-03-01T10:00:00Z",'
            f' "duration_minutes": 30, "notes": "{"n" * 200}"}}'
            for i in range(8_000)
        )
        headers = {"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"}
        with httpx.Client(base_url=base, timeout=30) as http:
            refused = http.post("/api/v1/ingest", content=big, headers=headers)
            assert refused.status_code == 503, refused.text
            assert "retry-after" in refused.headers
            summary = http.get("/api/v1/personal-stats/a?period=all_time")
            assert summary.status_code == 200
            assert summary.json()["total_activities"] == 1  # nothing of the batch written
            server = _server_pid(base)
            resource.prlimit(server, resource.RLIMIT_FSIZE, (-1, -1))
            written = http.post("/api/v1/ingest", content=big, headers=headers)
            assert written.status_code == 200, written.text
            total = http.get("/api/v1/personal-stats/a?period=all_time").json()
            assert total["total_activities"] == 8_001


def _server_pid(base: str) -> int:
    return int(httpx.get(f"{base}/readyz").json()["worker"])
