"""Hostile clients against one worker on L, while wrk loads the REST summary: what the
others still get. Imported by run.py (`--only-hostile` runs these alone)."""

import json
import socket
import threading
import time
from dataclasses import dataclass

import httpx

SLOW_CONNECTIONS = 64
HALF_A_BODY = (
    b"POST /graphql HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
    b'content-length: 1000\r\n\r\n{"query": '
)
FIVE = (
    "personalStats { totalActivities peerRankPercentile streakDays } "
    "monthlySeries { data { totalActivities } } activityBreakdown { data { count } } "
    "contributionHistory { data { totalActivities } } contributionCalendar { totalActivities }"
)


@dataclass(frozen=True)
class Expensive:
    status: int
    seconds: float
    answer: str  # the first error's message, or the size of the data
    summary_ms: float  # a REST summary sent while it ran


class SlowBodies:
    """`SLOW_CONNECTIONS` connections that each send a head and part of a body, then nothing;
    a connection the server closes is opened again at once (as an attacker would)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.reopened = 0
        self.threads = [threading.Thread(target=self._hold, daemon=True)
                        for _ in range(SLOW_CONNECTIONS)]  # fmt: skip
        for thread in self.threads:
            thread.start()

    def _hold(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                    connection.sendall(HALF_A_BODY)
                    while not self.stop.is_set():
                        try:
                            if connection.recv(4096) == b"":
                                break  # closed by the server
                        except TimeoutError:
                            continue
            except OSError:
                time.sleep(0.05)
            self.reopened += 1

    def close(self) -> int:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        return self.reopened


def expensive_query(port: int, mentor_id: str) -> Expensive:
    """Ten aliases of `mentors` with the same id 100 times, each with five questions, and a
    REST summary sent 50 ms after it."""
    aliases = " ".join(
        f"a{n}: mentors(ids: {json.dumps([mentor_id] * 100)}) {{ {FIVE} }}" for n in range(10)
    )
    base = f"http://127.0.0.1:{port}"
    outcome: dict[str, float] = {}

    def summary() -> None:
        time.sleep(0.05)
        started = time.perf_counter()
        httpx.get(f"{base}/api/v1/personal-stats/{mentor_id}", timeout=60)
        outcome["summary"] = time.perf_counter() - started

    side = threading.Thread(target=summary)
    side.start()
    started = time.perf_counter()
    answer = httpx.post(f"{base}/graphql", json={"query": "{ " + aliases + " }"}, timeout=60)
    seconds = time.perf_counter() - started
    side.join()
    body = answer.json()
    said = body["errors"][0]["message"] if body.get("errors") else f"{len(answer.content):,} bytes"
    return Expensive(answer.status_code, seconds, said, outcome["summary"] * 1000)
