"""An import made by another process is visible to the running app at once (SPEC §12)."""

import asyncio
import json
from pathlib import Path

import httpx

from tests.helpers import run_cli


def import_in_another_process(database_url: str, path: Path) -> None:
    imported = run_cli("import", str(path), database_url=database_url)
    assert imported.returncode == 0, imported.stderr


async def test_import_by_another_process_is_seen_by_the_next_request(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    url = "/api/v1/personal-stats/m1?as_of=2026-03-25"
    assert (await client.get(url)).status_code == 404
    document = {
        "activity_types": [{"id": "t1", "code": "talk", "name": "Talk"}],
        "mentors": [{"id": "m1", "name": "Mira"}],
        "activities": [],
    }
    first = tmp_path / "first.json"
    first.write_text(json.dumps(document))
    # in a thread: the app's own work (its change feed, its peer index) goes on meanwhile
    await asyncio.to_thread(import_in_another_process, database_url, first)
    assert (await client.get(url)).json()["total_activities"] == 0

    document["activities"] = [
        {"id": f"a{i}", "mentor_id": "m1", "activity_type_id": "t1", "status": "completed",
         "started_at": f"2026-03-{10 + i}T09:00:00+01:00", "duration_minutes": 30}
        for i in range(3)
    ]  # fmt: skip
    second = tmp_path / "second.json"
    second.write_text(json.dumps(document))
    await asyncio.to_thread(import_in_another_process, database_url, second)
    body = (await client.get(url)).json()
    assert (body["total_activities"], body["total_hours_logged"]) == (3, 1.5)
    graphql = await client.post(
        "/graphql",
        json={"query": '{ personalStats(mentorId: "m1", asOf: "2026-03-25") { totalActivities } }'},
    )
    assert graphql.json()["data"]["personalStats"]["totalActivities"] == 3
