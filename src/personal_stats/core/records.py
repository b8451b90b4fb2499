"""The records of an import file, validated by pydantic (in Rust, for the millions of
activities a large import holds)."""

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
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

from personal_stats.core.params import ID_PATTERN
from personal_stats.core.windows import MAX_YEAR, MIN_YEAR, is_known_timezone

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


NAME_LENGTH = 200  # characters of a mentor's or an activity type's name


def name_problem(value: str) -> str | None:
    """What is wrong with a name, if anything: names are shown on pages and cards."""
    if not value.strip():
        return "must not be empty"
    if len(value) > NAME_LENGTH:
        return f"must be at most {NAME_LENGTH} characters"
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        return "must not contain control characters"
    return None


def _checked_name(value: str) -> str:
    problem = name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Id = Annotated[str, StringConstraints(pattern=f"^{ID_PATTERN}$")]
Name = Annotated[str, AfterValidator(_checked_name)]
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


# The fast path of JSON Lines: msgspec decodes and checks a line in one pass in C. It accepts
# only what the pydantic records above accept, with the same values; a line it does not
# accept outright goes through them, so every problem is still reported in their words.
_ID_PATTERN = rf"\A{ID_PATTERN}\Z"
_FastId = Annotated[str, msgspec.Meta(pattern=_ID_PATTERN)]
_FastInstant = Annotated[
    str,
    msgspec.Meta(
        pattern=r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
        r"(Z|[+-][0-9]{2}:[0-9]{2})\Z"
    ),
]


class FastActivityType(msgspec.Struct, tag_field="record", tag="activity_type"):
    id: _FastId
    code: _FastId
    name: str


class FastMentor(msgspec.Struct, tag_field="record", tag="mentor"):
    id: _FastId
    name: str
    timezone: str | None = None


class FastActivity(msgspec.Struct, tag_field="record", tag="activity"):
    id: _FastId
    mentor_id: _FastId
    activity_type_id: _FastId
    status: Literal["completed", "cancelled"]
    started_at: _FastInstant
    duration_minutes: Annotated[int, msgspec.Meta(ge=0, le=1440)]


_FAST_LINE = msgspec.json.Decoder(FastActivityType | FastMentor | FastActivity)


def fast_line(line: bytes) -> tuple[Any, datetime | None] | None:
    """The record of a line and, for an activity, its instant; None when the line needs the
    full validation (it may be valid all the same)."""
    try:
        record = _FAST_LINE.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if isinstance(record, FastActivity):
        text = record.started_at
        if not MIN_YEAR <= int(text[:4]) <= MAX_YEAR:
            return None
        try:
            return record, datetime.fromisoformat(text)
        except ValueError:
            return None
    if name_problem(record.name) is not None:
        return None
    if isinstance(record, FastMentor):
        if record.timezone is None:
            record.timezone = "UTC"
        elif not is_known_timezone(record.timezone):
            return None
    return record, None
