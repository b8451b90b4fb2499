"""A span per GraphQL operation (SPEC 21), named by its type and name, with its document id
and never its variables. The short way opens it itself (`app`); `OperationSpans` opens it on
Strawberry's own paths: the WebSocket's operations (a subscription's span lasts as long as
the subscription, its events' reads beneath it) and what Strawberry's view answers. Installed
only when tracing is on."""

from collections.abc import Iterator

from graphql import get_operation_ast
from strawberry.extensions import SchemaExtension

from personal_stats.support import tracing
from personal_stats.support.document_ids import document_id


def operation_attributes(kind: str, name: str | None, text: str) -> dict[str, str]:
    """An operation's span attributes: its type, name and document id (the SHA-256 of its
    text, as persisted documents name it)."""
    return {"graphql.operation.type": kind, "graphql.operation.name": name or "",
            "graphql.document.id": document_id(text)}  # fmt: skip


class OperationSpans(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        assert tracing.TRACER is not None
        with tracing.TRACER.start_as_current_span("graphql") as span:
            try:
                yield
            finally:  # a subscription ends by being cancelled
                kind, name, text = self._named()
                span.update_name(f"{kind} {name or 'anonymous'}")
                span.set_attributes(operation_attributes(kind, name, text))

    def _named(self) -> tuple[str, str | None, str]:
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # the document did not parse: no operation to name
            kind = "unknown"
        name = context.operation_name
        if name is None and context.graphql_document is not None:
            found = get_operation_ast(context.graphql_document)
            name = found.name.value if found is not None and found.name else None
        return kind, name, context.query or ""
