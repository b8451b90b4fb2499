"""The benchmark: `make bench` (or `python bench/run.py --help`).

Builds data sets S (100 mentors x 3 years) and L (10,000 mentors x 5 years), cached in
bench/data and in PostgreSQL databases bench_s and bench_l; times the import of L's
activities from JSON Lines; serves each data set with one worker (uvloop + httptools) and
loads it from wrk with random mentors and parameters; writes the figures to bench/README.md.
"""

import argparse
import asyncio
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
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from personal_stats.seed import TYPES as SEED_TYPES
from personal_stats.seed import Plan, activity_rows, mentor_rows

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
    "gql-series",
    "gql-breakdown",
    "gql-history",
]
POSTGRES = os.environ.get(
    "PERSONAL_STATS_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432"
)
WARM_UP = 5  # seconds per endpoint before measuring: fills the per-window peer cache
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


def import_speed() -> tuple[int, float]:
    """Seconds to import L's activities from JSON Lines into a new SQLite database."""
    source = DATA / "L.jsonl"
    plan = SETS["L"]
    if not source.exists():
        mentors = mentor_rows(plan)
        with source.open("w") as out:
            for type_id, code, name, *_ in SEED_TYPES:
                out.write(
                    json.dumps(
                        {"record": "activity_type", "id": type_id, "code": code, "name": name}
                    )
                    + "\n"
                )
            for mentor_id, name, tz in mentors:
                out.write(
                    json.dumps({"record": "mentor", "id": mentor_id, "name": name, "timezone": tz})
                    + "\n"
                )
            for row in activity_rows(plan, mentors):
                out.write(
                    json.dumps(
                        {
                            "record": "activity",
                            "id": row.id,
                            "mentor_id": row.mentor_id,
                            "activity_type_id": row.activity_type_id,
                            "status": row.status,
                            "started_at": row.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "duration_minutes": row.duration_minutes,
                        }
                    )
                    + "\n"
                )
    target = DATA / "import.db"
    for stale in DATA.glob("import.db*"):
        stale.unlink()
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": f"sqlite+aiosqlite:///{target}"}
    subprocess.run([*CLI, "migrate"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    output = subprocess.run(
        [*CLI, "import", str(source)], env=env, check=True, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    activities = int(re.search(r"(\d+) activities", output.stdout).group(1))  # type: ignore[union-attr]
    for stale in DATA.glob("import.db*"):
        stale.unlink()
    return activities, seconds


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": url, "PERSONAL_STATS_WORKERS": "1"}
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                time.sleep(10)  # the peer index builds in the background after start-up
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the server on {url} did not become ready")


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def load(port: int, target: str, mentors: int, seconds: int, connections: int) -> dict[str, str]:
    env = os.environ | {"BENCH_TARGET": target, "BENCH_MENTORS": str(mentors)}
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(HERE / "load.lua"),
        f"http://127.0.0.1:{port}",
    ]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return dict(re.findall(r"(\w+)=([\d.]+)", output.split("BENCH", 1)[1]))


def run(
    backends: list[str], seconds: int, connections: int
) -> tuple[list[Result], dict[str, float]]:
    results, rss = [], {}
    port = 8765
    for backend in backends:
        for name, plan in SETS.items():
            server = serve(database_url(backend, name), port)
            try:
                for target in TARGETS:
                    load(port, target, plan.mentors, WARM_UP, connections)
                    figures = load(port, target, plan.mentors, seconds, connections)
                    result = Result(
                        backend,
                        name,
                        target,
                        float(figures["rps"]),
                        float(figures["p50_ms"]),
                        float(figures["p99_ms"]),
                        int(figures["errors"]) + int(figures["non2xx"]),
                    )
                    results.append(result)
                    console.print(
                        f"{backend:8} {name} {target:14} {result.rps:8.0f} req/s  "
                        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                        f"errors {result.errors}"
                    )
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
Each figure: {seconds} s of load with {connections} connections (2 wrk threads) after a 5 s
warm-up of the same endpoint, one server worker (the server starts 10 s before the first load,
time to build the instant index of L).

### Import

`personal-stats import` of L's {count:,} activities from JSON Lines into a new SQLite
database: {took:.1f} s wall clock, command start-up included: **{rate:,.0f} activities/s**.

### Requests

| backend | set | endpoint | req/s | p50 ms | p99 ms | /healthz | GraphQL/REST | L/S p50 | errors |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|
{rows}

### Server memory (peak RSS after all loads)

| server | peak RSS |
|---|---:|
{rss}
<!-- /results -->"""


def report(
    results: list[Result], rss: dict[str, float], imported: tuple[int, float], options: Any
) -> str:
    by = {(r.backend, r.data_set, r.target): r for r in results}
    rows = []
    for r in results:
        health = by[(r.backend, r.data_set, "healthz")].rps
        rest = by.get((r.backend, r.data_set, r.target.removeprefix("gql-")))
        ratio_gql = f"{r.rps / rest.rps:.2f}" if r.target.startswith("gql-") and rest else ""
        small = by.get((r.backend, "S", r.target))
        ratio_ls = f"{r.p50_ms / small.p50_ms:.2f}" if r.data_set == "L" and small else ""
        rows.append(
            f"| {r.backend} | {r.data_set} | {r.target} | {r.rps:.0f} | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.rps / health:.2f} | {ratio_gql} | {ratio_ls} | {r.errors} |"
        )
    count, took = imported
    return RESULTS.format(
        when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(),
        seconds=options.seconds,
        connections=options.connections,
        count=count,
        took=took,
        rate=count / took,
        rows="\n".join(rows),
        rss="\n".join(f"| {k} | {v:.0f} MB |" for k, v in rss.items()),
    )


def write_report(text: str) -> None:
    """Replace the results section of bench/README.md, keeping the text around it."""
    readme = HERE / "README.md"
    current = readme.read_text() if readme.exists() else "# Benchmark\n\n"
    pattern = re.compile(r"<!-- results: .*?<!-- /results -->", re.DOTALL)
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
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    DATA.mkdir(exist_ok=True)
    backends = options.backends.split(",")
    for backend in backends:
        for name in SETS:
            build(backend, name)
    imported = import_speed()
    console.print(f"import: {imported[0]} activities in {imported[1]:.1f} s")
    results, rss = run(backends, options.seconds, options.connections)
    for key, value in rss.items():
        console.print(f"peak RSS {key}: {value:.0f} MB")
    write_report(report(results, rss, imported, options))
    console.print(f"wrote {HERE / 'README.md'}")


if __name__ == "__main__":
    main()
