"""The service driven by the clients its users run, on each engine: Apollo Client, urql,
graphql-ws and the eventsource package from npm (`tests/clients/`, run with node's test runner),
and graphql-ws's browser build in Chromium, on a page of another origin as a frontend's would be.
`make test` installs the client suite from its lock file; in CI a missing node or Chromium fails
the run, elsewhere these tests are skipped without them."""

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.adapters.rest.openapi import openapi_document
from tests.helpers import run_cli
from tests.servers import serving

pytestmark = pytest.mark.slow  # real servers, browsers or processes of their own

ROOT = Path(__file__).parents[1]
CLIENTS = ROOT / "tests" / "clients"
DEMO = ROOT / "fixtures" / "demo.json"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NODE_TESTS = ["graphql-clients.test.mjs", "eventsource.test.mjs", "persisted.test.mjs"]


def needed(what: str, present: bool) -> None:
    if not present:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is needed for the client suite")
        pytest.skip(f"{what} is not installed (make test installs the client suite)")


@dataclass
class Demo:
    base: str  # the service, on the demo data
    token: str  # a write API token with the ingest scope
    origin: str  # another origin, allowed by the CORS setting, that serves the browser page


class PageHandler(BaseHTTPRequestHandler):
    """The browser page and graphql-ws's browser build, and nothing else."""

    files: ClassVar[dict[str, tuple[Path, str]]] = {
        "/subscribe.html": (CLIENTS / "browser" / "subscribe.html", "text/html"),
        "/graphql-ws.min.js": (
            CLIENTS / "node_modules" / "graphql-ws" / "umd" / "graphql-ws.min.js",
            "text/javascript",
        ),
    }

    def do_GET(self) -> None:
        found = self.files.get(urlsplit(self.path).path)
        if found is None:
            self.send_error(404)
            return
        body = found[0].read_bytes()
        self.send_response(200)
        self.send_header("content-type", found[1])
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def pages() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def demo(database_url: str, engine: AsyncEngine, pages: str, tmp_path: Path) -> Iterator[Demo]:
    needed("node", shutil.which("node") is not None)
    installed = CLIENTS / "node_modules" / ".package-lock.json"
    needed("the client suite's packages", installed.exists())
    assert run_cli("import", str(DEMO), database_url=database_url).returncode == 0
    created = run_cli("token", "create", "client-suite", database_url=database_url)
    assert created.returncode == 0, created.stderr
    follow = str(CLIENTS / "documents" / "follow.graphql")
    assert run_cli("documents", "add", follow, database_url=database_url).returncode == 0
    settings = {"PERSONAL_STATS_CORS_ORIGINS": pages}
    with serving(database_url, tmp_path / "server.log", settings=settings) as base:
        yield Demo(base, created.stdout.split()[0], pages)


