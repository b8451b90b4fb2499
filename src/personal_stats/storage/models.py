"""Table models: activity types, mentors and their activities; the data version and the
change log; the write API's tokens; the persisted GraphQL documents."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

ID_LENGTH = 64


def _reference(target: str) -> Column[str]:
    key = ForeignKey(target, deferrable=True, initially="IMMEDIATE")
    return Column(String(ID_LENGTH), key, nullable=False)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC on every engine and read back as an aware UTC datetime.

    SQLite has no time-zone type, so instants are normalised to UTC before storage; the
    stored text then sorts in time order and range queries stay index-friendly.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ActivityType(SQLModel, table=True):
    __tablename__ = "activity_type"

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    code: str = Field(max_length=ID_LENGTH, unique=True)
    name: str


class Mentor(SQLModel, table=True):
    __tablename__ = "mentor"

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    name: str
    timezone: str = Field(default="UTC", max_length=64)


class Activity(SQLModel, table=True):
    __tablename__ = "activity"
    __table_args__ = (
        # One mentor's activities in a time range: every per-mentor figure.
        Index("ix_activity_mentor_started", "mentor_id", "started_at"),
        # Completed activities of all mentors in a time range: the peer rank.
        Index("ix_activity_status_started", "status", "started_at", "mentor_id"),
    )

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    # Deferrable, so that an import may hold activities before their mentor.
    mentor_id: str = Field(sa_column=_reference("mentor.id"))
    activity_type_id: str = Field(sa_column=_reference("activity_type.id"))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    started_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    duration_minutes: int


class DataVersion(SQLModel, table=True):
    """One row, bumped by every import in its own transaction: HTTP validators and caches
    are keyed on it."""

    __tablename__ = "data_version"

    id: int = Field(default=1, primary_key=True)
    version: int = 0
    changed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class ActivityChange(SQLModel, table=True):
    """The mentors whose records (the mentor row or any activity) a write changed, by the
    data version it made. `*` stands for every mentor (a first load, or an erasure once
    every worker has followed it: the erased id is not kept)."""

    __tablename__ = "activity_change"

    version: int = Field(primary_key=True)
    mentor_id: str = Field(primary_key=True, max_length=ID_LENGTH)
    # When the mentor was erased: the id leaves the log a minute later (found by this index).
    erased_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), index=True))


class InstantChange(SQLModel, table=True):
    """Each completed instant a write added (+1) or took away (-1), by the data version it
    made: the peer index of an older version follows these, a write's cost in proportion to
    what it changed."""

    __tablename__ = "instant_change"

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(index=True)
    mentor_id: str = Field(max_length=ID_LENGTH)
    second: int = Field(sa_column=Column(BigInteger(), nullable=False))
    delta: int


class ApiToken(SQLModel, table=True):
    """A token of the write API, kept as its SHA-256 only."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=ID_LENGTH, unique=True)
    token_sha256: str = Field(max_length=64, unique=True)
    scopes: str = Field(max_length=200)  # space-separated
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class PersistedDocument(SQLModel, table=True):
    """A GraphQL document clients may name by its id: the SHA-256 of its exact text."""

    __tablename__ = "persisted_document"

    sha256: str = Field(primary_key=True, max_length=64)  # lower-case hex
    text: str = Field(sa_column=Column(Text(), nullable=False))
    added_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


def table_of(model: type[SQLModel]) -> Table:
    """The table of a table model (SQLModel does not type `__table__`)."""
    return SQLModel.metadata.tables[str(model.__tablename__)]
