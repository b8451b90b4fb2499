"""The pages in a real browser: Debian's Chromium driven by Playwright (no browser download).
Each test fails if a page asked any other host for anything; screenshots go to test-output/.
In CI a missing Chromium fails the run; elsewhere these tests are skipped without one."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.servers import free_port, wait_until_ready

pytestmark = pytest.mark.slow  # real servers, browsers or processes of their own

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).parents[1]
OUTPUT = ROOT / "test-output"
AXE = ROOT / "tests" / "vendor" / "axe-core-4.10.3" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEMO = ROOT / "fixtures" / "demo.json"
JAMES = "mentor_b2c91a"
HOSTILE = "<script>alert(1)</script>"
AS_OF = "2026-03-25"
TOKENS: dict[str, str] = {}  # the write API's token of each server
REAL_NAME = "stats.example.test"  # a host name that is not local, resolved to this machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on the demo data (and a mentor with a hostile name), on a free port."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is needed for the browser tests ({CHROMIUM})")
        pytest.skip("Chromium is not installed")
    folder = tmp_path_factory.mktemp("browser")
    hostile = folder / "hostile.json"
    hostile.write_text(json.dumps({"mentors": [{"id": "hostile", "name": HOSTILE}]}))
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'db'}",
                        "PERSONAL_STATS_LOG_LEVEL": "warning"}  # fmt: skip
    cli = [sys.executable, "-m", "personal_stats.cli"]
    subprocess.run([*cli, "import", str(DEMO), str(hostile)], env=env, check=True,
                   capture_output=True)  # fmt: skip
    created = subprocess.run([*cli, "token", "create", "browser-test"], env=env, check=True,
                             capture_output=True, text=True)  # fmt: skip
    port = free_port()
    process = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    TOKENS[base] = created.stdout.split()[0]
    try:
        wait_until_ready(base)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", f"--host-resolver-rules=MAP {REAL_NAME} 127.0.0.1"])  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A page that records every host it asks, every dialog and every breach of the
    content security policy (none of the last two may happen)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    hosts: set[str] = set()
    dialogs: list[str] = []
    refused: list[str] = []
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
    yield page
    context.close()
    assert hosts <= {urlsplit(server).netloc}, f"requests to other hosts: {hosts}"
    assert dialogs == []
    assert refused == [], "the content security policy refused what the page needs"


def serious_violations(page: Any) -> list[str]:
    page.evaluate(AXE.read_text())  # as the browser's tools run it: no script tag to refuse
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} - {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def wait_until_drawn(page: Any) -> None:
    page.wait_for_selector("body[data-state=ready]")


def rest(server: str, path: str, **params: str) -> Any:
    return httpx.get(f"{server}/api/v1/personal-stats/{path}", params=params).json()


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def test_landing_page_opens_a_dashboard_and_passes_axe(page: Any, server: str) -> None:
    page.goto(server + "/")
    assert page.title() == "Personal Stats Service"
    assert serious_violations(page) == []
    for link in ("/graphql", "/docs", "/openapi.json"):
        assert page.locator(f'main a[href="{link}"]').count() == 1
    page.fill("#mentor-id", JAMES)
    page.click("text=Open dashboard")
    page.wait_for_url(f"**/dashboard/{JAMES}")
    wait_until_drawn(page)
    assert page.locator("#mentor-name").inner_text() == "James Park"


def test_dashboard_figures_equal_the_rest_answers(page: Any, server: str) -> None:
    page.goto(f"{server}/dashboard/{JAMES}?as_of={AS_OF}")
    wait_until_drawn(page)
    page.select_option("#period", "LAST_90_DAYS")  # a change: one GraphQL request
    page.wait_for_url("**period=last_90_days**")
    wait_until_drawn(page)
    summary = rest(server, JAMES, period="last_90_days", as_of=AS_OF)
    shown = page.eval_on_selector_all(
        "#summary dd", "nodes => nodes.map(n => [n.dataset.field, n.dataset.value])"
    )
    assert len(shown) == 13
    for field, value in shown:
        expected = summary[snake(field)]
        assert value == ("" if expected is None else str(expected)), field
    assert (
        page.locator("#window")
        .inner_text()
        .startswith(f"{summary['start_date']} to {summary['end_date']}")
    )
    breakdown = rest(server, f"{JAMES}/activity-breakdown", period="last_90_days", as_of=AS_OF,
                     limit="100")["data"]  # fmt: skip
    rows = page.eval_on_selector_all(
        "#breakdown tbody tr",
        "rows => rows.map(r => [r.dataset.type,"
        " ...[...r.cells].slice(1).map(c => c.dataset.value)])",
    )
    assert rows == [[b["activity_type_id"], str(b["count"]), str(b["percentage"]),
                     str(b["avg_duration_minutes"] or ""), str(b["total_hours"])]
                    for b in breakdown]  # fmt: skip
    calendar = rest(server, f"{JAMES}/contribution-calendar", as_of=AS_OF)
    cells = page.eval_on_selector_all(
        "#calendar rect[data-date]",
        "cells => cells.map(c => [c.dataset.date, +c.dataset.count, +c.dataset.level])",
    )
    assert cells == [[d["date"], d["count"], d["level"]] for d in calendar["days"]]
    history = rest(server, f"{JAMES}/contribution-history", as_of=AS_OF, limit="100")["data"]
    totals = page.eval_on_selector_all(
        "#history tbody tr", "rows => rows.map(r => [+r.dataset.year, +r.lastChild.dataset.value])"
    )
    assert totals == [[y["year"], y["total_activities"]] for y in history]
    series = rest(server, f"{JAMES}/monthly-series", months="12", as_of=AS_OF)["data"]
    label = page.locator("#trend svg").get_attribute("aria-label") or ""
    for month in series:
        assert f"{month['month_label']}: {month['total_activities']} (" in label
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "dashboard.png"), full_page=True)


RECORD_FIELDS = ("bestDay", "bestWeek", "bestMonth", "mostHoursMonth", "longestStreak",
                 "longestWeeklyStreak", "completedActivities", "nextMilestone")  # fmt: skip


def test_dashboard_records_and_rest_days_equal_the_rest_answers(page: Any, server: str) -> None:
    """The records panel holds the REST records field for field; ticking rest days asks
    again with them (kept in the URL) and the streaks and records follow."""
    page.goto(f"{server}/dashboard/{JAMES}?as_of={AS_OF}")
    wait_until_drawn(page)

    def shown() -> dict[str, Any]:
        pairs = page.eval_on_selector_all(
            "#records dd", "nodes => nodes.map(n => [n.dataset.field, n.dataset.value])"
        )
        return {field: json.loads(value) if value else None for field, value in pairs}

    def as_camel(value: Any) -> Any:
        if isinstance(value, dict):
            return {snake_to_camel(k): as_camel(v) for k, v in value.items()}
        return value

    records = rest(server, f"{JAMES}/records", as_of=AS_OF)
    assert shown() == {field: as_camel(records[snake(field)]) for field in RECORD_FIELDS}
    milestones = page.eval_on_selector_all(
        "#milestones li", "items => items.map(i => +i.dataset.count)"
    )
    assert milestones == [m["completed_activities"] for m in records["milestones"]]
    assert milestones  # the demo's mentor has reached some
    page.check("input[name=rest_days][value=SUNDAY]")
    page.wait_for_url("**rest_days=sunday**")
    page.check("input[name=rest_days][value=SATURDAY]")
    page.wait_for_url("**rest_days=saturday%2Csunday**")
    wait_until_drawn(page)
    rested = rest(server, f"{JAMES}/records", as_of=AS_OF, rest_days="saturday,sunday")
    summary = rest(server, JAMES, as_of=AS_OF, rest_days="saturday,sunday")
    assert shown() == {field: as_camel(rested[snake(field)]) for field in RECORD_FIELDS}
    streak = page.locator("#summary dd[data-field=streakDays]").get_attribute("data-value")
    assert streak == str(summary["streak_days"])
    assert "Rest days (Sat, Sun)" in page.locator("#explain-streak").inner_text()
    page.reload()  # the control is restored from the URL
    wait_until_drawn(page)
    ticked = page.eval_on_selector_all(
        "input[name=rest_days]:checked", "boxes => boxes.map(b => b.value)"
    )
    assert ticked == ["SATURDAY", "SUNDAY"]
    OUTPUT.mkdir(exist_ok=True)
    page.locator("#records").scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "dashboard-records.png"), full_page=True)


def snake_to_camel(name: str) -> str:
    head, *rest_ = name.split("_")
    return head + "".join(part.title() for part in rest_)


CHANGES = {  # each summary figure with its entry in `change` (SPEC section 17)
    "totalActivities": "total_activities_pct",
    "completedActivities": "completed_activities_pct",
    "activeDays": "active_days_pct",
    "totalHoursLogged": "total_hours_logged_pct",
    "avgSessionDurationMinutes": "avg_session_duration_minutes_pct",
    "completionRate": "completion_rate_delta",
    "peerRankPercentile": "peer_rank_percentile_delta",
}


def shown_changes(page: Any) -> dict[str, tuple[str, str]]:
    """Each figure's change as the page holds it, and as a screen reader reads it."""
    found = page.eval_on_selector_all(
        "#summary dd",
        "nodes => nodes.filter(n => n.querySelector('.change')).map(n => [n.dataset.field,"
        " n.querySelector('.change').dataset.change, n.querySelector('.change').textContent])",
    )
    return {field: (value, text) for field, value, text in found}


