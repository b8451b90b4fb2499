"""The storage boundary: every statement and every difference between SQLite and PostgreSQL
lives in this package. Reads answer the stats core's read requests inside one snapshot
(`sqlite`, `postgres`); `writes` holds the bulk upserts of imports."""

from personal_stats.storage.base import InstantTable, Snapshot, Store
from personal_stats.storage.stores import open_store

__all__ = ["InstantTable", "Snapshot", "Store", "open_store"]
