"""The subscription root: `statsChanged`, one `next` per event of the mentor's stream (SPEC 18).

Each event is answered in a unit of work opened at the event, shared by the subscribers of
the mentor that hear the same event (`sharing`): `dataVersion` is the version of the
snapshot its `mentor` fields were read from. The snapshot is let go as soon as the last of
them has its answer (`ReleaseEventWork`), before it is sent: a client that does not read
holds no connection of the database.
"""

from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from personal_stats.adapters.graphql.fields import OPERATION_WORK
from personal_stats.adapters.graphql.sharing import Payloads, Use
from personal_stats.adapters.graphql.types import Mentor
from personal_stats.core.params import check_mentor_id
from personal_stats.core.stats import find_mentor
from personal_stats.frameworks.strawberry import OperationType
from personal_stats.service.live import MENTOR_ERASED, PLACE, Follower
from personal_stats.service.stats_service import StatsService, UnitOfWork
from personal_stats.support.metrics import EVENTS_SENT, OPEN_FOLLOWERS

# The shared payload of the event being answered, in the operation's task.
_EVENT: ContextVar[Use | None] = ContextVar("event", default=None)
PAYLOADS = Payloads()  # the events being answered (one event loop a worker)
_OPEN = OPEN_FOLLOWERS.labels("graphql")
_SENT = EVENTS_SENT.labels("graphql", "stats-changed")


@strawberry.type(description="A change of the data a mentor's figures are read from.")
class StatsChanged:
    data_version: int = strawberry.field(
        description="The data version `mentor` was read at (the newest when the event left)."
    )
    own_data_changed: bool = strawberry.field(
        description="Whether the mentor's own records changed since the previous event (or "
        "since the subscription began); false when only others' records changed."
    )
    mentor: Mentor = strawberry.field(description="The mentor, read at `dataVersion`.")


@strawberry.type
class Subscription:
    @strawberry.subscription(  # type: ignore[untyped-decorator]
        description="An event after every change of the data (throttled as the mentor's "
        "event stream), with any of the mentor's fields read at the new version; complete "
        "when the mentor is erased."
    )
    async def stats_changed(
        self, info: Info, mentor_id: strawberry.ID
    ) -> AsyncIterator[StatsChanged]:
        check_mentor_id(mentor_id, "mentorId")
        service: StatsService = info.context["service"]
        socket = info.context.get("request")  # none when run directly on the schema
        client = socket.client.host if socket is not None and socket.client else None
        place = socket.scope.get(PLACE) if socket is not None else None  # from its upgrade
        follower = await service.follow(mentor_id, None, client, place)  # NotFound, no room
        return _events(service, follower)


async def _events(service: StatsService, follower: Follower) -> AsyncIterator[StatsChanged]:
    _OPEN.inc()
    use: Use | None = None  # of the last event's payload
    try:
        while (event := await follower.next()) is not None and event.name != MENTOR_ERASED:

            async def make(work: UnitOfWork, own: bool = event.own) -> StatsChanged | None:
                found = await work.answer(find_mentor, follower.mentor_id)
                if found is None:  # erased since: its erasure ends the subscription
                    return None
                return StatsChanged(data_version=work.version, own_data_changed=own,
                                    mentor=Mentor.from_model(found, work))  # fmt: skip

            if use is not None:  # given back when its answer was made, unless that failed
                PAYLOADS.release(use)
            use = Use(await PAYLOADS.take(service, follower.mentor_id, event, make))
            if use.shared.payload is None:
                continue
            _EVENT.set(use)
            _SENT.inc()
            yield use.shared.payload
    finally:
        if use is not None:
            PAYLOADS.release(use)
        service.live.leave(follower)
        _OPEN.dec()


class OperationWork(SchemaExtension):
    """A query sent over the WebSocket (graphql-transport-ws allows any operation there) is
    answered in a unit of work of its own, as an HTTP request is: the connection's context
    holds the service, not a unit of work."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        subscribing = self.execution_context.operation_type is OperationType.SUBSCRIPTION
        if subscribing or not isinstance(context, dict) or "work" in context:
            yield
            return
        service: StatsService = context["service"]
        async with service.unit_of_work() as work:
            token = OPERATION_WORK.set(work)
            try:
                yield
            finally:
                OPERATION_WORK.reset(token)


class ReleaseEventWork(SchemaExtension):
    """Lets go of an event's payload once its answer is made, before it is sent: the last of
    the subscribers sharing it lets go of its snapshot."""

    async def on_stream_result(self, result: Any) -> AsyncIterator[None]:
        use = _EVENT.get()
        if use is not None:
            _EVENT.set(None)
            PAYLOADS.release(use)
        yield
