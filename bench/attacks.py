"""The hostile clients of the second round, each against one worker on the demo data, on
SQLite and PostgreSQL: what the attacker got, how soon, and what another client got meanwhile
(the slowest /healthz and REST summary sent while the attack ran). Writes its table to
bench/README.md (`python bench/attacks.py`, part of `make bench`)."""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import websockets
from run import CLI, POSTGRES, console, serve, write_report

HERE = Path(__file__).parent
DEMO = HERE.parent / "fixtures" / "demo.json"
JAMES = "mentor_b2c91a"
SUMMARY = f"/api/v1/personal-stats/{JAMES}"


@dataclass(frozen=True)
class Outcome:
    attack: str
    got: str  # what the attacker got
    seconds: float  # until it got it
    healthz_ms: float  # the slowest /healthz of another client meanwhile
    summary_ms: float  # the slowest REST summary of another client meanwhile
    failed: int  # answers other than 200 the other client got meanwhile


Attack = Callable[[str, str], Awaitable[tuple[str, float]]]


def fragments(body: str) -> str:
    chain = [f"fragment F0 on Query {{ {body} }}"]
    chain += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 31)]
    return "query { ...F30 }\n" + "\n".join(chain)


async def fragment_bomb(base: str, _token: str) -> tuple[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        started = time.perf_counter()
        answer = await http.post("/graphql", json={"query": fragments('mentor(id: "x") { id }')})
    return answer.json()["errors"][0]["message"][:60], time.perf_counter() - started


async def default_ids(base: str, _token: str) -> tuple[str, float]:
    ids = json.dumps([JAMES] * 100)
    five = "personalStats { totalActivities } monthlySeries { data { totalActivities } }"
    aliases = " ".join(f"a{n}: mentors(ids: $ids) {{ {five} }}" for n in range(10))
    query = f"query Q($ids: [ID!]! = {ids}) {{ {aliases} }}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        started = time.perf_counter()
        answer = await http.post("/graphql", json={"query": query})
    return answer.json()["errors"][0]["message"][:60], time.perf_counter() - started


async def conflicting_aliases(base: str, _token: str) -> tuple[str, float]:
    same = f'{{ x: mentor(id: "{JAMES}") {{ name }} x: mentor(id: "{JAMES}") {{ name }} }}'
    other = f'{{ x: mentor(id: "{JAMES}") {{ name }} x: mentor(id: "mentor_5f1b66") {{ name }} }}'
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        await http.post("/graphql", json={"query": same})
        started = time.perf_counter()
        answer = (await http.post("/graphql", json={"query": other})).json()
    said = answer["errors"][0]["message"][:60] if "errors" in answer else f"data: {answer['data']}"
    return said, time.perf_counter() - started


async def pipelined_stream(base: str, _token: str) -> tuple[str, float]:
    port = int(base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    writer.write(f"GET {SUMMARY}/events HTTP/1.1\r\nhost: x\r\n\r\n".encode()
                 + b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")  # fmt: skip
    async with asyncio.timeout(10):
        await reader.read()
    writer.close()
    return "connection closed", time.perf_counter() - started


async def never_read(base: str, _token: str) -> tuple[str, float]:
    port = int(base.rsplit(":", 1)[1])
    held = []
    request = b"GET /static/vendor/graphiql-3.8.3/graphiql.min.js HTTP/1.1\r\nhost: x\r\n\r\n"
    started = time.perf_counter()
    for _ in range(100):
        connection = socket.socket()
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.connect(("127.0.0.1", port))
        connection.sendall(request)
        held.append(connection)
        await asyncio.sleep(0.01)
    await asyncio.sleep(2)  # while they wait
    for connection in held:
        connection.close()
    return "100 held 2 s", time.perf_counter() - started


async def large_head(base: str, _token: str) -> tuple[str, float]:
    port = int(base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    writer.write(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 2_000_000 + b"\r\n\r\n")
    line = await reader.readline()
    writer.close()
    return line.decode().strip(), time.perf_counter() - started


async def tokenless_ingest(base: str, _token: str) -> tuple[str, float]:
    port = int(base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    writer.write(b"POST /api/v1/ingest HTTP/1.1\r\nhost: x\r\ncontent-length: 10000000\r\n\r\n")
    line = await reader.readline()
    writer.close()
    return line.decode().strip(), time.perf_counter() - started


async def deep_variables(base: str, _token: str) -> tuple[str, float]:
    body = '{"query": "{ __typename }", "variables": {"x": ' + "[" * 30_000 + "]" * 30_000 + "}}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        started = time.perf_counter()
        answer = await http.post("/graphql", content=body,
                                 headers={"content-type": "application/json"})  # fmt: skip
    return str(answer.status_code), time.perf_counter() - started


async def huge_message(base: str, _token: str) -> tuple[str, float]:
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"],
                                  max_size=None) as ws:  # fmt: skip
        await ws.send(json.dumps({"type": "connection_init"}))
        await ws.recv()
        started = time.perf_counter()
        try:
            await ws.send('{"type": "subscribe", "payload": "' + " " * (16 << 20) + '"}')
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else "?"
            return f"closed {code}", time.perf_counter() - started
    return "answered", time.perf_counter() - started


async def query_on_socket(base: str, _token: str) -> tuple[str, float]:
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        await ws.recv()
        started = time.perf_counter()
        query = f'{{ mentor(id: "{JAMES}") {{ name }} }}'
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        kinds = [json.loads(await ws.recv())["type"] for _ in range(2)]
    return " + ".join(kinds), time.perf_counter() - started


ATTACKS: dict[str, Attack] = {
    "30 doubling fragments (1.2 KB)": fragment_bomb,
    "10 x 100 ids as a default value": default_ids,
    "conflicting aliases after a template": conflicting_aliases,
    "a request pipelined behind a stream": pipelined_stream,
    "100 clients that never read 3.5 MB": never_read,
    "a 2 MB request head": large_head,
    "ingest, no token, 10 MB declared": tokenless_ingest,
    "30,000 nested arrays as variables": deep_variables,
    "a 16 MiB WebSocket message": huge_message,
    "a query on the WebSocket": query_on_socket,
}


async def others_meanwhile(base: str, attack: Attack, token: str) -> Outcome:
    """Runs the attack while another client asks /healthz and the summary every 50 ms."""
    worst = {"/healthz": 0.0, SUMMARY: 0.0}
    failed = 0
    done = asyncio.Event()

    async def other() -> None:
        nonlocal failed
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            while not done.is_set():
                for path in worst:
                    started = time.perf_counter()
                    failed += (await http.get(path)).status_code != 200
                    worst[path] = max(worst[path], time.perf_counter() - started)
                await asyncio.sleep(0.05)

    watching = asyncio.create_task(other())
    await asyncio.sleep(0.2)
    name = next(n for n, a in ATTACKS.items() if a is attack)
    got, seconds = await attack(base, token)
    done.set()
    await watching
    return Outcome(name, got, seconds, worst["/healthz"] * 1000, worst[SUMMARY] * 1000, failed)


def fresh(backend: str, name: str) -> str:
    """The URL of an empty database of this name (a SQLite file, a PostgreSQL database)."""
    if backend == "sqlite":
        path = HERE / "data" / f"{name}.db"
        path.parent.mkdir(exist_ok=True)
        for old in path.parent.glob(f"{name}.db*"):
            old.unlink()
        return f"sqlite+aiosqlite:///{path}"
    for sql in (f"DROP DATABASE IF EXISTS bench_{name}", f"CREATE DATABASE bench_{name}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql],
                       check=True)  # fmt: skip
    return f"{POSTGRES}/bench_{name}"


def run(backend: str, port: int) -> list[Outcome]:
    url = fresh(backend, "attacks")
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": url}
    subprocess.run([*CLI, "import", str(DEMO)], env=env, check=True, capture_output=True)
    made = subprocess.run([*CLI, "token", "create", "attacks"], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    token = made.stdout.split()[0]
    server = serve(url, port)
    try:
        base = f"http://127.0.0.1:{port}"
        return [asyncio.run(others_meanwhile(base, attack, token)) for attack in ATTACKS.values()]
    finally:
        server.terminate()
        server.wait(timeout=30)


def table(results: dict[str, list[Outcome]]) -> str:
    lines = [
        "<!-- attacks: written by bench/attacks.py -->",
        f"Hostile clients, second round (`python bench/attacks.py`, "
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC, one worker on the demo data, 2 cores): what the"
        " attacker got and how soon, and what another client asking `/healthz` and a REST summary"
        " every 50 ms got meanwhile: the slowest of each, and how many were not 200.",
        "",
        "| attack | engine | the attacker got | after | /healthz, slowest | summary, slowest "
        "| not 200 |",
        "|---|---|---|---|---|---|---|",
    ]
    for backend, outcomes in results.items():
        for o in outcomes:
            lines.append(f"| {o.attack} | {backend} | {o.got.replace('|', '/')} | "
                         f"{o.seconds * 1000:.0f} ms | {o.healthz_ms:.0f} ms | "
                         f"{o.summary_ms:.0f} ms | {o.failed} |")  # fmt: skip
    lines.append("<!-- /attacks -->")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], action="append")
    options = parser.parse_args()
    results = {b: run(b, 8760 + i) for i, b in enumerate(options.backend or ["sqlite", "postgres"])}
    report = table(results)
    console.print(report)
    write_report(report, "attacks")


if __name__ == "__main__":
    main()
