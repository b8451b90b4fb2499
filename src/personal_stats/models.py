"""Table models: activity types, mentors and their activities."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Dialect, ForeignKey, Index, String
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

ID_LENGTH = 64


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


def _reference(target: str) -> Column[str]:
    key = ForeignKey(target, deferrable=True, initially="IMMEDIATE")
    return Column(String(ID_LENGTH), key, nullable=False)


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
