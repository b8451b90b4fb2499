"""Templates: a valid document with each of its literals replaced by a variable declared
with the type its position expects (`template_of`), and the values a later text of the same
shape gives those variables (`literal_values`, None when one does not fit its type)."""

from dataclasses import dataclass, replace
from typing import Any

from graphql import (
    DocumentNode,
    FloatValueNode,
    GraphQLError,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    IntValueNode,
    ListTypeNode,
    NamedTypeNode,
    NameNode,
    Node,
    NonNullTypeNode,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    TypeNode,
    Undefined,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    coerce_input_value,
    visit,
)

from personal_stats.adapters.graphql.shapes import LITERAL, Shape


@dataclass(frozen=True)
class Prepared:
    """A document ready to execute: parsed (None when it did not parse), its errors (from
    parsing or validation: then it is not executed), and for a template the name and type
    of the variable of each literal, in the order of the text."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    literals: tuple[tuple[str, GraphQLInputType], ...] = ()


def literal_values(template: Prepared, shape: Shape) -> dict[str, Any] | None:
    """The variables' values of this shape's literals, or None when one does not fit the
    type its position expects."""
    values = {}
    for (name, type_), value in zip(template.literals, shape.values, strict=True):
        if coerce_input_value(value, type_) is Undefined:
            return None
        values[name] = value
    return values


def template_of(schema: GraphQLSchema, prepared: Prepared, shape: Shape) -> Prepared | None:
    """The valid document with each of its literals replaced by a variable declared on every
    operation; None when some literal cannot be (a variable's default value must stay a
    literal), so that the shape does not describe the document."""
    assert prepared.document is not None
    found: dict[int, GraphQLInputType] = {}  # literal's start in the text -> expected type
    type_info = TypeInfo(schema)
    visit(prepared.document, TypeInfoVisitor(type_info, _Literals(type_info, found)))
    if sorted(found) != list(shape.starts):
        return None
    names = {start: f"{LITERAL}{number}" for number, start in enumerate(shape.starts)}
    definitions = tuple(
        VariableDefinitionNode(
            variable=VariableNode(name=NameNode(value=names[start])),
            type=_type_node(found[start]),
            directives=(),
        )
        for start in shape.starts
    )
    document = visit(prepared.document, _AsVariables(names, definitions))
    literals = tuple((names[start], found[start]) for start in shape.starts)
    return Prepared(document, [], literals)


class _LiteralVisitor(Visitor):
    """Visits the string and number literals outside variable definitions (a default value
    must stay a literal): `literal_at` is where one starts in the text, else None."""

    def enter_variable_definition(self, *_: Any) -> Any:
        return self.SKIP

    @staticmethod
    def literal_at(node: Node) -> int | None:
        if isinstance(node, StringValueNode | IntValueNode | FloatValueNode) and node.loc:
            return node.loc.start
        return None


class _Literals(_LiteralVisitor):
    """Notes where each literal starts, with the type its position expects."""

    def __init__(self, type_info: TypeInfo, found: dict[int, GraphQLInputType]) -> None:
        super().__init__()
        self.type_info = type_info
        self.found = found

    def enter(self, node: Node, *_: Any) -> None:
        start = self.literal_at(node)
        if start is not None and (expected := self.type_info.get_input_type()) is not None:
            self.found[start] = expected


class _AsVariables(_LiteralVisitor):
    """Puts each literal's variable in its place and declares them on every operation."""

    def __init__(
        self, names: dict[int, str], definitions: tuple[VariableDefinitionNode, ...]
    ) -> None:
        super().__init__()
        self.names = names
        self.definitions = definitions

    def enter(self, node: Node, *_: Any) -> Any:
        start = self.literal_at(node)
        name = None if start is None else self.names.get(start)
        return None if name is None else VariableNode(name=NameNode(value=name))

    def leave_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
        own = tuple(node.variable_definitions or ())
        return replace(node, variable_definitions=own + self.definitions)


def _type_node(type_: GraphQLInputType) -> TypeNode:
    if isinstance(type_, GraphQLNonNull):
        return NonNullTypeNode(type=_nullable_type_node(type_.of_type))
    return _nullable_type_node(type_)


def _nullable_type_node(type_: GraphQLInputType) -> NamedTypeNode | ListTypeNode:
    if isinstance(type_, GraphQLList):
        return ListTypeNode(type=_type_node(type_.of_type))
    return NamedTypeNode(name=NameNode(value=type_.name))  # type: ignore[union-attr]
