"""The live updates' benchmark (part of `make bench`; alone: `python bench/live.py`).

On data set L (10,000 mentors, 2 million activities) of each engine:
- write → event: one stream, one small write a second through the write API; the time from
  the write's request (its commit lies within it) to the event's arrival. With one worker;
  with two (a stream on each, writes reaching either); on PostgreSQL also with two instances
  (stream on one, writes through the other).
- 10,000 streams held by one worker, one per mentor: the server's resident memory per
  stream; /healthz under wrk while one write a second is told to all of them; the REST
  summary under wrk with the streams open and without; and the server's CPU time spent on
  one write that touches one mentor (its event goes to every stream), idle CPU subtracted.
"""

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from run import CLI, SETS, WARM_UP, build, console, database_url, load, serve, write_report

from personal_stats.service.live import Follower

HERE = Path(__file__).parent
STREAMS = 10_000  # held by one worker
WRITES = 30  # of each latency run
TICKS = os.sysconf("SC_CLK_TCK")


def token(url: str) -> str:
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": url}
    created = subprocess.run([*CLI, "token", "create", f"bench-{time.time_ns()}"], env=env,
                             check=True, capture_output=True, text=True)  # fmt: skip
    return created.stdout.split()[0]


async def write(http: httpx.AsyncClient, key: str, number: int, mentor: str) -> int:
    record = {"record": "activity", "id": f"live{time.time_ns()}", "mentor_id": mentor,
              "activity_type_id": "act_type_001", "status": "completed",
              "started_at": f"2026-11-{1 + number % 27:02d}T10:00:00Z",
              "duration_minutes": 30}  # fmt: skip
    answer = await http.post("/api/v1/ingest", content=json.dumps(record),
                             headers={"authorization": f"Bearer {key}",
                                      "content-type": "application/x-ndjson"})  # fmt: skip
    if answer.status_code != 200:
        raise SystemExit(f"ingest answered {answer.status_code}: {answer.text}")
    return int(answer.headers["x-data-version"])


