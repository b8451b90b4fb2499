"""Overload is shed, not queued: past the limit of requests in flight, an immediate 503."""

import asyncio

import httpx
from starlette.types import Receive, Scope, Send

from personal_stats.observability import RequestMachinery


async def test_requests_past_the_limit_get_an_immediate_503() -> None:
    release = asyncio.Event()
    arrivals: asyncio.Queue[str] = asyncio.Queue()
    started = 0

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal started
        started += 1
        arrivals.put_nowait(scope["path"])
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = RequestMachinery(slow_app, max_in_flight=2, max_body_bytes=1024)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        held = [asyncio.create_task(client.get("/api/v1/anything")) for _ in range(2)]
        await arrivals.get()
        await arrivals.get()
        refused = await asyncio.wait_for(client.get("/api/v1/anything"), timeout=1)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 503
        assert started == 2  # the refused request never reached the app
        health = asyncio.create_task(client.get("/healthz"))  # probes are always answered
        assert await arrivals.get() == "/healthz"
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held, health)] == [200, 200, 200]
        assert (await client.get("/api/v1/anything")).status_code == 200  # capacity is back
