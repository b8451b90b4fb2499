"""1,000 dashboard subscriptions (10 for each of 100 mentors) on one worker, under one write a
second, while other clients ask the REST summary: how soon each event reaches its subscriber
after the write is answered (p95), the REST summary's p99 meanwhile, and how many event
executions ran or were shared. On SQLite and PostgreSQL; writes its table to bench/README.md
(`python bench/subscriptions.py`, part of `make bench`)."""

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import websockets
from attacks import fresh
from run import CLI, console, serve, write_report

HERE = Path(__file__).parent
MENTORS, PER_MENTOR, WRITES = 100, 10, 20
DASHBOARD = """subscription Dashboard($id: ID!) {
  statsChanged(mentorId: $id) {
    dataVersion ownDataChanged
    mentor {
      name
      personalStats(period: LAST_90_DAYS) { totalActivities completionRate totalHoursLogged
        peerRankPercentile streakDays longestStreakDays activeDays weeklyStreakWeeks }
      monthlySeries(months: 12) { data { year month totalActivities totalHours } }
      activityBreakdown(period: LAST_90_DAYS) { data { activityTypeCode count percentage } }
      contributionCalendar { totalActivities activeDays maxCount days { date count level } }
    }
  }
}"""


VERSION = re.compile(r'"dataVersion":(\d+)')


def mentor_id(n: int) -> str:
    return f"mentor_{n:06d}"


def prepared(backend: str) -> str:
    url = fresh(backend, "subscriptions")
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": url}
    subprocess.run([*CLI, "seed", "--mentors", str(MENTORS), "--years", "2"], env=env,
                   check=True, capture_output=True)  # fmt: skip
    return url


async def measure(base: str, token: str) -> dict[str, float]:
    url = base.replace("http://", "ws://") + "/graphql"
    written: dict[int, float] = {}  # data version -> when its write was answered
    delays: list[float] = []
    sockets = []
    for n in range(MENTORS * PER_MENTOR):
        socket = await websockets.connect(url, subprotocols=["graphql-transport-ws"],
                                          max_size=None)  # fmt: skip
        await socket.send(json.dumps({"type": "connection_init"}))
        await socket.recv()
        payload = {"query": DASHBOARD, "variables": {"id": mentor_id(n % MENTORS)}}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        sockets.append(socket)

    async def listen(socket: websockets.ClientConnection) -> None:
        async for frame in socket:
            arrived = time.perf_counter()
            found = VERSION.search(frame)  # read off the text: json.loads of a dashboard for
            if found is None:  # each of 1,000 subscribers would make this client the bottleneck
                continue
            version = int(found[1])
            if version in written:
                delays.append(max(0.0, arrived - written[version]))

    listeners = [asyncio.create_task(listen(s)) for s in sockets]
    # The REST clients run in a process of their own, as other clients do: timed on this
    # process's loop, which reads 1,000 subscriptions, their figures would be this client's.
    seconds = 2 + WRITES + 2
    with ProcessPoolExecutor(1) as pool:
        asking = asyncio.get_running_loop().run_in_executor(pool, ask_summaries, base, seconds)
        await asyncio.sleep(2)
        before = await executions(base)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for n in range(WRITES):
                record = {"record": "activity", "id": f"sub{time.time_ns()}",
                          "mentor_id": mentor_id(n % MENTORS), "activity_type_id": "act_type_001",
                          "status": "completed", "started_at": "2026-11-20T10:00:00Z",
                          "duration_minutes": 30}  # fmt: skip
                headers = {"authorization": f"Bearer {token}",
                           "content-type": "application/x-ndjson"}  # fmt: skip
                answer = await http.post("/api/v1/ingest", content=json.dumps(record),
                                         headers=headers)  # fmt: skip
                written[int(answer.headers["x-data-version"])] = time.perf_counter()
                await asyncio.sleep(1)
        await asyncio.sleep(2)
        summaries = await asking
    after = await executions(base)
    for socket in sockets:
        await socket.close()
    await asyncio.gather(*listeners, return_exceptions=True)
    delays.sort()
    summaries.sort()
    return {
        "events": len(delays),
        "p50": statistics.median(delays),
        "p95": delays[int(len(delays) * 0.95)],
        "rest_p99_ms": summaries[int(len(summaries) * 0.99)] * 1000,
        "rest_answers": len(summaries),
        "ran": after["ran"] - before["ran"],
        "shared": after["shared"] - before["shared"],
        "asked": after["asked"] - before["asked"],
        "reused": after["reused"] - before["reused"],
    }


def ask_summaries(base: str, seconds: float) -> list[float]:
    """How long each REST summary took, asked by 4 clients for `seconds`."""
    summaries: list[float] = []

    async def ask(until: float) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            while time.perf_counter() < until:
                started = time.perf_counter()
                path = f"/api/v1/personal-stats/{mentor_id(random.randrange(MENTORS))}"
                await http.get(path)
                summaries.append(time.perf_counter() - started)

    async def main() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(*(ask(until) for _ in range(4)))

    asyncio.run(main())
    return summaries


async def executions(base: str) -> dict[str, float]:
    """Event executions ran and shared, and fields of the mentors' own records asked and
    reused, from /metrics."""
    async with httpx.AsyncClient(base_url=base) as http:
        metrics = (await http.get("/metrics")).text
    names = {"ran": "executions", "shared": "executions", "asked": "fields", "reused": "fields"}
    found = dict.fromkeys(names, 0.0)
    for line in metrics.splitlines():
        for how, metric in names.items():
            if line.startswith(f'personal_stats_subscription_{metric}_total{{how="{how}"}}'):
                found[how] = float(line.split()[-1])
    return found


def run(backend: str, port: int) -> dict[str, float]:
    url = prepared(backend)
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": url}
    made = subprocess.run([*CLI, "token", "create", "subscriptions"], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    server = serve(url, port)
    try:
        return asyncio.run(measure(f"http://127.0.0.1:{port}", made.stdout.split()[0]))
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], action="append")
    options = parser.parse_args()
    rows = {b: run(b, 8770 + i) for i, b in enumerate(options.backend or ["sqlite", "postgres"])}
    lines = [
        "<!-- subscriptions: written by bench/subscriptions.py -->",
        f"Subscriptions (`python bench/subscriptions.py`, {time.strftime('%Y-%m-%d %H:%M')} UTC,"
        f" one worker, 2 cores): {MENTORS * PER_MENTOR} dashboard subscriptions ({PER_MENTOR}"
        f" for each of {MENTORS} mentors, 2 years of seeded history), {WRITES} writes one a"
        " second (every subscriber hears each: the peer ranks may move), 4 clients asking the"
        " REST summary meanwhile. Targets: events p95 within 1 s, REST p99 at most 100 ms.",
        "",
        "| engine | events | event p50 | event p95 | REST answers | REST p99 | ran | shared"
        " | fields asked | fields reused |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for backend, r in rows.items():
        cells = [backend, f"{r['events']:.0f}", f"{r['p50'] * 1000:.0f} ms",
                 f"{r['p95'] * 1000:.0f} ms", f"{r['rest_answers']:.0f}",
                 f"{r['rest_p99_ms']:.0f} ms", f"{r['ran']:.0f}", f"{r['shared']:.0f}",
                 f"{r['asked']:.0f}", f"{r['reused']:.0f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("<!-- /subscriptions -->")
    report = "\n".join(lines)
    console.print(report)
    write_report(report, "subscriptions")


if __name__ == "__main__":
    main()
