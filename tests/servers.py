"""`personal-stats serve` in a process of its own, for the tests that need a real server."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(base: str, log: Path | None = None, seconds: float = 30) -> None:
    """Poll /readyz until it answers 200; fail the test (with the server's log) if it never
    does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    output = log.read_text() if log is not None and log.exists() else ""
    pytest.fail(f"the server at {base} did not become ready:\n{output}")


@contextmanager
def serving(
    database_url: str,
    log: Path,
    *options: str,
    settings: dict[str, str] | None = None,
    popen: dict[str, Any] | None = None,
) -> Iterator[str]:
    """`personal-stats serve` on this database (and these PERSONAL_STATS_* settings, and
    `popen`'s arguments), its output in `log`, until the block ends; yields its base URL once
    it is ready."""
    port = free_port()
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": database_url} | (settings or {})
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "personal_stats.cli", "serve", "--port", str(port), *options],
            env=env, stdout=output, stderr=subprocess.STDOUT, **(popen or {}),
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, log)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
