"""The schema as an Apollo Federation 2 subgraph (SPEC 21): `Mentor @key(fields: "id")`,
`_entities` answering as `mentor(id)` does, `_service { sdl }` composing with another
subgraph (The Guild's composition, from npm), `export-schema --federation`; the checked-in
`schema.graphql` stays the plain schema."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import build_schema, parse
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import SessionFactory, activity, add, mentor, run_cli
from tests.servers import serving

ROOT = Path(__file__).parents[1]
CLIENTS = ROOT / "tests" / "clients"
SELECTION = """id name timezone
  personalStats(asOf: "2026-03-25", period: ALL_TIME, restDays: [SUNDAY]) {
    totalActivities completedActivities streakDays restDays }
  activityBreakdown(asOf: "2026-03-25", period: ALL_TIME) { data { activityTypeId count } }
  contributionCalendar(startDate: "2026-03-18", endDate: "2026-03-25") { days { date count } }
  personalRecords(asOf: "2026-03-25") { completedActivities bestDay { date completedActivities } }
"""
ENTITIES = "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Mentor { %s } } }"


@pytest.fixture
async def data(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1", tz="Europe/Berlin"),
        mentor("m2"),
        activity("m1", "2026-03-20T10:00:00Z"),
        activity("m1", "2026-03-21T10:00:00Z"),
        activity("m1", "2026-03-22T10:00:00Z", status="cancelled"),
        activity("m2", "2026-03-23T10:00:00Z"),
    )


async def _post(client: httpx.AsyncClient, query: str, variables: Any = None) -> dict[str, Any]:
    answer = await client.post("/graphql", json={"query": query, "variables": variables})
    found: dict[str, Any] = answer.json()
    return found


async def test_entities_answer_as_mentor_does_field_for_field(
    data: None, client: httpx.AsyncClient
) -> None:
    representations = [{"__typename": "Mentor", "id": m} for m in ("m2", "nobody", "m1")]
    entities = await _post(client, ENTITIES % SELECTION, {"r": representations})
    assert "errors" not in entities, entities
    found = entities["data"]["_entities"]
    assert found[1] is None  # an unknown id
    for mentor_id, entity in (("m2", found[0]), ("m1", found[2])):
        plain = await _post(client, f'{{ mentor(id: "{mentor_id}") {{ {SELECTION} }} }}')
        assert entity == plain["data"]["mentor"]
    # by hand: m1 completed on the 20th and 21st (Berlin), cancelled the 22nd (a Sunday: rest)
    assert found[2]["personalStats"] == {"totalActivities": 3, "completedActivities": 2,
                                         "streakDays": 0, "restDays": ["SUNDAY"]}  # fmt: skip
    assert found[2]["personalRecords"]["bestDay"] == {
        "date": "2026-03-20",
        "completedActivities": 1,
    }


async def test_entities_count_against_the_cost_budget(
    data: None, client: httpx.AsyncClient
) -> None:
    """Each representation costs what `mentor(id)` with that selection costs."""
    many = [{"__typename": "Mentor", "id": "m1"}] * 200
    refused = await _post(client, ENTITIES % SELECTION, {"r": many})
    assert refused.get("data") is None
    assert "over the budget" in refused["errors"][0]["message"]
    few = await _post(client, ENTITIES % "name", {"r": many})
    assert [e["name"] for e in few["data"]["_entities"]] == ["M1"] * 200


async def test_a_bad_representation_is_that_entitys_error(
    data: None, client: httpx.AsyncClient
) -> None:
    """Each is its own BAD_USER_INPUT; the good ones beside it are answered; keys a router
    may add are ignored."""
    representations = [
        {"__typename": "Mentor", "id": "m1"},
        {"__typename": "Mentor"},
        {"__typename": "Mentor", "id": 5},
        {"__typename": "Nobody", "id": "m1"},
        "m1",
        {"__typename": "Mentor", "id": "not an id!"},
        {"__typename": "Mentor", "id": "m2", "region": "eu"},
    ]
    answer = await _post(client, ENTITIES % "name", {"r": representations})
    assert answer["data"]["_entities"] == [{"name": "M1"}, None, None, None, None, None,
                                           {"name": "M2"}]  # fmt: skip
    errors = {error["path"][1]: error for error in answer["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5]
    assert {e["extensions"]["code"] for e in errors.values()} == {"BAD_USER_INPUT"}
    assert errors[2]["message"] == "representations: a Mentor's id is a string"
    assert errors[5]["extensions"]["errors"][0]["param"] == "id"


async def test_service_sdl_is_the_federation_export_and_schema_graphql_stays_plain(
    client: httpx.AsyncClient, database_url: str
) -> None:
    sdl = (await _post(client, "{ _service { sdl } }"))["data"]["_service"]["sdl"]
    exported = run_cli("export-schema", "--federation", database_url=database_url)
    assert exported.returncode == 0
    assert exported.stdout.strip() == sdl.strip()
    assert '@link(url: "https://specs.apollo.dev/federation/v2.9"' in sdl
    assert 'type Mentor @key(fields: "id")' in sdl
    plain = (ROOT / "schema.graphql").read_text()
    for federations_own in ("@key", "@link", "_entities", "_service", "_Any"):
        assert federations_own not in plain
    # the same types and fields, but for federation's own
    subgraph = build_schema(sdl.replace("@link", "@deprecated").replace("@key", "@deprecated"),
                            assume_valid=True)  # fmt: skip
    public = build_schema(plain)
    for name, type_ in public.type_map.items():
        if name.startswith("__"):
            continue
        assert name in subgraph.type_map, name
        fields = getattr(type_, "fields", None)
        if fields is not None:
            theirs = set(subgraph.type_map[name].fields) - {"_entities", "_service"}  # type: ignore[attr-defined]
            assert set(fields) == theirs, name


@pytest.mark.slow
def test_the_subgraph_composes_with_another_that_extends_mentor(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    if shutil.which("node") is None or not (CLIENTS / "node_modules").exists():
        pytest.fail("node and the client suite (make clients) are needed")
    with serving(database_url, tmp_path / "server.log") as base:
        ran = subprocess.run(["node", "compose.mjs", f"{base}/graphql"], cwd=CLIENTS,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    composed = json.loads(ran.stdout)
    assert composed["errors"] == []
    supergraph = build_schema(composed["publicSdl"])
    mentor_type: Any = supergraph.type_map["Mentor"]
    assert {"upcomingSessions", "personalStats", "personalRecords", "name"} <= set(
        mentor_type.fields
    )
    query: Any = supergraph.type_map["Query"]
    assert {"mentor", "mentors", "personalStats", "mentorsWithSessions"} <= set(query.fields)
    assert "_entities" not in query.fields  # a supergraph's clients never see it
    parse(composed["supergraphSdl"])  # well-formed
    assert 'join__type(graph: STATS, key: "id")' in composed["supergraphSdl"]
