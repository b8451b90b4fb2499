"""How a GraphQL document is named by id (SPEC 21): `sha256:` and the SHA-256 of its exact
text in lower-case hex."""

import hashlib
import re

DOCUMENT_ID = re.compile(r"sha256:([0-9a-f]{64})")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def sha256_of(text: str) -> str:
    """The SHA-256 of a document's text (UTF-8), in lower-case hex."""
    return hashlib.sha256(text.encode()).hexdigest()


def document_id(text: str) -> str:
    """The id of a document's text."""
    return "sha256:" + sha256_of(text)
