"""Persisted documents (SPEC 21), on both engines: `documents add/list`, a request naming its
document by `documentId` (POST and GET) or by Apollo's automatic persisted queries, the
trusted mode, and a GET by id cached like REST (ETag, 304). Every way a document arrives
answers as the text does, under the same limits."""

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from personal_stats.server.app import create_app
from personal_stats.support.settings import Settings
from tests.helpers import SessionFactory, activity, add, mentor, run_cli
from tests.servers import serving
from tests.streams import Subscription

NEW, OLD = "application/graphql-response+json", "application/json"
CARD = """query Card($id: ID!) {
  personalStats(mentorId: $id, asOf: "2026-03-25") { totalActivities completedActivities }
}
"""
OTHER = '{ mentor(id: "m1") { name } }'


def sha256(text: str) -> str:  # written out here, not taken from the code under test
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture
async def data(sessions: SessionFactory) -> None:
    await add(
        sessions,
        mentor("m1"),
        activity("m1", "2026-03-20T10:00:00Z"),
        activity("m1", "2026-03-21T10:00:00Z", status="cancelled"),
    )


async def _client(database_url: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=database_url, **settings), migrate=False,
                     freeze_heap=False)  # fmt: skip
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        http.app = app  # type: ignore[attr-defined]
        yield http


