"""The lane writes take: an event loop of their own, on a thread of their own.

A write is a few dozen round trips to the database (the lock, the rows, the change log, the
commit), and on a loop busy with reads each round trip waits for a whole turn of it: a
200-record batch took over a second under read load. On the lane nothing else waits its
turn, and the request's loop only awaits the outcome; the parsing and validation of a
body run there too, so a large body never holds the request loop. Python runs one thread at
a time, so the two loops share the processor, each getting a turn at least every few
milliseconds (the interpreter's switch interval).
"""

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from personal_stats.core.errors import Unavailable
from personal_stats.storage.engine import create_engine
from personal_stats.storage.faults import unavailable_as
from personal_stats.storage.writes import Writes
from personal_stats.support import tracing
from personal_stats.support.settings import Settings

T = TypeVar("T")


class WriteLane:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.writes: Writes | None = None
        self.starting = threading.Lock()

    async def run(self, work: Callable[[Writes], Coroutine[Any, Any, T]]) -> T:
        """Run `work` with the lane's writes (`Writes`) on the lane, and wait for it here. Cancelled
        here (a client gone, a shutdown), it is cancelled there too. A statement past the
        time limit, or a database that cannot serve (`faults`), raises `Unavailable` (the
        transaction is rolled back: nothing written)."""
        loop, writes = self._started()
        job = work(writes)
        if tracing.TRACER is not None:
            from personal_stats.storage.statement_spans import carried  # the otel extra's

            job = carried(job)
        done = asyncio.run_coroutine_threadsafe(job, loop)
        try:
            with unavailable_as("the database cannot be written now; try again shortly"):
                return await asyncio.wrap_future(done)
        except Unavailable as error:
            if isinstance(error.__cause__, TimeoutError):
                raise Unavailable("the database answered too late; try again shortly") from error
            raise

    def _started(self) -> tuple[asyncio.AbstractEventLoop, Writes]:
        with self.starting:
            if self.loop is None or self.writes is None:
                self.loop = asyncio.new_event_loop()
                self.thread = threading.Thread(target=self.loop.run_forever, name="write-lane",
                                               daemon=True)  # fmt: skip
                self.thread.start()
                engine = create_engine(self.settings)
                if tracing.TRACER is not None:
                    from personal_stats.storage.statement_spans import trace_statements

                    trace_statements(engine)
                self.writes = Writes(engine)
            return self.loop, self.writes

    async def close(self) -> None:
        """Dispose of the engine on the lane, then stop it (it starts again if used)."""
        loop, thread, writes = self.loop, self.thread, self.writes
        if loop is None or thread is None or writes is None:
            return
        disposed = asyncio.run_coroutine_threadsafe(writes.close(), loop)
        await asyncio.wrap_future(disposed)
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)
        loop.close()
        self.loop = self.thread = self.writes = None
