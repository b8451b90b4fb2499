"""The GraphQL schema: the query and subscription roots, the Date scalar and the limits every
document meets."""

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    GraphQLError,
    GraphQLObjectType,
    NoSchemaIntrospectionCustomRule,
    is_specified_scalar_type,
    print_type,
    specified_rules,
)
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from personal_stats.adapters.graphql.documents import Documents, PreparedDocuments
from personal_stats.adapters.graphql.errors import add_code, is_expected
from personal_stats.adapters.graphql.executor import lean_executor
from personal_stats.adapters.graphql.fields import ask, with_questions
from personal_stats.adapters.graphql.rules import alias_limit, depth_limit
from personal_stats.adapters.graphql.sharing import SharedExecutor
from personal_stats.adapters.graphql.spans import OperationSpans
from personal_stats.adapters.graphql.subscription import (
    OperationWork,
    ReleaseEventWork,
    Subscription,
)
from personal_stats.adapters.graphql.types import Mentor
from personal_stats.core import questions, stats
from personal_stats.core.errors import InvalidInput
from personal_stats.core.wire import parse_date
from personal_stats.frameworks.strawberry import (
    FederationAny,
    SelectedField,
    graphql_schema,
    use_executor,
)
from personal_stats.service.stats_service import UnitOfWork
from personal_stats.support import tracing
from personal_stats.support.metrics import observe_operation
from personal_stats.support.settings import Settings

_FIELDS = {asked.graphql.field: asked for asked in questions.QUESTIONS}


def _read_whole_histories(info: Info, mentor_ids: list[strawberry.ID]) -> None:
    """When the mentors' selection asks a question of their whole history (`whole_history`:
    the contribution history, the records) and another question (a dashboard), every
    question's rows lie in that history: the unit of work reads it once, and each question
    takes its slice."""
    asked = [_FIELDS[s.name] for f in info.selected_fields for s in f.selections
             if isinstance(s, SelectedField) and s.name in _FIELDS]  # fmt: skip
    if any(each.whole_history for each in asked) and len(asked) > 1:
        work: UnitOfWork = info.context["work"]
        work.read_whole(mentor_ids)


@strawberry.type
@with_questions(of_the_mentor=False)
class Query:
    @strawberry.field
    async def mentor(self, info: Info, id: strawberry.ID) -> Mentor | None:
        """The mentor with this id; null when unknown."""
        _read_whole_histories(info, [id])
        found = await ask(info, stats.find_mentor, id)
        return Mentor.from_model(found) if found else None

    @strawberry.field
    async def mentors(self, info: Info, ids: list[strawberry.ID]) -> list[Mentor | None]:
        """Up to 100 mentors, in order; null for each unknown id."""
        _read_whole_histories(info, ids)
        found = await ask(info, stats.find_mentors, tuple(ids))
        return [Mentor.from_model(mentor) if mentor else None for mentor in found]


def _entity(info: Info, representation: object) -> Any:
    """The awaitable mentor of one representation, or the error that is its answer."""
    if not isinstance(representation, dict) or representation.get("__typename") != "Mentor":
        return InvalidInput.one(
            "representations", 'each is {"__typename": "Mentor", "id": "<mentor id>"}'
        )
    mentor_id = representation.get("id")
    if not isinstance(mentor_id, str):
        return InvalidInput.one("representations", "a Mentor's id is a string")
    return Mentor.resolve_reference(info, strawberry.ID(mentor_id))


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


class OperationMetrics(SchemaExtension):
    """Counts and times every GraphQL operation by type and outcome."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            operation_type = context.operation_type.value
        except Exception:  # the document did not parse: no operation to name
            operation_type = "unknown"
        observe_operation(operation_type, context.result, time.perf_counter() - started)


class StatsSchema(strawberry.federation.Schema):
    documents: Documents  # prepared once for every request (see `documents`)

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """A supergraph's mentors (`_entities`), each found as `mentor(id)` finds it (null
        when unknown). A representation that is not `{"__typename": "Mentor", "id": "<id>"}`
        is that entity's `BAD_USER_INPUT` (other keys, which a router may send, are ignored)."""
        return [_entity(info, each) for each in representations]

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log only unexpected errors (a bad argument or unknown mentor is not a fault), then
        give every error its code."""
        super().process_errors([e for e in errors if not is_expected(e)], execution_context)
        for error in errors:
            add_code(error)


# Federation's types (`_Any`, `_Entity`, `_Service`, `_FieldSet`, `link__Import`, ...).
FEDERATION_TYPES = ("_", "link__", "federation__")
FEDERATION_FIELDS = frozenset(("_entities", "_service"))


def plain_sdl(schema: StatsSchema) -> str:
    """The schema's SDL without what makes it a subgraph (the `@link` and `@key` directives,
    `_entities`, `_service` and their types): `schema.graphql`. (`schema.as_str()` is the
    subgraph's SDL, as `_service { sdl }` gives it.)"""
    printed = []
    for name, type_ in sorted(graphql_schema(schema).type_map.items()):
        if name.startswith(FEDERATION_TYPES) or is_specified_scalar_type(type_):
            continue
        if isinstance(type_, GraphQLObjectType) and name == "Query":
            fields = {k: v for k, v in type_.fields.items() if k not in FEDERATION_FIELDS}
            type_ = GraphQLObjectType(name, fields, description=type_.description)
        printed.append(print_type(type_))
    return "\n\n".join(printed)


def build_schema(settings: Settings) -> StatsSchema:
    """The schema with its limits: documents are parsed with the token limit and validated
    with the depth, alias and introspection rules once, then kept (`Documents`); the cost
    budget is checked on every request."""
    rules: list[type[ASTValidationRule]] = [
        *specified_rules,
        depth_limit(settings.graphql_max_depth),
        alias_limit(settings.graphql_max_aliases),
    ]
    if not settings.graphql_introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    schema = StatsSchema(
        query=Query,
        subscription=Subscription,
        config=StrawberryConfig(
            scalar_map={date: DATE},
            disable_field_suggestions=not settings.graphql_field_suggestions,
        ),
        # Federation 2.9: what Apollo's router and composition (and The Guild's) all know.
        federation_version="2.9",
        extensions=[
            lambda: PreparedDocuments(schema.documents),
            OperationMetrics,
            ReleaseEventWork,
            OperationWork,
            *([OperationSpans] if tracing.TRACER is not None else []),
        ],
    )
    # Strawberry's own paths (GET, GraphiQL, subscription events) take the short way for plain
    # fields too, and subscription events share their executions (`sharing`).
    use_executor(schema, lean_executor(graphql_schema(schema), SharedExecutor))
    schema.documents = Documents(
        graphql_schema(schema), rules, settings.graphql_max_tokens, settings.graphql_max_cost
    )
    return schema
