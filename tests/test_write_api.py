"""The write API (SPEC section 16) over HTTP: every error, with nothing written; ingest then
read equals the same records imported by the command line; replays change nothing; erasure
removes a mentor everywhere; racing writers never mix their batches."""

import asyncio
import hashlib
import http.client
import json
import logging
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.cli import main
from personal_stats.core.limits import Bucket, RateLimit
from personal_stats.core.tokens import digest
from personal_stats.server.app import close, create_app
from personal_stats.service.ingest import import_files
from personal_stats.storage import tokens
from personal_stats.storage.models import Activity, ActivityType, ApiToken, Mentor
from personal_stats.support.settings import Settings
from tests.helpers import Clock, run_cli
from tests.servers import serving

BASE = "/api/v1/personal-stats"
INGEST = "/api/v1/ingest"
NDJSON = {"content-type": "application/x-ndjson"}


def records(
    count: int, mentor: str = "w1", prefix: str = "a", minutes: int = 30
) -> list[dict[str, Any]]:
    head: list[dict[str, Any]] = [
        {"record": "activity_type", "id": "t1", "code": "one_on_one", "name": "One-on-One"},
        {"record": "mentor", "id": mentor, "name": f"Mentor {mentor}", "timezone": "Europe/Paris"},
        {"record": "mentor", "id": "peer", "name": "Peer"},
    ]
    return head + [
        {"record": "activity", "id": f"{prefix}{i}", "mentor_id": mentor, "activity_type_id": "t1",
         "status": "cancelled" if i % 4 == 0 else "completed",
         "started_at": f"2026-03-{1 + i % 24:02d}T{8 + i % 10:02d}:15:00+01:00",
         "duration_minutes": minutes + i % 7}
        for i in range(count)
    ]  # fmt: skip


def lines(items: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(item) for item in items).encode()


async def counts(engine: AsyncEngine) -> tuple[int, int, int]:
    async with engine.connect() as connection:
        found = []
        for model in (ActivityType, Mentor, Activity):
            found.append(
                (await connection.execute(select(func.count()).select_from(model))).scalar_one()
            )
        return found[0], found[1], found[2]


@pytest.fixture
async def token(engine: AsyncEngine) -> str:
    return await tokens.create(engine, "activity-service", ("ingest",))


@pytest.fixture
async def eraser(engine: AsyncEngine) -> str:
    return await tokens.create(engine, "erasure-desk", ("erase",))


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_ingest_then_read_equals_the_command_line_import(
    client: httpx.AsyncClient, token: str, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    batch = records(40)
    answer = await client.post(INGEST, content=lines(batch), headers=NDJSON | bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"activity_types": 1, "mentors": 2, "activities": 40}
    queries = ["", "/monthly-series", "/activity-breakdown", "/contribution-history",
               "/contribution-calendar"]  # fmt: skip
    via_api = [(await client.get(f"{BASE}/w1{q}", params={"as_of": "2026-03-25"})).json()
               for q in queries]  # fmt: skip
    # The same records through `personal-stats import`, into a database of their own.
    other = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    file = tmp_path / "batch.jsonl"
    file.write_bytes(lines(batch))
    app = create_app(other)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://x") as c,
        app.router.lifespan_context(app),
    ):
        await app.state.service.writes.run(lambda writes: import_files(writes, [file]))
        via_cli = [(await c.get(f"{BASE}/w1{q}", params={"as_of": "2026-03-25"})).json()
                       for q in queries]  # fmt: skip
    assert via_api == via_cli
    assert via_api[0]["total_activities"] == 40
    query = ('{ personalStats(mentorId: "w1", asOf: "2026-03-25") '
             "{ totalActivities completedActivities } }")  # fmt: skip
    graphql = await client.post("/graphql", json={"query": query})
    expected = {"totalActivities": 40, "completedActivities": 30}
    assert graphql.json()["data"]["personalStats"] == expected


