"""Clients of the live updates for the tests: an event stream read as it comes, a
subscription over a real WebSocket, and writes through the write API."""

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

INGEST = "/api/v1/ingest"
EVENTS = "/api/v1/personal-stats/{}/events"


@dataclass
class Message:
    """One message of an event stream: an event (with `event`, `id`, `data`), a `retry`, or a
    comment; `at` is when it was read (time.monotonic())."""

    fields: dict[str, str]
    comments: list[str]
    at: float

    @property
    def event(self) -> str | None:
        return self.fields.get("event")

    @property
    def data(self) -> Any:
        return json.loads(self.fields["data"])


@dataclass
class Stream:
    """An open event stream, read by a task of its own into `messages`."""

    response: httpx.Response
    messages: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None

    async def read(self) -> None:
        fields: dict[str, str] = {}
        comments: list[str] = []
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if fields or comments:
                        await self.messages.put(Message(fields, comments, time.monotonic()))
                    fields, comments = {}, []
                elif line.startswith(":"):
                    comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        except Exception as error:  # the test looks at it: a stream cut short
            self.error = error
        finally:
            self.ended.set()

    async def next(self, seconds: float = 3.0, *, pings: bool = False) -> Message:
        """The next message (comments only when `pings`), within `seconds`."""
        async with asyncio.timeout(seconds):
            while True:
                message = await self.messages.get()
                if pings or message.fields:
                    return message

    async def event(self, seconds: float = 3.0) -> Message:
        """The next event (a message with an `event` field), within `seconds`."""
        while True:
            message = await self.next(seconds)
            if message.event is not None:
                return message


class Streams:
    """Streams opened on one server, closed together."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.clients: list[httpx.AsyncClient] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(
        self, mentor_id: str, headers: dict[str, str] | None = None, query: str = ""
    ) -> Stream:
        stream, _ = await self.open_on_worker(mentor_id, headers, query, ask_worker=False)
        return stream

    async def open_on_worker(
        self,
        mentor_id: str,
        headers: dict[str, str] | None = None,
        query: str = "",
        *,
        ask_worker: bool = True,
    ) -> tuple[Stream, int | None]:
        """A stream, and (when asked) the worker that holds it: asked by /readyz on the same
        connection first."""
        client = httpx.AsyncClient(
            base_url=self.base, timeout=httpx.Timeout(5, read=None),
            limits=httpx.Limits(max_connections=1),
        )  # fmt: skip
        self.clients.append(client)
        worker = (await client.get("/readyz")).json()["worker"] if ask_worker else None
        request = client.build_request("GET", EVENTS.format(mentor_id) + query, headers=headers)
        response = await client.send(request, stream=True)
        assert response.status_code == 200, (response.status_code, await response.aread())
        stream = Stream(response)
        self.tasks.append(asyncio.create_task(stream.read()))
        return stream, worker

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for client in self.clients:
            await client.aclose()


async def ingest(base: str, token: str, *records: dict[str, Any]) -> int:
    """Write the records through the write API; the data version the write made."""
    async with httpx.AsyncClient(base_url=base) as http:
        answer = await http.post(
            INGEST, content="\n".join(json.dumps(r) for r in records),
            headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"},
        )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return int(answer.headers["x-data-version"])


async def remove(base: str, token: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        answer = await http.delete(path, headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 204, answer.text


def mentor(mentor_id: str) -> dict[str, Any]:
    return {"record": "mentor", "id": mentor_id, "name": f"Mentor {mentor_id}"}


def activity(activity_id: str, mentor_id: str, day: int = 1, minutes: int = 30) -> dict[str, Any]:
    return {"record": "activity", "id": activity_id, "mentor_id": mentor_id,
            "activity_type_id": "t1", "status": "completed",
            "started_at": f"2026-03-{day:02d}T10:00:00Z", "duration_minutes": minutes}  # fmt: skip


def activity_type(type_id: str) -> dict[str, Any]:
    return {"record": "activity_type", "id": type_id, "code": type_id, "name": type_id.title()}


class Subscription:
    """A graphql-transport-ws connection with one subscription."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket

    @classmethod
    async def open(
        cls, base: str, query: str | dict[str, Any], variables: dict[str, Any] | None = None
    ) -> "Subscription":
        """Subscribe to `query` with `variables`, or with this whole subscribe payload."""
        url = base.replace("http://", "ws://") + "/graphql"
        socket = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
        await socket.send(json.dumps({"type": "connection_init"}))
        assert await socket.recv() == '{"type":"connection_ack"}'  # a text frame
        payload = query if isinstance(query, dict) else {"query": query, "variables": variables}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        return cls(socket)

    async def message(self, seconds: float = 3.0) -> dict[str, Any]:
        async with asyncio.timeout(seconds):
            frame = await self.socket.recv()
        # graphql-transport-ws messages are text frames: browser clients cannot read binary ones
        assert isinstance(frame, str), frame
        found: dict[str, Any] = json.loads(frame)
        return found

    async def close(self) -> None:
        await self.socket.close()
