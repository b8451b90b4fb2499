"""The statements of the persisted GraphQL documents: added by the command line, found by
id on a request, listed."""

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from personal_stats.storage.models import PersistedDocument, table_of


async def add(engine: AsyncEngine, documents: Mapping[str, str]) -> list[str]:
    """Store these documents (SHA-256 hex → text) in one transaction: the ids that were new
    (a known id has its text already: an id names one text)."""
    async with engine.begin() as connection:
        found = await connection.execute(
            select(col(PersistedDocument.sha256)).where(
                col(PersistedDocument.sha256).in_(list(documents))
            )
        )
        known = set(found.scalars())
        new = [sha256 for sha256 in documents if sha256 not in known]
        if new:
            now = datetime.now(UTC)
            rows = [{"sha256": key, "text": documents[key], "added_at": now} for key in new]
            await connection.execute(table_of(PersistedDocument).insert(), rows)
    return new


async def find(engine: AsyncEngine, sha256: str) -> str | None:
    """The text of the document with this id, or None."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(col(PersistedDocument.text)).where(col(PersistedDocument.sha256) == sha256)
        )
        return found.scalar_one_or_none()


async def list_all(engine: AsyncEngine) -> list[tuple[str, datetime, str]]:
    """Every document's id, when it was added and its text, oldest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(PersistedDocument).order_by(
                col(PersistedDocument.added_at), col(PersistedDocument.sha256)
            )
        )
        found = [PersistedDocument.model_validate(row._mapping) for row in rows]
    return [(row.sha256, row.added_at, row.text) for row in found]
