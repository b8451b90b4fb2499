"""Small helpers that put rows in a test database, and run the command line."""

import itertools
import os
import subprocess
import tempfile
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

import looptime
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from personal_stats.core.reads import Question, R
from personal_stats.service.stats_service import StatsService
from personal_stats.storage.changes import bump_data_version
from personal_stats.storage.models import Activity, ActivityType, Mentor
from personal_stats.support.settings import Settings
from tests.servers import start_cli

SessionFactory = async_sessionmaker[AsyncSession]
_ids = itertools.count(1)


def mentor(mentor_id: str, tz: str = "UTC", name: str | None = None) -> Mentor:
    return Mentor(id=mentor_id, name=name or mentor_id.title(), timezone=tz)


def activity_type(type_id: str, code: str | None = None, name: str | None = None) -> ActivityType:
    return ActivityType(id=type_id, code=code or type_id, name=name or type_id.title())


def activity(
    mentor_id: str,
    started_at: str,
    minutes: int = 30,
    status: str = "completed",
    type_id: str = "t1",
) -> Activity:
    return Activity(
        id=f"a{next(_ids)}",
        mentor_id=mentor_id,
        activity_type_id=type_id,
        status=status,
        started_at=datetime.fromisoformat(started_at),
        duration_minutes=minutes,
    )


async def add(sessions: SessionFactory, *rows: Any) -> None:
    """Add rows in one write, activity types first; a type `t1` exists unless given. As every
    write does, it makes a new data version (one that may have changed anyone's figures)."""
    types = [row for row in rows if isinstance(row, ActivityType)]
    if not any(t.id == "t1" for t in types):
        async with sessions() as session:
            if await session.get(ActivityType, "t1") is None:
                types.append(activity_type("t1"))
    async with sessions() as session:
        session.add_all(types)
        session.add_all([row for row in rows if isinstance(row, Mentor)])
        await session.flush()
        session.add_all([row for row in rows if isinstance(row, Activity)])
        await session.flush()
        await bump_data_version(await session.connection())
        await session.commit()


def database_url(sessions: SessionFactory) -> str:
    bind: Any = sessions.kw["bind"]
    url: str = bind.url.render_as_string(hide_password=False)
    return url


async def ask(sessions: SessionFactory, question: Question[R], *, indexed: bool = False) -> R:
    """Answer one question of the stats core through a service on the test's database: as a
    process's first request (peer standings counted in SQL), or `indexed`, once the peer index
    of the data is built (as a running server answers)."""
    service = StatsService(Settings(database_url=database_url(sessions)))
    try:
        if indexed:
            await service.start()
            assert service.peers.building is not None
            await service.peers.building[1]
            assert service.peers.state()["ready"]
        return await service.ask(question)
    finally:
        await service.close()


def run_cli(
    *args: str, database_url: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`personal-stats ARGS` on the database, in a process of its own."""
    env = os.environ | {"PERSONAL_STATS_DATABASE_URL": database_url}
    with tempfile.TemporaryDirectory() as folder:
        stdout, stderr = Path(folder, "stdout"), Path(folder, "stderr")
        process = start_cli(list(args), env, str(stdout), str(stderr))
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            raise subprocess.TimeoutExpired(["personal-stats", *args], timeout)
        return subprocess.CompletedProcess(
            list(args), process.exitcode, stdout.read_text(), stderr.read_text()
        )


def on_the_loops_clock(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """The async test on an event loop of its own whose clock starts at 0 and jumps to the next
    timer whenever nothing else is ready (looptime): its sleeps and every timer of the code
    under test take no real time, and `loop.time()` reads exactly what has elapsed."""

    def run() -> None:
        loop = looptime.new_event_loop(start=0)
        try:
            loop.run_until_complete(test())
        finally:
            loop.close()

    run.__doc__ = test.__doc__
    return run


class Clock:
    """A clock moved by hand (`now`), for what takes an injected one."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
