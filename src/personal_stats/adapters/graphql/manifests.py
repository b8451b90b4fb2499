"""The documents `personal-stats documents add` reads: `.graphql` files (one document each,
named by the SHA-256 of the file's exact text) and JSON manifests (`{"<sha256 hex>":
"<text>"}`, as Relay and GraphQL Codegen write them). Each must name its own text and be a
document the service would run (it parses, and passes the schema's validation and limits);
else nothing is added."""

from pathlib import Path

import orjson
from graphql import GraphQLSyntaxError, OperationDefinitionNode, parse

from personal_stats.adapters.graphql.documents import Documents
from personal_stats.frameworks.strawberry import validation_errors
from personal_stats.support.document_ids import DOCUMENT_ID, SHA256_HEX, sha256_of

GRAPHQL_SUFFIXES = (".graphql", ".gql")


class BadDocuments(ValueError):
    """Why the files cannot be added: one line a problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_documents(paths: list[Path], documents: Documents) -> dict[str, str]:
    """Every document of these files, by SHA-256 hex (`BadDocuments` when any is wrong)."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for path in paths:
        try:
            named = _read(path)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            problems.append(f"{path}: {error}")
            continue
        for sha256, text in named.items():
            problems.extend(f"{path}: document sha256:{sha256[:12]}…: {problem}"
                            for problem in _problems(text, documents))  # fmt: skip
            found[sha256] = text
    if problems:
        raise BadDocuments(problems)
    return found


def operation_names(text: str) -> list[str]:
    """The names of a document's operations (`anonymous` for one without)."""
    try:
        definitions = parse(text, no_location=True).definitions
    except GraphQLSyntaxError:
        return []
    return [each.name.value if each.name else "anonymous"
            for each in definitions if isinstance(each, OperationDefinitionNode)]  # fmt: skip


def _read(path: Path) -> dict[str, str]:
    if path.suffix in GRAPHQL_SUFFIXES:
        text = path.read_text(encoding="utf-8")
        return {sha256_of(text): text}
    if path.suffix != ".json":
        raise ValueError("not a .graphql, .gql or .json file")
    manifest = orjson.loads(path.read_bytes())
    if not isinstance(manifest, dict):
        raise ValueError('a manifest is a JSON object {"<sha256 hex>": "<document text>", ...}')
    named = {}
    for key, text in manifest.items():
        match = DOCUMENT_ID.fullmatch(key)
        sha256 = match[1] if match else key
        if not SHA256_HEX.fullmatch(sha256):
            raise ValueError(f"{key!r} is not a SHA-256 in lower-case hex")
        if not isinstance(text, str):
            raise ValueError(f"the document of {key} is not a string")
        if sha256_of(text) != sha256:
            raise ValueError(f"{key} is not the SHA-256 of its text (that is {sha256_of(text)})")
        named[sha256] = text
    return named


def _problems(text: str, documents: Documents) -> list[str]:
    try:
        document = parse(text, max_tokens=documents.max_tokens)
    except GraphQLSyntaxError as error:
        return [error.message]
    errors = validation_errors(documents.schema, document, documents.rules)
    return [error.message for error in errors]
