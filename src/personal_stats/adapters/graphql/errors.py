"""Every GraphQL error leaves with an `extensions.code`; unexpected ones are masked.

Codes are set where Strawberry reports errors (`StatsSchema.process_errors`), the one hook
that sees parse, validation and execution errors alike.
"""

from graphql import GraphQLError

from personal_stats.core.errors import InvalidInput, NotFound, StatsError, Unavailable

MASKED_MESSAGE = "Internal server error."


def is_expected(error: GraphQLError) -> bool:
    """Errors of the request or the domain, as opposed to bugs. An error with no path was
    raised before execution, while parsing, validating or coercing the request."""
    original = error.original_error
    return error.path is None or original is None or isinstance(original, StatsError | GraphQLError)


def add_code(error: GraphQLError) -> None:
    """Give the error its code, in place; mask the message of an unexpected one."""
    original = error.original_error
    extensions = dict(error.extensions or {})
    if isinstance(original, NotFound):
        extensions["code"] = "NOT_FOUND"
    elif isinstance(original, InvalidInput):
        extensions["code"] = "BAD_USER_INPUT"
        extensions["errors"] = [
            {"param": argument_name(p.param), "message": p.message} for p in original.problems
        ]
    elif isinstance(original, Unavailable):
        extensions["code"] = "SERVICE_UNAVAILABLE"
    elif is_expected(error):
        # Syntax, validation and argument-coercion errors: the request itself is wrong.
        extensions.setdefault("code", "BAD_USER_INPUT")
    else:
        extensions = {"code": "INTERNAL_SERVER_ERROR"}
        error.message = MASKED_MESSAGE
    error.extensions = extensions


def argument_name(param: str) -> str:
    """The GraphQL name of a parameter the core names as REST does (`end_date` -> `endDate`)."""
    head, *rest = param.split("_")
    return head + "".join(word.capitalize() for word in rest)