async def test_a_replayed_batch_changes_nothing_and_a_document_works_too(
    client: httpx.AsyncClient, token: str, engine: AsyncEngine
) -> None:
    batch = records(10)
    first = await client.post(INGEST, content=lines(batch), headers=NDJSON | bearer(token))
    summary = (await client.get(f"{BASE}/w1", params={"as_of": "2026-03-25"})).json()
    etag = (await client.get(f"{BASE}/w1", params={"as_of": "2026-03-25"})).headers["etag"]
    again = await client.post(INGEST, content=lines(batch), headers=NDJSON | bearer(token))
    assert first.status_code == again.status_code == 200
    assert await counts(engine) == (1, 2, 10)
    replayed = await client.get(f"{BASE}/w1", params={"as_of": "2026-03-25"})
    assert replayed.json() == summary
    assert replayed.headers["etag"] == etag  # a replay changes nothing, not even the tag
    assert again.headers["x-data-version"] == first.headers["x-data-version"]
    document = {"activities": [dict(batch[-1], duration_minutes=99) | {"record": "activity"}]}
    answer = await client.post(INGEST, json=document, headers=bearer(token))
    assert answer.json() == {"activity_types": 0, "mentors": 0, "activities": 1}
    after = await client.get(f"{BASE}/w1", params={"as_of": "2026-03-25"})
    assert after.headers["etag"] != etag  # a write changes every tag
    assert after.json()["total_hours_logged"] != summary["total_hours_logged"]


async def test_the_data_version_moves_only_when_a_write_changes_something(
    client: httpx.AsyncClient, token: str
) -> None:
    """SPEC 18: every read carries the version of its snapshot (REST header, GraphQL
    extensions); an empty body, a replayed batch or records equal to the stored ones leave
    it; a changed mentor name, a new activity, a delete move it, by one per write."""
    auth = bearer(token)
    summary = f"{BASE}/w1?as_of=2026-03-25"
    query = {"query": '{ mentor(id: "w1") { name } }'}

    async def version() -> int:
        rest = await client.get(summary)
        graphql = await client.post("/graphql", json=query)
        assert rest.headers["x-data-version"] == str(graphql.json()["extensions"]["dataVersion"])
        return int(rest.headers["x-data-version"])

    written = await client.post(INGEST, content=lines(records(5)), headers=NDJSON | auth)
    start = await version()
    assert int(written.headers["x-data-version"]) == start
    etag = (await client.get(summary)).headers["etag"]
    unchanged = [
        (b"{}", {"content-type": "application/json"}),
        (b"", NDJSON),
        (b"\n\n", NDJSON),
        (
            json.dumps({"activities": [], "mentors": []}).encode(),
            {"content-type": "application/json"},
        ),
        (lines(records(5)), NDJSON),  # the same records again
        (lines(records(5)[1:3]), NDJSON),  # the same mentors
    ]
    for body, headers in unchanged:
        answer = await client.post(INGEST, content=body, headers=headers | auth)
        assert answer.status_code == 200, (body, answer.text)
        assert int(answer.headers["x-data-version"]) == start, body
    assert await version() == start
    assert (await client.get(summary)).headers["etag"] == etag
    renamed = dict(records(1)[1], name="Another name")
    await client.post(INGEST, content=lines([renamed]), headers=NDJSON | auth)
    assert await version() == start + 1
    assert (await client.post("/graphql", json=query)).json()["data"]["mentor"]["name"] == (
        "Another name"
    )
    more = records(6)[-1:]
    await client.post(INGEST, content=lines(more), headers=NDJSON | auth)
    assert await version() == start + 2
    deleted = await client.delete(f"{INGEST}/activities/a5", headers=auth)
    assert deleted.status_code == 204
    assert int(deleted.headers["x-data-version"]) == start + 3 == await version()
    assert (await client.delete(f"{INGEST}/activities/a5", headers=auth)).status_code == 404
    assert await version() == start + 3