def test_apollo_urql_graphql_ws_and_eventsource(demo: Demo) -> None:
    env = os.environ | {"PERSONAL_STATS_BASE_URL": demo.base, "PERSONAL_STATS_TOKEN": demo.token}
    ran = subprocess.run(
        ["node", "--test", "--test-concurrency=1", *NODE_TESTS],
        cwd=CLIENTS, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = ran.stdout + ran.stderr
    assert ran.returncode == 0, report
    written = sum((CLIENTS / name).read_text().count("\ntest(") for name in NODE_TESTS)
    assert f"# pass {written}\n" in report, report
    assert "# fail 0\n" in report, report


def test_the_graphql_over_http_audit_finds_nothing_missing(demo: Demo) -> None:
    """graphql-http's audit of a server (the GraphQL-over-HTTP specification's reference
    implementation): every MUST, SHOULD and MAY it checks, for both media types."""
    ran = subprocess.run(["node", "audit.mjs", f"{demo.base}/graphql"], cwd=CLIENTS,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    audits = json.loads(ran.stdout)
    assert len(audits) >= 60  # graphql-http 1.23.1 runs 61
    failed = [(a["status"], a["name"], a["reason"], a["response"]) for a in audits
              if a["status"] != "ok"]  # fmt: skip
    assert failed == []


def test_a_graphql_ws_subscription_in_chromium_hears_a_write(demo: Demo) -> None:
    """graphql-ws's own browser build, on a page of an allowed origin, receives the write's
    event without a reload, within a second; a page of any other origin cannot subscribe."""
    needed("Chromium", Path(CHROMIUM).exists())
    sync_api = pytest.importorskip("playwright.sync_api")
    before = httpx.get(f"{demo.base}/api/v1/personal-stats/mentor_5f1b66?period=all_time").json()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{demo.origin}/subscribe.html?mentor=mentor_5f1b66&base={demo.base}")
        wait_for_subscriptions(demo.base, 1)
        answer = httpx.post(
            f"{demo.base}/api/v1/ingest",
            content='{"record": "activity", "id": "browser-1", "mentor_id": "mentor_5f1b66", '
            '"activity_type_id": "act_type_001", "status": "completed", '
            '"started_at": "2026-03-20T10:00:00Z", "duration_minutes": 30}',
            headers={
                "authorization": f"Bearer {demo.token}",
                "content-type": "application/x-ndjson",
            },
        )
        assert answer.status_code == 200, answer.text
        version = int(answer.headers["x-data-version"])
        page.wait_for_function(f"() => Number(document.body.dataset.version) === {version}",
                               timeout=3000)  # fmt: skip
        assert page.evaluate("document.body.dataset.total") == str(before["total_activities"] + 1)
        assert page.evaluate("document.body.dataset.error") is None
        page.close()
        wait_for_subscriptions(demo.base, 0)
        # the same page on an origin the CORS setting does not name is refused
        stranger = browser.new_page()
        stranger.goto(f"{demo.origin.replace('127.0.0.1', 'localhost')}/subscribe.html"
                      f"?mentor=mentor_5f1b66&base={demo.base}")  # fmt: skip
        stranger.wait_for_function("() => document.body.dataset.closed !== undefined",
                                   timeout=3000)  # fmt: skip
        assert open_subscriptions(demo.base) == 0
        browser.close()


def open_subscriptions(base: str) -> float:
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith('personal_stats_open_followers{kind="graphql"}'):
            return float(line.split()[-1])
    raise AssertionError("/metrics has no personal_stats_open_followers for graphql")


def wait_for_subscriptions(base: str, count: int) -> None:
    deadline = time.monotonic() + 5
    while open_subscriptions(base) != count:
        assert time.monotonic() < deadline, f"not {count} open subscriptions within 5 s"
        time.sleep(0.05)


def test_the_openapi_document_lints_clean_and_its_typescript_types_compile(
    tmp_path: Path,
) -> None:
    """Redocly's recommended rules with no error; openapi-typescript's types of it compile
    under `tsc --strict` with code that uses them."""
    needed("node", shutil.which("node") is not None)
    needed("the client suite's packages", (CLIENTS / "node_modules" / ".bin" / "tsc").exists())
    bin_dir = CLIENTS / "node_modules" / ".bin"
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(openapi_document()))
    lint = subprocess.run([bin_dir / "redocly", "lint", document, "--format=summary"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
    shutil.copy(CLIENTS / "openapi" / "uses-the-types.ts", tmp_path)
    types = subprocess.run([bin_dir / "openapi-typescript", document, "-o", tmp_path / "api.d.ts"],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert types.returncode == 0, types.stdout + types.stderr
    compiled = subprocess.run(
        [bin_dir / "tsc", "--strict", "--noEmit", "--skipLibCheck", "--target", "es2022",
         "--module", "nodenext", tmp_path / "uses-the-types.ts"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def test_the_docs_show_the_client_code_the_suite_runs() -> None:
    connect = (CLIENTS / "connect.mjs").read_text()
    readme = (ROOT / "docs" / "graphql.md").read_text()
    for client in ("Apollo Client", "urql"):
        start = connect.index(f"// --- {client} ---\n") + len(f"// --- {client} ---\n")
        snippet = connect[start : connect.index(f"// --- end {client} ---")].strip()
        assert f"```js\n{snippet}\n```" in readme, client
