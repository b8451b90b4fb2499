"""`personal-stats serve` in a process of its own, for the tests that need a real server."""

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(
    base: str, log: Path | None = None, seconds: float = 30, workers: int = 1
) -> None:
    """Poll /readyz (a new connection each time: each stays with one worker) until each of
    `workers` has answered 200; fail the test (with the server's log) if they never do."""
    deadline = time.monotonic() + seconds
    ready: set[object] = set()
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/readyz", timeout=1)
            if answer.status_code == 200:
                ready.add(answer.json().get("worker"))
                if len(ready) >= workers:
                    return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    output = log.read_text() if log is not None and log.exists() else ""
    pytest.fail(f"{workers - len(ready)} worker(s) at {base} did not become ready:\n{output}")


# Servers start as forks of one process per test process that has imported the service
# already (a new interpreter spent two seconds importing it, for every server of the suite).
_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload([
    "personal_stats.cli", "personal_stats.server.app", "personal_stats.server.protocol",
    "uvicorn.main",
    "uvicorn.protocols.websockets.websockets_impl", "uvicorn.lifespan.on",
])  # fmt: skip


def start_cli(argv: list[str], env: dict[str, str], stdout: str, stderr: str) -> BaseProcess:
    """`personal-stats ARGV` in a process of its own, as its console script runs it: in this
    environment, its output in these files (the same one for both: interleaved)."""
    process = _FORKS.Process(target=_run, args=(argv, env, stdout, stderr))
    process.start()
    return process


def _run(argv: list[str], env: dict[str, str], stdout: str, stderr: str) -> None:
    os.environ.clear()
    os.environ.update(env)
    for path, stream in ((stdout, 1), (stderr, 2)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), stream)
    from personal_stats.cli import main

    sys.exit(main(argv))


@contextmanager
def serving(
    database_url: str,
    log: Path,
    *options: str,
    settings: dict[str, str] | None = None,
    popen: dict[str, Any] | None = None,
) -> Iterator[str]:
    """`personal-stats serve` on this database (and these PERSONAL_STATS_* settings), its
    output in `log`, until the block ends; yields its base URL once it is ready. With `popen`'s
    arguments, or workers of its own (uvicorn starts them anew from `sys.executable`), it runs
    in an interpreter of its own."""
    port = free_port()
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": database_url} | (settings or {})
    argv = ["serve", "--port", str(port), *options]
    server: subprocess.Popen[bytes] | BaseProcess
    if popen is None and "--workers" not in options:
        log.write_bytes(b"")
        server = start_cli(argv, env, str(log), str(log))
    else:
        with log.open("wb") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "personal_stats.cli", *argv],
                env=env, stdout=output, stderr=subprocess.STDOUT, **(popen or {}),
            )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    workers = int(options[options.index("--workers") + 1]) if "--workers" in options else 1
    try:
        wait_until_ready(base, log, workers=workers)
        yield base
    finally:
        server.terminate()
        if isinstance(server, subprocess.Popen):
            server.wait(timeout=30)
        else:
            server.join(timeout=30)