def test_dashboard_changes_equal_the_rest_answers(page: Any, server: str) -> None:
    page.goto(f"{server}/dashboard/{JAMES}?as_of={AS_OF}")  # previous period by default
    wait_until_drawn(page)
    for compare in ("previous_period", "year_over_year"):
        if compare == "year_over_year":
            page.select_option("#compare", "YEAR_OVER_YEAR")  # a change: one GraphQL request
            page.wait_for_url("**compare=year_over_year**")
            wait_until_drawn(page)
        body = rest(server, JAMES, as_of=AS_OF, compare=compare)
        change = body["comparison"]["change"]
        shown = shown_changes(page)
        assert set(shown) == set(CHANGES)
        for field, key in CHANGES.items():
            value, text = shown[field]
            expected = change[key]
            assert (value == "") if expected is None else float(value) == expected, field
            words = "new" if expected is None else "no change" if expected == 0 else (
                "up" if expected > 0 else "down")  # fmt: skip
            assert words in text, (field, text)  # in words, not an arrow or a colour alone
            assert "previous period" in text if compare == "previous_period" else "year" in text
        start = body["comparison"]["start_date"]
        day = int(start[8:])
        assert f" {day} " in page.locator("#compared").inner_text()  # the dates, in words
    page.select_option("#period", "ALL_TIME")
    page.wait_for_url("**period=all_time**")
    wait_until_drawn(page)
    assert shown_changes(page) == {}
    assert "all-time" in page.locator("#compared").inner_text()  # and says why
    page.select_option("#compare", "")
    page.wait_for_url("**compare=none**")
    wait_until_drawn(page)
    assert shown_changes(page) == {}


