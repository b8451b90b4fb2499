"""The benchmark: `make bench` (or `python bench/run.py --help`).

Builds data sets S (100 mentors x 3 years) and L (10,000 mentors x 5 years), cached in
bench/data and in PostgreSQL databases bench_s and bench_l; times the import of L's
activities from JSON Lines into an empty database of each engine; serves each data set with
one worker (asyncio's loop + httptools), waits until its peer index is ready (/readyz), and loads it
from wrk with random mentors and parameters; then loads L's summary with 256 connections,
and with two workers; writes the figures to bench/README.md.
"""

import argparse
import asyncio
import hashlib
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from hostile import SLOW_CONNECTIONS, Expensive, SlowBodies, expensive_query
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from personal_stats.service.seed import TYPES as SEED_TYPES
from personal_stats.service.seed import Plan, activity_rows, mentor_rows

HERE = Path(__file__).parent
DATA = HERE / "data"
CLI = [sys.executable, "-m", "personal_stats.cli"]
SETS = {
    "S": Plan(100, 3, 1, datetime(2026, 11, 28).date()),
    "L": Plan(10_000, 5, 1, datetime(2026, 11, 28).date()),
}
TARGETS = [
    "healthz",
    "summary",
    "series",
    "breakdown",
    "history",
    "gql-summary",
    "gql-summary-inline",
    "gql-series",
    "gql-breakdown",
    "gql-history",
    "gql-dashboard",
    "gql-dashboard-inline",
    "records",
    "summary-rest",
    "gql-dashboard-records",
    "gql-summary-id",
    "gql-dashboard-id",
]
# Each new question beside the one it is measured against (the records' issue): the ratio
# of their requests per second, and the least it should be.
RATIOS = [
    ("records", "summary", 0.8, "REST records / REST summary"),
    ("gql-dashboard-records", "gql-dashboard", 0.9, "dashboard with records / without"),
    ("summary-rest", "summary", 0.95, "summary with rest_days / without"),
]
# Documents named by id (GET), beside their text and REST (the persisted documents' issue).
DOCUMENT_RATIOS = [
    ("gql-dashboard-id", "gql-dashboard", 1.0, "dashboard by documentId (GET) / by text"),
    ("gql-summary-id", "summary", 0.9, "GraphQL summary by documentId (GET) / REST summary"),
]
DOCUMENTS = HERE / "documents"  # the texts of the GraphQL targets also sent by id
POSTGRES = os.environ.get(
    "PERSONAL_STATS_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432"
)
WARM_UP = 3  # seconds per endpoint before measuring
console = Console()


@dataclass(frozen=True)
class Result:
    backend: str
    data_set: str
    target: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    timeouts: int
    non2xx: int


def database_url(backend: str, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{DATA / f'{name}.db'}"
    return f"{POSTGRES}/bench_{name.lower()}"


async def mentor_count(url: str) -> int:
    """Mentors in the database, creating a missing PostgreSQL database on the way."""
    if url.startswith("postgresql"):
        admin = create_async_engine(
            url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
        )
        async with admin.connect() as connection:
            name = url.rsplit("/", 1)[1]
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            )
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
        await admin.dispose()
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT count(*) FROM mentor")) or 0)
    except Exception:
        return 0
    finally:
        await engine.dispose()


def build(backend: str, name: str) -> None:
    url, plan = database_url(backend, name), SETS[name]
    if asyncio.run(mentor_count(url)) == plan.mentors:
        console.print(f"data set {name} on {backend}: cached")
        return
    command = [
        *CLI,
        "seed",
        "--mentors",
        str(plan.mentors),
        "--years",
        str(plan.years),
        "--seed",
        str(plan.seed),
        "--end",
        plan.end.isoformat(),
    ]
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": url}
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    console.print(f"data set {name} on {backend}: {output.strip()}")


