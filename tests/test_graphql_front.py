"""GraphQL at the front door: documents prepared once by text or by shape, the cost budget,
a question asked twice answered once."""

import asyncio
import json
from collections.abc import AsyncIterator
from inspect import isawaitable
from typing import Any

import httpx
import pytest
import strawberry
from graphql import execute, parse, validate
from starlette.applications import Starlette
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from personal_stats.adapters.graphql.cost import cost_of
from personal_stats.adapters.graphql.documents import Documents
from personal_stats.adapters.graphql.executor import lean_executor, plain_fields
from personal_stats.adapters.graphql.rules import alias_limit, depth_limit
from personal_stats.adapters.graphql.schema import build_schema
from personal_stats.adapters.graphql.shapes import shape_of
from personal_stats.server.app import close, create_app
from personal_stats.support.settings import Settings
from tests.helpers import SessionFactory, activity, add, database_url, mentor

TOTALS = 'query { personalStats(mentorId: "%s", period: ALL_TIME, asOf: "%s") { totalActivities } }'


@pytest.fixture
async def served(sessions: SessionFactory) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """m1 has three activities (2026-03-01, 03-10, 03-20), m2 one (2026-03-05)."""
    await add(
        sessions, mentor("m1"), mentor("m2"),
        activity("m1", "2026-03-01T10:00:00Z"), activity("m1", "2026-03-10T10:00:00Z"),
        activity("m1", "2026-03-20T10:00:00Z"), activity("m2", "2026-03-05T10:00:00Z"),
    )  # fmt: skip
    app = create_app(Settings(database_url=database_url(sessions)), migrate=False)
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://test")
    async with app.router.lifespan_context(app), client as http:
        yield app, http
    await close(app)


def served_by(app: Starlette) -> dict[str, int]:
    return dict(app.state.graphql.stats_schema.documents.served)


async def post(http: httpx.AsyncClient, query: str, **variables: Any) -> Any:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    return response.json()


def test_a_shape_is_the_tokens_with_literals_by_kind() -> None:
    shape = shape_of('{ a(x: "s", n: -12, f: 1.5e3, e: ENUM) { b } }  # note')
    assert shape is not None
    assert shape.key == '{ a ( x : " n : 0 f : 0.0 e : ENUM ) { b } }'
    assert shape.values == ("s", -12, 1500.0)
    assert shape_of('{ a(x: "with \\" escape") }') is None  # escapes: the text alone keys it
    assert shape_of('{ a(x: """block""") }') is None
    assert shape_of("{ a(n: 12b) }") is None  # not a GraphQL token: the parser reports it
    assert shape_of("{ a(n: 01) }") is None
    assert shape_of("{ a(x: $__literal0) }") is None  # would clash with the template
    assert shape_of("{ a b c }", max_tokens=5) is not None
    assert shape_of("{ a b c d }", max_tokens=5) is None  # read no further than the limit


async def test_inline_arguments_are_parsed_once_per_shape(served: Any) -> None:
    app, http = served
    before = served_by(app)
    first = await post(http, TOTALS % ("m1", "2026-03-31"))
    second = await post(http, TOTALS % ("m2", "2026-03-31"))
    earlier = await post(http, TOTALS % ("m1", "2026-03-15"))  # 03-01 and 03-10 only
    after = served_by(app)
    assert first["data"] == {"personalStats": {"totalActivities": 3}}
    assert second["data"] == {"personalStats": {"totalActivities": 1}}
    assert earlier["data"] == {"personalStats": {"totalActivities": 2}}
    assert after["parsed"] - before["parsed"] == 1
    assert after["shape"] - before["shape"] == 2
    await post(http, TOTALS % ("m2", "2026-03-31"))  # the same text again: by its text
    assert served_by(app)["text"] - after["text"] == 1
    after = served_by(app)
    # With variables, the text itself repeats: found by it, without reading its tokens.
    with_variables = "query ($id: ID!) { mentor(id: $id) { name } }"
    names = [await post(http, with_variables, id=i) for i in ("m1", "m2", "m1")]
    assert [n["data"]["mentor"]["name"] for n in names] == ["M1", "M2", "M1"]
    assert served_by(app)["text"] - after["text"] == 2


