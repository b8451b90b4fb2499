"""Imports have their own time limit: a request limit far below what an import's statements
and commit take does not fail the import (it did on PostgreSQL, at COMMIT)."""

import json
from pathlib import Path

from sqlalchemy import func, select

from personal_stats.cli import _import_files
from personal_stats.models import Activity
from personal_stats.settings import Settings
from tests.helpers import SessionFactory, database_url

ACTIVITIES = 30_000


async def test_a_long_import_outlives_the_request_time_limit(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    lines = [
        {"record": "activity_type", "id": "t9", "code": "t9", "name": "T9"},
        {"record": "mentor", "id": "bulk", "name": "Bulk"},
        *(
            {"record": "activity", "id": f"b{i}", "mentor_id": "bulk", "activity_type_id": "t9",
             "status": "completed", "started_at": f"2026-01-01T00:{i % 60:02d}:00Z",
             "duration_minutes": 5}
            for i in range(ACTIVITIES)
        ),
    ]  # fmt: skip
    path = tmp_path / "bulk.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    # 50 ms lets a connection be made; each batch of 10,000 upserts takes longer than that.
    settings = Settings(database_url=database_url(sessions), db_timeout=0.05)
    report = await _import_files(settings, [path], if_empty=False)
    assert report is not None
    assert report.activities == ACTIVITIES
    async with sessions() as session:
        count = await session.exec(select(func.count()).select_from(Activity))
        assert count.one()[0] == ACTIVITIES
