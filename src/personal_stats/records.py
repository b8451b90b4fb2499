"""The records of an import file, validated by pydantic (in Rust, for the millions of
activities a large import holds)."""

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from personal_stats.params import MAX_YEAR, MIN_YEAR
from personal_stats.windows import is_known_timezone

ID_MESSAGE = "must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'"
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _rfc3339_text(value: Any) -> Any:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-03-02T15:00:00Z")
    if not MIN_YEAR <= int(value[:4]) <= MAX_YEAR:
        raise ValueError(f"must lie in the years {MIN_YEAR}-{MAX_YEAR}")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Name = Annotated[str, AfterValidator(_not_blank)]
# Parsed from its RFC 3339 text, whose form and year are checked first.
Instant = Annotated[AwareDatetime, Strict(False), BeforeValidator(_rfc3339_text)]


class Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class ActivityTypeRecord(Record):
    record: Literal["activity_type"] = "activity_type"
    id: Id
    code: Id
    name: Name


class MentorRecord(Record):
    record: Literal["mentor"] = "mentor"
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
    record: Literal["activity"] = "activity"
    id: Id
    mentor_id: Id
    activity_type_id: Id
    status: Literal["completed", "cancelled"]
    started_at: Instant
    duration_minutes: int = Field(ge=0, le=1440)


AnyRecord = ActivityTypeRecord | MentorRecord | ActivityRecord
SECTIONS: dict[str, TypeAdapter[Any]] = {
    "activity_types": TypeAdapter(ActivityTypeRecord),
    "mentors": TypeAdapter(MentorRecord),
    "activities": TypeAdapter(ActivityRecord),
}
KINDS = ("activity_type", "mentor", "activity")
LINE: TypeAdapter[AnyRecord] = TypeAdapter(Annotated[AnyRecord, Discriminator("record")])


def messages(error: ValidationError, *, in_line: bool = False) -> list[tuple[str, str]]:
    """(field path, message) for each problem pydantic found."""
    found = []
    for item in error.errors(include_url=False):
        location = list(item["loc"])
        if in_line and location and location[0] in KINDS:
            location = location[1:]  # the union's branch, named by `record` already
        path = ".".join(str(part) for part in location)
        kind = item["type"]
        if kind == "union_tag_invalid" or (kind == "union_tag_not_found"):
            path, message = "record", f"must be one of {', '.join(KINDS)}"
        elif kind == "string_pattern_mismatch":
            message = ID_MESSAGE
        elif kind == "value_error":
            message = str(item["ctx"]["error"])
        else:
            message = item["msg"]
        found.append((path, message))
    return found
