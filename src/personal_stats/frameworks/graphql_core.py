"""graphql-core's executor, where the service steps into it (`graphql/executor.py`,
`graphql/sharing.py`).

The executor `graphql.execute` runs (`IncrementalExecutor`) lives in an internal module; the
service subclasses it, through Strawberry's, and overrides two of its methods: the field step
(plain fields answered without resolve info, fields kept between subscription events) and the
operation (one execution shared by a subscription event's subscribers). They read what an
execution holds through the helpers below, each named in `HOOKS` with what it touches.
"""

from typing import Any, cast

from graphql.execution.incremental.incremental_executor import IncrementalExecutor

from personal_stats.frameworks import Hook

RELEASES = "graphql-core 3.3.x"
_EXECUTOR = "graphql.execution.executor.Executor"

HOOKS = (
    Hook("graphql.execution.incremental.incremental_executor.IncrementalExecutor", None, RELEASES),
    # Overridden: the field step and the operation.
    Hook(f"{_EXECUTOR}.execute_field",
         ("self", "parent_type", "source", "field_details_list", "path", "position_context"),
         RELEASES),
    Hook(f"{_EXECUTOR}.execute_operation", ("self", "serially"), RELEASES),
    # Read: the errors collected so far, the coerced variables, a field's nodes.
    Hook(f"{_EXECUTOR}.collected_errors", None, RELEASES),
    Hook("graphql.execution.collect_fields.FieldDetails.node", None, RELEASES),
    Hook("graphql.execution.values.VariableValues.coerced", None, RELEASES),
    # Overridden: the document visitors' constructor (their `enter`/`leave` are the
    # documented visitor methods, looked up by name).
    Hook("graphql.language.visitor.Visitor.__init__", ("self",), RELEASES),
    # Called with an executor class of the service's.
    Hook("graphql.execution.execute.execute",
         ("schema", "document", "context_value", "variable_values", "operation_name",
          "executor_class", "is_awaitable"),
         RELEASES, called=True),
)  # fmt: skip

Executor = IncrementalExecutor  # what `graphql.execute` runs unless told otherwise


def field_name(field_details_list: Any) -> str:
    """The name (not the alias) of the field an `execute_field` call answers."""
    return str(field_details_list[0].node.name.value)


def field_nodes(field_details_list: Any) -> tuple[Any, ...]:
    """The document's nodes merged into the field an `execute_field` call answers."""
    return tuple(details.node for details in field_details_list)


def error_count(executor: Any) -> int:
    """How many errors the execution has collected so far."""
    return len(executor.collected_errors.errors)


def coerced_variables(executor: Any) -> dict[str, Any]:
    """The execution's variables, coerced to their types."""
    return cast(dict[str, Any], executor.variable_values.coerced)