@pytest.mark.parametrize(
    ("headers", "query", "status", "challenge"),
    [
        ({}, {}, 401, 'Bearer realm="personal-stats"'),
        ({"authorization": "Token abc"}, {}, 401, "invalid_request"),
        ({"authorization": "Bearer"}, {}, 401, "invalid_request"),
        ({"authorization": "Bearer a b"}, {}, 401, "invalid_request"),
        ({"authorization": "Bearer pst_not-a-token"}, {}, 401, "invalid_token"),
        ({}, {"access_token": "TOKEN"}, 401, "invalid_request"),
        ({}, {"token": "TOKEN"}, 401, "invalid_request"),
    ],
)
async def test_authentication_errors_write_nothing(
    client: httpx.AsyncClient, token: str, engine: AsyncEngine, caplog: pytest.LogCaptureFixture,
    headers: dict[str, str], query: dict[str, str], status: int, challenge: str,
) -> None:  # fmt: skip
    query = {k: v.replace("TOKEN", token) for k, v in query.items()}
    with caplog.at_level(logging.INFO):
        answer = await client.post(INGEST, content=lines(records(3)), params=query,
                                   headers=NDJSON | headers)  # fmt: skip
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert challenge in answer.headers["www-authenticate"]
    assert await counts(engine) == (0, 0, 0)
    ours = [r.getMessage() + repr(vars(r)) for r in caplog.records
            if r.name.startswith("personal_stats")]  # fmt: skip
    assert ours  # the refusal was logged (the access log and the reason)...
    assert not any(token in line for line in ours)  # ...without the presented value


async def test_revoked_token_and_wrong_scope(
    client: httpx.AsyncClient, token: str, engine: AsyncEngine
) -> None:
    assert await tokens.revoke(engine, "activity-service")
    answer = await client.post(INGEST, content=lines(records(2)), headers=NDJSON | bearer(token))
    assert answer.status_code == 401
    assert "invalid_token" in answer.headers["www-authenticate"]
    # A token without the ingest scope: stored directly, since the command offers no other.
    from personal_stats.storage.models import ApiToken

    other = "pst_reader-only-token-for-the-test"
    async with engine.begin() as connection:
        row = ApiToken(name="reader", token_sha256=digest(other), scopes="read",
                       created_at=datetime.now(UTC))  # fmt: skip
        values = row.model_dump(exclude={"id"})
        await connection.execute(ApiToken.__table__.insert(), [values])  # type: ignore[attr-defined]
    answer = await client.post(INGEST, content=lines(records(2)), headers=NDJSON | bearer(other))
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert await counts(engine) == (0, 0, 0)


async def test_body_errors_write_nothing(
    client: httpx.AsyncClient, token: str, engine: AsyncEngine
) -> None:
    auth = bearer(token)
    wrong_type = await client.post(
        INGEST, content=b"a,b", headers={"content-type": "text/csv"} | auth
    )
    assert wrong_type.status_code == 415
    broken = await client.post(
        INGEST, content=b'{"activities": [', headers=auth | {"content-type": "application/json"}
    )
    assert broken.status_code == 400
    bad_line = lines(records(2)) + b"\n{not json"
    answer = await client.post(INGEST, content=bad_line, headers=NDJSON | auth)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["location"] == "line 6"
    invalid = records(4)
    invalid[4]["started_at"] = "2026-03-02T10:00:00"  # no offset
    invalid[5]["duration_minutes"] = 2000
    activities = [{k: v for k, v in r.items() if k != "record"} for r in invalid[3:]]
    answer = await client.post(INGEST, json={"activities": activities}, headers=auth)
    assert answer.status_code == 422
    located = {(e["location"], e["message"][:20]) for e in answer.json()["errors"]}
    assert ("activities[1].started_at", "must be an RFC 3339 ") in located
    assert any(loc == "activities[2].duration_minutes" for loc, _ in located)
    assert any(loc == "activities[0].mentor_id" for loc, _ in located)  # unknown mentor w1
    too_many = b"\n".join(
        b'{"record": "mentor", "id": "m%d", "name": "M"}' % i for i in range(50_001)
    )
    answer = await client.post(INGEST, content=too_many, headers=NDJSON | auth)
    assert answer.status_code == 413
    assert "50000 records" in answer.json()["detail"]
    assert await counts(engine) == (0, 0, 0)


async def test_bytes_over_the_limit_are_413(
    engine: AsyncEngine, database_url: str, token: str
) -> None:
    app = create_app(Settings(database_url=database_url, max_ingest_bytes=2048))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        answer = await c.post(INGEST, content=lines(records(60)), headers=NDJSON | bearer(token))
    await close(app)
    assert answer.status_code == 413
    assert await counts(engine) == (0, 0, 0)


