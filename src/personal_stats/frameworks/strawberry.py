"""Strawberry, where the service reaches past its documented API (`graphql/`).

The service executes the schema Strawberry builds with graphql-core directly on its short way
(a POST of one query), so it needs the graphql-core schema inside Strawberry's, Strawberry's
error reporting, its document validation and its execution context class; it reads each
field's Strawberry definition to tell plain fields; its WebSocket adapter sends text frames.
All of that goes through the helpers below; `HOOKS` also lists the documented methods the
service overrides (the view's, the WebSocket adapter's, the schema extensions'), whose
signatures a release could change.
"""

from collections.abc import Sequence
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLField, GraphQLSchema
from strawberry import Schema
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.federation.schema import FederationAny as FederationAny
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, validate_document
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField as StrawberryField
from strawberry.types.graphql import OperationType as OperationType
from strawberry.types.nodes import SelectedField as SelectedField
from strawberry.utils.str_converters import to_camel_case

from personal_stats.frameworks import Hook

RELEASES = "strawberry-graphql 0.341.x"
_SCHEMA = "strawberry.schema.base.BaseSchema"
_VIEW = "strawberry.http.async_base_view.AsyncBaseHTTPView"
_BASE_VIEW = "strawberry.http.base.BaseView"
_ASGI = "strawberry.asgi.GraphQL"
_SOCKET = "strawberry.asgi.ASGIWebSocketAdapter"
_EXTENSION = "strawberry.extensions.base_extension.SchemaExtension"

HOOKS = (
    # Private or internal: read, called or set (the helpers below).
    Hook("strawberry.schema.schema.Schema._schema", None, RELEASES),
    Hook(f"{_SCHEMA}._process_errors", ("self", "errors", "execution_context"), RELEASES),
    Hook("strawberry.schema.schema.Schema.execution_context_class", None, RELEASES),
    Hook("strawberry.schema.schema.StrawberryGraphQLCoreExecutionContext", None, RELEASES),
    Hook("strawberry.schema.schema.validate_document",
         ("schema", "document", "validation_rules"), RELEASES),
    Hook("strawberry.schema.schema_converter.GraphQLCoreConverter.DEFINITION_BACKREF", None,
         RELEASES),
    Hook("strawberry.execution.is_awaitable.optimized_is_awaitable", ("value",), RELEASES),
    Hook("strawberry.types.field.StrawberryField", None, RELEASES),
    Hook("strawberry.types.graphql.OperationType.SUBSCRIPTION", None, RELEASES),
    Hook("strawberry.types.nodes.SelectedField.selections", None, RELEASES),
    Hook("strawberry.utils.str_converters.to_camel_case", ("snake_str",), RELEASES),
    Hook("strawberry.types.field.StrawberryField.base_resolver", None, RELEASES),
    Hook("strawberry.types.field.StrawberryField.permission_classes", None, RELEASES),
    Hook("strawberry.types.field.StrawberryField.extensions", None, RELEASES),
    Hook("strawberry.types.field.StrawberryField.directives", None, RELEASES),
    Hook("strawberry.types.field.StrawberryField.python_name", None, RELEASES),
    # Overridden or read: the federation schema's entities (SPEC 21).
    Hook("strawberry.federation.schema.Schema.entities_resolver",
         ("self", "info", "representations"), RELEASES),
    Hook("strawberry.federation.schema.FederationAny", None, RELEASES),
    Hook("strawberry.federation.schema.Schema.__init__",
         ("self", "query", "mutation", "subscription", "directives", "types", "extensions",
          "execution_context_class", "config", "scalar_overrides", "schema_directives",
          "federation_version", "exception_handlers"), RELEASES, called=True),
    # Overridden or called: the schema's error reporting.
    Hook(f"{_SCHEMA}.process_errors", ("self", "errors", "execution_context"), RELEASES),
    # Overridden or called: the ASGI view.
    Hook(f"{_ASGI}.__init__",
         ("schema", "graphql_ide", "allowed_origins", "subscription_protocols",
          "connection_init_wait_timeout"),
         RELEASES, called=True),
    Hook(f"{_ASGI}.__call__", ("self", "scope", "receive", "send"), RELEASES),
    Hook(f"{_ASGI}.websocket_adapter_class", None, RELEASES),
    Hook(f"{_ASGI}.render_graphql_ide", ("self", "request"), RELEASES),
    Hook(f"{_ASGI}.get_context", ("self", "request", "response"), RELEASES),
    Hook(f"{_VIEW}.run", ("self", "request", "context", "root_value"), RELEASES),
    Hook(f"{_VIEW}.process_result", ("self", "request", "result"), RELEASES),
    Hook(f"{_BASE_VIEW}.encode_json", ("self", "data"), RELEASES),
    Hook(f"{_BASE_VIEW}.decode_json", ("self", "data"), RELEASES),
    # Overridden or read: the WebSocket adapter.
    Hook(f"{_SOCKET}.send_json", ("self", "message"), RELEASES),
    Hook(f"{_SOCKET}.iter_json", ("self", "ignore_parsing_errors"), RELEASES),
    Hook(f"{_SOCKET}.close", ("self", "code", "reason"), RELEASES),
    Hook(f"{_SOCKET}.ws", None, RELEASES),
    # Overridden: the schema extensions' steps.
    Hook(f"{_EXTENSION}.__init__", ("self", "execution_context"), RELEASES),
    Hook(f"{_EXTENSION}.execution_context", None, RELEASES),
    Hook(f"{_EXTENSION}.on_operation", ("self",), RELEASES),
    Hook(f"{_EXTENSION}.on_parse", ("self",), RELEASES),
    Hook(f"{_EXTENSION}.on_validate", ("self",), RELEASES),
    Hook(f"{_EXTENSION}.on_execute", ("self",), RELEASES),
    Hook(f"{_EXTENSION}.on_stream_result", ("self", "result"), RELEASES),
)  # fmt: skip

ExecutionContext = StrawberryGraphQLCoreExecutionContext  # graphql-core's, with Strawberry's info
is_awaitable = optimized_is_awaitable


def graphql_name(python_name: str) -> str:
    """The name Strawberry gives a Python name in the schema (camel case)."""
    return to_camel_case(python_name)


def graphql_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built."""
    return schema._schema


def report_errors(schema: Schema, errors: list[GraphQLError]) -> None:
    """Strawberry's error reporting for errors of an execution it did not run."""
    schema._process_errors(errors)


def use_executor(schema: Schema, executor: type[Any]) -> None:
    """Strawberry's own executions (GET, GraphiQL, subscription events) run `executor`."""
    schema.execution_context_class = executor


def field_definition(field: GraphQLField) -> StrawberryField | None:
    """The Strawberry field a graphql-core field was built from."""
    found = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return found if isinstance(found, StrawberryField) else None


def validation_errors(
    schema: GraphQLSchema, document: DocumentNode, rules: Sequence[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """Strawberry's validation of a document (graphql-core's, cached by Strawberry)."""
    return list(validate_document(schema, document, tuple(rules)))
