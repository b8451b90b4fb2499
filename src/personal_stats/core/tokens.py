"""Tokens of the write API: random, shown once, kept as their SHA-256 only, with scopes,
a last-used time, a revocation time and, if given, an expiry time. The statements are
`storage.tokens`."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

INGEST, ERASE = "ingest", "erase"  # push and delete records; erase a mentor whole
SCOPES = (INGEST, ERASE)
PREFIX = "pst_"  # makes a leaked token easy to recognise (and to scan for)


@dataclass(frozen=True)
class TokenInfo:
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """32 random bytes, with the prefix."""
    return PREFIX + secrets.token_urlsafe(32)