async def test_rate_limit_answers_429_with_retry_after(
    engine: AsyncEngine, database_url: str, token: str
) -> None:
    app = create_app(Settings(database_url=database_url, ingest_rate_per_minute=2))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        statuses = []
        for i in range(3):
            answer = await c.post(INGEST, content=lines(records(1, prefix=f"r{i}")),
                                  headers=NDJSON | bearer(token))  # fmt: skip
            statuses.append(answer.status_code)
    await close(app)
    assert statuses == [200, 200, 429]
    assert int(answer.headers["retry-after"]) >= 1
    assert await counts(engine) == (1, 2, 2)  # the third wrote nothing


def test_the_rate_limit_refills_on_its_clock_per_token() -> None:
    """2 a minute in bursts of 2: a third waits 30 s (one place refills in 60 / 2), to the
    moment; another token has places of its own; a long pause refills no more than the burst."""
    clock = Clock(100.0)
    limit = RateLimit(2, clock)
    assert [limit.wait("a"), limit.wait("a")] == [0, 0]
    assert limit.wait("a") == pytest.approx(30)
    assert limit.wait("b") == 0
    clock.now += 29.9
    assert limit.wait("a") == pytest.approx(0.1)
    clock.now += 0.1
    assert limit.wait("a") == 0
    assert limit.wait("a") == pytest.approx(30)
    clock.now += 3600
    assert [limit.wait("a"), limit.wait("a")] == [0, 0]
    assert limit.wait("a") > 0


def test_a_bucket_of_messages_sustains_its_rate_after_its_burst() -> None:
    clock = Clock(100.0)
    bucket = Bucket(rate=16, burst=100, clock=clock)
    assert all(bucket.wait() == 0 for _ in range(100))
    assert bucket.wait() == 1 / 16
    for _ in range(32):  # 16 a second for two seconds: every one goes, the next must wait
        clock.now += 1 / 16
        assert bucket.wait() == 0
    assert bucket.wait() == 1 / 16


async def test_erasing_a_mentor_removes_them_everywhere(
    client: httpx.AsyncClient, token: str, eraser: str, engine: AsyncEngine
) -> None:
    batch = [
        *records(8),
        {"record": "mentor", "id": "p2", "name": "Other"},
        {"record": "activity", "id": "x1", "mentor_id": "peer", "activity_type_id": "t1",
         "status": "completed", "started_at": "2026-03-10T10:00:00Z", "duration_minutes": 5},
    ]  # fmt: skip
    await client.post(INGEST, content=lines(batch), headers=NDJSON | bearer(token))
    before = (await client.get(f"{BASE}/peer", params={"as_of": "2026-03-25"})).json()
    assert before["peer_rank_percentile"] == 50  # w1 above, p2 below: (1 + 0) / 2
    refused = await client.delete(f"{INGEST}/mentors/w1", headers=bearer(token))
    assert refused.status_code == 403  # erasing needs the erase scope...
    assert 'scope="erase"' in refused.headers["www-authenticate"]
    pushed = await client.post(INGEST, content=lines(batch), headers=NDJSON | bearer(eraser))
    assert pushed.status_code == 403  # ...which alone cannot ingest
    assert await counts(engine) == (1, 3, 9)
    gone = await client.delete(f"{INGEST}/mentors/w1", headers=bearer(eraser))
    assert gone.status_code == 204
    assert (await client.get(f"{BASE}/w1")).status_code == 404
    graphql = await client.post("/graphql", json={"query": '{ mentor(id: "w1") { id } }'})
    assert graphql.json()["data"]["mentor"] is None
    after = (await client.get(f"{BASE}/peer", params={"as_of": "2026-03-25"})).json()
    assert after["peer_rank_percentile"] == 100  # only p2 is left, below
    assert await counts(engine) == (1, 2, 1)
    assert (await client.delete(f"{INGEST}/mentors/w1", headers=bearer(eraser))).status_code == 404
    one = await client.delete(f"{INGEST}/activities/x1", headers=bearer(token))
    assert one.status_code == 204
    assert (
        await client.delete(f"{INGEST}/activities/x1", headers=bearer(token))
    ).status_code == 404
    assert (await client.delete(f"{INGEST}/activities/x2")).status_code == 401


