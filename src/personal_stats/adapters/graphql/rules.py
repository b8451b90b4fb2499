"""The depth and alias limits of a document as validation rules, linear in the document.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter expand every fragment spread anew: a chain
of fragments that each spread the one before twice (1.2 KB for 30 of them) takes 2^30 steps.
Here each fragment is measured once and its measure reused at every spread; the limits and
their messages are the same.
"""

from collections.abc import Callable

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
)

Measure = Callable[[SelectionSetNode, Callable[[str], int]], int]


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _measured(document: DocumentNode, measure: Measure) -> Callable[[SelectionSetNode], int]:
    """`measure` of a selection set, where each fragment spread counts as its fragment's
    measure, taken once (0 for an unknown fragment or a loop: other rules report those)."""
    fragments = _fragments(document)
    known: dict[str, int] = {}
    under_way: set[str] = set()

    def of_fragment(name: str) -> int:
        if name in known:
            return known[name]
        fragment = fragments.get(name)
        if fragment is None or name in under_way:
            return 0
        under_way.add(name)
        known[name] = measure(fragment.selection_set, of_fragment)
        under_way.discard(name)
        return known[name]

    return lambda selections: measure(selections, of_fragment)


def depth(selections: SelectionSetNode, of_fragment: Callable[[str], int]) -> int:
    """The longest chain of nested fields with selections (introspection fields not counted)."""
    deepest = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.selection_set is not None and not selection.name.value.startswith("__"):
                deepest = max(deepest, 1 + depth(selection.selection_set, of_fragment))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, depth(selection.selection_set, of_fragment))
        elif isinstance(selection, FragmentSpreadNode):
            deepest = max(deepest, of_fragment(selection.name.value))
    return deepest


def aliases(selections: SelectionSetNode, of_fragment: Callable[[str], int]) -> int:
    """Aliased fields, each fragment counted at every spread."""
    total = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            total += selection.alias is not None
            if selection.selection_set is not None:
                total += aliases(selection.selection_set, of_fragment)
        elif isinstance(selection, InlineFragmentNode):
            total += aliases(selection.selection_set, of_fragment)
        elif isinstance(selection, FragmentSpreadNode):
            total += of_fragment(selection.name.value)
    return total


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def depth_limit(max_depth: int) -> type[ASTValidationRule]:
    class DepthLimit(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            measured = _measured(context.document, depth)
            for operation in _operations(context.document):
                if measured(operation.selection_set) > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    message = f"'{name}' exceeds maximum operation depth of {max_depth}"
                    context.report_error(GraphQLError(message, [operation]))

    return DepthLimit


def alias_limit(max_aliases: int) -> type[ASTValidationRule]:
    class AliasLimit(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            measured = _measured(context.document, aliases)
            found = sum(measured(o.selection_set) for o in _operations(context.document))
            if found > max_aliases:
                context.report_error(GraphQLError(f"{found} aliases found. Allowed: {max_aliases}"))

    return AliasLimit
