"""The REST adapter over HTTP: routes, parameters, errors."""

import httpx
import pytest

from tests.helpers import SessionFactory, activity, add, mentor

BASE = "/api/v1/personal-stats"
ENDPOINTS = ["", "/monthly-series", "/activity-breakdown", "/contribution-history"]


@pytest.fixture
async def seeded(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1", tz="Europe/Paris", name="Ada Lovelace"),
        mentor("m2"),
        activity("m1", "2026-03-20T10:00:00Z", minutes=45),
    )


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("suffix", ENDPOINTS)
async def test_canonical_and_doubled_paths_answer_identically(
    client: httpx.AsyncClient, suffix: str
) -> None:
    query = "?as_of=2026-03-25"
    canonical = await client.get(f"{BASE}/m1{suffix}{query}")
    doubled = await client.get(f"{BASE}{BASE}/m1{suffix}{query}")
    assert canonical.status_code == doubled.status_code == 200
    assert canonical.headers["content-type"] == "application/json"
    assert canonical.json() == doubled.json()


@pytest.mark.usefixtures("seeded")
async def test_summary_body_has_the_contract_fields(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{BASE}/m1?as_of=2026-03-25")).json()
    assert body == {
        "mentor_id": "m1",
        "mentor_name": "Ada Lovelace",
        "period": "last_30_days",
        "start_date": "2026-02-24",
        "end_date": "2026-03-25",
        "timezone": "Europe/Paris",
        "total_activities": 1,
        "completed_activities": 1,
        "cancelled_activities": 0,
        "completion_rate": 1.0,
        "avg_session_duration_minutes": 45,
        "total_hours_logged": 0.8,
        "most_common_activity_type": "t1",
        "most_active_weekday": "Friday",
        "peer_rank_percentile": 100,
        "streak_days": 0,
        "longest_streak_days": 1,
        "active_days": 1,
        "weekly_streak_weeks": 1,
    }


@pytest.mark.usefixtures("seeded")
async def test_head_is_answered_like_get(client: httpx.AsyncClient) -> None:
    query = "?as_of=2026-03-25"
    head = await client.head(f"{BASE}/m1{query}")
    get = await client.get(f"{BASE}/m1{query}")
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
        assert head.headers[name] == get.headers[name], name


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_other_methods_are_405_problems(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, f"{BASE}/m1/monthly-series")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert "GET" in response.headers["allow"]
    assert response.json()["status"] == 405


async def test_unknown_path_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/m1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not Found"


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("suffix", ENDPOINTS)
async def test_unknown_mentor_is_a_404_problem(client: httpx.AsyncClient, suffix: str) -> None:
    response = await client.get(f"{BASE}/ghost{suffix}")
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404
    assert "ghost" in body["detail"]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/m1?period=all", ["period"]),
        ("/m1?period=weekly&as_of=2026-02-30&tz=Nowhere/City", ["period", "as_of", "tz"]),
        ("/m1?start_date=2026-3-01&end_date=20260325", ["start_date", "end_date"]),
        ("/m1?period=", ["period"]),
        ("/m1?period=last_7_days&period=last_7_days", ["period"]),
        ("/m1?as_of=1899-12-31", ["as_of"]),
        ("/m1?period=LAST_7_DAYS", ["period"]),
        ("/m1/monthly-series?months=abc&page=0&limit=101", ["months", "page", "limit"]),
        ("/m1/monthly-series?from=2026-13&to=2026", ["from", "to"]),
        ("/m1/activity-breakdown?page=1e3", ["page"]),
        ("/m1/contribution-history?from_year=twenty&limit=-1", ["from_year", "limit"]),
        ("/m1/contribution-history?to_year=99999999999999999999", ["to_year"]),
    ],
)
async def test_every_malformed_parameter_is_reported_together(
    client: httpx.AsyncClient, path: str, params: list[str]
) -> None:
    response = await client.get(BASE + path)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400
    assert body["title"] == "Bad Request"
    assert [e["param"] for e in body["errors"]] == params
    assert all(e["message"] for e in body["errors"])


@pytest.mark.usefixtures("seeded")
async def test_malformed_id_comes_before_parameters_and_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/bad%20id?period=nope")
    assert response.status_code == 400
    assert [e["param"] for e in response.json()["errors"]] == ["mentor_id"]


@pytest.mark.usefixtures("seeded")
async def test_parameter_syntax_comes_before_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/ghost?period=nope")
    assert response.status_code == 400


@pytest.mark.usefixtures("seeded")
async def test_rules_needing_the_mentor_come_after_404(client: httpx.AsyncClient) -> None:
    # `to` may not pass as_of's month: as_of depends on the mentor's time zone.
    response = await client.get(f"{BASE}/ghost/monthly-series?from=2099-01&to=2099-12")
    assert response.status_code == 404
    response = await client.get(f"{BASE}/m1/monthly-series?from=2099-01&to=2099-12")
    assert response.status_code == 400
    assert [e["param"] for e in response.json()["errors"]] == ["to"]


@pytest.mark.usefixtures("seeded")
async def test_unknown_parameters_are_ignored(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/m1?colour=blue&colour=red&months=abc&as_of=2026-03-25")
    assert response.status_code == 200


@pytest.mark.usefixtures("seeded")
async def test_overlong_id_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/{'x' * 65}")
    assert response.status_code == 400
    response = await client.get(f"{BASE}/{'x' * 64}")
    assert response.status_code == 404


async def test_a_database_that_cannot_be_opened_is_503() -> None:
    from personal_stats.server.app import create_app
    from personal_stats.support.settings import Settings

    app = create_app(Settings(database_url="sqlite+aiosqlite:////nonexistent-dir/x/stats.db"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get(f"{BASE}/m1")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 503
