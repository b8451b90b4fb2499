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


@pytest.mark.usefixtures("seeded")
async def test_summary_card_shows_each_change_in_words(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    # The week before: 1 activity, completed, 60 minutes; m2 has none in either week.
    await add(sessions, activity("m1", "2026-03-13T10:00:00Z", minutes=60))
    query = {"as_of": "2026-03-25", "period": "last_7_days", "compare": "previous_period"}
    response = await client.get(f"{BASE}/m1/cards/summary.svg", params=query)
    assert response.status_code == 200
    assert "<script>" not in response.text
    root = ET.fromstring(response.text)
    shown = texts(root)
    assert "↑ up 200.0 %" in shown  # activities: 3 against 1
    assert "↓ down 33.3 points" in shown  # completion rate: 2/3 against 1
    assert "↑ up 25.0 %" in shown  # hours: 75 minutes against 60
    assert "↓ down 37.5 %" in shown  # average session: 37.5 against 60 minutes
    assert "↑ up 100.0 %" in shown  # active days: 2 against 1
    assert "no change" in shown  # peer rank: ahead of 100 % of one peer both weeks
    assert any("changes against 2026-03-12 to 2026-03-18" in text for text in shown)
    description = root.find(f"{SVG}desc")
    assert description is not None
    assert "Activities: 3 (2 completed, 1 cancelled), ↑ up 200.0 %" in (description.text or "")
    plain = await client.get(f"{BASE}/m1/cards/summary.svg", params={"as_of": "2026-03-25"})
    assert "↑" not in plain.text
    assert "changes against" not in plain.text


@pytest.mark.usefixtures("seeded")
async def test_a_first_figure_reads_new(client: httpx.AsyncClient) -> None:
    query = {"as_of": "2026-03-25", "period": "last_7_days", "compare": "year_over_year"}
    response = await client.get(f"{BASE}/m1/cards/summary.svg", params=query)
    assert texts(ET.fromstring(response.text)).count("new") == 5  # nothing a year earlier
    bad = await client.get(f"{BASE}/m1/cards/summary.svg", params={"compare": "last_week"})
    assert bad.status_code == 400
    assert [e["param"] for e in bad.json()["errors"]] == ["compare"]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("card", ["summary", "calendar"])
async def test_the_auto_theme_follows_the_viewer(client: httpx.AsyncClient, card: str) -> None:
    response = await client.get(f"{BASE}/m1/cards/{card}.svg",
                                params={"as_of": "2026-03-25", "theme": "auto"})  # fmt: skip
    assert response.status_code == 200
    root = ET.fromstring(response.text)
    (style,) = root.iter(f"{SVG}style")
    assert "@media (prefers-color-scheme: dark)" in (style.text or "")
    assert ".bg { fill: #0d1117" in (style.text or "")  # the dark theme's background
    background = root.find(f"{SVG}rect")
    assert background is not None
    assert background.get("fill") == "#ffffff"  # light unless the viewer prefers dark
    assert background.get("class") == "bg"
    light = await client.get(f"{BASE}/m1/cards/{card}.svg", params={"as_of": "2026-03-25"})
    assert "<style>" not in light.text