class Held:
    """One open stream on a raw connection: how many events it has read, and when."""

    def __init__(self) -> None:
        self.events = 0
        self.versions: dict[int, float] = {}  # version -> when read (only when `timed`)
        self.timed = False
        self.worker: int | None = None
        self.news = asyncio.Event()

    async def arrival(self, version: int, deadline: float) -> None:
        """Until the event of `version` has been read, or the loop's `deadline`."""
        while version not in self.versions:
            self.news.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await self.news.wait()
            except TimeoutError:
                return

    async def open(self, port: int, mentor: str, *, ask_worker: bool = False) -> None:
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        if ask_worker:
            self.writer.write(b"GET /readyz HTTP/1.1\r\nHost: bench\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            size = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
            self.worker = json.loads(await reader.readexactly(size))["worker"]
        path = f"/api/v1/personal-stats/{mentor}/events"
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise SystemExit(f"a stream was refused: {head[:80]!r}")
        self.task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            found = chunk.count(b"event: ")
            if found:
                self.events += found
                if self.timed:
                    now = time.monotonic()
                    for version in re.findall(rb"\nid: (\d+)\n", b"\n" + chunk):
                        self.versions[int(version)] = now
                    self.news.set()

    def close(self) -> None:
        self.task.cancel()
        self.writer.close()


@dataclass
class Latency:
    label: str
    samples: list[float]

    def row(self) -> str:
        s = sorted(self.samples)
        p95 = s[min(len(s) - 1, int(len(s) * 0.95))]
        return (f"| {self.label} | {len(s)} | {statistics.median(s):.0f} | {p95:.0f} | "
                f"{s[-1]:.0f} |")  # fmt: skip


async def latency(label: str, stream_port: int, write_port: int, key: str, writes: int,
                  workers: int = 1) -> Latency:  # fmt: skip
    """Write → event, `writes` times: with two workers, streams on both (each write reaches one
    of them: the other worker hears it from the database)."""
    held: dict[int | None, Held] = {}
    for attempt in range(40):
        stream = Held()
        stream.timed = True
        await stream.open(stream_port, f"mentor_{attempt:06d}", ask_worker=workers > 1)
        if stream.worker in held:
            stream.close()
            continue
        held[stream.worker] = stream
        if len(held) == workers:
            break
    samples = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{write_port}", timeout=30) as http:
        for number in range(writes):
            written = time.monotonic()  # before the request: the commit is inside it
            version = await write(http, key, number, f"mentor_{9000 + number:06d}")
            deadline = asyncio.get_running_loop().time() + 5
            await asyncio.gather(*(s.arrival(version, deadline) for s in held.values()))
            late = written + 5
            samples += [(s.versions.get(version, late) - written) * 1000 for s in held.values()]
            await asyncio.sleep(max(0.0, written + 1 - time.monotonic()))
    for stream in held.values():
        stream.close()
    found = Latency(label, samples)
    console.print(found.row())
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


@dataclass
class Many:
    backend: str
    streams: int
    per_stream_kb: float
    healthz_p99: float
    healthz_p99_alone: float
    summary_alone: float
    summary_streams: float
    fan_out_ms: list[float]
    told_all_ms: list[float]

    def row(self) -> str:
        fan_out = (f"{statistics.median(self.fan_out_ms):.0f} ({min(self.fan_out_ms):.0f} to "
                   f"{max(self.fan_out_ms):.0f})")  # fmt: skip
        return (
            f"| {self.backend} | {self.streams:,} | {self.per_stream_kb:.1f} | "
            f"{self.healthz_p99:.1f} ({self.healthz_p99_alone:.1f}) | "
            f"{self.summary_streams:.0f} / {self.summary_alone:.0f} = "
            f"{self.summary_streams / self.summary_alone:.2f} | {fan_out} | "
            f"{statistics.median(self.told_all_ms):.0f} |"
        )


class Writer(threading.Thread):
    """One small write a second, on a thread of its own (wrk runs meanwhile)."""

    def __init__(self, port: int, key: str, seconds: float) -> None:
        super().__init__(daemon=True)
        self.args = (port, key, time.monotonic() + seconds)

    def run(self) -> None:
        asyncio.run(self._writes())

    async def _writes(self) -> None:
        port, key, stop = self.args
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            number = 0
            while time.monotonic() < stop:
                began = time.monotonic()
                await write(http, key, number, f"mentor_{number % 100:06d}")
                number += 1
                await asyncio.sleep(max(0.0, began + 1 - time.monotonic()))


def healthz_while_writing(port: int, key: str, seconds: int) -> dict[str, str]:
    """wrk's figures of /healthz while one write a second arrives."""
    writer = Writer(port, key, seconds)
    writer.start()
    try:
        return load(port, "healthz", SETS["L"].mentors, seconds, 32)
    finally:
        writer.join()


ROUNDS = 3  # of the summary without streams, then with them (this machine's runs differ)


async def opened(port: int, streams: int) -> list[Held]:
    held = [Held() for _ in range(streams)]
    for first in range(0, streams, 500):
        await asyncio.gather(*(held[i].open(port, f"mentor_{i:06d}")
                               for i in range(first, min(first + 500, streams))))  # fmt: skip
    await asyncio.sleep(2)
    return held


async def closed(held: list[Held]) -> None:
    for h in held:
        h.close()
    await asyncio.sleep(2)


async def many(backend: str, url: str, key: str, port: int, seconds: int, streams: int) -> Many:
    server = serve(url, port)
    try:
        mentors = SETS["L"].mentors
        load(port, "summary", mentors, WARM_UP, 32)
        health_alone = healthz_while_writing(port, key, seconds)
        alone, with_streams = [], []
        for number in range(ROUNDS):
            alone.append(float(load(port, "summary", mentors, seconds, 32)["rps"]))
            before = rss_mb(server.pid)
            held = await opened(port, streams)
            if number == 0:
                per_stream_kb = (rss_mb(server.pid) - before) * 1024 / streams
                console.print(f"{backend}: {streams:,} streams open, {per_stream_kb:.1f} KB each")
            with_streams.append(float(load(port, "summary", mentors, seconds, 32)["rps"]))
            if number == 0:
                health = healthz_while_writing(port, key, seconds)
                fan_out, told_all = await fanned_out(server.pid, url, key, port, held)
            await closed(held)
        console.print(f"{backend}: summary req/s without streams {alone}, with {with_streams}")
        found = Many(backend, streams, per_stream_kb, float(health["p99_ms"]),
                     float(health_alone["p99_ms"]), statistics.median(alone),
                     statistics.median(with_streams), fan_out, told_all)  # fmt: skip
        console.print(found.row())
        return found
    finally:
        server.terminate()
        server.wait(timeout=30)


async def fanned_out(
    pid: int, url: str, key: str, port: int, held: list[Held]
) -> tuple[list[float], list[float]]:
    """The server's CPU ms for one write touching one mentor, told to every stream; and the
    ms from the write's answer until the last stream read it; 5 times each."""
    # The write through another server on the database: this one's CPU is then the
    # fan-out alone (the change feed's read, the hub, every stream's send).
    other = serve(url, port + 50)
    fan_out, told_all = [], []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port + 50}", timeout=30) as http:
            for number in range(5):
                await asyncio.sleep(1.5)  # past the throttle's interval, idle
                idle_start, idle_cpu = time.monotonic(), cpu_seconds(pid)
                await asyncio.sleep(2)
                idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.monotonic() - idle_start)
                counted = sum(h.events for h in held)
                start, cpu = time.monotonic(), cpu_seconds(pid)
                await write(http, key, number, f"mentor_{number:06d}")
                while sum(h.events for h in held) < counted + len(held):
                    if time.monotonic() > start + 10:
                        raise SystemExit("not every stream heard the write within 10 s")
                    await asyncio.sleep(0.005)
                told_all.append((time.monotonic() - start) * 1000)
                await asyncio.sleep(0.5)
                spent = cpu_seconds(pid) - cpu - idle_rate * (time.monotonic() - start)
                fan_out.append(spent * 1000)
    finally:
        other.terminate()
        other.wait(timeout=30)
    return fan_out, told_all


