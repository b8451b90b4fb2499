"""Schemathesis against the app in-process, over the demo data: REST from its OpenAPI
document and GraphQL from its schema, with every check enabled (schemathesis.toml sets the
generation modes and the number of examples)."""

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from graphql import (
    ArgumentNode,
    EnumValueNode,
    FieldNode,
    IntValueNode,
    ListValueNode,
    NameNode,
    StringValueNode,
    ValueNode,
    Visitor,
    parse,
    print_ast,
    value_from_ast_untyped,
    visit,
)
from schemathesis import GenerationMode, HookContext
from schemathesis.generation.case import Case

from personal_stats.core.params import (
    MAX_CALENDAR_DAYS,
    MAX_LIMIT,
    MAX_MONTHS,
    MAX_PAGE,
    MAX_YEAR,
    MAX_YEAR_SPAN,
    MIN_YEAR,
    is_valid_id,
)
from personal_stats.core.windows import MAX_WINDOW_DAYS, add_months, is_known_timezone
from personal_stats.core.wire import parse_date, parse_month
from personal_stats.server.app import create_app
from personal_stats.service.ingest import import_files
from personal_stats.storage import Writes, tokens
from personal_stats.storage.engine import create_engine
from personal_stats.storage.migrate import upgrade
from personal_stats.support.settings import Settings

pytestmark = pytest.mark.slow  # thousands of generated requests against the API documents

DEMO = Path(__file__).parents[1] / "fixtures" / "demo.json"
# Schemathesis reads both schemas when the module is collected; neither read touches the
# database, which the fixture below fills before the first case runs.
DATABASE_DIR = Path(tempfile.mkdtemp(prefix="personal-stats-conformance-"))
DATABASE_URL = f"sqlite+aiosqlite:///{DATABASE_DIR / 'demo.db'}"
# Schemathesis sends many writes in a minute: the rate limit is tested on its own.
# JSON Lines bodies are text: sent as the strings they are.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
APP = create_app(Settings(database_url=DATABASE_URL, ingest_rate_per_minute=1_000_000))
# The write API with a token runs on a database of its own: it erases what it is sent.
WRITES_DATABASE_URL = f"sqlite+aiosqlite:///{DATABASE_DIR / 'writes.db'}"
WRITES_APP = create_app(
    Settings(database_url=WRITES_DATABASE_URL, ingest_rate_per_minute=1_000_000)
)
TOKEN: dict[str, str] = {}
# Not the event stream: its answer never ends (tests/test_live.py checks its statuses).
rest = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path_regex="/events$")
writes = schemathesis.openapi.from_asgi("/openapi.json", WRITES_APP).include(
    path_regex="^/api/v1/ingest"
)
graphql = schemathesis.graphql.from_asgi("/graphql", APP)


def valid_query(query: dict[str, Any], path: str) -> dict[str, Any]:
    """Bend a query that the document allows into one that also keeps the rules between
    parameters, which OpenAPI cannot state: dates in pairs and in order, no named period
    beside them, at most 3,660 days or 120 months or 100 years, nothing after as_of, no
    comparison without an earlier window. (The
    default from_year, the first activity's, may be more than 100 years before a far as_of,
    so the history always gets explicit years.)"""
    query = dict(query)
    if "tz" in query and not is_known_timezone(query["tz"]):  # the document states no list
        del query["tz"]
    as_of = date.fromisoformat(query["as_of"]) if "as_of" in query else None
    if ("start_date" in query) != ("end_date" in query):
        query.pop("start_date", None)
        query.pop("end_date", None)
    if "start_date" in query:
        start, end = sorted(date.fromisoformat(query[k]) for k in ("start_date", "end_date"))
        calendar = path.endswith(("/contribution-calendar", "/cards/calendar.svg"))
        longest = MAX_CALENDAR_DAYS if calendar else MAX_WINDOW_DAYS
        start = max(start, end - timedelta(days=longest - 1))
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
    # No earlier window for all_time, nor one before 1900 (a window is at most 3,660 days).
    years = [int(str(query[k])[:4]) for k in ("start_date", "as_of") if k in query]
    if query.get("period") in ("all_time", "ALL_TIME") or min(years, default=2000) < 1921:
        query.pop("compare", None)
    if path.endswith("/contribution-history") and query.keys() & {"from_year", "to_year", "as_of"}:
        to_year = int(query.get("to_year", (as_of or date.today()).year))
        from_year = min(int(query.get("from_year", to_year)), to_year)
        from_year = max(from_year, to_year - MAX_YEAR_SPAN + 1)
        query |= {"from_year": from_year, "to_year": to_year}
        query["as_of"] = max(as_of or date(to_year, 1, 1), date(to_year, 1, 1)).isoformat()
    return query


@rest.hook("map_case")
def keep_rules(_context: HookContext, case: Case) -> Case:
    if case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
        case.query = valid_query(case.query or {}, case.operation.path)
        if case.media_type == "application/x-ndjson":
            # A schema cannot say "JSON Lines": positive bodies become valid records.
            case.body = json.dumps({"record": "mentor", "id": "generated", "name": "Generated"})
    return case


GRAPHQL_NAMES = {"startDate": "start_date", "endDate": "end_date", "asOf": "as_of",
                 "fromYear": "from_year", "toYear": "to_year"}  # fmt: skip
