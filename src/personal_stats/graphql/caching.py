"""Validation results kept by the query's text. Strawberry's own `ValidationCache` keys them
on the parsed document, and graphql-core hashes a document by walking its whole tree on every
request (measured: a tenth of a millisecond per query, a tenth of a small query's cost)."""

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

Key = tuple[str, tuple[Any, ...]]


class TextValidationCache(SchemaExtension):
    """Pass `TextValidationCache.factory(maxsize)`: one cache shared by the schema's requests."""

    def __init__(self, cache: "ValidationResults") -> None:
        super().__init__()
        self.cache = cache

    @classmethod
    def factory(cls, maxsize: int) -> Any:
        cache = ValidationResults(maxsize)

        def make() -> "TextValidationCache":
            return cls(cache)

        make.cache = cache  # type: ignore[attr-defined]
        return make

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        rules = tuple(context.validation_rules)
        document = context.graphql_document
        assert document is not None, "validation follows parsing"

        def validate() -> list[GraphQLError]:
            return validate_document(context.schema._schema, document, rules)

        if context.query is None:  # a pre-parsed document: nothing to key on
            context.pre_execution_errors = validate()
        else:
            context.pre_execution_errors = self.cache.get((context.query, rules), validate)
        yield


class ValidationResults:
    """An LRU map from (query text, rules) to the validation errors, with hit counters."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.results: OrderedDict[Key, list[GraphQLError]] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: Key, validate: Callable[[], list[GraphQLError]]) -> list[GraphQLError]:
        found = self.results.get(key)
        if found is not None:
            self.hits += 1
            self.results.move_to_end(key)
            return found
        self.misses += 1
        found = self.results[key] = validate()
        if len(self.results) > self.maxsize:
            self.results.popitem(last=False)
        return found
