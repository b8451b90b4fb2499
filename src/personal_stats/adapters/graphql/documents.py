"""GraphQL documents parsed and validated once, then kept: by their text, and by their shape.

A frontend that writes its arguments into the document (`personalStats(mentorId: "m_1")`)
sends a new text with every request, so a cache keyed by text never hits and every request
pays parsing and validation, the most expensive part of a small query. Two documents whose
tokens are the same but for their string and number literals have the same *shape*: the
first one of a shape is parsed and validated, and kept as a template in which every such
literal is a variable (`$__literal0`, declared with the type its position expects); a later
one of the same shape is read by a regular expression, and its literals become the values of
those variables. Literals that do not fit the type their position expects (an Int out of
range, a malformed Date) send the document down the full path, so its errors are the
validator's own. A template is kept only if it passes validation itself, so that no literal
values can make it answer what the document they came in would not.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    parse,
)
from strawberry.extensions import SchemaExtension

from personal_stats.adapters.graphql.cost import cost_of
from personal_stats.adapters.graphql.shapes import Shape, shape_of
from personal_stats.adapters.graphql.templates import Prepared, literal_values, template_of
from personal_stats.frameworks.strawberry import validation_errors

V = TypeVar("V")


@dataclass
class Documents:
    """Prepared documents of one schema and its limits (validation rules, tokens, cost),
    kept by text and by shape, with counters of how each request was served. Each of the two
    is an LRU of at most `maxsize` documents and `max_characters` of their texts: a parsed
    document takes about 33 times its text in memory, so a client sending large documents
    of new shapes cannot make it hold more than about 70 MB each."""

    schema: GraphQLSchema
    rules: list[type[ASTValidationRule]]
    max_tokens: int
    max_cost: int
    maxsize: int = 1024
    max_characters: int = 2_000_000
    # The prepared document of a text and the values of its literals (none but a template's).
    by_text: "Kept[tuple[Prepared, dict[str, Any]]]" = field(init=False)
    by_shape: "Kept[Prepared]" = field(init=False)
    served: dict[str, int] = field(default_factory=lambda: {"text": 0, "shape": 0, "parsed": 0})

    def __post_init__(self) -> None:
        self.by_text = Kept(self.maxsize, self.max_characters)
        self.by_shape = Kept(self.maxsize, self.max_characters)

    def prepare(
        self, text: str, operation_name: str | None, variables: dict[str, Any]
    ) -> tuple[Prepared, dict[str, Any], list[GraphQLError]]:
        """The prepared document for this text, the values of its literal variables, and
        why it must not run with these variables (its parse or validation errors, or a cost
        over the budget; none when it may). A new document's cost is checked before it is
        validated: a query too large to run is refused after parsing alone."""
        known = self.by_text.get(text)
        if known is not None:
            self.served["text"] += 1
            found, given = known
            merged = {**variables, **given} if given else variables
            return found, given, self._problems(found, operation_name, merged)
        shape = shape_of(text, self.max_tokens)
        if shape is not None:
            template = self.by_shape.get(shape.key)
            if template is not None:
                read = literal_values(template, shape)
                if read is not None:
                    self.served["shape"] += 1
                    self.by_text.put(text, (template, read))
                    merged = {**variables, **read}
                    return template, read, self._problems(template, operation_name, merged)
        self.served["parsed"] += 1
        try:
            document = parse(text, max_tokens=self.max_tokens)
        except GraphQLSyntaxError as error:
            prepared = Prepared(None, [error])
            self.by_text.put(text, (prepared, {}))
            return prepared, {}, prepared.errors
        too_costly = self._cost_problems(document, operation_name, variables)
        if too_costly:  # not kept: with other variables it may run
            return Prepared(document, []), {}, too_costly
        errors = validation_errors(self.schema, document, self.rules)
        prepared = Prepared(document, errors)
        if not errors and shape is not None:
            template = self._template(prepared, shape)
            values = None if template is None else literal_values(template, shape)
            if template is not None and values is not None:
                self.by_shape.put(shape.key, template)
                self.by_text.put(text, (template, values))
                return template, values, []
        self.by_text.put(text, (prepared, {}))
        return prepared, {}, errors

    def _template(self, prepared: Prepared, shape: Shape) -> Prepared | None:
        """The shape's template, if it is valid itself: then any literals of the types its
        variables declare make a valid document. (Not so where two fields of one response key
        must have equal arguments: `x: mentor(id: "A") x: mentor(id: "A")` is valid, but as a
        template, with a variable for each, it would answer "A" and "B" with A's figures.)"""
        template = template_of(self.schema, prepared, shape)
        if template is None or template.document is None:
            return None
        if validation_errors(self.schema, template.document, self.rules):
            return None
        return template

    def _problems(
        self, prepared: Prepared, operation_name: str | None, variables: dict[str, Any]
    ) -> list[GraphQLError]:
        if prepared.errors or prepared.document is None:
            return prepared.errors
        return self._cost_problems(prepared.document, operation_name, variables)

    def _cost_problems(
        self, document: DocumentNode, operation_name: str | None, variables: dict[str, Any]
    ) -> list[GraphQLError]:
        cost = cost_of(document, operation_name, variables)
        if cost <= self.max_cost:
            return []
        message = f"The query costs {cost}, over the budget of {self.max_cost} a request."
        return [GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})]


class PreparedDocuments(SchemaExtension):
    """The same documents and limits for requests Strawberry's view executes (GET, GraphiQL):
    the prepared document and its literal variables in place of parsing, its problems in
    place of validation."""

    def __init__(self, documents: Documents) -> None:
        super().__init__()
        self.documents = documents
        self.problems: list[GraphQLError] | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options = {"max_tokens": self.documents.max_tokens}
        if context.query is not None and context.graphql_document is None:
            prepared, literals, self.problems = self.documents.prepare(
                context.query, context.operation_name, context.variables or {}
            )
            if prepared.document is not None:  # else Strawberry parses and reports the error
                context.graphql_document = prepared.document
                context.variables = {**(context.variables or {}), **literals}
        yield

    def on_validate(self) -> Iterator[None]:
        if self.problems is not None:
            self.execution_context.pre_execution_errors = self.problems
        yield


class Kept(Generic[V]):
    """An LRU map from texts to what was made of them, bounded in entries and characters
    (of the keys, or of what `weigh` tells of each entry)."""

    def __init__(
        self, maxsize: int, max_characters: int, weigh: Callable[[str, V], int] | None = None
    ) -> None:
        self.entries: OrderedDict[str, V] = OrderedDict()
        self.weights: dict[str, int] = {}
        self.maxsize, self.max_characters = maxsize, max_characters
        self.weigh = weigh
        self.characters = 0

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str) -> V | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: str, value: V) -> None:
        weight = len(key) if self.weigh is None else self.weigh(key, value)
        if key in self.entries or weight > self.max_characters:
            return
        self.entries[key] = value
        self.weights[key] = weight
        self.characters += weight
        while len(self.entries) > self.maxsize or self.characters > self.max_characters:
            self.characters -= self.weights.pop(self.entries.popitem(last=False)[0])
