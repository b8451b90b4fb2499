"""One event, one answer: the subscribers of a mentor that hear the same event share it.

A write reaches every subscriber of its mentor at once; 1,000 dashboards subscribed with the
same document would each open a snapshot and run the same questions and the same execution.
Here the first subscriber to take an event (a mentor, a data version, whether the mentor's
own records changed) opens one unit of work for it and makes its payload (`Shared`); the
others take the same payload while it is in use. Its unit of work answers each question once
(as for any request), and `SharedExecutor` runs each (document, variables) once per payload:
subscribers with the same document and variables get the same result. The snapshot is let go
shortly after the last of them has its answer (`release`). The payloads of a burst of
events take turns (`Payloads.turn`), so that the requests of other clients keep their place
between them; and a field of the mentor's own records is reused from an earlier
event while those records stand (`reuse`).
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

import orjson
from graphql import GraphQLObjectType, OperationType

from personal_stats.adapters.graphql.reuse import KeptFields, Stamp, reusable_fields, stamp
from personal_stats.frameworks.graphql_core import (
    coerced_variables,
    error_count,
    field_name,
    field_nodes,
)
from personal_stats.frameworks.strawberry import ExecutionContext
from personal_stats.service.live import Event
from personal_stats.service.stats_service import StatsService, UnitOfWork
from personal_stats.support.metrics import SUBSCRIPTION_EXECUTIONS

Key = tuple[str, int, bool]  # the mentor, the event's version, whether their own records changed
_RAN = SUBSCRIPTION_EXECUTIONS.labels("ran")
_SHARED = SUBSCRIPTION_EXECUTIONS.labels("shared")
LINGER = 0.005  # seconds a payload no subscriber uses stays open for the next
AT_ONCE = 4  # event payloads made and answered at once in a worker (at most half the pool)


def at_once(pool_size: int) -> int:
    return max(1, min(AT_ONCE, pool_size // 2))


@dataclass(eq=False)
class Shared:
    """An event's payload (`payload`: what the subscription field yields, None when the
    mentor is gone), its unit of work, and the subscribers using it."""

    key: Key
    work: UnitOfWork
    stack: AsyncExitStack
    owner: "Payloads"
    payload: Any = None
    stamp: Stamp | None = None  # what its mentor's own records stand on (`reuse`)
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
        self.fields = KeptFields()
        self.turns: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    @asynccontextmanager
    async def turn(self, service: StatsService) -> AsyncIterator[None]:
        """A turn to make and answer an event's payload: `at_once` payloads at a time, so
        that a burst of events never fills a turn of the event loop with executions, nor the
        database pool with their snapshots — the requests of other clients keep their place
        between them (and half the pool)."""
        loop = asyncio.get_running_loop()
        if self.turns is None or self.turns[0] is not loop:
            self.turns = (loop, asyncio.Semaphore(at_once(service.settings.pool_size)))
        async with self.turns[1]:
            yield

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
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:  # gone while it was made: not one of its users
                if not pending.done():
                    self.joining[key] -= 1
                elif not pending.cancelled() and pending.exception() is None:
                    self.release(Use(pending.result()))
                raise
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
            await stack.enter_async_context(self.turn(service))  # given back after the work
            work = await stack.enter_async_context(service.unit_of_work())
            shared = Shared(key, work, stack, self)
            shared.payload = await make(work)
        except BaseException as error:
            await stack.aclose()
            self.open.pop(key, None)
            self.joining.pop(key, None)
            made.set_exception(error)
            made.exception()  # retrieved: a subscriber waiting on it gets it too
            raise
        if shared.payload is not None:
            shared.payload.shared_by = shared  # for SharedExecutor
            shared.stamp = stamp(service.live.own_changes.stamp(mentor_id, work.version), work.now)
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


class Texts:
    """The JSON text of the `next` messages of shared results: the subscribers of one event
    get the same result, whose text is made once for all of them (their messages differ in
    their ids alone). The last `size` results are kept, by identity (each held, so that its id
    names no other while kept)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.kept: dict[int, tuple[Any, str]] = {}

    def message(self, message: Mapping[str, Any]) -> str:
        payload = message.get("payload")
        if message.get("type") != "next" or not isinstance(payload, dict):
            return orjson.dumps(message).decode()
        data = payload.get("data")
        if not isinstance(data, dict):
            return orjson.dumps(message).decode()
        found = self.kept.get(id(data))
        if found is None:
            found = self.kept[id(data)] = (data, orjson.dumps(data).decode())
            if len(self.kept) > self.size:
                del self.kept[next(iter(self.kept))]
        head = orjson.dumps({k: v for k, v in message.items() if k != "payload"}).decode()
        rest = orjson.dumps({k: v for k, v in payload.items() if k != "data"}).decode()
        rest = "" if rest == "{}" else "," + rest[1:-1]
        return f'{head[:-1]},"payload":{{"data":{found[1]}{rest}}}}}'


class SharedExecutor(ExecutionContext):
    """Strawberry's executor (graphql-core's, with Strawberry's resolve info), which runs a
    subscription event's operation once per shared payload and (document, variables): the
    subscribers that sent the same get one result; the fields of the mentor's own records
    kept from an earlier event are taken while they stand."""

    shared: Shared | None = None  # of the subscription event being executed
    variables = b""  # the operation's variables, as JSON

    def execute_operation(self, serially: bool | None = None) -> Any:
        shared: Shared | None = getattr(self.root_value, "shared_by", None)
        if shared is None or self.operation.operation is not OperationType.SUBSCRIPTION:
            return super().execute_operation(serially)
        try:
            variables = orjson.dumps(coerced_variables(self), option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return super().execute_operation(serially)
        key = (id(self.operation), variables)
        found = shared.results.get(key)
        if found is not None:
            _SHARED.inc()
            return found
        _RAN.inc()
        self.shared, self.variables = shared, variables
        result = super().execute_operation(serially)
        if not isawaitable(result):
            shared.results[key] = result
            return result
        task = asyncio.ensure_future(result)
        shared.results[key] = task
        return task

    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any,
        path: Any, position_context: Any,
    ) -> Any:  # fmt: skip
        shared = self.shared
        name = field_name(field_details_list)
        if (
            shared is None
            or shared.stamp is None
            or (parent_type.name, name) not in reusable_fields(self.schema)
            or getattr(source, "id", None) != shared.key[0]
        ):
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        # Fields merged from several places of the document are kept as one, by all of them.
        nodes = field_nodes(field_details_list)
        key = (shared.key[0], tuple(map(id, nodes)), self.variables)
        stamp_, fields = shared.stamp, shared.owner.fields
        found = fields.find(key, stamp_)
        if found is not None:
            return found
        errors = error_count(self)

        def keep(value: Any) -> Any:
            if value is not None and error_count(self) == errors:
                fields.keep(key, nodes, stamp_, value)
            return value

        result = super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
        if not isawaitable(result):
            return keep(result)

        async def kept() -> Any:
            return keep(await result)

        return kept()
