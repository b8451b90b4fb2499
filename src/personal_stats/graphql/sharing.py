"""One event, one answer: the subscribers of a mentor that hear the same event share it.

A write reaches every subscriber of its mentor at once; 1,000 dashboards subscribed with the
same document would each open a snapshot and run the same questions and the same execution.
Here the first subscriber to take an event (a mentor, a data version, whether the mentor's
own records changed) opens one unit of work for it and makes its payload (`Shared`); the
others take the same payload while it is in use. Its unit of work answers each question once
(as for any request), and `SharedExecutor` runs each (document, variables) once per payload:
subscribers with the same document and variables get the same result. The snapshot is let go
shortly after the last of them has its answer (`release`).
"""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

import orjson
from graphql import OperationType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from personal_stats.live import Event
from personal_stats.metrics import SUBSCRIPTION_EXECUTIONS
from personal_stats.service import StatsService, UnitOfWork

Key = tuple[str, int, bool]  # the mentor, the event's version, whether their own records changed
_RAN = SUBSCRIPTION_EXECUTIONS.labels("ran")
_SHARED = SUBSCRIPTION_EXECUTIONS.labels("shared")
LINGER = 0.05  # seconds a payload no subscriber uses stays open for the next


@dataclass(eq=False)
class Shared:
    """An event's payload (`payload`: what the subscription field yields, None when the
    mentor is gone), its unit of work, and the subscribers using it."""

    key: Key
    work: UnitOfWork
    stack: AsyncExitStack
    payload: Any = None
    users: int = 1
    results: dict[tuple[int, bytes], Any] = field(default_factory=dict)
    closing: asyncio.TimerHandle | None = None
    closed: bool = False


@dataclass(eq=False)
class Use:
    """One subscriber's use of a shared payload, given back once (`Payloads.release`)."""

    shared: Shared
    released: bool = False


class Payloads:
    """The shared payloads of the events being answered, by key."""

    def __init__(self) -> None:
        self.open: dict[Key, asyncio.Future[Shared]] = {}
        self.joining: dict[Key, int] = {}  # subscribers waiting for a payload being made
        self.closing: set[asyncio.Task[None]] = set()

    async def take(
        self,
        service: StatsService,
        mentor_id: str,
        event: Event,
        make: Callable[[UnitOfWork], Awaitable[Any]],
    ) -> Shared:
        """The event's shared payload, made (by `make`, in a new unit of work) if no other
        subscriber's is in use."""
        key = (mentor_id, event.version, event.own)
        pending = self.open.get(key)
        if pending is not None and not pending.done():
            self.joining[key] = self.joining.get(key, 0) + 1  # its maker counts this one in
            return await asyncio.shield(pending)
        if pending is not None and not pending.result().closed:
            shared = pending.result()
            shared.users += 1
            if shared.closing is not None:  # taken again before it was let go
                shared.closing.cancel()
                shared.closing = None
            return shared
        made: asyncio.Future[Shared] = asyncio.get_running_loop().create_future()
        self.open[key] = made
        stack = AsyncExitStack()
        try:
            work = await stack.enter_async_context(service.unit_of_work())
            shared = Shared(key, work, stack)
            shared.payload = await make(work)
        except BaseException as error:
            await stack.aclose()
            self.open.pop(key, None)
            self.joining.pop(key, None)
            made.set_exception(error)
            made.exception()  # retrieved: a subscriber waiting on it gets it too
            raise
        if shared.payload is not None:
            shared.payload._shared = shared  # for SharedExecutor
        shared.users += self.joining.pop(key, 0)
        made.set_result(shared)
        return shared

    def release(self, use: Use) -> None:
        """One subscriber has its answer (or is gone). The snapshot is let go `LINGER`
        seconds after the last has had it, unless another takes it meanwhile: the followers of
        one event are woken together, but each may have had its answer before the next takes
        the payload."""
        if use.released:
            return
        use.released = True
        shared = use.shared
        shared.users -= 1
        if shared.users == 0 and shared.closing is None:
            loop = asyncio.get_running_loop()
            shared.closing = loop.call_later(LINGER, self._let_go, shared)

    def _let_go(self, shared: Shared) -> None:
        shared.closing = None
        if shared.users > 0 or shared.closed:
            return
        shared.closed = True
        pending = self.open.get(shared.key)
        if pending is not None and pending.done() and pending.result() is shared:
            del self.open[shared.key]
        task = asyncio.ensure_future(shared.stack.aclose())  # the unit of work's snapshot
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)


class SharedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor (graphql-core's, with Strawberry's resolve info), which runs a
    subscription event's operation once per shared payload and (document, variables): the
    subscribers that sent the same get one result."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        shared: Shared | None = getattr(self.root_value, "_shared", None)
        if shared is None or self.operation.operation is not OperationType.SUBSCRIPTION:
            return super().execute_operation(serially)
        try:
            variables = orjson.dumps(self.variable_values.coerced, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return super().execute_operation(serially)
        key = (id(self.operation), variables)
        found = shared.results.get(key)
        if found is not None:
            _SHARED.inc()
            return found
        _RAN.inc()
        result = super().execute_operation(serially)
        if not isawaitable(result):
            shared.results[key] = result
            return result
        task = asyncio.ensure_future(result)
        shared.results[key] = task
        return task
