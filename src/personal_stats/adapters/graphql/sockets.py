"""The GraphQL WebSocket (graphql-transport-ws): text frames, a rate of messages, documents
named by id in subscribe messages, and the 503 a handshake gets when the worker has no room."""

from collections.abc import AsyncGenerator, Mapping
from typing import Any, TypeGuard

import orjson
from starlette.types import Send
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected

from personal_stats.adapters.graphql.persisted import Persisted, Refused
from personal_stats.adapters.graphql.sharing import Texts
from personal_stats.core.limits import Bucket

MESSAGES_PER_SECOND = 20  # a WebSocket client's sustained rate of messages
MESSAGE_BURST = 100
TEXTS = Texts()  # of the results sent to subscribers (one event loop a worker)


async def refuse_handshake(send: Send, detail: str) -> None:
    """The handshake answered 503 problem+json with Retry-After (ASGI's denial response)."""
    body = orjson.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                         "detail": detail[:1].upper() + detail[1:] + "."})  # fmt: skip
    headers = [(b"content-type", b"application/problem+json"), (b"retry-after", b"5"),
               (b"cache-control", b"no-store")]  # fmt: skip
    await send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


class TextFrames(ASGIWebSocketAdapter):
    """Every graphql-transport-ws message goes out as a text frame, as the protocol says
    (browser and npm clients read no other). Strawberry sends what `encode_json` gives, and
    ours gives bytes for HTTP, which would go out as binary frames.

    A client may send `MESSAGES_PER_SECOND` messages a second on one socket, in bursts of up
    to `MESSAGE_BURST`; past that the socket is closed with 4429 (each message may be a whole
    document to prepare: a flood would hold the loop from everyone else)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(TEXTS.message(message))
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        bucket = Bucket(MESSAGES_PER_SECOND, MESSAGE_BURST)
        async for message in super().iter_json(ignore_parsing_errors=ignore_parsing_errors):
            if bucket.wait():
                await self.close(4429, "Too many messages")
                return
            if _subscribes(message):
                try:
                    message = await self._with_text(message)
                except Refused as refused:
                    error = {"message": str(refused), "extensions": {"code": refused.code}}
                    await self.send_json({"id": message["id"], "type": "error",
                                          "payload": [error]})  # fmt: skip
                    continue
            yield message

    async def _with_text(self, message: dict[str, Any]) -> dict[str, Any]:
        """A subscribe message with its document's text in place of its id (`persisted`);
        `Refused` when there is none it may run."""
        persisted: Persisted = getattr(self.view, "persisted")  # noqa: B009 - the view's
        payload = message["payload"]
        named = await persisted.named(payload)
        query = {key: value for key, value in payload.items() if key != "documentId"}
        return {**message, "payload": {**query, "query": named.text}}


def _subscribes(message: object) -> TypeGuard[dict[str, Any]]:
    """Whether a WebSocket message is a well-formed subscribe (the protocol refuses others)."""
    if not isinstance(message, dict) or message.get("type") != "subscribe":
        return False
    return isinstance(message.get("id"), str) and isinstance(message.get("payload"), dict)
