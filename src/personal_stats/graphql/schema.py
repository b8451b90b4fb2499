"""The GraphQL schema: resolvers parse arguments, call the stats core and convert."""

import inspect
from collections.abc import Awaitable, Callable, Hashable
from datetime import date
from typing import Annotated, Any, TypeVar

import strawberry
from graphql import (
    ASTValidationRule,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    specified_rules,
)
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info
from strawberry.types.nodes import SelectedField

from personal_stats import stats
from personal_stats.errors import Problem
from personal_stats.graphql.cost import QUESTIONS
from personal_stats.graphql.documents import Documents, PreparedDocuments
from personal_stats.graphql.errors import add_code, is_expected
from personal_stats.graphql.types import (
    ActivityBreakdownPage,
    ContributionCalendar,
    ContributionHistoryPage,
    MonthlySeriesPage,
    PersonalStats,
    StatsPeriod,
)
from personal_stats.observability import OperationMetrics
from personal_stats.params import (
    DEFAULT_LIMIT,
    CalendarArgs,
    MonthRangeArgs,
    PageArgs,
    WindowArgs,
    YearRangeArgs,
    raise_if,
)
from personal_stats.reads import MentorRow, Question
from personal_stats.service import UnitOfWork
from personal_stats.settings import Settings
from personal_stats.wire import parse_date, parse_month

R = TypeVar("R")
FromMonth = Annotated[str | None, strawberry.argument(name="from")]


async def _ask(info: Info, ask: Callable[..., Question[R]], *arguments: Hashable) -> R:
    """Every field of one request asks the request's one unit of work (one snapshot), which
    answers a question asked twice (an alias, a mentor listed twice) once."""
    work: UnitOfWork = info.context["work"]
    return await work.answer(ask, *arguments)


def _page(page: int | None, limit: int | None) -> PageArgs:
    return PageArgs(1 if page is None else page, DEFAULT_LIMIT if limit is None else limit)


def _months(from_: str | None, to: str | None) -> tuple[date | None, date | None]:
    """`from` and `to` months written YYYY-MM; both problems reported together."""
    parsed: dict[str, date | None] = {}
    problems = []
    for name, text in (("from", from_), ("to", to)):
        try:
            parsed[name] = None if text is None else parse_month(text)
        except ValueError as error:
            problems.append(Problem(name, str(error)))
    raise_if(problems)
    return parsed["from"], parsed["to"]


# Each question once: the Query field takes the mentor's id; the Mentor field of the same
# name is derived from it (`about_the_mentor`), the mentor being its parent.


async def personal_stats(
    info: Info,
    mentor_id: strawberry.ID,
    period: StatsPeriod | None = None,  # type: ignore[valid-type]
    start_date: date | None = None,
    end_date: date | None = None,
    as_of: date | None = None,
    tz: str | None = None,
) -> PersonalStats:
    """The summary card of a mentor for a window."""
    args = WindowArgs(period, start_date, end_date, as_of, tz)
    return PersonalStats.from_model(await _ask(info, stats.summary, mentor_id, args))


async def monthly_series(
    info: Info,
    mentor_id: strawberry.ID,
    from_: FromMonth = None,
    to: str | None = None,
    months: int | None = None,
    as_of: date | None = None,
    tz: str | None = None,
    page: int | None = None,
    limit: int | None = None,
) -> MonthlySeriesPage:
    """Activity per month over a range of months (YYYY-MM), oldest first."""
    args = MonthRangeArgs(*_months(from_, to), months, as_of, tz)
    result = await _ask(info, stats.monthly_series, mentor_id, args, _page(page, limit))
    return MonthlySeriesPage.from_model(result)


async def activity_breakdown(
    info: Info,
    mentor_id: strawberry.ID,
    period: StatsPeriod | None = None,  # type: ignore[valid-type]
    start_date: date | None = None,
    end_date: date | None = None,
    as_of: date | None = None,
    tz: str | None = None,
    page: int | None = None,
    limit: int | None = None,
) -> ActivityBreakdownPage:
    """Activity per activity type in a window, most frequent first."""
    args = WindowArgs(period, start_date, end_date, as_of, tz)
    result = await _ask(info, stats.activity_breakdown, mentor_id, args, _page(page, limit))
    return ActivityBreakdownPage.from_model(result)


async def contribution_history(
    info: Info,
    mentor_id: strawberry.ID,
    from_year: int | None = None,
    to_year: int | None = None,
    as_of: date | None = None,
    tz: str | None = None,
    page: int | None = None,
    limit: int | None = None,
) -> ContributionHistoryPage:
    """Activity per month for a range of years, oldest year first."""
    args = YearRangeArgs(from_year, to_year, as_of, tz)
    result = await _ask(info, stats.contribution_history, mentor_id, args, _page(page, limit))
    return ContributionHistoryPage.from_model(result)


