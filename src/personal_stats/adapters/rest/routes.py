"""The REST adapter: the contract's routes, one per question declared (`questions.QUESTIONS`),
and the cards. Parse, call the stats core, serialize."""

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from personal_stats.adapters.rest import cards
from personal_stats.core import questions, stats
from personal_stats.core.errors import InvalidInput, StatsError
from personal_stats.core.params import (
    Args,
    CalendarArgs,
    CardArgs,
    RestArgs,
    WindowArgs,
    check_mentor_id,
)
from personal_stats.core.questions import BASE, Asked
from personal_stats.core.reads import Question
from personal_stats.core.wire import from_query
from personal_stats.http.caching import still_current, validators
from personal_stats.http.problems import StatsJSONResponse, problem, problem_for
from personal_stats.service.stats_service import StatsService


def _parse(request: Request, *kinds: type[Args]) -> list[Any]:
    """The id first, then every query parameter of each kind, all problems together."""
    check_mentor_id(request.path_params["mentor_id"])
    items = request.query_params.multi_items()
    parsed, problems = [], []
    for kind in kinds:
        try:
            parsed.append(from_query(kind, items))
        except InvalidInput as error:
            problems.extend(error.problems)
    if problems:
        raise InvalidInput(problems)
    return parsed


async def _answer(
    request: Request, question: Question[Any], svg: Callable[[Any], str] | None = None
) -> Response:
    """Answer from the core in one unit of work, as JSON (or as the SVG that `svg` draws of
    it), or 304 when the client's copy is still current (the answer is computed with the
    data version, in the same snapshot)."""
    service: StatsService = request.app.state.service
    async with service.unit_of_work() as work:
        answer = await work.ask(question)
    headers = _validators(request, work.version, work.changed_at)
    if still_current(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    if svg is not None:
        return Response(svg(answer), headers=headers, media_type="image/svg+xml")
    return StatsJSONResponse(answer, headers=headers)


def _validators(request: Request, version: int, changed_at: int) -> dict[str, str]:
    """The answer's validators: it depends on its path and query, and on today's date unless
    `as_of` names the day."""
    key = request.scope["path"].encode() + b"\0" + request.scope["query_string"]
    return validators(version, changed_at, key, "as_of" not in request.query_params)


def _endpoint(asked: Asked) -> Callable[[Request], Awaitable[Response]]:
    """The route of a question: its declared arguments from the query string."""

    async def endpoint(request: Request) -> Response:
        records = _parse(request, *asked.records)
        return await _answer(request, asked.ask(request.path_params["mentor_id"], *records))

    return endpoint


async def summary_card(request: Request) -> Response:
    args, rest, card = _parse(request, WindowArgs, RestArgs, CardArgs)
    question = stats.summary(request.path_params["mentor_id"], args, rest)
    return await _answer(request, question, lambda summary: cards.summary_card(summary, card.theme))


async def calendar_card(request: Request) -> Response:
    args, card = _parse(request, CalendarArgs, CardArgs)
    question = stats.named_calendar(request.path_params["mentor_id"], args)
    return await _answer(
        request, question, lambda found: cards.calendar_card(found[0], found[1], card.theme)
    )


CARDS = {"/cards/summary.svg": summary_card, "/cards/calendar.svg": calendar_card}
ENDPOINTS = {**{asked.rest.path: _endpoint(asked) for asked in questions.QUESTIONS}, **CARDS}


def routes() -> list[Route]:
    """The canonical routes, and the same under the contract's doubled base path."""
    return [
        Route(f"{base}/{{mentor_id}}{suffix}", endpoint, methods=["GET"])
        for base in (BASE, BASE + BASE)
        for suffix, endpoint in ENDPOINTS.items()
    ]


async def stats_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, StatsError)
    return problem_for(error)


async def http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    detail = {
        404: "No such resource.",
        405: "This resource does not answer this method.",
        413: "The request body is over the size limit.",
    }
    return problem(
        error.status_code, detail.get(error.status_code, error.detail), headers=error.headers
    )


async def server_error(_request: Request, _error: Exception) -> Response:
    return problem(500, "The server failed to answer this request.")


EXCEPTION_HANDLERS = {StatsError: stats_error, HTTPException: http_error, Exception: server_error}