def test_dashboard_custom_dates_zone_and_a_bad_range(page: Any, server: str) -> None:
    page.goto(f"{server}/dashboard/{JAMES}?as_of={AS_OF}&tz=Asia/Tokyo")
    wait_until_drawn(page)
    page.select_option("#period", "CUSTOM")
    page.fill("#start-date", "2026-01-01")
    page.fill("#end-date", "2026-02-15")
    page.click("text=Show")
    page.wait_for_url("**start_date=2026-01-01**")
    wait_until_drawn(page)
    summary = rest(server, JAMES, start_date="2026-01-01", end_date="2026-02-15", as_of=AS_OF,
                   tz="Asia/Tokyo")  # fmt: skip
    total = page.locator('[data-field="totalActivities"]').get_attribute("data-value")
    assert total == str(summary["total_activities"])
    page.fill("#end-date", "2026-04-01")  # after as_of: the service says why
    page.click("text=Show")
    page.wait_for_selector("body[data-state=problem]")
    assert "endDate" in page.locator("#problem").inner_text()


def test_dashboard_is_keyboard_usable_readable_at_360_px_and_passes_axe(
    browser: Any, server: str
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 780})
    page = context.new_page()
    page.goto(f"{server}/dashboard/{JAMES}?as_of={AS_OF}")
    wait_until_drawn(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(page) == []
    for _ in range(40):  # Tab from the top until the period control has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "period":
            break
    assert page.evaluate("document.activeElement.id") == "period"
    page.keyboard.press("ArrowDown")  # last 30 days -> last 90 days
    page.wait_for_url("**period=last_90_days**")
    wait_until_drawn(page)
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "dashboard-360.png"), full_page=True)
    context.close()


def test_unknown_mentor_gets_an_html_404(page: Any, server: str) -> None:
    response = page.goto(f"{server}/dashboard/nobody_here")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "No such mentor"


def test_a_hostile_name_is_shown_as_text(page: Any, server: str) -> None:
    page.goto(f"{server}/dashboard/hostile?as_of={AS_OF}")
    wait_until_drawn(page)
    assert page.locator("#mentor-name").inner_text() == HOSTILE
    assert page.title() == f"{HOSTILE} · Personal Stats"