@pytest.fixture
async def served(database_url: str, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """As conftest's `client`, with the app at hand (`http.app`)."""
    async for http in _client(database_url):
        yield http


@pytest.fixture
async def trusted(database_url: str, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(database_url, graphql_documents="trusted"):
        yield http


def _added(database_url: str, tmp_path: Path, *texts: str) -> None:
    for number, text in enumerate(texts):
        (tmp_path / f"doc{number}.graphql").write_text(text)
    paths = [str(tmp_path / f"doc{number}.graphql") for number in range(len(texts))]
    done = run_cli("documents", "add", *paths, database_url=database_url)
    assert done.returncode == 0, done.stderr


def _errors(response: httpx.Response) -> list[tuple[str, str]]:
    return [(e["extensions"]["code"], e["message"]) for e in response.json()["errors"]]


# --- the command line ----------------------------------------------------------------------


def test_documents_add_and_list(database_url: str, engine: AsyncEngine, tmp_path: Path) -> None:
    (tmp_path / "card.graphql").write_text(CARD)
    manifest = {sha256(OTHER): OTHER, "sha256:" + sha256("{ __typename }"): "{ __typename }"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    done = run_cli("documents", "add", str(tmp_path / "card.graphql"),
                   str(tmp_path / "manifest.json"), database_url=database_url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    ids = {f"sha256:{sha256(text)}" for text in (CARD, OTHER, "{ __typename }")}
    assert set(done.stdout.split()) == ids
    assert "3 document(s) added, 0 known already" in done.stderr
    again = run_cli("documents", "add", str(tmp_path / "card.graphql"), database_url=database_url)
    assert again.returncode == 0
    assert again.stdout == ""
    assert "0 document(s) added, 1 known already" in again.stderr
    listed = run_cli("documents", "list", database_url=database_url)
    rows = listed.stdout.splitlines()[1:]
    assert {row.split()[0] for row in rows} == ids
    card = f"sha256:{sha256(CARD)}"
    assert any(row.startswith(card) and row.endswith(" Card") for row in rows)
    assert any(row.endswith(" anonymous") for row in rows)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("wrong.json", json.dumps({sha256("{ a }"): OTHER}), "is not the SHA-256 of its text"),
        ("short.json", json.dumps({"abc": OTHER}), "is not a SHA-256 in lower-case hex"),
        ("list.json", json.dumps([OTHER]), "a manifest is a JSON object"),
        ("broken.graphql", "{ mentor(id: ", "Syntax Error"),
        ("invalid.graphql", '{ mentor(id: "m1") { nope } }', "Cannot query field 'nope'"),
        (
            "aliases.graphql",
            "{ " + " ".join(f"a{n}: __typename" for n in range(21)) + " }",
            "aliases",
        ),
        ("control.graphql", OTHER, None),
        ("notes.txt", OTHER, "not a .graphql, .gql or .json file"),
    ],
)
def test_a_wrong_file_adds_nothing(
    database_url: str, engine: AsyncEngine, tmp_path: Path, name: str, content: str,
    problem: str | None,
) -> None:  # fmt: skip
    (tmp_path / "good.graphql").write_text(CARD)
    (tmp_path / name).write_text(content)
    done = run_cli("documents", "add", str(tmp_path / "good.graphql"), str(tmp_path / name),
                   database_url=database_url)  # fmt: skip
    if problem is None:  # a control: a valid document is added
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 1
    assert problem in done.stderr
    assert "no document added" in done.stderr
    listed = run_cli("documents", "list", database_url=database_url)
    assert listed.stdout.splitlines()[1:] == []  # not even the good one


# --- by documentId ---------------------------------------------------------------------------


async def test_a_document_id_answers_as_its_text_by_post_and_get(
    data: None, client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    _added(database_url, tmp_path, CARD)
    variables = {"id": "m1"}
    by_text = await client.post("/graphql", json={"query": CARD, "variables": variables})
    expected = {"personalStats": {"totalActivities": 2, "completedActivities": 1}}
    assert by_text.json()["data"] == expected
    document_id = "sha256:" + sha256(CARD)
    posted = await client.post("/graphql", json={"documentId": document_id, "variables": variables})
    got = await client.get("/graphql", params={"documentId": document_id,
                                               "variables": json.dumps(variables)})  # fmt: skip
    for answer in (posted, got):
        assert answer.status_code == 200
        assert answer.json()["data"] == expected
        assert (
            answer.json()["extensions"]["dataVersion"]
            == by_text.json()["extensions"]["dataVersion"]
        )


async def test_a_document_added_while_serving_is_found(
    data: None, client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    """Documents live in the database: one added by another process is found at once."""
    document_id = "sha256:" + sha256(OTHER)
    before = await client.post("/graphql", json={"documentId": document_id})
    assert _errors(before) == [
        ("PERSISTED_QUERY_NOT_FOUND", f"No document has the id {document_id}.")
    ]
    _added(database_url, tmp_path, OTHER)
    after = await client.post("/graphql", json={"documentId": document_id})
    assert after.json()["data"] == {"mentor": {"name": "M1"}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"documentId": "sha256:" + "0" * 64}, "PERSISTED_QUERY_NOT_FOUND"),
        ({"documentId": "sha256:" + "A" * 64}, "BAD_REQUEST"),
        ({"documentId": "md5:" + "0" * 32}, "BAD_REQUEST"),
        ({"documentId": 12}, "BAD_REQUEST"),
        ({"documentId": "sha256:" + sha256(OTHER), "query": OTHER}, "BAD_REQUEST"),
    ],
)
@pytest.mark.parametrize("accept", [NEW, OLD])
async def test_a_document_id_that_names_nothing_is_refused_before_execution(
    data: None, client: httpx.AsyncClient, body: dict[str, Any], code: str, accept: str
) -> None:
    answer = await client.post("/graphql", json=body, headers={"Accept": accept})
    assert answer.status_code == (400 if accept == NEW else 200)
    assert answer.headers["content-type"] == accept
    assert "data" not in answer.json()
    assert [c for c, _ in _errors(answer)] == [code]


async def test_limits_hold_for_a_document_named_by_id(
    data: None, client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    """The cost budget counts a named document's variables as it counts a text's."""
    costly = """query Many($ids: [ID!]!) {
  mentors(ids: $ids) { a: contributionCalendar { maxCount } b: contributionCalendar { maxCount }
                       c: contributionCalendar { maxCount } }
}
"""
    _added(database_url, tmp_path, costly)
    many = {"ids": [f"m{n}" for n in range(100)]}
    by_text = await client.post("/graphql", json={"query": costly, "variables": many})
    by_id = await client.post(
        "/graphql", json={"documentId": "sha256:" + sha256(costly), "variables": many}
    )
    assert "over the budget" in by_text.json()["errors"][0]["message"]
    assert by_id.json() == by_text.json()
    few = await client.post(
        "/graphql", json={"documentId": "sha256:" + sha256(costly), "variables": {"ids": ["m1"]}}
    )
    calendar = {"maxCount": 1}
    assert few.json()["data"] == {"mentors": [{"a": calendar, "b": calendar, "c": calendar}]}


# --- caching of a GET by id ------------------------------------------------------------------


async def test_a_get_by_id_is_cached_like_rest(
    data: None, served: httpx.AsyncClient, database_url: str, tmp_path: Path,
    sessions: SessionFactory,
) -> None:  # fmt: skip
    _added(database_url, tmp_path, CARD)
    service = served.app.state.service  # type: ignore[attr-defined]
    params = {"documentId": "sha256:" + sha256(CARD), "variables": '{"id":"m1"}'}
    first = await served.get("/graphql", params=params)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["vary"] == "Accept"
    assert first.headers["x-data-version"] == str(first.json()["extensions"]["dataVersion"])
    assert "last-modified" in first.headers
    asked = service.questions["asked"]
    again = await served.get("/graphql", params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert service.questions["asked"] == asked  # answered before the document ran
    other_type = await served.get("/graphql", params=params, headers={"Accept": NEW})
    assert other_type.headers["etag"] != etag  # another representation
    other_query = await served.get("/graphql", params={**params, "variables": '{"id": "m1"}'})
    assert other_query.headers["etag"] != etag
    unknown = await served.get("/graphql", params={**params, "variables": '{"id":"m2"}'})
    assert unknown.json()["errors"]  # errors are not kept
    assert "etag" not in unknown.headers
    await add(sessions, activity("m1", "2026-03-22T10:00:00Z"))
    changed = await served.get("/graphql", params=params, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["data"]["personalStats"]["totalActivities"] == 3


async def test_what_is_not_a_get_by_id_carries_no_validators(
    data: None, client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    _added(database_url, tmp_path, CARD)
    document_id = "sha256:" + sha256(CARD)
    posted = await client.post(
        "/graphql", json={"documentId": document_id, "variables": {"id": "m1"}}
    )
    by_text = await client.get("/graphql", params={"query": CARD, "variables": '{"id":"m1"}'})
    failed = await client.get("/graphql", params={"documentId": document_id, "variables": "{}"})
    assert failed.json()["errors"]  # $id missing
    for answer in (posted, by_text, failed):
        assert "etag" not in answer.headers


# --- automatic persisted queries ---------------------------------------------------------------


def _apq(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(text)}}


async def test_automatic_persisted_queries(data: None, client: httpx.AsyncClient) -> None:
    hashed = {"extensions": _apq(OTHER)}
    unknown = await client.post("/graphql", json=hashed)
    assert _errors(unknown) == [("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")]
    registered = await client.post("/graphql", json={**hashed, "query": OTHER})
    assert registered.json()["data"] == {"mentor": {"name": "M1"}}
    by_hash = await client.get("/graphql", params={"extensions": json.dumps(_apq(OTHER))})
    assert by_hash.json()["data"] == {"mentor": {"name": "M1"}}
    assert "etag" in by_hash.headers  # a GET by hash is cacheable too
    wrong = await client.post("/graphql", json={"extensions": _apq(CARD), "query": OTHER})
    assert _errors(wrong) == [("BAD_REQUEST", "provided sha does not match query")]
    old = await client.post(
        "/graphql",
        json={"extensions": {"persistedQuery": {"version": 2, "sha256Hash": sha256(OTHER)}}},
    )
    assert [c for c, _ in _errors(old)] == ["BAD_REQUEST"]


async def test_an_invalid_document_is_not_remembered(data: None, client: httpx.AsyncClient) -> None:
    invalid = '{ mentor(id: "m1") { nope } }'
    first = await client.post("/graphql", json={"extensions": _apq(invalid), "query": invalid})
    assert "Cannot query field 'nope'" in first.json()["errors"][0]["message"]
    again = await client.post("/graphql", json={"extensions": _apq(invalid)})
    assert [c for c, _ in _errors(again)] == ["PERSISTED_QUERY_NOT_FOUND"]


# --- trusted mode --------------------------------------------------------------------------------


async def test_trusted_mode_runs_only_known_documents(
    data: None, trusted: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    _added(database_url, tmp_path, CARD)
    variables = {"id": "m1"}
    for accept, status in ((NEW, 400), (OLD, 200)):
        text = await trusted.post("/graphql", json={"query": CARD, "variables": variables},
                                  headers={"Accept": accept})  # fmt: skip
        assert text.status_code == status
        assert [c for c, _ in _errors(text)] == ["PERSISTED_QUERY_REQUIRED"]
    got = await trusted.get("/graphql", params={"query": OTHER})
    assert [c for c, _ in _errors(got)] == ["PERSISTED_QUERY_REQUIRED"]
    registering = await trusted.post("/graphql", json={"extensions": _apq(OTHER), "query": OTHER})
    assert [c for c, _ in _errors(registering)] == ["PERSISTED_QUERY_REQUIRED"]
    not_added = await trusted.post("/graphql", json={"extensions": _apq(OTHER)})
    assert [c for c, _ in _errors(not_added)] == ["PERSISTED_QUERY_NOT_FOUND"]
    expected = {"personalStats": {"totalActivities": 2, "completedActivities": 1}}
    by_id = await trusted.post("/graphql", json={"documentId": "sha256:" + sha256(CARD),
                                                 "variables": variables})  # fmt: skip
    by_hash = await trusted.post(
        "/graphql", json={"extensions": _apq(CARD), "variables": variables}
    )
    assert by_id.json()["data"] == by_hash.json()["data"] == expected
    page = await trusted.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_the_dashboards_document_is_known_in_trusted_mode(
    data: None, trusted: httpx.AsyncClient
) -> None:
    text = (
        Path(__file__).parents[1] / "src/personal_stats/adapters/web/documents/dashboard.graphql"
    ).read_text()
    page = await trusted.get("/dashboard/m1")
    assert f'data-document="sha256:{sha256(text)}"' in page.text
    answer = await trusted.get("/graphql", params={
        "documentId": "sha256:" + sha256(text),
        "variables": json.dumps({"id": "m1", "asOf": "2026-03-25", "period": "ALL_TIME"}),
    })  # fmt: skip
    mentor_ = answer.json()["data"]["mentor"]
    assert mentor_["personalStats"]["totalActivities"] == 2
    assert mentor_["personalRecords"]["completedActivities"] == 1


@pytest.mark.slow
async def test_a_subscription_by_id_and_refused_text_in_trusted_mode(
    data: None, database_url: str, tmp_path: Path
) -> None:
    """Over the WebSocket too: a subscription named by id runs, a text is refused in trusted
    mode (an error message for that subscription; the socket stays open)."""
    follow = "subscription Follow($id: ID!) { statsChanged(mentorId: $id) { dataVersion } }\n"
    _added(database_url, tmp_path, follow)
    settings = {"PERSONAL_STATS_GRAPHQL_DOCUMENTS": "trusted"}
    with serving(database_url, tmp_path / "server.log", settings=settings) as base:
        refused = await Subscription.open(base, {"query": follow, "variables": {"id": "m1"}})
        message = await refused.message()
        assert message["type"] == "error"
        assert message["id"] == "1"
        assert message["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
        await refused.close()
        payload = {"documentId": "sha256:" + sha256(follow), "variables": {"id": "nobody"}}
        by_id = await Subscription.open(base, payload)
        message = await by_id.message()  # the subscription ran: its own error, not the id's
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "NOT_FOUND"
        await by_id.close()


EVERY_WAY = """query Every($id: ID!) {
  mentor(id: $id) {
    id name
    personalStats(asOf: "2026-03-25", period: ALL_TIME) { totalActivities completedActivities }
    contributionCalendar(startDate: "2026-03-19", endDate: "2026-03-22") { days { date count } }
  }
}
"""


@pytest.mark.slow
async def test_every_way_a_document_arrives_answers_alike(
    data: None, database_url: str, tmp_path: Path
) -> None:
    """The same question by text (POST, GET), by documentId (POST, GET), by APQ (registered,
    then by hash), over the WebSocket (by text and by id), and as a supergraph's entity."""
    _added(database_url, tmp_path, EVERY_WAY)
    variables = {"id": "m1"}
    document_id = "sha256:" + sha256(EVERY_WAY)
    apq = {"persistedQuery": {"version": 1, "sha256Hash": sha256(EVERY_WAY)}}
    with serving(database_url, tmp_path / "server.log") as base:
        async with httpx.AsyncClient(base_url=base) as http:
            answers = [
                await http.post("/graphql", json={"query": EVERY_WAY, "variables": variables}),
                await http.get("/graphql", params={"query": EVERY_WAY,
                                                   "variables": json.dumps(variables)}),
                await http.post("/graphql", json={"documentId": document_id,
                                                  "variables": variables}),
                await http.get("/graphql", params={"documentId": document_id,
                                                   "variables": json.dumps(variables)}),
                await http.post("/graphql", json={"query": EVERY_WAY, "variables": variables,
                                                  "extensions": apq}),
                await http.post("/graphql", json={"variables": variables, "extensions": apq}),
            ]  # fmt: skip
            selection = EVERY_WAY.split("mentor(id: $id) {", 1)[1].rsplit("}", 2)[0]
            entities = await http.post("/graphql", json={
                "query": "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Mentor {"
                         + selection + "} } }",
                "variables": {"r": [{"__typename": "Mentor", "id": "m1"}]},
            })  # fmt: skip
        found = [answer.json()["data"] for answer in answers]
        found.append({"mentor": entities.json()["data"]["_entities"][0]})
        by_id = {"query": "", "documentId": document_id, "variables": variables}
        for payload in ({"query": EVERY_WAY, "variables": variables}, by_id):
            socket = await Subscription.open(base, payload)
            message = await socket.message()
            assert message["type"] == "next", message
            found.append(message["payload"]["data"])
            await socket.close()
    expected = {"mentor": {
        "id": "m1", "name": "M1",
        "personalStats": {"totalActivities": 2, "completedActivities": 1},
        "contributionCalendar": {"days": [
            {"date": "2026-03-19", "count": 0}, {"date": "2026-03-20", "count": 1},
            {"date": "2026-03-21", "count": 1}, {"date": "2026-03-22", "count": 0},
        ]},
    }}  # fmt: skip
    assert found == [expected] * 9


async def test_a_document_named_by_id_meets_the_limits_of_the_running_service(
    data: None, database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    """Limits are checked when the document runs, not only when it was added: a service
    started with a lower depth refuses it by id as by text."""
    nested = "query Nested($id: ID!) { mentor(id: $id) { personalStats { totalActivities } } }\n"
    _added(database_url, tmp_path, nested)  # within the default depth of 8
    async for shallow in _client(database_url, graphql_max_depth=1):
        by_id = await shallow.post("/graphql", json={"documentId": "sha256:" + sha256(nested),
                                                     "variables": {"id": "m1"}})  # fmt: skip
        by_text = await shallow.post("/graphql", json={"query": nested, "variables": {"id": "m1"}})
        assert by_id.json() == by_text.json()
        assert by_id.json()["errors"][0]["message"] == (
            "'Nested' exceeds maximum operation depth of 1"
        )


def test_a_setting_that_does_not_parse_is_named_and_nothing_runs(
    database_url: str, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONAL_STATS_GRAPHQL_DOCUMENTS", "strict")
    done = run_cli("documents", "list", database_url=database_url)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "PERSONAL_STATS_GRAPHQL_DOCUMENTS: Input should be 'any' or 'trusted'\n"
