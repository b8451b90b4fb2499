"""Schemathesis against the app in-process, over the demo data: REST from its OpenAPI
document and GraphQL from its schema, with every check enabled (schemathesis.toml sets the
generation modes and the number of examples)."""

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode, HookContext
from schemathesis.generation.case import Case

from personal_stats.app import create_app
from personal_stats.db import Database
from personal_stats.ingest import import_files
from personal_stats.params import MAX_MONTHS, MAX_YEAR_SPAN
from personal_stats.schema import upgrade
from personal_stats.settings import Settings
from personal_stats.windows import MAX_WINDOW_DAYS, add_months

DEMO = Path(__file__).parents[1] / "fixtures" / "demo.json"
# Schemathesis reads both schemas when the module is collected; neither read touches the
# database, which the fixture below fills before the first case runs.
DATABASE_DIR = Path(tempfile.mkdtemp(prefix="personal-stats-conformance-"))
DATABASE_URL = f"sqlite+aiosqlite:///{DATABASE_DIR / 'demo.db'}"
APP = create_app(Settings(database_url=DATABASE_URL))
rest = schemathesis.openapi.from_asgi("/openapi.json", APP)
graphql = schemathesis.graphql.from_asgi("/graphql", APP)


def valid_query(query: dict[str, Any], path: str) -> dict[str, Any]:
    """Bend a query that the document allows into one that also keeps the rules between
    parameters, which OpenAPI cannot state: dates in pairs and in order, no named period
    beside them, at most 3,660 days or 120 months or 100 years, nothing after as_of. (The
    default from_year, the first activity's, may be more than 100 years before a far as_of,
    so the history always gets explicit years.)"""
    query = dict(query)
    as_of = date.fromisoformat(query["as_of"]) if "as_of" in query else None
    if ("start_date" in query) != ("end_date" in query):
        query.pop("start_date", None)
        query.pop("end_date", None)
    if "start_date" in query:
        start, end = sorted(date.fromisoformat(query[k]) for k in ("start_date", "end_date"))
        start = max(start, end - timedelta(days=MAX_WINDOW_DAYS - 1))
        query |= {"start_date": start.isoformat(), "end_date": end.isoformat()}
        query["as_of"] = max(as_of or end, end).isoformat()
        if query.get("period") not in (None, "custom"):
            del query["period"]
    elif query.get("period") == "custom":
        del query["period"]
    if "months" in query:
        query.pop("from", None)
        query.pop("to", None)
    if ("from" in query) != ("to" in query):
        query.pop("from", None)
        query.pop("to", None)
    if "from" in query:
        first, last = sorted(date.fromisoformat(query[k] + "-01") for k in ("from", "to"))
        first = max(first, add_months(last, 1 - MAX_MONTHS))
        query |= {"from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}"}
        query["as_of"] = max(as_of or last, last).isoformat()
    if path.endswith("/contribution-history") and query.keys() & {"from_year", "to_year", "as_of"}:
        to_year = int(query.get("to_year", (as_of or date.today()).year))
        from_year = min(int(query.get("from_year", to_year)), to_year)
        from_year = max(from_year, to_year - MAX_YEAR_SPAN + 1)
        query |= {"from_year": from_year, "to_year": to_year}
        query["as_of"] = max(as_of or date(to_year, 1, 1), date(to_year, 1, 1)).isoformat()
    return query


@rest.hook
def map_case(_context: HookContext, case: Case) -> Case:
    if case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
        case.query = valid_query(case.query or {}, case.operation.path)
    return case


async def load_demo() -> None:
    database = Database(Settings(database_url=DATABASE_URL))
    await upgrade(database.engine)
    await import_files(database.engine, [DEMO])
    await database.dispose()


@pytest.fixture(scope="module", autouse=True)
def demo_data() -> Iterator[None]:
    asyncio.run(load_demo())
    yield
    shutil.rmtree(DATABASE_DIR, ignore_errors=True)


@rest.parametrize()
def test_rest_conforms_to_its_openapi_document(case: Case) -> None:
    case.call_and_validate()


@graphql.parametrize()
def test_graphql_conforms_to_its_schema(case: Case) -> None:
    case.call_and_validate()
