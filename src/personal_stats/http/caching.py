"""HTTP validators of an answer read at one data version (SPEC 12): its ETag, Last-Modified
and X-Data-Version, with `Cache-Control: no-cache` (a cache keeps it, and asks each time
whether it still holds: a 304 when it does)."""

import hashlib
import time
from datetime import UTC, datetime
from email.utils import format_datetime

QUARTER = 900  # seconds every zone's date holds for (all offsets are whole quarters)


def validators(version: int, changed_at: int, key: bytes, dated: bool) -> dict[str, str]:
    """The validators of the answer to the request `key` names (its path and query, and
    anything else its answer depends on) at this data version. A `dated` answer also
    depends on today's date in some zone: its tag changes every quarter of an hour."""
    today = str(int(time.time() // QUARTER)).encode() if dated else b""
    digest = hashlib.blake2b(key + b"\0" + today, digest_size=16).hexdigest()
    return {
        "X-Data-Version": str(version),
        "ETag": f'"{version}-{digest}"',
        "Cache-Control": "no-cache",
        "Last-Modified": format_datetime(datetime.fromtimestamp(changed_at, UTC), usegmt=True),
    }


def still_current(if_none_match: str | None, etag: str) -> bool:
    """Whether the client's copy (`If-None-Match`) is the answer this tag names."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
