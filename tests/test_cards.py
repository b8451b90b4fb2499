"""SVG cards: well-formed XML with an accessible title, the figures of the JSON endpoints,
every text from the data escaped, themes, validators and errors."""

import xml.etree.ElementTree as ET

import httpx
import pytest

from tests.helpers import SessionFactory, activity, add, mentor

BASE = "/api/v1/personal-stats"
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script> & "friends"'


@pytest.fixture
async def seeded(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1", name=HOSTILE, tz="Europe/Paris"),
        mentor("m2"),
        activity("m1", "2026-03-20T10:00:00Z", minutes=45),
        activity("m1", "2026-03-21T10:00:00Z", minutes=30),
        activity("m1", "2026-03-21T12:00:00Z", minutes=30, status="cancelled"),
    )


def texts(root: ET.Element) -> list[str]:
    return [node.text or "" for node in root.iter(f"{SVG}text")]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_summary_card_carries_the_summary(client: httpx.AsyncClient, theme: str) -> None:
    query = {"as_of": "2026-03-25", "period": "last_7_days", "theme": theme}
    response = await client.get(f"{BASE}/m1/cards/summary.svg", params=query)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "no-cache"
    assert "<script>" not in response.text  # escaped, not markup
    root = ET.fromstring(response.text)  # well-formed XML
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == f"{HOSTILE}: personal stats"  # type: ignore[union-attr]
    summary = (await client.get(f"{BASE}/m1", params={"as_of": "2026-03-25",
                                                      "period": "last_7_days"})).json()  # fmt: skip
    shown = texts(root)
    assert f"{summary['start_date']} to {summary['end_date']} (Europe/Paris)" in shown
    assert "3 (2 completed, 1 cancelled)" in shown  # total_activities 3
    assert f"{summary['total_hours_logged']} h" == "1.3 h"  # 75 minutes
    assert "1.3 h" in shown
    assert f"{summary['completion_rate'] * 100:.1f} %" in shown  # 0.667 -> 66.7 %
    background = root.find(f"{SVG}rect")
    assert background is not None
    assert background.get("fill") == ("#ffffff" if theme == "light" else "#0d1117")


@pytest.mark.usefixtures("seeded")
async def test_calendar_card_has_a_square_per_day(client: httpx.AsyncClient) -> None:
    query = {"as_of": "2026-03-25", "start_date": "2026-03-16", "end_date": "2026-03-25"}
    response = await client.get(f"{BASE}/m1/cards/calendar.svg", params=query)
    assert response.status_code == 200
    root = ET.fromstring(response.text)
    calendar = (await client.get(f"{BASE}/m1/contribution-calendar", params=query)).json()
    days = [rect.find(f"{SVG}title") for rect in root.iter(f"{SVG}rect")]
    labels = [title.text for title in days if title is not None]
    assert labels == [
        f"{d['date']}: {d['count']} {'activity' if d['count'] == 1 else 'activities'}"
        for d in calendar["days"]
    ]
    assert "2026-03-21: 2 activities" in labels
    assert root.find(f"{SVG}title").text == f"{HOSTILE}: activity per day"  # type: ignore[union-attr]


@pytest.mark.usefixtures("seeded")
async def test_cards_have_validators_and_problem_errors(client: httpx.AsyncClient) -> None:
    path = f"{BASE}/m1/cards/summary.svg"
    first = await client.get(path, params={"as_of": "2026-03-25"})
    again = await client.get(path, params={"as_of": "2026-03-25"},
                             headers={"If-None-Match": first.headers["etag"]})  # fmt: skip
    assert again.status_code == 304
    dark = await client.get(path, params={"as_of": "2026-03-25", "theme": "dark"})
    assert dark.headers["etag"] != first.headers["etag"]
    bad = await client.get(path, params={"theme": "sepia"})
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert [e["param"] for e in bad.json()["errors"]] == ["theme"]
    missing = await client.get(f"{BASE}/ghost/cards/calendar.svg")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
