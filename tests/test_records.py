"""The fast path of JSON Lines accepts only what the full validation accepts, with the same
values: checked on generated lines, valid and subtly invalid."""

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from personal_stats.core.records import LINE, ActivityRecord, MentorRecord, fast_line

ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    st.sampled_from(["", "a" * 65, "a b", "a\n", "é", "a1\u0660"]),
)
instants = st.one_of(
    st.builds(
        "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}{}".format,
        st.integers(1890, 3010), st.integers(0, 13), st.integers(0, 32), st.sampled_from("T t"),
        st.integers(0, 25), st.integers(0, 61), st.integers(0, 61),
        st.sampled_from(["", ".5", ".123456", ".123456789"]),
        st.sampled_from(["Z", "z", "+01:00", "-05:30", "+14:00", "", "+24:00", "+0100"]),
    ),
    st.sampled_from(["2026-03-02", "2026-03-02T15:00Z", "", "not a time"]),
)  # fmt: skip
numbers = st.one_of(st.integers(-5, 1500), st.sampled_from([5.0, True, "5", None]))
names = st.sampled_from(["Ada", "  ", "", "Zoë", 7])
zones = st.sampled_from([None, "UTC", "Europe/Paris", "Mars/Base", "", 3])


def lines() -> st.SearchStrategy[dict[str, Any]]:
    activity = st.fixed_dictionaries(
        {"record": st.just("activity"), "id": ids, "mentor_id": ids, "activity_type_id": ids,
         "status": st.sampled_from(["completed", "cancelled", "done"]),
         "started_at": instants, "duration_minutes": numbers},
    )  # fmt: skip
    mentor = st.fixed_dictionaries(
        {"record": st.just("mentor"), "id": ids, "name": names}, optional={"timezone": zones}
    )
    kind = st.fixed_dictionaries(
        {"record": st.just("activity_type"), "id": ids, "code": ids, "name": names}
    )
    return st.one_of(activity, mentor, kind)


@settings(max_examples=1500, deadline=None)
@given(line=lines(), drop=st.sampled_from([None, "id", "record", "name", "started_at"]))
def test_fast_path_agrees_with_full_validation(line: dict[str, Any], drop: str | None) -> None:
    line.pop(drop or "", None)
    text = json.dumps(line).encode()
    fast = fast_line(text)
    try:
        full = LINE.validate_json(text)
    except ValidationError:
        assert fast is None, text
        return
    if fast is None:
        return  # the full validation decides: the same result as without a fast path
    record, instant = fast
    if isinstance(full, ActivityRecord):
        assert instant == full.started_at
        assert instant is not None
        assert instant.utcoffset() == full.started_at.utcoffset()
        assert (record.id, record.mentor_id, record.activity_type_id, record.status,
                record.duration_minutes) == (full.id, full.mentor_id, full.activity_type_id,
                                             full.status, full.duration_minutes)  # fmt: skip
    elif isinstance(full, MentorRecord):
        assert (record.id, record.name, record.timezone) == (full.id, full.name, full.timezone)
    else:
        assert (record.id, record.code, record.name) == (full.id, full.code, full.name)


def test_fast_path_takes_the_usual_lines() -> None:
    usual = [
        {"record": "activity_type", "id": "t1", "code": "one_on_one", "name": "One-on-One"},
        {"record": "mentor", "id": "m1", "name": "Ada"},
        {"record": "activity", "id": "a1", "mentor_id": "m1", "activity_type_id": "t1",
         "status": "completed", "started_at": "2026-03-02T15:00:00+01:00", "duration_minutes": 5},
    ]  # fmt: skip
    assert all(fast_line(json.dumps(line).encode()) is not None for line in usual)
