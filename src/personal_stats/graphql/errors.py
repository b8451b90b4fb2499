"""Every GraphQL error leaves with an `extensions.code`; unexpected ones are masked."""

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from personal_stats.errors import InvalidInput, NotFound, StatsError, Unavailable

MASKED_MESSAGE = "Internal server error."


def is_expected(error: GraphQLError) -> bool:
    """Errors of the request or the domain, as opposed to bugs. An error with no path was
    raised before execution, while parsing, validating or coercing the request."""
    original = error.original_error
    return error.path is None or original is None or isinstance(original, StatsError | GraphQLError)


def with_code(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    extensions: dict[str, Any] = dict(error.extensions or {})
    message = error.message
    if isinstance(original, NotFound):
        extensions["code"] = "NOT_FOUND"
    elif isinstance(original, InvalidInput):
        extensions["code"] = "BAD_USER_INPUT"
        extensions["errors"] = [{"param": p.param, "message": p.message} for p in original.problems]
    elif isinstance(original, Unavailable):
        extensions["code"] = "SERVICE_UNAVAILABLE"
    elif is_expected(error):
        # Syntax, validation and argument-coercion errors: the request itself is wrong.
        extensions.setdefault("code", "BAD_USER_INPUT")
    else:
        extensions = {"code": "INTERNAL_SERVER_ERROR"}
        message = MASKED_MESSAGE
    return GraphQLError(
        message, nodes=error.nodes, positions=error.positions, path=error.path,
        source=error.source, extensions=extensions,
    )  # fmt: skip


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and getattr(result, "errors", None):
            result.errors = [with_code(error) for error in result.errors]  # type: ignore[union-attr]
