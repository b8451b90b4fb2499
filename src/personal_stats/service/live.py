"""Live updates: the streams and subscriptions of one worker, and the events they hear.

The worker's one change feed (`storage.feed`) tells the `Hub` of every committed write. The
hub throttles: the first change after a quiet stretch is told at once; changes within
`min_interval` of the last telling are merged (each change keeping its write's version) and
told when the interval ends. Telling costs two lookups per follower (did its mentor's own
records change, or were they erased, after the version it knew of?), and each `Follower`
then holds its next event as state — the newest version and whether its mentor's own
records changed since its last event — not as a queue: a client that stops reading has its
events merged, never piled up. A stream that can take an event at once (`deliver`) is sent
it there and then, with no task woken.
"""

import asyncio
import math
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from personal_stats.core.errors import Unavailable
from personal_stats.storage import Changes

T = TypeVar("T")
STATS_CHANGED = "stats-changed"
MENTOR_ERASED = "mentor-erased"
TURN = 64  # mentors told, or streams pinged, in one turn of the event loop
RECENT_KEPT = 64  # tellings kept for a follower that joins while one is under way
NO_ROOM = "this worker holds as many streams as it may; try again shortly"
NO_ROOM_FOR_CLIENT = "this client address holds as many streams and subscriptions as it may"


@dataclass(frozen=True, slots=True)
class Event:
    name: str  # STATS_CHANGED or MENTOR_ERASED
    mentor_id: str
    version: int
    own: bool = False


POKED = Event("poked", "", 0)  # what `Follower.next` gives when poked


class Follower:
    """One stream or subscription of one mentor: what it has been told, what it has not."""

    __slots__ = ("client", "deliver", "ended", "erased", "mentor_id", "own", "poked", "sent",
                 "version", "waiter")  # fmt: skip

    def __init__(self, mentor_id: str, sent: int, version: int) -> None:
        self.mentor_id = mentor_id
        self.client: str | None = None  # the address whose place it holds
        self.sent = sent  # the version of its last event (or the one it started from)
        self.version = version  # the newest version it knows of (told or to tell)
        self.own = False  # its mentor's own records changed after `sent`
        self.erased = False
        self.ended = False
        self.poked = False
        self.waiter: asyncio.Future[None] | None = None
        # Sends an event at once if its stream can (True), while its reader waits: a
        # telling then wakes no task. Set by streams that write below ASGI (`events`).
        self.deliver: Callable[[Event], bool] | None = None

    def offer(self, version: int, own: bool, *, replaced: bool = False) -> None:
        """A write's version, and whether it changed the mentor's own records. A version it
        knows of already (the snapshot it opened on was as new) is not news, unless the
        database was replaced (its version went back)."""
        if version <= self.version and not replaced:
            return
        self.version = version
        self.own = self.own or own
        if not self._delivered():
            self._wake()

    def erase(self, version: int) -> None:
        self.version, self.erased = version, True
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def poke(self) -> None:
        """Its reader is woken though nothing is to be told: `next()` gives `POKED` (its
        stream has something of its own to send, a ping)."""
        self.poked = True
        self._wake()

    @property
    def waiting(self) -> bool:
        """Whether its reader waits for its next event (and so sends nothing meanwhile)."""
        return self.waiter is not None and not self.waiter.done()

    def _delivered(self) -> bool:
        """Sent at once through `deliver`, while its reader waits (so nothing else of the
        stream is being sent)."""
        if self.deliver is None or not self.waiting or self.erased:
            return False
        if not self.deliver(Event(STATS_CHANGED, self.mentor_id, self.version, self.own)):
            return False
        self.sent, self.own = self.version, False
        return True

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def ready(self) -> Event | None:
        """Its next event, if one is due; taking it marks it told."""
        if self.erased:
            if self.ended:
                return None
            self.ended = True  # nothing follows
            return Event(MENTOR_ERASED, self.mentor_id, self.version)
        if self.version == self.sent:
            return None
        event = Event(STATS_CHANGED, self.mentor_id, self.version, self.own)
        self.sent, self.own = self.version, False
        return event

    async def next(self) -> Event | None:
        """Its next event, when one is due (`POKED` when poked); None when it ends (erased,
        or shutting down)."""
        while True:
            event = self.ready()
            if event is not None:
                return event
            if self.ended:
                return None
            if self.poked:
                self.poked = False
                return POKED
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None


def in_turns(items: list[T], act: Callable[[list[T]], None], start: int = 0) -> None:
    """`act` on the next `TURN` items, then let the loop run other work before the rest."""
    act(items[start : start + TURN])
    if start + TURN < len(items):
        asyncio.get_running_loop().call_soon(in_turns, items, act, start + TURN)


