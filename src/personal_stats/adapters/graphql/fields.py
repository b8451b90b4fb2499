"""GraphQL fields of the questions, derived from their declarations (`questions.QUESTIONS`,
and the arguments `params` declares): the field's name, the arguments' GraphQL names, types,
defaults and descriptions; the records built from them; the core's answer converted by the
type the declaration names (a type registered with `answers`)."""

import inspect
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from datetime import date
from functools import cache
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info

from personal_stats.adapters.graphql.enums import ENUMS, Weekday
from personal_stats.core.errors import Problem
from personal_stats.core.params import (
    Argument,
    Day,
    Kind,
    Month,
    Named,
    RestDays,
    WholeNumber,
    arguments,
    raise_if,
)
from personal_stats.core.questions import QUESTIONS, Asked
from personal_stats.core.reads import Question
from personal_stats.core.wire import parse_month
from personal_stats.frameworks.strawberry import StrawberryField, graphql_name
from personal_stats.service.stats_service import UnitOfWork

R = TypeVar("R")
T = TypeVar("T")
# The GraphQL types that answer questions, by name (`questions.GraphQL.type_name`).
ANSWERS: dict[str, Any] = {}
# The unit of work of a query or mutation sent over the WebSocket, in the operation's task
# (`graphql.subscription.OperationWork`); an HTTP request's is in its context.
OPERATION_WORK: ContextVar[UnitOfWork | None] = ContextVar("operation_work", default=None)
_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
_KEYWORD = inspect.Parameter.KEYWORD_ONLY


async def ask(
    info: Info, question: Callable[..., Question[R]], *arguments: Hashable, root: Any = None
) -> R:
    """Every field of one request asks the request's one unit of work (one snapshot), which
    answers a question asked twice (an alias, a mentor listed twice) once. A mentor of a
    subscription's event carries the event's own unit of work; a query sent over the
    WebSocket has one of its own (`OPERATION_WORK`)."""
    work: UnitOfWork | None = getattr(root, "work", None) or info.context.get("work")
    if work is None:
        work = OPERATION_WORK.get()  # an operation sent over the WebSocket
    assert work is not None, "every operation is answered in a unit of work"
    return await work.answer(question, *arguments)


def _graphql_type(kind: Kind) -> Any:
    if isinstance(kind, Month):
        return str  # written YYYY-MM, read by the resolver: no scalar of its own
    if isinstance(kind, Day):
        return date
    if isinstance(kind, WholeNumber):
        return int
    if isinstance(kind, Named):
        return ENUMS[kind.names]
    if isinstance(kind, RestDays):
        return list[Weekday]  # type: ignore[valid-type]
    return str


def _parameter(each: Argument) -> inspect.Parameter:
    described = strawberry.argument(name=graphql_name(each.wire), description=each.description)
    annotation = Annotated[_graphql_type(each.kind) | None, described]  # type: ignore[valid-type]
    return inspect.Parameter(each.name, _KEYWORD, default=None, annotation=annotation)


def records_of(asked: Asked, values: dict[str, Any]) -> list[Any]:
    """The question's argument records from the field's arguments; months written YYYY-MM
    are read here, every problem reported together."""
    built, problems = [], []
    for record in asked.records:
        given = {}
        for each in arguments(record):
            value = values.get(each.name)
            if value is None or value == []:  # an empty list: as if not given
                continue
            if isinstance(value, list):
                value = tuple(value)
            elif isinstance(each.kind, Month):
                try:
                    value = parse_month(value)
                except ValueError as error:
                    problems.append(Problem(each.wire, str(error)))
                    continue
            given[each.name] = value
        built.append(record(**given))
    raise_if(problems)
    return built


@cache
def python_names(asked: Asked) -> dict[str, str]:
    """The Python name of each of the question's GraphQL arguments."""
    return {graphql_name(each.wire): each.name
            for record in asked.records for each in arguments(record)}  # fmt: skip


def _of_the_mentor(resolve: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def field(root: Any, info: Info, **values: Any) -> Any:
        return await resolve(info, root.id, root=root, **values)

    return field


def question_field(asked: Asked, answer_type: Any, *, of_the_mentor: bool = False) -> Any:
    """The question as a field answering `answer_type` (its `from_model` converts the core's
    answer): of `Query`, with a `mentorId` argument; or of `Mentor`, the mentor being the
    parent object."""

    async def resolve(info: Info, mentor_id: str, root: Any = None, **values: Any) -> Any:
        records = records_of(asked, values)
        answer = await ask(info, asked.ask, mentor_id, *records, root=root)
        return answer_type.from_model(answer)

    declared = [_parameter(each) for record in asked.records for each in arguments(record)]
    info = inspect.Parameter("info", _POSITIONAL, annotation=Info)
    if of_the_mentor:
        field = _of_the_mentor(resolve)
        first = [inspect.Parameter("root", _POSITIONAL), info]
    else:
        field = resolve
        first = [info, inspect.Parameter("mentor_id", _POSITIONAL, annotation=strawberry.ID)]
    field.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*first, *declared], return_annotation=answer_type
    )
    resolver: StrawberryField = strawberry.field(
        resolver=field,
        name=asked.graphql.field,
        description=asked.description,
        metadata={"asked": asked},
    )
    return resolver


def answers(cls: type[T]) -> type[T]:
    """Registers a GraphQL type as the answer its name is declared for."""
    ANSWERS[cls.__name__] = cls
    return cls


def with_questions(*, of_the_mentor: bool) -> Callable[[type[T]], type[T]]:
    """A class decorator, under `strawberry.type`: a field for every declared question, after
    the class's own fields, in the order of `QUESTIONS`."""

    def add(cls: type[T]) -> type[T]:
        for asked in QUESTIONS:
            name = asked.graphql.field
            attribute = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
            answer_type = ANSWERS[asked.graphql.type_name]
            setattr(cls, attribute, question_field(asked, answer_type, of_the_mentor=of_the_mentor))
        return cls

    return add