async def test_readers_never_see_half_a_batch_and_racing_writers_never_mix(
    client: httpx.AsyncClient, token: str, engine: AsyncEngine
) -> None:
    """Two writers send the same ids with different durations while a reader polls: every
    read shows the first batch whole, or the second whole, and the end state is one of them."""
    first, second = lines(records(3000, minutes=10)), lines(records(3000, minutes=500))
    await client.post(
        INGEST, content=lines(records(1, prefix="seed")), headers=NDJSON | bearer(token)
    )
    seen: set[int] = set()
    headers = NDJSON | bearer(token)
    writers = [asyncio.create_task(client.post(INGEST, content=body, headers=headers))
               for body in (first, second)]  # fmt: skip
    while not all(w.done() for w in writers):
        summary = (
            await client.get(f"{BASE}/w1", params={"period": "all_time", "as_of": "2026-03-25"})
        ).json()
        seen.add(summary["avg_session_duration_minutes"] or 0)
        await asyncio.sleep(0)
    statuses = [(await w).status_code for w in writers]
    assert all(status in (200, 503) for status in statuses), statuses
    final = (
        await client.get(f"{BASE}/w1", params={"period": "all_time", "as_of": "2026-03-25"})
    ).json()
    # Averages of whole batches only (or none yet: the seed's one activity is cancelled).
    whole = {average_completed(records(3000, minutes=m)) for m in (10, 500)}
    assert final["avg_session_duration_minutes"] in whole
    assert seen <= whole | {0}


def average_completed(batch: list[dict[str, Any]]) -> int:
    """Mean minutes of the batch's completed activities, rounded half up (by hand)."""
    minutes = [r["duration_minutes"] for r in batch
               if r["record"] == "activity" and r["status"] == "completed"]  # fmt: skip
    return int(Fraction(sum(minutes), len(minutes)) + Fraction(1, 2))