class OwnChanges:
    """For each mentor, the version of the last write the feed told of that changed their own
    records (0: none since the worker began following), and the newest version told of: what
    an answer read from a mentor's own records alone stands on (`stamp`), for subscription
    events to reuse it (`graphql.reuse`)."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.mentors: dict[str, int] = {}
        self.everyone = 0  # the last write whose log cannot tell whose records it changed
        self.era = 0  # one more each time the database was replaced (its version went back)

    def add(self, changes: Changes) -> None:
        if self.version is not None and changes.version < self.version:
            self.era += 1
            self.mentors.clear()
            self.everyone = 0
        self.version = changes.version
        self.mentors.update(changes.mentors)
        self.everyone = max(self.everyone, changes.everyone)

    def stamp(self, mentor_id: str, version: int) -> tuple[int, int] | None:
        """What the mentor's own records at data version `version` stand on: the same stamp
        at a later version means they have not changed since. None when the feed has not
        told of that version yet, or told of a change of the mentor after it."""
        if self.version is None or version > self.version:
            return None
        last = max(self.mentors.get(mentor_id, 0), self.everyone)
        return None if last > version else (self.era, last)


PLACE = "personal_stats.place"  # the key of a WebSocket's place in its ASGI scope


@dataclass(slots=True)
class Place:
    """The place a WebSocket holds from its upgrade until a subscription takes it over."""

    client: str | None
    held: bool = True


class Hub:
    """Every follower of the worker, by mentor; see the module's docstring. Places are
    counted for the worker (`capacity`) and for each client address (`per_client`): each
    stream and subscription holds one, and a WebSocket one from its upgrade, which its first
    subscription takes over."""

    def __init__(self, min_interval: float, capacity: int, per_client: int | None = None) -> None:
        self.min_interval = min_interval
        self.capacity = capacity  # places: followers (streams, subscriptions) and sockets
        self.per_client = capacity if per_client is None else per_client
        self.following: dict[str, set[Follower]] = {}
        self.count = 0
        self.sockets = 0  # WebSocket connections, each a place from its upgrade
        self.held: Counter[str] = Counter()  # places each client address holds
        self.version: int | None = None  # of the last telling
        self.recent: deque[Changes] = deque(maxlen=RECENT_KEPT)
        self.waiting: Changes | None = None
        self.told_at = -math.inf
        self.timer: asyncio.TimerHandle | None = None
        self.tellings = 0
        self.joined = 0  # followers ever joined
        self.closed = False
        self.own_changes = OwnChanges()

    def check_room(self, client: str | None = None) -> None:
        """`Unavailable` when the worker, or the client address, holds as many places as
        it may."""
        if self.closed or self.count + self.sockets >= self.capacity:
            raise Unavailable(NO_ROOM)
        if client is not None and self.held[client] >= self.per_client:
            raise Unavailable(NO_ROOM_FOR_CLIENT)

    def open_socket(self, client: str | None) -> "Place":
        """A WebSocket's place, held from its upgrade: its first subscription takes it over
        (`join`); `close_socket` gives it back if none did."""
        self.check_room(client)
        self.sockets += 1
        self._hold(client, 1)
        return Place(client)

    def close_socket(self, place: "Place") -> None:
        if place.held:
            place.held = False
            self.sockets -= 1
            self._hold(place.client, -1)

    def _hold(self, client: str | None, places: int) -> None:
        if client is not None:
            self.held[client] += places
            if self.held[client] <= 0:
                del self.held[client]

    def join(
        self,
        mentor_id: str,
        since: int,
        version: int,
        own: bool,
        client: str | None = None,
        place: "Place | None" = None,
    ) -> Follower:
        """A follower of `mentor_id` that has heard of version `since`, opened on a
        snapshot of `version` (where `own` says whether the mentor's records changed in
        between): when the two differ its first event is due at once. It holds a place of
        `client`'s (its address) until it leaves: its socket's `place`, if that is still
        held, else a new one."""
        if place is not None and place.held:
            place.held = False  # taken over
            self.sockets -= 1
            self._hold(client, -1)
        else:
            self.check_room(client)
        follower = Follower(mentor_id, since, version)
        follower.client = client
        follower.own = own and since != version
        for changes in self.recent:  # told after the snapshot, before the follower joined
            if changes.version > version:
                if changes.erased_after(mentor_id, version):
                    follower.erase(changes.version)
                else:
                    follower.offer(changes.version, changes.changed(mentor_id, version))
        self.following.setdefault(mentor_id, set()).add(follower)
        self.count += 1
        self.joined += 1
        self._hold(client, 1)
        return follower

    def leave(self, follower: Follower) -> None:
        followers = self.following.get(follower.mentor_id)
        if followers is not None and follower in followers:
            followers.discard(follower)
            self.count -= 1
            self._hold(follower.client, -1)
            if not followers:
                del self.following[follower.mentor_id]

    def heard(self, changes: Changes) -> None:
        """What the feed tells: told at once after a quiet stretch, else merged and told
        when the interval since the last telling ends."""
        self.own_changes.add(changes)
        self.waiting = changes if self.waiting is None else self.waiting.then(changes)
        if self.timer is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self.told_at + self.min_interval - loop.time()
        if delay <= 0:
            self.tell()
        else:
            self.timer = loop.call_later(delay, self.tell)

    def tell(self) -> None:
        """Every follower hears the waiting changes, as news from the version it knew of."""
        self.timer = None
        changes, self.waiting = self.waiting, None
        if changes is None:
            return
        self.told_at = asyncio.get_running_loop().time()
        replaced = self.version is not None and changes.version < self.version
        self.version = changes.version
        self.recent.append(changes)
        self.tellings += 1
        version = changes.version

        def tell(mentors: list[tuple[str, set[Follower]]]) -> None:
            for mentor_id, followers in mentors:
                for follower in followers:
                    # What a follower knows of is not news (a database replaced: all is).
                    after = -1 if replaced else follower.version
                    if changes.erased_after(mentor_id, after):
                        follower.erase(version)
                    else:
                        own = changes.changed(mentor_id, after)
                        follower.offer(version, own, replaced=replaced)

        # A telling to 10,000 streams never holds the loop for its whole length.
        in_turns(list(self.following.items()), tell)

    def followers(self) -> Iterator[Follower]:
        for followers in self.following.values():
            yield from followers

    def close(self) -> None:
        """Shutting down: every follower ends (its client comes back after `retry`)."""
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.tell()
        for follower in list(self.followers()):
            follower.end()
