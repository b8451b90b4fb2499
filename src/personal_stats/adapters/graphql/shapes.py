"""The shape of a GraphQL document's text: its tokens, each string and number literal by its
kind only (`Shape.key`), and the literals' values in order. Two texts of one shape differ
only by their literals (a frontend that writes its arguments into the document); `templates`
turns the first of a shape into a template the others reuse. Read by one regular expression
that gives up (None) wherever it might not read the text exactly as the GraphQL lexer would.
"""

import re
from dataclasses import dataclass
from typing import Any

LITERAL = "__literal"
_TOKENS = re.compile(
    r"""(?P<skip>[ \t\n\r,\ufeff]+|\#[^\n\r]*)
      | (?P<string>"(?!"")[^"\\\x00-\x1f]*")
      | (?P<number>-?(?:0|[1-9][0-9]*)(?P<fraction>(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
                   (?![_A-Za-z0-9.]))
      | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
      | (?P<punctuator>\.\.\.|[!$&():=@\[\]{|}])""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Shape:
    """A text read as tokens: its key (the tokens, each literal by its kind only), each
    literal's value in order, and where each token starts."""

    key: str
    values: tuple[Any, ...]
    starts: tuple[int, ...]  # of the literal tokens, in the text


def shape_of(text: str, max_tokens: int | None = None) -> Shape | None:
    """The text's shape, or None when the regular expression cannot read it exactly as the
    GraphQL lexer would (escapes, block strings, anything unusual), or it has more than
    `max_tokens` tokens (read no further: the parser refuses it at the same count): then only
    its text keys it."""
    parts: list[str] = []
    values: list[Any] = []
    starts: list[int] = []
    position = 0
    for token in _TOKENS.finditer(text):
        if token.start() != position:
            return None
        position = token.end()
        kind = token.lastgroup
        if kind == "skip":
            continue
        if max_tokens is not None and len(parts) >= max_tokens:
            return None
        value = token.group()
        if kind == "string":
            parts.append('"')
            values.append(value[1:-1])
            starts.append(token.start())
        elif kind == "number":
            is_float = bool(token.group("fraction"))
            parts.append("0.0" if is_float else "0")
            values.append(float(value) if is_float else int(value))
            starts.append(token.start())
        elif kind == "name" and value.startswith(LITERAL):
            return None  # the document's own name would clash with the template's
        else:
            parts.append(value)
    if position != len(text):
        return None
    return Shape(" ".join(parts), tuple(values), tuple(starts))
