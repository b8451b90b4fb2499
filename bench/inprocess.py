"""In-process cost of one request through the whole ASGI app (no HTTP, no wrk): the REST
summary, the GraphQL summary and dashboard, with variables and inline, for N random mentors
and periods of a SQLite data set, once its peer index is built.

    python bench/inprocess.py bench/data/L.db 3000 [TARGET,...]

Targets: rest, gql, gql-inline, dash, dash-inline, dash-compare (the dashboard with its
comparisons, as the page draws it by default).
"""

import asyncio
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from personal_stats.server.app import create_app
from personal_stats.support.settings import Settings

FIELDS = (
    "mentorName period startDate endDate totalActivities completedActivities "
    "cancelledActivities completionRate avgSessionDurationMinutes totalHoursLogged "
    "mostCommonActivityType mostActiveWeekday peerRankPercentile streakDays "
    "longestStreakDays activeDays weeklyStreakWeeks"
)
HEAD = "query ($id: ID!, $period: StatsPeriod) "
SUMMARY = HEAD + f"{{ personalStats(mentorId: $id, period: $period) {{ {FIELDS} }} }}"
DASHBOARD = (
    HEAD + f"{{ mentor(id: $id) {{ name personalStats(period: $period) {{ {FIELDS} }} "
    "monthlySeries(months: 12) { data { monthLabel totalActivities completedActivities "
    "totalHours } } activityBreakdown(period: $period) { data { activityTypeName count "
    "percentage } } contributionHistory { data { year totalActivities monthlyBreakdown "
    "{ month count } } } } }"
)
# The dashboard as it is drawn by default: each summary figure beside the previous period's.
COMPARED = DASHBOARD.replace(
    "personalStats(period: $period) { ",
    "personalStats(period: $period, compare: PREVIOUS_PERIOD) { comparison { startDate endDate "
    "change { totalActivitiesPct completedActivitiesPct activeDaysPct totalHoursLoggedPct "
    "avgSessionDurationMinutesPct completionRateDelta peerRankPercentileDelta } } ",
)
PERIODS = ["last_7_days", "last_30_days", "last_90_days", "year_to_date", "month_to_date",
           "last_365_days"]  # fmt: skip
JSON = [(b"content-type", b"application/json")]


async def call(app: Any, method: str, path: str, query: bytes = b"", body: bytes = b"") -> int:
    """The status of one request sent straight to the app."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
        "headers": [(b"host", b"x"), *(JSON if body else []),
                    (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def variables(query: str, mentor: str, period: str) -> bytes:
    return json.dumps({"query": query, "variables": {"id": mentor, "period": period.upper()}})\
        .encode()  # fmt: skip


def inline(query: str, mentor: str, period: str) -> bytes:
    text = query.replace(HEAD, "query ").replace("$id", f'"{mentor}"')
    return json.dumps({"query": text.replace("$period", period.upper())}).encode()


async def main(db: str, n: int, chosen: list[str] | None) -> None:
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{db}", log_level="warning"),
                     migrate=False)  # fmt: skip
    async with app.router.lifespan_context(app):
        while not app.state.service.peers.state()["ready"]:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.2)
        mentors = 100 if db.endswith("S.db") else 10_000
        rng = random.Random(1)
        picks = [(f"mentor_{rng.randrange(mentors):06d}", rng.choice(PERIODS)) for _ in range(n)]
        cases: dict[str, Callable[[str, str], Awaitable[int]]] = {
            "rest": lambda m, p: call(app, "GET", f"/api/v1/personal-stats/{m}",
                                      f"period={p}".encode()),
            "gql": lambda m, p: call(app, "POST", "/graphql", body=variables(SUMMARY, m, p)),
            "gql-inline": lambda m, p: call(app, "POST", "/graphql", body=inline(SUMMARY, m, p)),
            "dash": lambda m, p: call(app, "POST", "/graphql", body=variables(DASHBOARD, m, p)),
            "dash-inline": lambda m, p: call(app, "POST", "/graphql", body=inline(DASHBOARD, m, p)),
            "dash-compare": lambda m, p: call(app, "POST", "/graphql",
                                              body=variables(COMPARED, m, p)),
        }  # fmt: skip
        for name, ask in cases.items():
            if chosen and name not in chosen:
                continue
            for mentor, period in picks[:50]:  # warm-up: every answer must be a 200
                assert await ask(mentor, period) == 200, name
            started = time.perf_counter()
            for mentor, period in picks:
                await ask(mentor, period)
            print(f"{name:12} {(time.perf_counter() - started) / n * 1000:.3f} ms/request")


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",") if len(sys.argv) > 3 else None)
    )
