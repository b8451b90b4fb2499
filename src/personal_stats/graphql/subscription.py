"""The subscription root: `statsChanged`, one `next` per event of the mentor's stream (SPEC 18).

Each event is answered in a unit of work of its own, opened at the event: `dataVersion` is
the version of the snapshot its `mentor` fields were read from. The snapshot is let go as
soon as the event's answer is made (`ReleaseEventWork`), before it is sent: a client that
does not read holds no connection of the database.
"""

from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types import Info
from strawberry.types.graphql import OperationType

from personal_stats.graphql.fields import OPERATION_WORK
from personal_stats.graphql.types import Mentor
from personal_stats.live import MENTOR_ERASED, PLACE, Follower
from personal_stats.metrics import EVENTS_SENT, OPEN_FOLLOWERS
from personal_stats.params import check_mentor_id
from personal_stats.service import StatsService, UnitOfWork
from personal_stats.stats import find_mentor

# The unit of work of the event being answered, in the operation's task.
_EVENT_WORK: ContextVar[UnitOfWork | None] = ContextVar("event_work", default=None)
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
        socket = info.context["request"]
        client = socket.client.host if socket.client else None
        place = socket.scope.get(PLACE)  # the socket's, held from its upgrade
        follower = await service.follow(mentor_id, None, client, place)  # NotFound, no room
        return _events(service, follower)


async def _events(service: StatsService, follower: Follower) -> AsyncIterator[StatsChanged]:
    _OPEN.inc()
    try:
        while (event := await follower.next()) is not None and event.name != MENTOR_ERASED:
            async with service.unit_of_work() as work:
                found = await work.answer(find_mentor, follower.mentor_id)
                if found is None:  # erased since: its erasure ends the subscription
                    continue
                _EVENT_WORK.set(work)
                _SENT.inc()
                yield StatsChanged(
                    data_version=work.version,
                    own_data_changed=event.own,
                    mentor=Mentor.from_model(found, work),
                )
    finally:
        _EVENT_WORK.set(None)
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
    """Lets go of an event's snapshot once its answer is made, before it is sent."""

    async def on_stream_result(self, result: Any) -> AsyncIterator[None]:
        work = _EVENT_WORK.get()
        if work is not None:
            _EVENT_WORK.set(None)
            await work.release()
        yield
