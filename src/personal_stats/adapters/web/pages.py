"""Pages for people: the landing page, a mentor's dashboard and the offline GraphiQL. The
pages are HTML shells; the dashboard fills itself from one GraphQL request per change of its
controls. Every value written into HTML is escaped."""

import json
from functools import cache
from html import escape
from pathlib import Path
from string import Template
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from personal_stats.core import stats
from personal_stats.core.errors import InvalidInput
from personal_stats.core.windows import known_timezones
from personal_stats.service.stats_service import StatsService
from personal_stats.support.document_ids import document_id

HERE = Path(__file__).parent
EXAMPLE_MENTOR = "mentor_b2c91a"  # James Park, of the demo data
DASHBOARD_QUERY = """query Dashboard($id: ID!) {
  mentor(id: $id) {
    name
    timezone
    personalStats(period: LAST_30_DAYS) {
      startDate endDate
      totalActivities completedActivities
      completionRate totalHoursLogged
      avgSessionDurationMinutes
      mostCommonActivityType mostActiveWeekday
      peerRankPercentile
      streakDays longestStreakDays
      weeklyStreakWeeks activeDays
    }
    monthlySeries(months: 12) {
      data { monthLabel totalActivities totalHours }
    }
    activityBreakdown {
      data { activityTypeName count percentage }
    }
    contributionHistory {
      data { year totalActivities }
    }
    contributionCalendar {
      totalActivities activeDays maxCount
      days { date count level }
    }
  }
}
"""


@cache
def documents() -> dict[str, str]:
    """The pages' own GraphQL documents (`documents/*.graphql`), by name: the service knows
    them without their being added, so pages work in trusted mode too."""
    return {path.stem: path.read_text() for path in sorted((HERE / "documents").glob("*.graphql"))}


@cache
def _template(name: str) -> Template:
    return Template((HERE / "templates" / f"{name}.html").read_text())


def _page(title: str, content: str, scripts: str = "", status: int = 200) -> HTMLResponse:
    html = _template("base").substitute(title=escape(title), content=content, scripts=scripts)
    headers = {"Cache-Control": "no-store"} if status >= 400 else None  # errors are not kept
    return HTMLResponse(html, status_code=status, headers=headers)


@cache
def _zone_options() -> str:
    return "".join(f'<option value="{escape(name)}">' for name in sorted(known_timezones()))


def routes(service: StatsService) -> list[BaseRoute]:
    async def landing(_request: Request) -> Response:
        content = _template("landing").substitute(example_id=EXAMPLE_MENTOR)
        return _page("Personal Stats Service", content)

    async def open_dashboard(request: Request) -> Response:
        """The landing page's form: /dashboard?mentor_id=... goes to /dashboard/{id}."""
        mentor_id = request.query_params.get("mentor_id", "").strip()
        return RedirectResponse(f"/dashboard/{quote(mentor_id, safe='')}", status_code=303)

    async def dashboard(request: Request) -> Response:
        mentor_id = request.path_params["mentor_id"]
        try:
            mentor = await service.ask(stats.find_mentor(mentor_id))
        except InvalidInput:
            mentor = None
        if mentor is None:
            content = _template("not_found").substitute(mentor_id=escape(mentor_id))
            return _page("No such mentor · Personal Stats", content, status=404)
        content = _template("dashboard").substitute(
            mentor_id=escape(mentor.id),
            mentor_name=escape(mentor.name),
            mentor_zone=escape(mentor.timezone),
            zones=_zone_options(),
        )
        data = escape(json.dumps({"id": mentor.id}), quote=True)
        document = document_id(documents()["dashboard"])
        scripts = (f'<script src="/static/dashboard.js" data-mentor="{data}" '
                   f'data-document="{document}"></script>')  # fmt: skip
        return _page(f"{mentor.name} · Personal Stats", content, scripts)

    return [
        Route("/", landing, methods=["GET"]),
        Route("/dashboard", open_dashboard, methods=["GET"]),
        Route("/dashboard/{mentor_id}", dashboard, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]


def graphiql_page() -> str:
    """GraphiQL from the vendored packages, opened on a whole dashboard's query."""
    query = DASHBOARD_QUERY.replace("$id: ID!", "$id: ID! = " + json.dumps(EXAMPLE_MENTOR))
    # JSON inside <script>: "<" escaped, so no text of it can close the element.
    default_query = json.dumps(query).replace("<", "\\u003c")
    return _template("graphiql").substitute(default_query=default_query)