DEMO_MENTOR = "mentor_b2c91a"
DEMO_MENTORS = sorted(mentor["id"] for mentor in json.loads(DEMO.read_text())["mentors"])
# The REST path of the fields whose rules depend on it (years of history, days of a calendar).
FIELD_PATHS = {"contributionHistory": "/contribution-history",
               "contributionCalendar": "/contribution-calendar"}  # fmt: skip


def sane_value(name: str, value: Any) -> Any:
    """A value the argument's own checks accept (the GraphQL schema states only types), or
    None to leave the argument out."""
    if value is None:
        return None
    if name == "mentorId":  # the four questions are asked about existing mentors
        return DEMO_MENTORS[sum(map(ord, str(value))) % len(DEMO_MENTORS)]
    if name == "id":  # an unknown mentor is null, not an error
        return value if is_valid_id(str(value)) else DEMO_MENTOR
    if name == "ids":
        return [i if is_valid_id(str(i)) else DEMO_MENTOR for i in value][:100]
    if name == "tz":
        return value if is_known_timezone(value) else None
    if name in ("startDate", "endDate", "asOf"):
        try:
            return parse_date(value).isoformat()
        except (TypeError, ValueError):
            return None
    if name in ("from", "to"):
        try:
            return f"{parse_month(value):%Y-%m}"
        except (TypeError, ValueError):
            return None
    if name == "restDays":  # each day once, never all seven
        return list(dict.fromkeys(value))[:6] if isinstance(value, list) else value
    bounds = {"page": (1, MAX_PAGE), "limit": (1, MAX_LIMIT), "months": (1, MAX_MONTHS),
              "fromYear": (MIN_YEAR, MAX_YEAR), "toYear": (MIN_YEAR, MAX_YEAR)}  # fmt: skip
    if name in bounds:
        low, high = bounds[name]
        return min(max(int(value), low), high)
    return value


def valid_arguments(field: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The GraphQL counterpart of `valid_query`."""
    sane = {name: sane_value(name, value) for name, value in arguments.items()}
    query = {GRAPHQL_NAMES.get(k, k): v for k, v in sane.items() if v is not None}
    if "period" in query:
        query["period"] = query["period"].lower()
    query = valid_query(query, FIELD_PATHS.get(field, ""))
    back = {v: k for k, v in GRAPHQL_NAMES.items()}
    if "period" in query:
        query["period"] = query["period"].upper()
    return {back.get(k, k): v for k, v in query.items()}


def literal(name: str, value: Any) -> ValueNode:
    if isinstance(value, list):
        return ListValueNode(values=tuple(literal(name, item) for item in value))
    if name in ("period", "compare", "restDays"):
        return EnumValueNode(value=value)
    if isinstance(value, int):
        return IntValueNode(value=str(value))
    return StringValueNode(value=str(value))


class KeepRules(Visitor):
    def enter_field(self, node: FieldNode, *_: Any) -> FieldNode | None:
        if not node.arguments:
            return None
        given = {a.name.value: value_from_ast_untyped(a.value) for a in node.arguments}
        fixed = valid_arguments(node.name.value, given)
        arguments = tuple(
            ArgumentNode(name=NameNode(value=name), value=literal(name, value))
            for name, value in fixed.items()
        )
        return FieldNode(alias=node.alias, name=node.name, arguments=arguments,
                         directives=node.directives, selection_set=node.selection_set)  # fmt: skip


@graphql.hook("map_case")
def keep_argument_rules(_context: HookContext, case: Case) -> Case:
    if case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
        case.body = print_ast(visit(parse(case.body), KeepRules()))
    return case


async def load_demo() -> None:
    for url in (DATABASE_URL, WRITES_DATABASE_URL):
        engine = create_engine(Settings(database_url=url))
        await upgrade(engine)
        await import_files(Writes(engine), [DEMO])
        if url == WRITES_DATABASE_URL:
            TOKEN["value"] = await tokens.create(engine, "conformance", ("ingest",))
        await engine.dispose()


@pytest.fixture(scope="module", autouse=True)
def demo_data() -> Iterator[None]:
    asyncio.run(load_demo())
    yield
    shutil.rmtree(DATABASE_DIR, ignore_errors=True)


CASES = {"rest": 0, "graphql": 0}
MIN_CASES = 1_000


@rest.parametrize()
def test_rest_conforms_to_its_openapi_document(case: Case) -> None:
    """Without a token, the write API answers every case with 401."""
    CASES["rest"] += 1
    if case.path.startswith("/api/v1/ingest") and case.method == case.operation.method.upper():
        response = case.call()
        assert response.status_code == 401, response.text
        case.validate_response(response)
        return
    case.call_and_validate()


@writes.hook("map_case")
def keep_write_rules(context: HookContext, case: Case) -> Case:
    return keep_rules(context, case)


@writes.parametrize()
def test_write_api_conforms_with_a_token(case: Case) -> None:
    CASES["rest"] += 1
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN['value']}"})


@graphql.parametrize()
def test_graphql_conforms_to_its_schema(case: Case) -> None:
    CASES["graphql"] += 1
    case.call_and_validate()


def test_enough_cases_ran() -> None:
    """Runs last in this module: the generated cases above add up to at least 1,000."""
    if not all(CASES.values()):
        pytest.skip("the conformance tests were not all selected")
    print(f"schemathesis cases: {CASES}")
    assert sum(CASES.values()) >= MIN_CASES
