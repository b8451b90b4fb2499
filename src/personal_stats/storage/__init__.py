"""The storage boundary: every statement and every difference between SQLite and
PostgreSQL lives in this package. What the layers above see: reads answer the stats core's
read requests inside one snapshot of a `Store` (`base`; drivers `sqlite`, `postgres`), and
writes go through `Writes` and its `WriteTransaction` (`writes`; the bulk upserts in
`bulk`, the change log in `changes`), on the `WriteLane` in a server."""

from personal_stats.storage.base import InstantChanges, InstantTable, Snapshot, Store
from personal_stats.storage.bulk import ActivityWriter, NewActivity
from personal_stats.storage.feed import Changes
from personal_stats.storage.stores import open_store
from personal_stats.storage.write_lane import WriteLane
from personal_stats.storage.writes import Writes, WriteTransaction

__all__ = [
    "ActivityWriter", "Changes", "InstantChanges", "InstantTable", "NewActivity", "Snapshot",
    "Store", "WriteLane", "WriteTransaction", "Writes", "open_store",
]  # fmt: skip