def jsonl_of_l() -> Path:
    """L's records as JSON Lines (written once, cached in bench/data)."""
    source = DATA / "L.jsonl"
    if source.exists():
        return source
    plan = SETS["L"]
    mentors = mentor_rows(plan)
    with source.open("w") as out:
        for type_id, code, name, *_ in SEED_TYPES:
            line = {"record": "activity_type", "id": type_id, "code": code, "name": name}
            out.write(json.dumps(line) + "\n")
        for mentor_id, name, tz in mentors:
            line = {"record": "mentor", "id": mentor_id, "name": name, "timezone": tz}
            out.write(json.dumps(line) + "\n")
        for row in activity_rows(plan, mentors):
            line = {
                "record": "activity", "id": row.id, "mentor_id": row.mentor_id,
                "activity_type_id": row.activity_type_id, "status": row.status,
                "started_at": row.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration_minutes": row.duration_minutes,
            }  # fmt: skip
            out.write(json.dumps(line) + "\n")
    return source


def import_speed(backend: str) -> tuple[int, float]:
    """Seconds to import L's activities from JSON Lines into a new, empty database."""
    source = jsonl_of_l()
    url = database_url(backend, "import")
    if backend == "sqlite":
        for stale in DATA.glob("import.db*"):
            stale.unlink()
    else:
        asyncio.run(recreate_postgres_database(url))
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": url}
    subprocess.run([*CLI, "migrate"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    output = subprocess.run(
        [*CLI, "import", str(source)], env=env, check=True, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    activities = int(re.search(r"(\d+) activities", output.stdout).group(1))  # type: ignore[union-attr]
    if backend == "sqlite":
        for stale in DATA.glob("import.db*"):
            stale.unlink()
    return activities, seconds


async def recreate_postgres_database(url: str) -> None:
    admin = create_async_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()


def serve(url: str, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    """A server on the data set, once every worker's peer index is built (its /readyz says
    so; each fresh connection may reach another worker)."""
    env = os.environ | {
        "PERSONAL_STATS_DATABASE_URL": url,
        "PERSONAL_STATS_WORKERS": str(workers),
        "PERSONAL_STATS_LOG_LEVEL": "warning",
        # Every bench client connects from 127.0.0.1: its share is the whole worker's.
        "PERSONAL_STATS_MAX_STREAMS_PER_CLIENT": "10000",
    }
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ready: set[int] = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            detail = answer.json()
            if answer.status_code == 200 and detail["peer_index"]["ready"]:
                ready.add(detail["worker"])
                if len(ready) == workers:
                    return server
        except (httpx.TransportError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the server on {url} did not become ready")


def add_documents(url: str) -> None:
    """The GraphQL targets' documents (`DOCUMENTS`), added as persisted documents."""
    added = [*CLI, "documents", "add", *map(str, sorted(DOCUMENTS.glob("*.graphql")))]
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": url}
    subprocess.run(added, env=env, check=True, capture_output=True)


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def load(port: int, target: str, mentors: int, seconds: int, connections: int) -> dict[str, str]:
    """wrk's figures: one load thread (on two cores a second one competes with the server
    and adds its own delays to the measured tail), a timeout counted after 2 s."""
    env = os.environ | {"BENCH_TARGET": target, "BENCH_MENTORS": str(mentors),
                        "BENCH_DOCUMENTS": str(DOCUMENTS)}  # fmt: skip
    if target.endswith("-id"):
        text = (DOCUMENTS / f"{target.removesuffix('-id')}.graphql").read_text()
        env["BENCH_DOCUMENT_ID"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "2s",
        "-s",
        str(HERE / "load.lua"),
        f"http://127.0.0.1:{port}",
    ]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return dict(re.findall(r"(\w+)=([\d.]+)", output.split("BENCH", 1)[1]))


def measured(backend: str, data_set: str, target: str, figures: dict[str, str]) -> Result:
    result = Result(
        backend, data_set, target, float(figures["rps"]), float(figures["p50_ms"]),
        float(figures["p99_ms"]), int(figures["errors"]), int(figures["timeouts"]),
        int(figures["non2xx"]),
    )  # fmt: skip
    console.print(
        f"{backend:8} {data_set} {target:14} {result.rps:8.0f} req/s  "
        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  errors {result.errors} "
        f"timeouts {result.timeouts} non-2xx {result.non2xx}"
    )
    return result


def stress(backends: list[str], seconds: int) -> list[Result]:
    """L's summary with 256 connections on one worker (beyond the in-flight limit requests
    are shed with 503), and with 32 connections on two workers."""
    results, port = [], 8865
    for backend in backends:
        url, mentors = database_url(backend, "L"), SETS["L"].mentors
        for workers, connections, label in ((1, 256, "summary 256c"), (2, 32, "summary 2w")):
            server = serve(url, port, workers)
            try:
                load(port, "summary", mentors, WARM_UP, connections)
                figures = load(port, "summary", mentors, seconds, connections)
                results.append(measured(backend, "L", label, figures))
            finally:
                server.terminate()
                server.wait(timeout=30)
            port += 1
    return results


@dataclass(frozen=True)
class Hostile:
    backend: str
    slow: Result  # the summary load while slow bodies hold connections
    reopened: int
    expensive: Expensive


def hostile(backends: list[str], seconds: int, connections: int) -> list[Hostile]:
    """On L, one worker: the REST summary under wrk while 64 connections trickle bodies;
    then the ten-alias query of a thousand mentors with five questions each."""
    runs, port = [], 8965
    for backend in backends:
        server = serve(database_url(backend, "L"), port)
        try:
            slow = SlowBodies(port)
            time.sleep(1)
            figures = load(port, "summary", SETS["L"].mentors, seconds, connections)
            reopened = slow.close()
            result = measured(backend, "L", f"summary + {SLOW_CONNECTIONS} slow", figures)
            expensive = expensive_query(port, "mentor_000001")
            console.print(f"{backend:8} expensive query: {expensive}")
            runs.append(Hostile(backend, result, reopened, expensive))
        finally:
            server.terminate()
            server.wait(timeout=30)
        port += 1
    return runs


def copy_of_s(backend: str, name: str) -> tuple[str, str]:
    """A new database `name` seeded like S, and a write API token for it."""
    url = database_url(backend, name)
    if backend == "sqlite":
        for stale in DATA.glob(f"{name}.db*"):
            stale.unlink()
    else:
        asyncio.run(recreate_postgres_database(url))
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": url}
    plan = SETS["S"]
    subprocess.run([*CLI, "seed", "--mentors", str(plan.mentors), "--years", str(plan.years)],
                   env=env, check=True, capture_output=True)  # fmt: skip
    token = subprocess.run([*CLI, "token", "create", "bench"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return url, token


INGEST_BATCH = 1_000
INGEST_CLIENTS = 4


def ingest_speed(backend: str, seconds: int) -> tuple[int, float, float]:
    """Records/s through POST /api/v1/ingest: 1,000-record JSON Lines batches of new
    activities from 4 clients at once, into a copy of S; also the p99 of a batch in ms."""
    url, token = copy_of_s(backend, "ingest")
    plan = SETS["S"]
    port = 8965
    server = serve(url, port)
    try:
        return asyncio.run(_push_batches(port, token, plan.mentors, seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _push_batches(
    port: int, token: str, mentors: int, seconds: int
) -> tuple[int, float, float]:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"}
    written, took = 0, []
    deadline = time.perf_counter() + seconds

    def batch(client: int, number: int) -> bytes:
        return "\n".join(
            json.dumps({"record": "activity", "id": f"ing{client}_{number}_{i}",
                        "mentor_id": f"mentor_{(number * 7 + i) % mentors:06d}",
                        "activity_type_id": "act_type_001", "status": "completed",
                        "started_at": f"2026-11-{1 + i % 28:02d}T{8 + i % 12:02d}:00:00Z",
                        "duration_minutes": 30 + i % 40})
            for i in range(INGEST_BATCH)
        ).encode()  # fmt: skip

    async def client(number: int) -> None:
        nonlocal written
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            sent = 0
            while time.perf_counter() < deadline:
                body = batch(number, sent)
                started = time.perf_counter()
                answer = await http.post("/api/v1/ingest", content=body, headers=headers)
                took.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise SystemExit(f"ingest answered {answer.status_code}: {answer.text}")
                written += INGEST_BATCH
                sent += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(INGEST_CLIENTS)))
    elapsed = time.perf_counter() - started
    took.sort()
    return written, elapsed, took[int(len(took) * 0.99)] * 1000


WRITE_BATCH = 200  # new activities a second, as the activity service pushes them
MIXED_HEAD = (
    "| backend | alone req/s | p99 ms | with writes req/s | ratio | p99 ms | past 2 s | writes "
    "| write p50 / p99 ms | index ready p50 / max ms | its build p50 / max ms | stale reads "
    "| index after |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


@dataclass(frozen=True)
class Mixed:
    backend: str
    alone: Result
    written: Result
    writes: int
    write_p50_ms: float
    write_p99_ms: float
    index_p50_ms: float  # from a write's answer until /readyz shows its version indexed
    index_max_ms: float
    build_p50_ms: float  # of that, the server's own refresh (/readyz `build_seconds`)
    build_max_ms: float
    stale_reads: int  # reads after a write that did not count it
    state: dict[str, Any]


def mixed(backend: str, seconds: int, connections: int) -> Mixed:
    """L's REST summary loaded alone, then while one 200-record batch a second arrives
    through the write API; after each batch a touched mentor's summary is read (it must
    count the batch) and /readyz is polled until the peer index has the batch's version."""
    url = database_url(backend, "L")
    token = subprocess.run([*CLI, "token", "create", f"bench-{time.time_ns()}"],
                           env=os.environ | {"PERSONAL_STATS_DATABASE_URL": url},
                           check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    port, mentors = 8665, SETS["L"].mentors
    server = serve(url, port)
    try:
        load(port, "summary", mentors, WARM_UP, connections)
        alone = measured(backend, "L", "summary alone", load(port, "summary", mentors,
                                                              seconds, connections))  # fmt: skip
        stop = time.monotonic() + seconds + 2
        writer = _Writer(port, token, mentors, stop)
        try:
            figures = load(port, "summary", mentors, seconds, connections)
        finally:
            pushed = writer.result()
        written = measured(backend, "L", "summary + writes", figures)
        state = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["peer_index"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    took, indexed, built = sorted(pushed.took), sorted(pushed.indexed), sorted(pushed.built)
    return Mixed(backend, alone, written, len(took), took[len(took) // 2],
                 took[min(len(took) - 1, int(len(took) * 0.99))], indexed[len(indexed) // 2],
                 indexed[-1], built[len(built) // 2], built[-1], pushed.stale, state)  # fmt: skip


@dataclass(frozen=True)
class Pushed:
    """What the mixed run's writer saw: each write's time, the time until /readyz showed
    its version indexed and the server's build time of it (ms), and the stale reads."""

    took: list[float]
    indexed: list[float]
    built: list[float]
    stale: int


class _Writer:
    """The writer of the mixed run, on a thread of its own (wrk runs meanwhile)."""

    def __init__(self, port: int, token: str, mentors: int, stop: float) -> None:
        import threading

        self.args = (port, token, mentors, stop)
        self.outcome: Pushed | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.outcome = asyncio.run(_push_mixed(*self.args))
        except BaseException as error:  # SystemExit too: a thread would swallow it
            self.error = error

    def result(self) -> "Pushed":
        self.thread.join()
        if self.outcome is None:
            raise SystemExit(f"the writer failed: {self.error!r}")
        return self.outcome


async def _push_mixed(port: int, token: str, mentors: int, stop: float) -> "Pushed":
    headers = {"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"}
    took: list[float] = []
    indexed: list[float] = []
    built: list[float] = []
    stale = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        number = 0
        while time.monotonic() < stop - 1:
            began = time.monotonic()
            touched = f"mentor_{(number * 37) % mentors:06d}"
            body = "\n".join(
                json.dumps({"record": "activity", "id": f"mix{time.time_ns()}_{i}",
                            "mentor_id": touched if i == 0 else
                            f"mentor_{(number * 7919 + i * 104729) % mentors:06d}",
                            "activity_type_id": "act_type_001", "status": "completed",
                            "started_at": f"2026-11-{1 + i % 27:02d}T{8 + i % 12:02d}:00:00Z",
                            "duration_minutes": 30 + i % 40})
                for i in range(WRITE_BATCH)
            ).encode()  # fmt: skip
            answer = await http.post("/api/v1/ingest", content=body, headers=headers)
            written = time.monotonic()
            took.append((written - began) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"ingest answered {answer.status_code}: {answer.text}")
            version = int(answer.headers["x-data-version"])
            read = await http.get(f"/api/v1/personal-stats/{touched}?as_of=2026-11-28")
            if read.status_code != 200:
                raise SystemExit(f"the read after a write answered {read.status_code}: {read.text}")
            stale += int(read.headers["x-data-version"]) < version
            while time.monotonic() < written + 10:
                state = (await http.get("/readyz")).json()["peer_index"]
                if (state["version"] or 0) >= version:
                    indexed.append((time.monotonic() - written) * 1000)
                    built.append(state["build_seconds"] * 1000)
                    break
                await asyncio.sleep(0.02)
            number += 1
            await asyncio.sleep(max(0.0, began + 1 - time.monotonic()))
    return Pushed(took, indexed, built, stale)


def soak(backend: str, seconds: int) -> str:
    """`seconds` of reads (REST and GraphQL summaries, 16 connections each) on a fresh copy
    of S while one 200-record batch a second arrives; the server's memory every 30 s."""
    url, token = copy_of_s(backend, "soak")
    plan = SETS["S"]
    port = 8765 + 300
    server = serve(url, port)
    rss: list[tuple[int, float]] = []
    try:
        started = time.monotonic()
        writer = _Writer(port, token, plan.mentors, started + seconds)
        loads = [
            subprocess.Popen(
                ["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", "--timeout", "2s", "-s",
                 str(HERE / "load.lua"), f"http://127.0.0.1:{port}"],
                env=os.environ | {"BENCH_TARGET": target, "BENCH_MENTORS": str(plan.mentors)},
                stdout=subprocess.PIPE, text=True,
            )
            for target in ("summary", "gql-summary")
        ]  # fmt: skip
        while any(load.poll() is None for load in loads):
            rss.append((round(time.monotonic() - started), _rss_mb(server.pid)))
            time.sleep(30)
        outputs = [load.communicate()[0] for load in loads]
        pushed = writer.result()
        state = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["peer_index"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    figures = [dict(re.findall(r"(\w+)=([\d.]+)", out.split("BENCH", 1)[1])) for out in outputs]
    requests = [f"{t}: {float(f['rps']):.0f} req/s, p99 {float(f['p99_ms']):.0f} ms, "
                f"{f['errors']} errors, {f['timeouts']} timeouts, {f['non2xx']} non-2xx"
                for t, f in zip(("REST", "GraphQL"), figures, strict=True)]  # fmt: skip
    memory = ", ".join(f"{at} s {mb:.0f} MB" for at, mb in rss)
    return (
        f"{backend}, {seconds} s: {'; '.join(requests)}; {len(pushed.took)} writes "
        f"({len(pushed.took) * WRITE_BATCH:,} activities; the peer index holds "
        f"{state['instants']:,} completed instants at the end), {pushed.stale} stale reads; "
        f"server RSS {memory}"
    )


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def run(
    backends: list[str], seconds: int, connections: int
) -> tuple[list[Result], dict[str, float]]:
    results, rss = [], {}
    port = 8765
    for backend in backends:
        for name, plan in SETS.items():
            add_documents(database_url(backend, name))
            server = serve(database_url(backend, name), port)
            try:
                for target in TARGETS:
                    load(port, target, plan.mentors, WARM_UP, connections)
                    figures = load(port, target, plan.mentors, seconds, connections)
                    results.append(measured(backend, name, target, figures))
                rss[f"{backend} {name}"] = peak_rss_mb(server.pid)
            finally:
                server.terminate()
                server.wait(timeout=30)
            port += 1
    return results, rss


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = (
        int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 1024**2
    )  # type: ignore[union-attr]
    postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[
        0
    ]
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB memory, Linux {platform.release()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {postgres}; {wrk}"
    )


RESULTS = """<!-- results: written by bench/run.py -->
Measured {when} on {machine}.
Each figure: {seconds} s of load with {connections} connections (one wrk thread, a request
counted as a timeout after 2 s) after a {warm_up} s warm-up of the same endpoint, one server
worker whose peer index is built (the harness waits for /readyz to say so).

### Import

`personal-stats import` of L's activities from JSON Lines into a new, empty database, wall
clock with the command's start-up:

| backend | activities | seconds | activities/s |
|---|---:|---:|---:|
{imports}

### Requests

| backend | set | endpoint | req/s | p50 ms | p99 ms | /healthz | GraphQL/REST | dashboard/REST \
| L/S p50 | errors | timeouts | non-2xx |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

### Write API

`POST /api/v1/ingest` of 1,000-record JSON Lines batches of new activities, from
{ingest_clients} clients at once for {seconds} s, into a copy of S (one worker):

| backend | records | seconds | records/s | p99 of a batch |
|---|---:|---:|---:|---:|
{ingests}

### Overload and a second worker (L, summary)

| backend | run | req/s | p50 ms | p99 ms | errors | timeouts | 503 (shed) | gain over 1 worker |
|---|---|---:|---:|---:|---:|---:|---:|---:|
{stress}

### Reads while writes arrive (L, REST summary, one worker)

{connections} connections of random summaries, {seconds} s alone, then {seconds} s while one
{write_batch}-record batch a second arrives through `POST /api/v1/ingest`; after each batch a
touched mentor's summary is read (a stale read is one whose `X-Data-Version` is older than
the batch's) and `/readyz` is polled until the peer index has the batch's version.

{mixed_head}
{mixed}

### Hostile clients (L, one worker)

While wrk loads the REST summary ({connections} connections, {seconds} s), {slow_connections}
other connections each send a head and part of a body and then nothing (a connection the
server closes is opened again at once); then one GraphQL query of ten aliases of `mentors`
with the same id 100 times, each with five questions, and a REST summary sent 50 ms after it.

| backend | summary req/s | p99 ms | not 2xx | timeouts | slow connections reopened \
| expensive query | its answer | summary meanwhile |
|---|---:|---:|---:|---:|---:|---:|---|---:|
{hostile}

### Records and rest days

The ratios of the new questions to the ones they extend, from the requests above:

{ratio_head}
{ratios}

### Server memory (peak RSS after all loads)

| server | peak RSS |
|---|---:|
{rss}
<!-- /results -->"""


def report(
    results: list[Result],
    stressed: list[Result],
    rss: dict[str, float],
    imported: dict[str, tuple[int, float]],
    ingested: dict[str, tuple[int, float, float]],
    mixed_runs: list[Mixed],
    hostile_runs: list[Hostile],
    options: Any,
) -> str:
    by = {(r.backend, r.data_set, r.target): r for r in results}
    rows = []
    for r in results:
        health = by[(r.backend, r.data_set, "healthz")].rps
        summary = by[(r.backend, r.data_set, "summary")].rps
        plain = r.target.removeprefix("gql-").removesuffix("-inline")
        rest = by.get((r.backend, r.data_set, plain))
        ratio_gql = f"{r.rps / rest.rps:.2f}" if r.target.startswith("gql-") and rest else ""
        dashboard = f"{r.rps / summary:.2f}" if plain == "dashboard" else ""
        small = by.get((r.backend, "S", r.target))
        ratio_ls = f"{r.p50_ms / small.p50_ms:.2f}" if r.data_set == "L" and small else ""
        rows.append(
            f"| {r.backend} | {r.data_set} | {r.target} | {r.rps:.0f} | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.rps / health:.2f} | {ratio_gql} | {dashboard} | {ratio_ls} | "
            f"{r.errors} | {r.timeouts} | {r.non2xx} |"
        )
    stress_rows = []
    for r in stressed:
        one = by.get((r.backend, "L", "summary"))
        gain = f"{r.rps / one.rps:.2f}" if r.target.endswith("2w") and one else ""
        stress_rows.append(
            f"| {r.backend} | {r.target} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{r.errors} | {r.timeouts} | {r.non2xx} | {gain} |"
        )
    return RESULTS.format(
        when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(),
        seconds=options.seconds,
        connections=options.connections,
        warm_up=WARM_UP,
        imports="\n".join(
            f"| {backend} | {count:,} | {took:.1f} | {count / took:,.0f} |"
            for backend, (count, took) in imported.items()
        ),
        rows="\n".join(rows),
        stress="\n".join(stress_rows),
        ingest_clients=INGEST_CLIENTS,
        ingests="\n".join(
            f"| {backend} | {count:,} | {took:.1f} | {count / took:,.0f} | {p99:.0f} ms |"
            for backend, (count, took, p99) in ingested.items()
        ),
        rss="\n".join(f"| {k} | {v:.0f} MB |" for k, v in rss.items()),
        write_batch=WRITE_BATCH,
        mixed_head=MIXED_HEAD,
        mixed="\n".join(_mixed_row(m) for m in mixed_runs),
        slow_connections=SLOW_CONNECTIONS,
        hostile="\n".join(_hostile_row(h) for h in hostile_runs),
        ratio_head=RATIO_HEAD,
        ratios="\n".join(ratio_rows(results, RATIOS + DOCUMENT_RATIOS)),
    )


def ratio_rows(results: list[Result], ratios: list[tuple[str, str, float, str]]) -> list[str]:
    """The ratios of these results, a row each per backend and data set measured."""
    by = {(r.backend, r.data_set, r.target): r for r in results}
    rows = []
    for backend, data_set in dict.fromkeys((r.backend, r.data_set) for r in results):
        for target, against, least, label in ratios:
            mine, theirs = by.get((backend, data_set, target)), by.get((backend, data_set, against))
            if mine is None or theirs is None:
                continue
            ratio = mine.rps / theirs.rps
            verdict = "met" if ratio >= least else "missed"
            rows.append(
                f"| {backend} | {data_set} | {label} | {mine.rps:.0f} | {theirs.rps:.0f} | "
                f"{ratio:.2f} | {least} | {verdict} |"
            )
    return rows


RATIO_HEAD = """| backend | set | ratio | req/s | against req/s | ratio | target | |
|---|---|---|---:|---:|---:|---:|---|"""


def ratios_run(
    backends: list[str], seconds: int, connections: int, ratios: list[tuple[str, str, float, str]]
) -> list[Result]:
    """On L, one worker, each backend: the targets of these ratios in turns (two rounds, the
    better of each); the GraphQL targets' documents added as persisted documents first."""
    targets = sorted({t for pair in ratios for t in pair[:2]})
    results = []
    for port, backend in enumerate(backends, start=8790):
        url = database_url(backend, "L")
        add_documents(url)
        server = serve(url, port)
        try:
            best: dict[str, Result] = {}
            for _ in range(2):
                for target in targets:
                    load(port, target, SETS["L"].mentors, WARM_UP, connections)
                    figures = load(port, target, SETS["L"].mentors, seconds, connections)
                    found = measured(backend, "L", target, figures)
                    if target not in best or found.rps > best[target].rps:
                        best[target] = found
            results += best.values()
        finally:
            server.terminate()
            server.wait(timeout=30)
    return results


def _hostile_row(h: Hostile) -> str:
    s, e = h.slow, h.expensive
    return (
        f"| {h.backend} | {s.rps:.0f} | {s.p99_ms:.0f} | {s.non2xx + s.errors} | "
        f"{s.timeouts} | {h.reopened} | {e.status} in {e.seconds * 1000:.0f} ms | {e.answer} | "
        f"{e.summary_ms:.0f} ms |"
    )


def _mixed_row(m: Mixed) -> str:
    state = m.state
    index = (f"{state['refreshes']} refreshes, {state['merges']} merges, "
             f"{state['loads']} load, overlay {state['overlay']:,}")  # fmt: skip
    return (
        f"| {m.backend} | {m.alone.rps:.0f} | {m.alone.p99_ms:.0f} | {m.written.rps:.0f} | "
        f"{m.written.rps / m.alone.rps:.2f} | {m.written.p99_ms:.0f} | {m.written.timeouts} | "
        f"{m.writes} | {m.write_p50_ms:.0f} / {m.write_p99_ms:.0f} | "
        f"{m.index_p50_ms:.0f} / {m.index_max_ms:.0f} | "
        f"{m.build_p50_ms:.0f} / {m.build_max_ms:.0f} | {m.stale_reads} | {index} |"
    )


def write_report(text: str, section: str = "results") -> None:
    """Replace a results section of bench/README.md (`<!-- {section}: ... <!-- /{section}
    -->`), keeping the text around it."""
    readme = HERE / "README.md"
    current = readme.read_text() if readme.exists() else "# Benchmark\n\n"
    pattern = re.compile(rf"<!-- {section}: .*?<!-- /{section} -->", re.DOTALL)
    if pattern.search(current):
        readme.write_text(pattern.sub(lambda _: text, current))
    else:
        readme.write_text(current.rstrip("\n") + "\n\n" + text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="load per endpoint (default 10)")
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent connections (default 32)"
    )
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated (default sqlite,postgres)"
    )
    parser.add_argument(
        "--only-mixed",
        action="store_true",
        help="only the run of reads while writes arrive (printed, not written to README.md)",
    )
    parser.add_argument(
        "--soak",
        type=int,
        metavar="SECONDS",
        help="only a soak: reads and one batch a second on a copy of S for SECONDS",
    )
    parser.add_argument("--only-import", action="store_true", help="only the import of L")
    parser.add_argument("--only-hostile", action="store_true", help="only the hostile clients")
    parser.add_argument(
        "--only-documents",
        action="store_true",
        help="only the ratios of documents named by id on L, one worker (written to README.md)",
    )
    parser.add_argument(
        "--only-stress", action="store_true", help="only L's summary with 256c and two workers"
    )
    parser.add_argument(
        "--only-records",
        action="store_true",
        help="only the ratios of records and rest days on L, one worker (written to README.md)",
    )
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    DATA.mkdir(exist_ok=True)
    backends = options.backends.split(",")
    if options.soak:
        for backend in backends:
            console.print(soak(backend, options.soak))
        return
    if options.only_import:
        for backend in backends:
            count, took = import_speed(backend)
            console.print(f"import into {backend}: {count:,} activities in {took:.1f} s, "
                          f"{count / took:,.0f}/s")  # fmt: skip
        return
    for backend in backends:
        for name in SETS:
            build(backend, name)
    if options.only_stress:
        for r in stress(backends, options.seconds):
            console.print(f"{r.backend} {r.target}: {r.rps:.0f} req/s, p99 {r.p99_ms:.0f} ms, "
                          f"{r.timeouts} timeouts, {r.non2xx} shed")  # fmt: skip
        return
    runs = [(options.only_records, RATIOS, "records"),
            (options.only_documents, DOCUMENT_RATIOS, "documents")]  # fmt: skip
    for flag, ratios, section in runs:
        if not flag:
            continue
        measured_ = ratios_run(backends, options.seconds, options.connections, ratios)
        rows = ratio_rows(measured_, ratios)
        console.print("\n".join(rows))
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        head = (f"<!-- {section}: {when}, L, one worker, {options.connections} connections, "
                f"{options.seconds} s a target, the better of two rounds -->")  # fmt: skip
        write_report("\n".join([head, RATIO_HEAD, *rows, f"<!-- /{section} -->"]), section)
        return
    if options.only_hostile:
        for h in hostile(backends, options.seconds, options.connections):
            console.print(_hostile_row(h))
        return
    mixed_runs = [mixed(backend, options.seconds, options.connections) for backend in backends]
    for m in mixed_runs:
        console.print(_mixed_row(m))
    if options.only_mixed:
        return
    imported = {}
    for backend in backends:
        imported[backend] = import_speed(backend)
        count, took = imported[backend]
        console.print(f"import into {backend}: {count} activities in {took:.1f} s")
    results, rss = run(backends, options.seconds, options.connections)
    for key, value in rss.items():
        console.print(f"peak RSS {key}: {value:.0f} MB")
    stressed = stress(backends, options.seconds)
    ingested = {}
    for backend in backends:
        ingested[backend] = ingest_speed(backend, options.seconds)
        count, took, p99 = ingested[backend]
        console.print(f"ingest into {backend}: {count / took:,.0f} records/s, p99 {p99:.0f} ms")
    hostile_runs = hostile(backends, options.seconds, options.connections)
    write_report(
        report(results, stressed, rss, imported, ingested, mixed_runs, hostile_runs, options)
    )
    console.print(f"wrote {HERE / 'README.md'}")


if __name__ == "__main__":
    main()
