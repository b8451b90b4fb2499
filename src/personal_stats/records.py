"""The records of an import file, validated one by one with pydantic."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from personal_stats.params import MAX_YEAR, MIN_YEAR, is_valid_id
from personal_stats.windows import is_known_timezone

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _check_id(value: str) -> str:
    if not is_valid_id(value):
        raise ValueError("must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'")
    return value


def _check_name(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Id = Annotated[str, AfterValidator(_check_id)]
Name = Annotated[str, AfterValidator(_check_name)]


class Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class ActivityTypeRecord(Record):
    id: Id
    code: Id
    name: Name


class MentorRecord(Record):
    id: Id
    name: Name
    timezone: str | None = Field(default=None, validate_default=True)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str:
        if value is None:
            return "UTC"
        if not is_known_timezone(value):
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value


class ActivityRecord(Record):
    id: Id
    mentor_id: Id
    activity_type_id: Id
    status: Literal["completed", "cancelled"]
    started_at: datetime
    duration_minutes: int = Field(ge=0, le=1440)

    @field_validator("started_at", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> datetime:
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            raise ValueError(
                "must be an RFC 3339 timestamp with an offset, e.g. 2026-03-02T15:00:00Z"
            )
        try:
            instant = datetime.fromisoformat(value.upper())
        except ValueError:
            raise ValueError("is not a real date and time") from None
        if not MIN_YEAR <= instant.year <= MAX_YEAR:
            raise ValueError(f"must lie in the years {MIN_YEAR}-{MAX_YEAR}")
        return instant


KINDS: dict[str, type[Record]] = {
    "activity_type": ActivityTypeRecord,
    "mentor": MentorRecord,
    "activity": ActivityRecord,
}
SECTIONS = {"activity_types": "activity_type", "mentors": "mentor", "activities": "activity"}


def messages(error: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) for each problem pydantic found."""
    found = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        message = item["msg"]
        if item["type"] == "value_error":
            message = str(item["ctx"]["error"])
        found.append((path, message))
    return found
