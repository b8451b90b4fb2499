"""A plan for the plainest documents: one question of `Query` and plain fields of its answer.

Such a document (`query ($id: ID!, $period: StatsPeriod) { personalStats(mentorId: $id,
period: $period) { totalActivities ... } }`: what a summary card asks) is answered by asking
its question of the request's unit of work and reading the plain fields off the answer, as
graphql-core would, without its execution machinery or Strawberry's resolver around it:
the variables and arguments are coerced by graphql-core's own functions, the question is
built as the field's resolver builds it (`fields.records_of`), each leaf serialised by its
type. Whatever the plan cannot answer exactly as the executor would — a variable or
argument that does not coerce, a question that raises, a null where the type allows none,
a value its type cannot serialise — makes it give up (None), and the executor answers the
request and reports its errors, as the specification says.
"""

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_argument_values,
    get_named_type,
    get_nullable_type,
    get_variable_values,
)

from personal_stats.adapters.graphql.executor import Plain
from personal_stats.adapters.graphql.fields import ANSWERS, python_names, records_of
from personal_stats.core.errors import StatsError
from personal_stats.core.questions import Asked
from personal_stats.frameworks.strawberry import field_definition
from personal_stats.service.stats_service import UnitOfWork

Leaf = tuple[str, str, Callable[[Any], Any], bool]  # response key, attribute, serialiser, non-null
KEPT = 1024  # plans kept (and documents told to have none), the least recently used let go


@dataclass(frozen=True)
class Plan:
    operation: OperationDefinitionNode
    node: FieldNode
    field: GraphQLField
    asked: Asked
    answer_type: Any
    leaves: tuple[Leaf, ...]

    async def answer(
        self, schema: GraphQLSchema, variables: dict[str, Any], work: UnitOfWork
    ) -> dict[str, Any] | None:
        """The result's `data`, or None when the executor must answer."""
        try:
            coerced = get_variable_values(schema, self.operation.variable_definitions or (),
                                          variables, max_errors=1)  # fmt: skip
            if isinstance(coerced, list):
                return None
            arguments = get_argument_values(self.field, self.node, coerced)
        except GraphQLError:
            return None
        mentor_id = arguments.pop("mentorId", None)
        if not isinstance(mentor_id, str):
            return None
        names = python_names(self.asked)
        values = {names[name]: value for name, value in arguments.items()}
        try:
            records = records_of(self.asked, values)
            found = await work.answer(self.asked.ask, mentor_id, *records)
        except StatsError:
            return None
        answer = self.answer_type.from_model(found)
        out: dict[str, Any] = {}
        for key, attribute, serialize, non_null in self.leaves:
            value = getattr(answer, attribute, None)
            if value is None:
                if non_null:
                    return None
                out[key] = None
                continue
            try:
                out[key] = serialize(value)
            except Exception:
                return None
        return {(self.node.alias or self.node.name).value: out}


class Plans:
    """The plan of each document (None for one that has none), kept by the document."""

    def __init__(self, schema: GraphQLSchema, plain: dict[tuple[str, str], Plain]) -> None:
        self.schema, self.plain = schema, plain
        self.kept: OrderedDict[int, tuple[DocumentNode, Plan | None]] = OrderedDict()

    def of(self, document: DocumentNode) -> Plan | None:
        found = self.kept.get(id(document))
        if found is not None and found[0] is document:
            self.kept.move_to_end(id(document))
            return found[1]
        plan = self._plan(document)
        self.kept[id(document)] = (document, plan)  # the document held: its id names no other
        while len(self.kept) > KEPT:
            self.kept.popitem(last=False)
        return plan

    def _plan(self, document: DocumentNode) -> Plan | None:
        """A plan when the document is one query operation without directives or fragments,
        selecting one question of `Query` and only plain fields of its answer."""
        if len(document.definitions) != 1:
            return None
        operation = document.definitions[0]
        if not isinstance(operation, OperationDefinitionNode):
            return None
        if operation.operation is not OperationType.QUERY or operation.directives:
            return None
        (node, *others) = operation.selection_set.selections
        if others or not isinstance(node, FieldNode) or node.directives:
            return None
        query = self.schema.query_type
        field = query.fields.get(node.name.value) if query is not None else None
        definition = field_definition(field) if field is not None else None
        asked = definition.metadata.get("asked") if definition is not None else None
        if field is None or asked is None or node.selection_set is None:
            return None
        answer = get_named_type(field.type)
        assert isinstance(answer, GraphQLObjectType)
        leaves = []
        for leaf in node.selection_set.selections:
            if not isinstance(leaf, FieldNode) or leaf.directives or leaf.arguments:
                return None
            way = self.plain.get((answer.name, leaf.name.value))
            if way is None or leaf.selection_set is not None:
                return None
            type_ = answer.fields[leaf.name.value].type
            if isinstance(get_nullable_type(type_), GraphQLList):  # a list: the executor's
                return None
            non_null = isinstance(type_, GraphQLNonNull)
            leaves.append(((leaf.alias or leaf.name).value, way[0], way[1], non_null))
        return Plan(operation, node, field, asked, ANSWERS[asked.graphql.type_name],
                    tuple(leaves))  # fmt: skip