async def hub_alone(streams: int) -> list[float]:
    """The hub's part of one write's fan-out, in this process: `streams` followers on as many
    mentors, each waited on by a task as a stream's is, each event encoded and handed to a
    stream's push (no socket: the push takes it, writing nothing); CPU time from the feed's
    news until every follower's event is taken, 5 times."""
    from personal_stats.adapters.events import encoded
    from personal_stats.service.live import Event, Hub
    from personal_stats.storage.feed import Changes

    hub = Hub(min_interval=0.5, capacity=streams)
    followers = [hub.join(f"mentor_{i:06d}", 1, 1, False) for i in range(streams)]
    told, every = [0], asyncio.Event()

    def push(event: Event) -> bool:
        told[0] += bool(encoded(event))
        if told[0] % streams == 0:
            every.set()
        return True

    async def read(follower: Follower) -> None:
        follower.deliver = push
        await follower.next()

    tasks = [asyncio.create_task(read(f)) for f in followers]
    await asyncio.sleep(0.1)
    spent = []
    for version in range(2, 7):
        every.clear()
        began = time.process_time()
        hub.heard(Changes(version, {"mentor_000000": version}))
        await every.wait()
        spent.append((time.process_time() - began) * 1000)
        await asyncio.sleep(0.6)
    hub.close()
    await asyncio.gather(*tasks)
    return spent


