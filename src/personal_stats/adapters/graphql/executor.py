"""graphql-core's executor with a short way for plain fields.

A dashboard's answer is mostly plain fields: numbers and names read off the core's records
(`totalActivities`, `month`, `count`, ...), hundreds per query. graphql-core resolves each one
like any field: resolve info, Strawberry's resolver, then completion, type checks and
serialisation, for each (bench/README.md tells the cost). A plain field — an attribute of
its object, of a scalar or enum type, with no arguments, and nothing attached that the full
path would run (a resolver, a permission class, an extension, a directive) — is read and
serialised here directly; whatever is not plain (a resolver, a list, an object, a null, a
value its type cannot serialise) takes graphql-core's own way, which reports errors as the
specification says.
"""

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
)

from personal_stats.frameworks.graphql_core import Executor, field_name
from personal_stats.frameworks.strawberry import StrawberryField, field_definition

Plain = tuple[str, Callable[[Any], Any]]  # the attribute and the serialiser


def plain_fields(schema: GraphQLSchema) -> dict[tuple[str, str], Plain]:
    """(type, field) -> how to answer it, for every plain field of the schema's own types."""
    found: dict[tuple[str, str], Plain] = {}
    for type_name, type_ in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(type_, GraphQLObjectType):
            continue
        for name, field in type_.fields.items():
            leaf = get_named_type(field.type)
            definition = field_definition(field)
            if (
                definition is not None
                and _nothing_attached(definition)
                and not field.args
                and isinstance(leaf, GraphQLScalarType | GraphQLEnumType)
            ):
                found[(type_name, name)] = (definition.python_name, leaf.serialize)
    return found


def _nothing_attached(field: StrawberryField) -> bool:
    """Whether the full path would run nothing for the field but reading its attribute: no
    resolver of its own, no permission class, no extension, no directive."""
    return (
        field.base_resolver is None
        and not field.permission_classes
        and not field.extensions
        and not field.directives
    )


def lean_executor(
    schema: GraphQLSchema,
    base: type[Executor] = Executor,
    plain: dict[tuple[str, str], Plain] | None = None,
) -> type[Executor]:
    """The executor class for this schema (pass it to `graphql.execute`), on `base`; the
    plain fields are the schema's (`plain_fields`) unless given."""
    ways = plain_fields(schema) if plain is None else plain

    class LeanExecutor(base):  # type: ignore[valid-type,misc]
        def execute_field(
            self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any,
            path: Any, position_context: Any,
        ) -> Any:  # fmt: skip
            way = ways.get((parent_type.name, field_name(field_details_list)))
            if way is not None:
                value = getattr(source, way[0], None)
                if value is not None:
                    try:
                        return way[1](value)
                    except Exception:
                        pass
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )

    return LeanExecutor
