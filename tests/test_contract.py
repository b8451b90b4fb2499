"""The contract's examples, reproduced from fixtures/demo.json with as_of=2026-03-25."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.service.ingest import import_files
from personal_stats.storage import Writes

DEMO = Path(__file__).parents[1] / "fixtures" / "demo.json"
JAMES = "/api/v1/personal-stats/api/v1/personal-stats/mentor_b2c91a"
AS_OF = {"as_of": "2026-03-25"}

MONTHLY_SERIES = {
    "data": [
        {"year": 2026, "month": 1, "month_label": "Jan 2026", "total_activities": 8,
         "completed_activities": 8, "total_hours": 6.5},
        {"year": 2026, "month": 2, "month_label": "Feb 2026", "total_activities": 10,
         "completed_activities": 9, "total_hours": 7.8},
        {"year": 2026, "month": 3, "month_label": "Mar 2026", "total_activities": 12,
         "completed_activities": 11, "total_hours": 10.4},
    ],
    "pagination": {"page": 1, "limit": 20, "total": 3},
}  # fmt: skip
COUNTS_2025 = [4, 6, 9, 7, 8, 5, 3, 6, 8, 9, 10, 14]
CONTRIBUTION_HISTORY = {
    "data": [
        {"year": 2025, "total_activities": 89, "total_hours": 74.2,
         "monthly_breakdown": [{"month": m, "count": c} for m, c in enumerate(COUNTS_2025, 1)],
         "peak_month": 12, "zero_activity_months": 0},
        {"year": 2026, "total_activities": 30, "total_hours": 24.7,
         "monthly_breakdown": [{"month": 1, "count": 8}, {"month": 2, "count": 10},
                               {"month": 3, "count": 12}],
         "peak_month": 3, "zero_activity_months": 0},
    ],
    "pagination": {"page": 1, "limit": 20, "total": 2},
}  # fmt: skip


@pytest.fixture
async def demo(engine: AsyncEngine) -> None:
    await import_files(Writes(engine), [DEMO])


@pytest.mark.usefixtures("demo")
async def test_monthly_series_equals_the_contract(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{JAMES}/monthly-series", params=AS_OF)
    assert response.json() == MONTHLY_SERIES


@pytest.mark.usefixtures("demo")
async def test_contribution_history_equals_the_contract(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{JAMES}/contribution-history", params=AS_OF)
    assert response.json() == CONTRIBUTION_HISTORY


@pytest.mark.usefixtures("demo")
async def test_summary_matches_the_contract_where_it_is_consistent(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get(JAMES, params=AS_OF)).json()
    assert body["mentor_name"] == "James Park"
    assert (body["period"], body["start_date"], body["end_date"]) == (
        "last_30_days", "2026-02-24", "2026-03-25",
    )  # fmt: skip
    assert (body["total_activities"], body["completed_activities"]) == (12, 11)
    assert body["cancelled_activities"] == 1
    assert body["completion_rate"] == 0.917
    assert body["total_hours_logged"] == 10.4
    assert body["most_common_activity_type"] == "one_on_one_session"
    # 624 minutes over 11 completed: 56.7 -> 57 (the contract's 52 contradicts its 10.4 h)
    assert body["avg_session_duration_minutes"] == 57


@pytest.mark.usefixtures("demo")
async def test_breakdown_counts_and_percentages_match_the_contract(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get(f"{JAMES}/activity-breakdown", params=AS_OF)).json()
    rows = [
        (item["activity_type_id"], item["activity_type_name"], item["count"], item["percentage"])
        for item in body["data"]
    ]
    assert rows == [
        ("act_type_001", "One-on-One Session", 7, 58.3),
        ("act_type_003", "Check-in", 5, 41.7),
    ]
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 2}


@pytest.mark.usefixtures("demo")
async def test_demo_data_reaches_the_present(client: httpx.AsyncClient) -> None:
    body = (await client.get(JAMES, params={"as_of": "2026-11-28"})).json()
    assert body["total_activities"] > 0
    assert body["peer_rank_percentile"] is not None