async def measure(
    backends: list[str], seconds: int, streams: int, writes: int
) -> tuple[list[Latency], list[Many]]:
    latencies, held = [], []
    for number, backend in enumerate(backends):
        url = database_url(backend, "L")
        key = token(url)
        port = 8900 + 10 * number
        server = serve(url, port)
        try:
            latencies.append(await latency(f"{backend}, one worker", port, port, key, writes))
        finally:
            server.terminate()
            server.wait(timeout=30)
        server = serve(url, port, workers=2)
        try:
            latencies.append(await latency(f"{backend}, two workers", port, port, key, writes, 2))
        finally:
            server.terminate()
            server.wait(timeout=30)
        if backend == "postgres":
            first, second = serve(url, port), serve(url, port + 1)
            try:
                latencies.append(
                    await latency(f"{backend}, two instances", port, port + 1, key, writes)
                )
            finally:
                for server in (first, second):
                    server.terminate()
                    server.wait(timeout=30)
        held.append(await many(backend, url, key, port + 2, seconds, streams))
    return latencies, held


RESULTS = """<!-- live results: written by bench/live.py -->
### Live updates ({when})

Data set L; one worker unless said. {machine}

Write committed → event read by the client ({writes} writes, one a second, each touching
one mentor; from the moment the write's request is sent — the commit is somewhere inside it,
so this is an upper bound — to the event's arrival), ms:

| run | samples | p50 | p95 | max |
|---|---|---|---|---|
{latencies}

{streams:,} streams on one worker, one per mentor. KB each: the server's resident memory
after opening them, less before, per stream. /healthz p99 under wrk (32 connections) while one
write a second (through this server) is told to every stream; in brackets, the same with no
stream open. REST summary req/s with the streams open / without: the median of {rounds} runs
each, alternating (without, then with them opened afresh; this machine's runs differ by up to
25 % back to back).
CPU: the server's CPU time for one write touching one mentor, its event sent to all
{streams:,} streams (the write made through another server on the database, so this one's CPU
is the change feed, the hub and the sends alone), idle CPU subtracted, median (min to max) of
5. Told: from the write's answer until the last stream read it.

| engine | streams | KB each | /healthz p99 ms | summary with / without | CPU ms a write | told ms |
|---|---|---|---|---|---|---|
{many}

The hub alone (`live.py`, in the benchmark's process, no sockets): CPU from the feed's news of
one write until each of {streams:,} followers on as many mentors has its event encoded and
taken by its stream's push, as when every client has read what came before: {hub} ms, median
(min to max) of 5. The rest of the CPU above is the change feed's read and, nearly all of it,
one `send` system call on each of {streams:,} loopback sockets (the kernel's work for the
receiving end too).
<!-- /live results -->"""


def report(
    latencies: list[Latency], held: list[Many], hub: list[float], machine: str, writes: int,
    streams: int,
) -> str:  # fmt: skip
    from datetime import UTC, datetime

    return RESULTS.format(
        when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), machine=machine, writes=writes,
        latencies="\n".join(x.row() for x in latencies), streams=streams, rounds=ROUNDS,
        many="\n".join(m.row() for m in held),
        hub=f"{statistics.median(hub):.0f} ({min(hub):.0f} to {max(hub):.0f})",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seconds", type=int, default=10, help="wrk's load (default 10)")
    parser.add_argument("--streams", type=int, default=STREAMS, help="held by one worker")
    parser.add_argument("--writes", type=int, default=WRITES, help="of each latency run")
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < options.streams + 1000:  # the server inherits it
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    backends = options.backends.split(",")
    for backend in backends:
        build(backend, "L")
    hub = asyncio.run(hub_alone(options.streams))
    console.print(f"the hub alone: {statistics.median(hub):.0f} ms for {options.streams:,}")
    latencies, held = asyncio.run(
        measure(backends, options.seconds, options.streams, options.writes)
    )
    from run import machine

    write_report(report(latencies, held, hub, machine(), options.writes, options.streams),
                 "live results")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