async def contribution_calendar(
    info: Info,
    mentor_id: strawberry.ID,
    start_date: date | None = None,
    end_date: date | None = None,
    as_of: date | None = None,
    tz: str | None = None,
) -> ContributionCalendar:
    """One entry per local date (by default the 365 days ending asOf), with levels 0-4."""
    args = CalendarArgs(start_date, end_date, as_of, tz)
    return ContributionCalendar.from_model(
        await _ask(info, stats.contribution_calendar, mentor_id, args)
    )


def _read_whole_histories(info: Info, mentor_ids: list[strawberry.ID]) -> None:
    """When the mentors' selection asks their contribution history and another question (a
    dashboard), every question's rows lie in the mentor's whole history: the unit of work
    reads it once, and each question takes its slice."""
    asked = [s.name for f in info.selected_fields for s in f.selections
             if isinstance(s, SelectedField) and s.name in QUESTIONS]  # fmt: skip
    if "contributionHistory" in asked and len(asked) > 1:
        work: UnitOfWork = info.context["work"]
        work.read_whole(mentor_ids)


def about_the_mentor(question: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """The question as a field of `Mentor`: the same arguments but the id, taken from the
    parent object instead."""
    signature = inspect.signature(question)
    root = inspect.Parameter("root", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    kept = [p for name, p in signature.parameters.items() if name != "mentor_id"]

    async def field(root: Any, **arguments: Any) -> Any:
        return await question(mentor_id=root.id, **arguments)

    field.__signature__ = signature.replace(parameters=[root, *kept])  # type: ignore[attr-defined]
    field.__name__ = question.__name__
    field.__doc__ = question.__doc__
    return field


@strawberry.type
class Mentor:
    id: strawberry.ID
    name: str
    timezone: str

    personal_stats = strawberry.field(resolver=about_the_mentor(personal_stats))
    monthly_series = strawberry.field(resolver=about_the_mentor(monthly_series))
    activity_breakdown = strawberry.field(resolver=about_the_mentor(activity_breakdown))
    contribution_history = strawberry.field(resolver=about_the_mentor(contribution_history))
    contribution_calendar = strawberry.field(resolver=about_the_mentor(contribution_calendar))

    @classmethod
    def from_model(cls, mentor: MentorRow) -> "Mentor":
        return cls(id=strawberry.ID(mentor.id), name=mentor.name, timezone=mentor.timezone)


@strawberry.type
class Query:
    @strawberry.field
    async def mentor(self, info: Info, id: strawberry.ID) -> Mentor | None:
        """The mentor with this id; null when unknown."""
        _read_whole_histories(info, [id])
        found = await _ask(info, stats.find_mentor, id)
        return Mentor.from_model(found) if found else None

    @strawberry.field
    async def mentors(self, info: Info, ids: list[strawberry.ID]) -> list[Mentor | None]:
        """Up to 100 mentors, in order; null for each unknown id."""
        _read_whole_histories(info, ids)
        found = await _ask(info, stats.find_mentors, tuple(ids))
        return [Mentor.from_model(mentor) if mentor else None for mentor in found]

    personal_stats = strawberry.field(resolver=personal_stats)
    monthly_series = strawberry.field(resolver=monthly_series)
    activity_breakdown = strawberry.field(resolver=activity_breakdown)
    contribution_history = strawberry.field(resolver=contribution_history)
    contribution_calendar = strawberry.field(resolver=contribution_calendar)


def _parse_date_value(value: object) -> date:
    if not isinstance(value, str):
        raise StrawberryInputCoercionError(f"Date {value!r} must be a string written YYYY-MM-DD")
    try:
        return parse_date(value)
    except ValueError as error:
        raise StrawberryInputCoercionError(f"Date {value!r} {error}") from None


DATE = strawberry.scalar(
    name="Date",
    description="A calendar date written exactly YYYY-MM-DD.",
    serialize=date.isoformat,
    parse_value=_parse_date_value,
)


class StatsSchema(strawberry.Schema):
    documents: Documents  # prepared once for every request (see `documents`)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log only unexpected errors (a bad argument or unknown mentor is not a fault), then
        give every error its code."""
        super().process_errors([e for e in errors if not is_expected(e)], execution_context)
        for error in errors:
            add_code(error)


def build_schema(settings: Settings) -> StatsSchema:
    """The schema with its limits: documents are parsed with the token limit and validated
    with the depth, alias and introspection rules once, then kept (`Documents`); the cost
    budget is checked on every request."""
    rules: list[type[ASTValidationRule]] = [
        *specified_rules,
        depth_validator(settings.graphql_max_depth, should_ignore=None),
        alias_validator(settings.graphql_max_aliases),
    ]
    if not settings.graphql_introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    schema = StatsSchema(
        query=Query,
        config=StrawberryConfig(
            scalar_map={date: DATE},
            disable_field_suggestions=not settings.graphql_field_suggestions,
        ),
        extensions=[lambda: PreparedDocuments(schema.documents), OperationMetrics],
    )
    schema.documents = Documents(
        schema._schema, rules, settings.graphql_max_tokens, settings.graphql_max_cost
    )
    return schema
