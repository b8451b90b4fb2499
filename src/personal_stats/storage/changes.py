"""The change log every write that changes something leaves (`bump_data_version`), and the
writes that are only a change: deleting an activity, erasing a mentor."""

import asyncio
import math
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, delete, insert, select, update

from personal_stats.storage.base import COMPLETED
from personal_stats.storage.feed import CHANGES_KEPT, CHANNEL, EVERY_MENTOR, notice
from personal_stats.storage.models import (
    Activity,
    ActivityChange,
    DataVersion,
    InstantChange,
    Mentor,
    table_of,
)
from personal_stats.storage.transactions import data_version, write_transaction

Step = tuple[str, int, int]  # a completed instant added (+1) or taken away (-1)
ERASURE_FOLLOWED = timedelta(seconds=60)  # by then every running worker has followed it


async def bump_data_version(
    connection: AsyncConnection,
    changed: Collection[str] | None = None,
    steps: Sequence[Step] = (),
    *,
    erased: str | None = None,
) -> int:
    """Make the write's data version, and log whose records it changed (`None`: it may have
    changed anyone's) and each completed instant it added or took away. Every write that
    changed something ends with this, in its transaction (one that changed nothing leaves
    the version as it was); writers are serialised, so the version read here is the one
    this write makes. The log keeps the last `CHANGES_KEPT` versions, and names no erased
    mentor (see `erase_mentor`; `_forget_erased` takes out ids that a version before that
    rule logged)."""
    now = datetime.now(UTC)
    version = await data_version(connection) + 1
    await connection.execute(
        update(DataVersion).where(col(DataVersion.id) == 1).values(version=version, changed_at=now)
    )
    mentors = [EVERY_MENTOR] if changed is None else sorted(set(changed))
    if mentors:
        rows = [
            {"version": version, "mentor_id": m, "erased_at": now if m == erased else None}
            for m in mentors
        ]  # an erasure is `*` erased: the log never names an erased mentor
        await connection.execute(_log_change(connection.dialect.name), rows)
    if steps:
        await connection.execute(
            insert(InstantChange),
            [{"version": version, "mentor_id": m, "second": s, "delta": d} for m, s, d in steps],
        )
    if connection.dialect.name == "postgresql":  # every worker's listener hears it at the commit
        await connection.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": notice(version, mentors, erased)},
        )
    oldest = version - CHANGES_KEPT
    await connection.execute(delete(ActivityChange).where(col(ActivityChange.version) <= oldest))
    await connection.execute(delete(InstantChange).where(col(InstantChange.version) <= oldest))
    await _forget_erased(connection, now - ERASURE_FOLLOWED)
    return version


async def _forget_erased(connection: AsyncConnection, before: datetime) -> None:
    """Take the ids of mentors erased before `before` out of the change log: each version
    that named one says `*` instead (a worker whose index is older than that, if any, loads
    its index whole)."""
    found = await connection.execute(
        select(col(ActivityChange.mentor_id), col(ActivityChange.version)).where(
            col(ActivityChange.erased_at).is_not(None), col(ActivityChange.erased_at) < before
        )
    )
    for mentor_id, erased_in in found.all():
        if mentor_id != EVERY_MENTOR:
            await _unname(connection, mentor_id, erased_in)


async def _unname(connection: AsyncConnection, mentor_id: str, up_to: int | None) -> None:
    """Take the mentor's id out of the change log (up to version `up_to`, or all of it):
    each version that named them names everyone instead."""
    named_here = col(ActivityChange.mentor_id) == mentor_id
    stepped_here = col(InstantChange.mentor_id) == mentor_id
    if up_to is not None:
        named_here = named_here & (col(ActivityChange.version) <= up_to)
        stepped_here = stepped_here & (col(InstantChange.version) <= up_to)
    named = await connection.execute(
        delete(ActivityChange).where(named_here).returning(col(ActivityChange.version))
    )
    versions = [{"version": v, "mentor_id": EVERY_MENTOR} for v in named.scalars()]
    await connection.execute(delete(InstantChange).where(stepped_here))
    if versions:
        await connection.execute(_log_change(connection.dialect.name), versions)


def completed_steps(
    before: tuple[str, str, int] | None, after: tuple[str, str, int] | None
) -> list[Step]:
    """The instant steps of one activity's change, each side (mentor, status, epoch second)
    or None (no such activity)."""
    old = before if before is not None and before[1] == COMPLETED else None
    new = after if after is not None and after[1] == COMPLETED else None
    if old is not None and new is not None and (old[0], old[2]) == (new[0], new[2]):
        return []
    steps = [] if old is None else [(old[0], old[2], -1)]
    return steps if new is None else [*steps, (new[0], new[2], 1)]


