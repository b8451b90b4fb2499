"""What the service may write, as reads have their `Store`: `Writes` on one engine, and in
each of its write transactions a `WriteTransaction`. Every statement stays in this package;
the service and the command line see only these two.

A write is one transaction, one writer at a time (`transactions`): activities go through an
`ActivityWriter` (`bulk`), and a write that changed something ends by making its data
version (`changes.bump_data_version`)."""

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import personal_stats.storage.bulk as bulk
import personal_stats.storage.changes as changes
import personal_stats.storage.documents as documents
import personal_stats.storage.tokens as tokens
from personal_stats.core.tokens import TokenInfo
from personal_stats.storage.bulk import ActivityWriter
from personal_stats.storage.changes import Step
from personal_stats.storage.transactions import data_version, write_transaction


class WriteTransaction:
    """One write transaction (`Writes.transaction`): nothing it writes is seen until it
    commits, and nothing at all when it fails."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def activity_writer(self) -> ActivityWriter:
        """The writer of this transaction's activities (`bulk.ActivityWriter`)."""
        return await ActivityWriter.open(self._connection)

    async def write_reference_data(
        self, types: Sequence[tuple[str, str, str]], mentors: Sequence[tuple[str, str, str]]
    ) -> tuple[list[str], list[str]]:
        """Upsert activity types (id, code, name) and mentors (id, name, time zone): the ids
        of those that were new or different."""
        return await bulk.write_reference_data(self._connection, types, mentors)

    async def type_codes(self) -> dict[str, str]:
        """The code of every stored activity type, by id."""
        return await bulk.stored_type_codes(self._connection)

    async def stored_mentors(self, mentor_ids: Collection[str]) -> set[str]:
        """Those of these mentors that are stored."""
        return await bulk.stored_mentors(self._connection, mentor_ids)

    async def make_version(
        self, changed: Collection[str] | None, steps: Sequence[Step] = ()
    ) -> int:
        """The data version of this write, logging whose records it changed (None: anyone's)
        and the completed instants it added or took away (`changes.bump_data_version`)."""
        return await changes.bump_data_version(self._connection, changed, steps)

    async def version(self) -> int:
        """The data version as it stands (for a write that changed nothing)."""
        return await data_version(self._connection)

    async def delete_activity(self, activity_id: str) -> int | None:
        """The data version made, or None when there is no such activity."""
        return await changes.delete_activity(self._connection, activity_id)

    async def erase_mentor(self, mentor_id: str) -> int | None:
        """The data version made, or None when there is no such mentor."""
        return await changes.erase_mentor(self._connection, mentor_id)

    async def note_token_use(self, name: str) -> None:
        """Note the named token's use, in this transaction."""
        await tokens.note_use(self._connection, name)


class Writes:
    """The database's writes, on one engine (the write lane's, or a command's)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[WriteTransaction]:
        """A write transaction (`transactions.write_transaction`): `Unavailable` when
        another writer holds the lock too long; rolled back when the block raises."""
        async with write_transaction(self._engine) as connection:
            yield WriteTransaction(connection)

    async def drop_replaced(self) -> None:
        """Drop what an earlier first load replaced, if anything (`bulk`)."""
        await bulk.drop_replaced_table(self._engine)

    async def leave_no_trace(self) -> bool:
        """After an erasure (`changes.leave_no_trace`)."""
        return await changes.leave_no_trace(self._engine)

    async def erase_for_good(self, mentor_id: str, vacuum: bool) -> tuple[int | None, bool]:
        """Erase a mentor in a transaction of its own (`changes.erase_for_good`)."""
        return await changes.erase_for_good(self._engine, mentor_id, vacuum)

    async def has_mentors(self) -> bool:
        return await bulk.has_mentors(self._engine)

    async def authenticate(self, token: str) -> TokenInfo | None:
        """The live token with this value, or None."""
        return await tokens.authenticate(self._engine, token)

    async def create_token(
        self, name: str, scopes: tuple[str, ...], expires_in: timedelta | None = None
    ) -> str:
        return await tokens.create(self._engine, name, scopes, expires_in)

    async def tokens(self) -> list[TokenInfo]:
        return await tokens.list_all(self._engine)

    async def revoke_token(self, name: str) -> bool:
        return await tokens.revoke(self._engine, name)

    async def add_documents(self, found: Mapping[str, str]) -> list[str]:
        """Store persisted GraphQL documents (SHA-256 hex → text): the ids that were new."""
        return await documents.add(self._engine, found)

    async def document(self, sha256: str) -> str | None:
        """The text of the persisted document with this id, or None."""
        return await documents.find(self._engine, sha256)

    async def documents(self) -> list[tuple[str, datetime, str]]:
        """Every persisted document: its id, when it was added, its text."""
        return await documents.list_all(self._engine)

    async def close(self) -> None:
        await self._engine.dispose()
