"""What a query costs, estimated from its document and variables before anything runs, even
before it is validated (SPEC section 11, Limits).

Each question (a stats field) costs 1, plus 1 for every 100 list entries its answer can hold,
as its declaration says (`questions.Cost`: `limit` page entries, 13 a year of history, 366
calendar days); `mentor` costs 1; `mentors`
costs 1 per id and multiplies whatever is asked under it by the number of ids (duplicates
included: the answer holds each); so does a supergraph's `_entities`, by representation.
Aliases and fragments count each time they are asked.
A dashboard (a mentor and her five questions) costs 15. A variable the request leaves out
counts with its default value.

The estimate is linear in the document: each fragment is costed once and its cost reused
at every spread (a chain of fragments that each spread the one before twice would otherwise
take 2^n steps, while its cost, as large, is refused all the same).
"""

import math
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
)

from personal_stats.core.params import DEFAULT_LIMIT, MAX_LIMIT
from personal_stats.core.questions import ENTRIES_PER_COST, QUESTIONS, Cost

# Each question's field and what its answer may hold (`questions.Cost`).
COSTS: dict[str, Cost] = {asked.graphql.field: asked.cost for asked in QUESTIONS}


def cost_of(document: DocumentNode, operation_name: str | None, variables: dict[str, Any]) -> int:
    """The cost of the operation that would run (0 when there is none to choose: execution
    then reports that)."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    operations: list[OperationDefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments[definition.name.value] = definition
        elif isinstance(definition, OperationDefinitionNode):
            operations.append(definition)
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name and o.name.value == operation_name)
    ]
    if len(chosen) != 1:
        return 0
    operation = chosen[0]
    defaults: dict[str, Any] = {
        definition.variable.name.value: definition.default_value
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    return _Costing(fragments, {**defaults, **variables}).of(operation.selection_set)


class _Costing:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]):
        self.fragments = fragments
        self.variables = variables
        self.expanding: set[str] = set()  # the document is not validated yet: spreads may loop
        self.costs: dict[str, int] = {}  # of each fragment costed

    def of(self, selections: SelectionSetNode | None) -> int:
        if selections is None:
            return 0
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection)
            elif isinstance(selection, InlineFragmentNode):
                total += self.of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value)
        return total

    def _fragment(self, name: str) -> int:
        known = self.costs.get(name)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        if fragment is None or name in self.expanding:  # unknown, or a loop: invalid anyway
            return 0
        self.expanding.add(name)
        cost = self.of(fragment.selection_set)
        self.expanding.discard(name)
        self.costs[name] = cost
        return cost

    def _field(self, field: FieldNode) -> int:
        name = field.name.value
        arguments = {a.name.value: a.value for a in field.arguments or ()}
        if name == "mentors":
            ids = self._size(arguments.get("ids"))
            return ids * (1 + self.of(field.selection_set))
        if name == "_entities":  # a supergraph's mentors, as `mentors` (SPEC 21)
            representations = self._size(arguments.get("representations"))
            return representations * (1 + self.of(field.selection_set))
        if name == "mentor":
            return 1 + self.of(field.selection_set)
        cost = COSTS.get(name)
        if cost is not None:
            entries = cost.entries + cost.per_item * self._limit(arguments.get("limit"))
            return 1 + math.ceil(entries / ENTRIES_PER_COST)
        return self.of(field.selection_set)

    def _value(self, node: ValueNode | None) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        return node

    def _size(self, node: ValueNode | None) -> int:
        """The number of entries of a list argument (a single value is a list of one)."""
        value = self._value(node)
        if isinstance(value, ListValueNode):
            return len(value.values)
        if isinstance(value, list | tuple):
            return len(value)
        return 1

    def _limit(self, node: ValueNode | None) -> int:
        """A page's limit as given, else the default; the largest allowed when it cannot be
        read (the question then refuses it)."""
        value = self._value(node)
        if node is None or value is None:
            return DEFAULT_LIMIT
        if isinstance(value, IntValueNode):
            value = int(value.value)
        if isinstance(value, int) and 1 <= value <= MAX_LIMIT:
            return value
        return MAX_LIMIT