def epoch_second(instant: datetime) -> int:
    """Whole seconds since the epoch, rounded down (as the databases convert them)."""
    return math.floor(instant.timestamp())


def _log_change(dialect: str) -> Any:
    table = table_of(ActivityChange)
    insert = sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)
    return insert.on_conflict_do_nothing()


async def delete_activity(connection: AsyncConnection, activity_id: str) -> int | None:
    """Delete one activity: the data version made, or None when there is none with this id."""
    found = await connection.execute(
        delete(Activity)
        .where(col(Activity.id) == activity_id)
        .returning(col(Activity.mentor_id), col(Activity.status), col(Activity.started_at))
    )
    row = found.one_or_none()
    if row is None:
        return None
    steps = completed_steps((row[0], row[1], epoch_second(row[2])), None)
    return await bump_data_version(connection, [row[0]], steps)


async def erase_mentor(connection: AsyncConnection, mentor_id: str) -> int | None:
    """Delete a mentor and every activity of theirs: the data version made, or None when
    there is no such mentor. Nothing of the mentor is left in the change log either: each
    version that named them names everyone instead (`*`), and the erasure itself is logged
    as "someone was erased" (`*`, erased): workers find whom among the mentors they follow
    (`live`), and their peer indexes load again."""
    await connection.execute(delete(Activity).where(col(Activity.mentor_id) == mentor_id))
    found = await connection.execute(
        delete(Mentor).where(col(Mentor.id) == mentor_id).returning(col(Mentor.id))
    )
    if found.scalar_one_or_none() is None:
        return None
    await _unname(connection, mentor_id, None)
    return await bump_data_version(connection, None, erased=EVERY_MENTOR)


async def leave_no_trace(engine: AsyncEngine) -> bool:
    """After an erasure, on SQLite: what the deletes freed is already zeroes (`secure_delete`,
    one of the engine's pragmas), and the write-ahead log, which still holds the pages as they
    were, is checkpointed and truncated. Readers of older snapshots can hold that up for a
    moment: it is tried for up to a second; False if it could not be done then (the next
    checkpoint does it). PostgreSQL keeps dead rows until VACUUM (docs/write-api.md)."""
    if engine.dialect.name != "sqlite":
        return True
    for _ in range(20):
        async with engine.connect() as connection:
            found = await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = found.one()[0]
        if not busy:
            return True
        await asyncio.sleep(0.05)
    return False


# The tables an erased mentor's rows were in (the change log names none, but held the rows'
# instants): what `VACUUM FULL` rewrites after an erasure on PostgreSQL.
ERASED_FROM = ("mentor", "activity", "activity_change", "instant_change")


async def erase_for_good(
    engine: AsyncEngine, mentor_id: str, vacuum: bool
) -> tuple[int | None, bool]:
    """Erase a mentor in a write transaction of its own, leaving no trace where the engine
    allows (`leave_no_trace`), then with `vacuum` rewrite what PostgreSQL keeps
    (`vacuum_erased`): the data version made (None: no such mentor), and whether it was
    vacuumed."""
    async with write_transaction(engine) as connection:
        version = await erase_mentor(connection, mentor_id)
    if version is None:
        return None, False
    await leave_no_trace(engine)
    return version, vacuum and await vacuum_erased(engine)


async def vacuum_erased(engine: AsyncEngine) -> bool:
    """On PostgreSQL, rewrite the tables an erasure deleted rows from, without their dead
    rows (`VACUUM FULL`: each table is locked while it is rewritten; the write-ahead log
    keeps the old pages until its segments are recycled). False on SQLite, whose erasure
    leaves nothing to vacuum (`leave_no_trace`)."""
    if engine.dialect.name != "postgresql":
        return False
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        # A transaction of this database begun before the erasure may still see its rows,
        # and VACUUM FULL keeps them for it: wait (a while) for those to end.
        erased_at = (await autocommit.exec_driver_sql("SELECT clock_timestamp()")).scalar_one()
        for _ in range(int(VACUUM_WAIT_SECONDS / 0.05)):
            older = await autocommit.execute(_OLDER_TRANSACTIONS, {"erased_at": erased_at})
            if not older.scalar_one():
                break
            await asyncio.sleep(0.05)
        await autocommit.exec_driver_sql("VACUUM FULL " + ", ".join(ERASED_FROM))
    return True


VACUUM_WAIT_SECONDS = 10.0
_OLDER_TRANSACTIONS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL AND xact_start < :erased_at"
)