async def test_a_template_never_answers_for_literals_its_document_would_not_allow(
    served: Any,
) -> None:
    """Two fields of one response key must have equal arguments: with "m1" twice the
    document is valid, with "m1" and "m2" it is the validator's error, in either order (a
    template with a variable for each literal would have answered m1's figures for both)."""
    same = '{ x: mentor(id: "m1") { id } x: mentor(id: "m1") { id } }'
    other = '{ x: mentor(id: "m1") { id } x: mentor(id: "m2") { id } }'
    for first, second in ((same, other), (other, same)):
        app, http = served
        app.state.graphql.stats_schema.documents.__post_init__()  # nothing kept
        answers = {query: await post(http, query) for query in (first, second)}
        assert answers[same]["data"] == {"x": {"id": "m1"}}
        [error] = answers[other]["errors"]
        assert "Fields 'x' conflict" in error["message"], error
        assert answers[other]["data"] is None


async def test_a_literal_that_does_not_fit_gets_the_validators_error(served: Any) -> None:
    _, http = served
    series = '{ monthlySeries(mentorId: "m1", months: %s, asOf: "%s") { pagination { total } } }'
    ok = await post(http, series % ("3", "2026-03-31"))
    assert ok["data"] == {"monthlySeries": {"pagination": {"total": 3}}}
    for arguments, expected in [
        (("99999999999", "2026-03-31"), "Int cannot represent non 32-bit signed integer"),
        (("3", "2026-02-30"), "not a real calendar date"),
    ]:
        body = await post(http, series % arguments)
        assert body["data"] is None
        [error] = body["errors"]
        assert expected in error["message"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "__literal" not in error["message"]
    # A number run into a name is no GraphQL token, whatever shape it resembles.
    body = await post(http, (series % ("3", "2026-03-31")).replace("3, asOf", "3asOf"))
    assert "Invalid number" in body["errors"][0]["message"]


async def test_a_query_over_the_cost_budget_is_refused_before_it_runs(
    sessions: SessionFactory,
) -> None:
    await add(sessions, mentor("m1"))
    app = create_app(Settings(database_url=database_url(sessions), graphql_max_cost=40))
    transport = httpx.ASGITransport(app=app)
    five = (
        "personalStats { totalActivities } monthlySeries { pagination { total } } "
        "activityBreakdown { pagination { total } } "
        "contributionHistory { pagination { total } } contributionCalendar { totalActivities }"
    )
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            # A mentor and her five questions: 1 + 1 + 2 + 2 + 4 + 5 = 15.
            two = await post(http, f'{{ a: mentor(id: "m1") {{ {five} }} '
                                   f'b: mentor(id: "m1") {{ {five} }} }}')  # fmt: skip
            assert two["data"]["a"] == two["data"]["b"]
            # Three ids: 3 x 15 = 45. The unknown id would fail in execution: it never runs.
            query = f"query ($ids: [ID!]!) {{ mentors(ids: $ids) {{ {five} }} }}"
            body = await post(http, query, ids=["m1", "m1", "bad id!"])
            assert body["data"] is None
            [error] = body["errors"]
            assert error["message"] == "The query costs 45, over the budget of 40 a request."
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
            assert (await post(http, query, ids=["m1", "m1"]))["data"] is not None  # 30
            # Page sizes count: a history page of 100 years is 1 + 13 = 14 a mentor.
            paged = '{ mentors(ids: ["m1", "m1", "m1"]) { contributionHistory(limit: %d) { ' \
                    'pagination { total } } } }'  # fmt: skip
            assert (await post(http, paged % 20))["data"] is not None  # 3 x (1 + 1 + 3) = 15
            refused = await post(http, paged % 100)  # 3 x (1 + 1 + 13) = 45
            assert refused["errors"][0]["message"].startswith("The query costs 45,")
            # The cost is checked before validation; fragments that loop are the validator's.
            looping = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
            body = await post(http, looping)
            assert "Cannot spread fragment 'A' within itself" in body["errors"][0]["message"]
            # The same budget on Strawberry's own path (a query sent with GET).
            got = await http.get("/graphql", params={"query": query, "variables":
                                                      '{"ids": ["m1", "m1", "m1"]}'})  # fmt: skip
            assert got.json()["errors"][0]["message"].startswith("The query costs 45,")
    finally:
        await close(app)


def doubling_fragments(levels: int, body: str) -> str:
    """`...F<levels>` where F0 is `body` and each fragment spreads the one before twice:
    2^levels copies of `body`, in about 40 bytes a level."""
    fragments = [f"fragment F0 on Query {{ {body} }}"]
    fragments += [
        f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    ]
    return f"query {{ ...F{levels} }}\n" + "\n".join(fragments)


async def test_fragments_that_double_are_measured_once_each(served: Any) -> None:
    """30 levels are 2^30 copies: the cost, the aliases and the depth are each worked out
    once a fragment, so the answer comes at once (before: about half an hour, /healthz
    unanswered meanwhile), by POST and by GET."""
    _app, http = served
    refused = {
        'mentor(id: "m1") { id }': "The query costs 1073741824, over the budget of 1000 a request.",
        "x: __typename": "1073741824 aliases found. Allowed: 20",
    }
    for body, message in refused.items():
        query = doubling_fragments(30, body)
        assert len(query) < 1300
        async with asyncio.timeout(10):  # a hang, not a speed: 2^30 steps take minutes
            posted = await post(http, query)
            got = (await http.get("/graphql", params={"query": query})).json()
        assert posted["errors"][0]["message"] == message
        assert got["errors"][0]["message"] == message
    async with asyncio.timeout(10):  # costs nothing, within every limit: it runs
        assert (await post(http, doubling_fragments(30, "__typename")))["data"] == {
            "__typename": "Query"
        }


def test_the_depth_and_alias_limits_count_through_fragments() -> None:
    """mentor > monthlySeries > data: depth 3, two of it in a fragment spread twice."""
    schema = build_schema(Settings(database_url="sqlite+aiosqlite://"))._schema
    query = parse(
        '{ mentor(id: "m1") { ...A ...A x: id } } '
        "fragment A on Mentor { monthlySeries { data { year } } y: id }"
    )
    messages = [e.message for e in validate(schema, query, [depth_limit(2), alias_limit(2)])]
    assert messages == [
        "'anonymous' exceeds maximum operation depth of 2",
        "3 aliases found. Allowed: 2",
    ]
    assert validate(schema, query, [depth_limit(3), alias_limit(3)]) == []


def test_a_default_value_counts_as_given() -> None:
    """The 10 x 100-id query costs the same whether the ids come as variables or as the
    variable's default value: 10 x 100 x (1 + 1) = 2,000."""
    ids = json.dumps([f"m{i}" for i in range(100)])
    selection = " ".join(f"a{i}: mentors(ids: $ids) {{ personalStats {{ totalActivities }} }}"
                         for i in range(10))  # fmt: skip
    given = parse(f"query Q($ids: [ID!]!) {{ {selection} }}")
    defaulted = parse(f"query Q($ids: [ID!]! = {ids}) {{ {selection} }}")
    assert cost_of(given, None, {"ids": json.loads(ids)}) == 2000
    assert cost_of(defaulted, None, {}) == 2000
    assert cost_of(defaulted, None, {"ids": ["m1"]}) == 20  # what is given wins


async def test_a_question_asked_twice_in_a_request_is_answered_once(served: Any) -> None:
    app, http = served
    questions = app.state.service.questions
    before = dict(questions)
    query = ('query ($ids: [ID!]!) { mentors(ids: $ids) { id personalStats(period: ALL_TIME, '
             'asOf: "2026-03-31") { totalActivities } } }')  # fmt: skip
    body = await post(http, query, ids=["m1", "m2", "m1", "m1", "unknown"])
    totals = [m and m["personalStats"]["totalActivities"] for m in body["data"]["mentors"]]
    assert totals == [3, 1, 3, 3, None]
    assert questions["asked"] - before.get("asked", 0) == 3  # mentors, m1, m2
    assert questions["repeated"] - before.get("repeated", 0) == 2


async def test_plain_fields_are_answered_without_their_resolvers(served: Any) -> None:
    """The executor reads plain fields itself: graphql-core never calls their resolvers,
    and the answer is the same as theirs (m1: 3 activities of 30 minutes, all completed, on a
    Sunday, a Tuesday and a Friday: a tie, so the earliest from Monday)."""
    app, http = served
    schema = app.state.graphql.stats_schema._schema
    calls: list[str] = []
    for type_name, field_name in [("PersonalStats", "totalActivities"), ("Mentor", "name")]:
        field = schema.type_map[type_name].fields[field_name]
        plain = field.resolve

        def counted(source: Any, info: Any, _plain: Any = plain, **args: Any) -> Any:
            calls.append(info.field_name)
            return _plain(source, info, **args)

        field.resolve = counted
    query = (
        '{ mentor(id: "m1") { name personalStats(period: ALL_TIME, asOf: "2026-03-31") '
        "{ totalActivities totalHoursLogged completionRate mostActiveWeekday } } }"
    )
    body = await post(http, query)
    assert body["data"]["mentor"] == {
        "name": "M1",
        "personalStats": {"totalActivities": 3, "totalHoursLogged": 1.5,
                          "completionRate": 1.0, "mostActiveWeekday": "Tuesday"},
    }  # fmt: skip
    assert calls == []  # the executor was built before: its own list of plain fields
    got = await http.get("/graphql", params={"query": query})  # Strawberry's view: the same
    assert got.json()["data"] == body["data"]
    assert calls == []
    # Strawberry's own executor, without the short way, calls their resolvers.
    async with app.state.service.unit_of_work() as work:
        executed = execute(schema, parse(query), context_value={"work": work},
                           executor_class=StrawberryGraphQLCoreExecutionContext)  # fmt: skip
        result = await executed if isawaitable(executed) else executed
    assert result.data == body["data"]
    assert sorted(calls) == ["name", "totalActivities"]


class Denied(BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


def test_a_field_with_a_permission_class_takes_the_full_path() -> None:
    """A field without a resolver of its own but with a permission class is not plain: the
    short way would skip the permission. The executor answers the plain one itself and
    refuses the other, as Strawberry's own path does."""

    @strawberry.type
    class Thing:
        shown: int
        guarded: int | None = strawberry.field(permission_classes=[Denied])

    @strawberry.type
    class Query:
        @strawberry.field
        def thing(self) -> Thing:
            return Thing(shown=1, guarded=2)

    schema = strawberry.Schema(Query)._schema
    assert set(plain_fields(schema)) == {("Thing", "shown")}
    for executor in (lean_executor(schema), StrawberryGraphQLCoreExecutionContext):
        result = execute(schema, parse("{ thing { shown guarded } }"), executor_class=executor)
        assert not isawaitable(result)
        assert result.data == {"thing": {"shown": 1, "guarded": None}}
        assert [error.message for error in result.errors or []] == ["not for you"]


def test_kept_documents_are_bounded_in_characters_as_well_as_in_number() -> None:
    from personal_stats.adapters.graphql.schema import build_schema

    schema = build_schema(Settings())
    documents = Documents(schema._schema, schema.documents.rules, 2000, 1000,
                          maxsize=100, max_characters=200)  # fmt: skip
    texts = [f'{{ a{n}: mentor(id: "m") {{ id }} }}' for n in range(12)]  # 28-29 each
    for text in texts:
        documents.prepare(text, None, {})
    for kept in (documents.by_text, documents.by_shape):
        assert kept.characters <= 200
        assert len(kept) == 6  # the newest that fit: 6 x 29 = 174; 7 would be over
    documents.prepare(texts[-1], None, {})
    assert documents.served == {"text": 1, "shape": 0, "parsed": 12}
    documents.prepare(texts[0], None, {})  # long gone: parsed again
    assert documents.served["parsed"] == 13


async def test_json_nested_too_deep_is_a_bad_request(served: Any) -> None:
    """30,000 nested arrays (60 KB) as variables were a 500 (the standard library's reader
    ran out of stack); now a 400 by POST and by GET."""
    _app, http = served
    deep = "[" * 30_000 + "]" * 30_000
    body = '{"query": "{ __typename }", "variables": {"x": ' + deep + "}}"
    posted = await http.post("/graphql", content=body, headers={"content-type": "application/json"})
    variables = '{"x": ' + "[" * 2_000 + "]" * 2_000 + "}"
    got = await http.get("/graphql", params={"query": "{ __typename }", "variables": variables})
    for answer in (posted, got):
        assert answer.status_code == 400
        assert answer.headers["content-type"] == "application/problem+json"
    shallow = '{"query": "{ __typename }", "variables": {"x": ' + "[" * 100 + "]" * 100 + "}}"
    fine = await http.post(
        "/graphql", content=shallow, headers={"content-type": "application/json"}
    )
    assert fine.json()["data"] == {"__typename": "Query"}