async def test_token_commands_show_the_value_once_and_keep_only_its_digest(
    database_url: str, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The first command in a process of its own, as a user runs it; the rest through the
    same entry point in this one (each runs its own event loop: in a thread)."""
    monkeypatch.setenv("PERSONAL_STATS_DATABASE_URL", database_url)

    def command(*args: str) -> int:
        try:
            return main(["token", *args])
        except SystemExit as exit:  # argparse's refusal
            return int(exit.code or 0)

    async def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        code = await asyncio.to_thread(command, *args)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    created = await asyncio.to_thread(run_cli, "token", "create", "svc", database_url=database_url)
    assert created.returncode == 0, created.stderr
    value = created.stdout.strip()
    assert value.startswith("pst_")
    assert len(value) >= 4 + 43  # 32 random bytes in base64url
    assert (await run("create", "svc")).returncode == 1  # names are unique
    async with engine.connect() as connection:
        stored = (await connection.execute(select(ApiToken))).one()
    assert stored.token_sha256 == hashlib.sha256(value.encode()).hexdigest()
    assert value not in repr(stored)
    listing = (await run("list")).stdout
    assert "svc" in listing
    assert "ingest" in listing
    assert value not in listing
    both = await run(
        "create", "desk", "--scope", "ingest", "--scope", "erase", "--expires-in", "30d"
    )
    assert both.returncode == 0, both.stderr
    desk = next(line for line in (await run("list")).stdout.splitlines() if line.startswith("desk"))
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert "ingest erase" in desk
    assert expires in desk
    for wrong in (["--expires-in", "0d"], ["--expires-in", "30"], ["--scope", "read"]):
        assert (await run("create", "other", *wrong)).returncode == 2, wrong
    assert (await run("revoke", "svc")).returncode == 0
    assert (await run("revoke", "svc")).returncode == 1
    async with engine.connect() as connection:
        revoked = (await connection.execute(select(ApiToken).where(ApiToken.name == "svc"))).one()
    assert revoked.revoked_at is not None


@pytest.mark.parametrize("shape", ["arrays", "objects"])
async def test_deeply_nested_json_is_400_on_both_paths(
    client: httpx.AsyncClient, token: str, engine: AsyncEngine, shape: str
) -> None:
    depth = 100_000
    nested = (
        ("[" * depth + "]" * depth) if shape == "arrays" else ('{"a":' * depth + "1" + "}" * depth)
    )
    line = '{"record": "mentor", "id": "m1", "name": ' + nested + "}"
    document = '{"mentors": [' + line.replace('"record": "mentor", ', "") + "]}"
    for body, media_type in ((line, "application/x-ndjson"), (document, "application/json")):
        headers = bearer(token) | {"content-type": media_type}
        answer = await client.post(INGEST, content=body.encode(), headers=headers)
        assert answer.status_code == 400, (media_type, answer.text[:300])
        assert "JSON" in answer.json()["detail"]
    assert await counts(engine) == (0, 0, 0)


async def test_a_write_that_waits_for_another_writers_lock_too_long_is_503(
    engine: AsyncEngine, database_url: str, token: str
) -> None:
    """Another writer holds the lock (sqlite3's BEGIN IMMEDIATE on the file; PostgreSQL's
    advisory lock of writers): past the time limit the ingest answers 503 with Retry-After
    and writes nothing; once the lock is let go, the same request is written."""
    from personal_stats.storage.transactions import write_transaction

    app = create_app(Settings(database_url=database_url, db_timeout=0.5))
    body = lines(records(3))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        async with write_transaction(engine):
            started = asyncio.get_running_loop().time()
            answer = await c.post(INGEST, content=body, headers=NDJSON | bearer(token))
            waited = asyncio.get_running_loop().time() - started
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) >= 1
        assert 0.4 < waited < 3
        assert await counts(engine) == (0, 0, 0)
        again = await c.post(INGEST, content=body, headers=NDJSON | bearer(token))
        assert again.status_code == 200
    await close(app)


async def test_an_expired_token_is_401(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    old = await tokens.create(engine, "old", ("ingest",), timedelta(seconds=-1))
    fresh = await tokens.create(engine, "fresh", ("ingest",), timedelta(days=1))
    answer = await client.post(INGEST, content=lines(records(2)), headers=NDJSON | bearer(old))
    assert answer.status_code == 401
    assert "invalid_token" in answer.headers["www-authenticate"]
    assert await counts(engine) == (0, 0, 0)
    answer = await client.post(INGEST, content=lines(records(2)), headers=NDJSON | bearer(fresh))
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Bell\u0007", "must not contain control characters"),
        ("two\nlines", "must not contain control characters"),
        ("x" * 201, "must be at most 200 characters"),
    ],
)
async def test_names_have_a_length_limit_and_no_control_characters(
    client: httpx.AsyncClient, token: str, engine: AsyncEngine, name: str, message: str
) -> None:
    for record in ("mentor", "activity_type"):
        item = {"record": record, "id": "x1", "code": "c1", "name": name}
        answer = await client.post(INGEST, content=lines([item]), headers=NDJSON | bearer(token))
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"] == [{"location": "line 1.name", "message": message}]
        section = "mentors" if record == "mentor" else "activity_types"
        document = {section: [{k: v for k, v in item.items() if k != "record"}]}
        answer = await client.post(INGEST, json=document, headers=bearer(token))
        assert answer.json()["errors"] == [{"location": f"{section}[0].name", "message": message}]
    longest = {"record": "mentor", "id": "x1", "name": "x" * 200}
    answer = await client.post(INGEST, content=lines([longest]), headers=NDJSON | bearer(token))
    assert answer.status_code == 200
    assert await counts(engine) == (0, 1, 0)


@pytest.fixture
def server(database_url: str, engine: AsyncEngine, tmp_path: Path) -> Iterator[str]:
    """`personal-stats serve` on the test database; yields its host and port."""
    with serving(database_url, tmp_path / "server.log") as base:
        yield base.removeprefix("http://")


@pytest.mark.parametrize(("chunked", "close"), [(False, True), (True, True), (False, False)])
def test_a_client_that_sends_its_whole_body_first_reads_the_413(
    server: str, token: str, chunked: bool, close: bool
) -> None:
    """Python's http.client (as urllib and requests) sends the whole body before it reads
    the answer: an 11 MB body over the default 10 MB limit, with a Content-Length or
    chunked, gets the 413 problem rather than a reset connection (as it did when the
    server answered and closed without reading the rest, for urllib's `Connection: close`);
    a kept-alive connection is still usable after."""
    body = b"x" * 11_000_000
    connection = http.client.HTTPConnection(server, timeout=30)
    headers = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {token}"}
    if close:
        headers["Connection"] = "close"
    if chunked:
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
        connection.request("POST", INGEST, body=chunks, headers=headers, encode_chunked=True)
    else:
        connection.request("POST", INGEST, body=body, headers=headers)
    read_after_the_whole_body(connection, 413, kept_alive=not close)


def read_after_the_whole_body(
    connection: http.client.HTTPConnection, status: int, kept_alive: bool
) -> None:
    """The answer a client reads once it has sent its whole body (as http.client does) is
    the problem expected, not a reset; a kept-alive connection serves the next request."""
    answer = connection.getresponse()
    assert answer.status == status
    assert json.loads(answer.read())["status"] == status
    if kept_alive:
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
    connection.close()


async def test_an_erasure_leaves_the_mentor_nowhere_in_the_change_log(
    client: httpx.AsyncClient, token: str, eraser: str, engine: AsyncEngine
) -> None:
    """The erasing transaction takes the mentor's id out of the change log: each version
    that named them names everyone (`*`) instead, and the erasure is logged as `*`, erased
    (whom is found by each worker among the mentors it follows)."""
    from personal_stats.storage.models import ActivityChange, InstantChange

    await client.post(INGEST, content=lines(records(6)), headers=NDJSON | bearer(token))
    more = records(3, prefix="b")
    await client.post(INGEST, content=lines(more), headers=NDJSON | bearer(token))

    async def naming(mentor_id: str) -> tuple[list[int], list[int]]:
        async with engine.connect() as connection:
            changes = await connection.execute(
                select(ActivityChange.version).where(ActivityChange.mentor_id == mentor_id)
            )
            steps = await connection.execute(
                select(InstantChange.version).where(InstantChange.mentor_id == mentor_id)
            )
            return sorted(set(changes.scalars())), sorted(set(steps.scalars()))

    named, stepped = await naming("w1")
    assert named  # the second write named w1 (the first, into empty tables, names everyone)
    assert stepped
    gone = await client.delete(f"{INGEST}/mentors/w1", headers=bearer(eraser))
    erased_in = int(gone.headers["x-data-version"])
    assert await naming("w1") == ([], [])
    everyone = (await naming("*"))[0]
    assert set(named) | {erased_in} <= set(everyone)
    async with engine.connect() as connection:
        flagged = await connection.execute(
            select(ActivityChange.mentor_id).where(ActivityChange.erased_at.is_not(None))
        )
        assert list(flagged.scalars()) == ["*"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ("", 401),  # no token
        ("Authorization: Bearer pst_unknown\r\n", 401),
        ("Authorization: Bearer {token}\r\nContent-Type: text/plain\r\n", 415),
        ("Authorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\n", 413),
    ],
)
def test_the_token_type_and_declared_length_are_checked_before_the_body(
    server: str, token: str, headers: str, status: int
) -> None:
    """A head that declares 100 MB and sends none of it is answered at once: the token, the
    content type and the declared length come before the body (the body was awaited first,
    so a client with no token held its connection, and the server waited, for 10 s)."""
    host, port = server.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        head = (f"POST {INGEST} HTTP/1.1\r\nHost: {server}\r\n"
                f"{headers.format(token=token)}Content-Length: 100000000\r\n\r\n")  # fmt: skip
        connection.sendall(head.encode())
        connection.settimeout(2)  # a hang, not a speed: the server waited 10 s before
        answer = connection.recv(65536).decode("latin-1")
    assert answer.startswith(f"HTTP/1.1 {status} "), answer[:200]


def test_a_client_that_sends_its_whole_body_first_reads_the_401(server: str) -> None:
    """Refused before its body is read, a client that sends it all before reading (as
    http.client does) still reads the 401, and its kept-alive connection serves the next
    request: the server reads and drops the unread body."""
    connection = http.client.HTTPConnection(server, timeout=30)
    headers = {"Content-Type": "application/x-ndjson", "Authorization": "Bearer pst_unknown"}
    connection.request("POST", INGEST, body=b"x" * 5_000_000, headers=headers)
    read_after_the_whole_body(connection, 401, kept_alive=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_erased_mentor_leaves_no_trace_in_the_sqlite_files(
    client: httpx.AsyncClient, token: str, eraser: str, database_url: str
) -> None:
    """Neither the id nor the name of an erased mentor is left in any of the database's
    files (the database, its write-ahead log, its shared memory), read as bytes. (PostgreSQL
    keeps dead rows until VACUUM: docs/write-api.md.)"""
    path = Path(database_url.removeprefix("sqlite+aiosqlite:///"))
    mentor_id, name = "erase_me_7f3a", "Zebediah Quillfeather-Erasable"
    batch = records(40, mentor=mentor_id)
    batch[1]["name"] = name
    pushed = await client.post(INGEST, content=lines(batch), headers=NDJSON | bearer(token))
    assert pushed.status_code == 200

    def traces() -> list[str]:
        found = []
        for file in path.parent.glob(path.name + "*"):
            content = file.read_bytes()
            found += [
                f"{file.name}: {word}" for word in (mentor_id, name) if word.encode() in content
            ]
        return found

    assert traces()  # the reading finds them while they are there
    gone = await client.delete(f"{INGEST}/mentors/{mentor_id}", headers=bearer(eraser))
    assert gone.status_code == 204
    assert traces() == []
    answer = await client.get(f"{BASE}/{mentor_id}")
    assert answer.status_code == 404


async def test_the_erase_command_erases_and_vacuums_what_postgresql_keeps(
    client: httpx.AsyncClient, token: str, engine: AsyncEngine, database_url: str
) -> None:
    """`personal-stats erase` erases as the write API does (unknown: exit 1). With
    `--vacuum`, on PostgreSQL, the tables' files (read by the server itself after a
    checkpoint) no longer hold the mentor's id or name; SQLite has nothing to vacuum."""
    mentor_id, name = "erase_me_9c1d", "Theodosia Vacuumable-Quist"
    batch = records(20, mentor=mentor_id)
    batch[1]["name"] = name
    pushed = await client.post(INGEST, content=lines(batch), headers=NDJSON | bearer(token))
    assert pushed.status_code == 200
    postgres = engine.dialect.name == "postgresql"

    async def traces() -> list[str]:
        found: list[str] = []
        async with engine.connect() as connection:
            await connection.exec_driver_sql("CHECKPOINT")  # the pages written to the files
            for table in ("mentor", "activity"):
                content = (await connection.exec_driver_sql(
                    f"SELECT pg_read_binary_file(pg_relation_filepath('{table}'))"
                )).scalar_one()  # fmt: skip
                found += [f"{table}: {w}" for w in (mentor_id, name) if w.encode() in content]
        return found

    if postgres:
        assert await traces()  # the reading finds them while they are there
    # The app's peer index, which the write set building, is built before the erase: a
    # transaction of the same database still open during VACUUM FULL (the build reads every
    # instant in one) keeps the rows it may see in the rewritten files.
    version = int(pushed.headers["X-Data-Version"])
    for _ in range(200):
        index = (await client.get("/readyz")).json()["peer_index"]
        if index["version"] is not None and index["version"] >= version:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"the peer index did not reach version {version}: {index}")
    # in a thread: the app's own work (the peer index after the write) goes on meanwhile
    unknown = await asyncio.to_thread(run_cli, "erase", "nobody_here", database_url=database_url)
    assert (unknown.returncode, unknown.stderr) == (1, "no mentor with id 'nobody_here'\n")
    erased = await asyncio.to_thread(
        run_cli, "erase", mentor_id, "--vacuum", database_url=database_url
    )
    assert erased.returncode == 0, erased.stderr
    assert f"mentor {mentor_id!r} erased (data version " in erased.stdout
    vacuumed = "tables rewritten" if postgres else "nothing to vacuum: this engine"
    assert vacuumed in erased.stdout
    if postgres:
        assert await traces() == []
    answer = await client.get(f"{BASE}/{mentor_id}")
    assert answer.status_code == 404