def test_graphiql_runs_its_default_query_offline(page: Any, server: str) -> None:
    page.goto(server + "/graphql")
    page.wait_for_selector(".graphiql-container")
    page.click(".graphiql-execute-button")
    read_result = "document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"
    page.wait_for_function(f"() => {read_result}.includes('James Park')")  # a function: no eval
    answer = json.loads(page.evaluate(read_result))
    stats = answer["data"]["mentor"]["personalStats"]
    expected = rest(server, JAMES, period="last_30_days")
    assert stats["totalActivities"] == expected["total_activities"]
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "graphiql.png"))


def test_trusted_mode_the_dashboard_works_and_graphiql_shows_the_refusal(
    browser: Any, tmp_path: Path
) -> None:
    """With PERSONAL_STATS_GRAPHQL_DOCUMENTS=trusted the dashboard, which sends its own
    document by id, draws the same figures; GraphiQL, which sends texts, shows the error."""
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db'}",
                        "PERSONAL_STATS_LOG_LEVEL": "warning",
                        "PERSONAL_STATS_GRAPHQL_DOCUMENTS": "trusted"}  # fmt: skip
    cli = [sys.executable, "-m", "personal_stats.cli"]
    subprocess.run([*cli, "import", str(DEMO)], env=env, check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        wait_until_ready(base)
        page = context.new_page()
        page.goto(f"{base}/dashboard/{JAMES}?as_of={AS_OF}")
        wait_until_drawn(page)
        pairs = "nodes => nodes.map(n => [n.dataset.field, n.dataset.value])"
        shown = dict(page.eval_on_selector_all("#summary dd", pairs))
        expected = rest(base, JAMES, period="last_30_days", as_of=AS_OF)
        assert shown["totalActivities"] == str(expected["total_activities"])
        assert shown["streakDays"] == str(expected["streak_days"])
        page.goto(base + "/graphql")
        page.wait_for_selector(".graphiql-container")
        page.click(".graphiql-execute-button")
        read_result = "document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"
        page.wait_for_function(f"() => {read_result}.includes('PERSISTED_QUERY_REQUIRED')")
        assert "data" not in json.loads(page.evaluate(read_result))
    finally:
        context.close()
        process.terminate()
        process.wait(timeout=30)


def test_rest_docs_render_under_the_content_security_policy(page: Any, server: str) -> None:
    response = page.goto(server + "/docs")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .opblock")  # Swagger UI ran and read the OpenAPI
    assert page.locator(".swagger-ui .opblock").count() >= 5


def test_rest_docs_under_a_real_host_name_ask_no_other_host(browser: Any, server: str) -> None:
    """Swagger UI shows a validator badge from validator.swagger.io on any host but
    localhost; the page must load nothing from another host whatever its name."""
    named = f"http://{REAL_NAME}:{urlsplit(server).port}"
    context = browser.new_context()
    page = context.new_page()
    hosts: set[str] = set()
    refused: list[str] = []
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text
            else None)  # fmt: skip
    page.goto(f"{named}/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    page.wait_for_load_state("networkidle")
    assert hosts == {urlsplit(named).netloc}
    assert refused == []
    assert page.locator("a[href*='validator.swagger.io']").count() == 0
    context.close()


def test_an_open_dashboard_follows_new_data_without_a_reload(page: Any, server: str) -> None:
    """Last: it writes. One GraphQL request per event, the figure from the new version."""
    page.goto(f"{server}/dashboard/hostile")
    wait_until_drawn(page)
    total = page.locator('#summary dd[data-field="totalActivities"]')
    before = int(total.inner_text().split()[0])
    page.wait_for_function("() => document.getElementById('live').textContent.includes('Live')")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/graphql" in request.url
            else None)  # fmt: skip
    version = int(page.evaluate("document.body.dataset.version"))
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:00:00Z")
    record = {"record": "activity", "id": "live-1", "mentor_id": "hostile",
              "activity_type_id": "act_type_001", "status": "completed", "started_at": today,
              "duration_minutes": 30}  # fmt: skip
    answer = ingest(server, record)
    written = int(answer.headers["x-data-version"])
    assert written > version
    page.wait_for_function(f"() => Number(document.body.dataset.version) === {written}")
    wait_until_drawn(page)
    assert int(total.inner_text().split()[0]) == before + 1
    assert page.locator("#updated").inner_text().startswith("Last updated ")
    assert len(asked) == 1
    page.reload()  # the figure a new page reads is the same
    wait_until_drawn(page)
    assert int(total.inner_text().split()[0]) == before + 1
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "dashboard-live.png"))


def ingest(server: str, record: dict[str, Any]) -> httpx.Response:
    answer = httpx.post(f"{server}/api/v1/ingest", content=json.dumps(record),
                        headers={"authorization": f"Bearer {TOKENS[server]}",
                                 "content-type": "application/x-ndjson"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer
