"""The fences around the frameworks' internals (`personal_stats/frameworks/`): every hook
is where it was written for in the installed release, every override of a framework's method
is a listed hook, every package imported is declared, and each hook is still called.

The protocol's `start_request` hook is shown called by
`test_overload.py::test_the_servers_protocol_sheds_at_the_socket_while_the_worker_is_saturated`
(a 503 that no middleware saw), the shape-template path by
`test_graphql_front.py::test_inline_arguments_are_parsed_once_per_shape` (counted by the way
each document was found), the shared operation by
`test_live.py::test_subscribers_of_one_event_share_its_execution` (executions counted ran or
shared); the field step is shown here.
"""

import ast
import importlib
import inspect
import pkgutil
import re
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import execute, parse

import personal_stats
from personal_stats.adapters.graphql.executor import lean_executor, plain_fields
from personal_stats.adapters.graphql.schema import build_schema
from personal_stats.frameworks import Hook, graphql_core, problem
from personal_stats.frameworks import strawberry as strawberry_fence
from personal_stats.frameworks import uvicorn as uvicorn_fence
from personal_stats.support.settings import Settings

FENCES = (uvicorn_fence, graphql_core, strawberry_fence)
HOOKS = [hook for fence in FENCES for hook in fence.HOOKS]
FRAMEWORK_PACKAGES = ("uvicorn", "graphql", "strawberry")


@pytest.mark.parametrize("hook", HOOKS, ids=[hook.symbol for hook in HOOKS])
def test_the_hook_is_as_it_was_written_for(hook: Hook) -> None:
    assert problem(hook) is None


def test_a_missing_or_changed_hook_is_reported_by_its_upstream_name() -> None:
    start = "uvicorn.protocols.http.httptools_impl.HttpToolsProtocol._start_asgi_task"
    changed = problem(Hook(start, ("self", "cycle"), "uvicorn 0.55.x"))
    assert changed is not None
    assert changed.startswith(f"{start} changed: its parameters are ('self', 'cycle', 'app')")
    gone = "graphql.execution.executor.Executor.execute_field_step"
    assert problem(Hook(gone, ("self",), "graphql-core 3.3.x")) == (
        f"{gone} is missing (written against graphql-core 3.3.x)"
    )
    attribute = "strawberry.schema.schema.Schema._graphql_schema"
    assert problem(Hook(attribute, None, "x")) == f"{attribute} is missing (written against x)"
    called = "graphql.execution.execute.execute"
    assert problem(Hook(called, ("schema", "executor"), "x", called=True)) == (
        f"{called} changed: it has no parameter executor (x)"
    )


def _classes() -> list[type]:
    """Every class of the package, and the executor classes built at run time."""
    found: list[type] = []
    for module in pkgutil.walk_packages(personal_stats.__path__, "personal_stats."):
        if ".migrations" in module.name:
            continue
        loaded = importlib.import_module(module.name)
        found += [c for _, c in inspect.getmembers(loaded, inspect.isclass)
                  if c.__module__ == module.name]  # fmt: skip
    schema = build_schema(Settings())
    found.append(schema.execution_context_class)
    return found


def test_every_override_of_a_frameworks_method_is_a_listed_hook() -> None:
    """A method (or class attribute) of the package that replaces a framework's is named in
    its fence, so that the fence test checks it against each release."""
    listed = {hook.symbol for hook in HOOKS}
    unlisted = set()
    for cls in _classes():
        for name in vars(cls):
            if name.startswith("__") and name not in {"__init__", "__call__"}:
                continue
            if name in {"_abc_impl", "_is_protocol"}:  # abc's and typing's, not the framework's
                continue
            for base in cls.__mro__[1:]:
                if name in vars(base):
                    if base.__module__.split(".")[0] in FRAMEWORK_PACKAGES:
                        symbol = f"{base.__module__}.{base.__qualname__}.{name}"
                        if symbol not in listed:
                            unlisted.add(f"{cls.__qualname__}.{name} overrides {symbol}")
                    break
    assert sorted(unlisted) == []


def test_every_package_the_code_imports_is_declared() -> None:
    """Each third-party import of `src/` comes from a distribution `pyproject.toml` asks for
    (not one that happens to come with another)."""
    source = Path(personal_stats.__file__).parent
    tops: set[str] = set()
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                tops.add(node.module.split(".")[0])
    third_party = {t for t in tops if t and t not in sys.stdlib_module_names
                   and t not in {"personal_stats", "__future__"}}  # fmt: skip
    declared = {re.split(r"[^A-Za-z0-9_.-]", r, maxsplit=1)[0].lower().replace("_", "-")
                for r in requires("personal-stats") or []
                if "extra ==" not in r or "extra == 'otel'" in r.replace('"', "'")}  # fmt: skip
    distributions = packages_distributions()
    undeclared = {
        top: distributions.get(top)
        for top in third_party
        if not {d.lower().replace("_", "-") for d in distributions.get(top, [])} & declared
    }
    assert undeclared == {}


def test_only_tracing_loads_the_otel_extra() -> None:
    """The `otel` extra is optional: OpenTelemetry is imported at a module's top only by
    `server/spans.py` and `storage/statement_spans.py`, which are themselves imported only
    inside a function (when tracing), and `support/tracing.py` imports it inside its
    functions."""
    source = Path(personal_stats.__file__).parent
    at_top, spans_at_top = [], []
    for path in source.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                    [alias.name for alias in node.names]  # fmt: skip
                if any(name.startswith("opentelemetry") for name in names):
                    at_top.append(path.relative_to(source).as_posix())
                if any(name.endswith((".server.spans", ".statement_spans")) for name in names):
                    spans_at_top.append(path.relative_to(source).as_posix())
    assert sorted(set(at_top)) == ["server/spans.py", "storage/statement_spans.py"]
    assert spans_at_top == []


def test_the_executors_field_step_answers_plain_fields() -> None:
    """graphql-core calls the service's `execute_field` for every field: the plain ones (an
    attribute of a scalar type) are answered by the short way, counted here by their
    serialiser; a field with a resolver takes graphql-core's own way."""

    @strawberry.type
    class Point:
        x: int
        label: str

        @strawberry.field
        def doubled(self) -> int:
            return self.x * 2

    @strawberry.type
    class Query:
        @strawberry.field
        def points(self) -> list[Point]:
            return [Point(x=1, label="a"), Point(x=3, label="b")]

    schema = strawberry_fence.graphql_schema(strawberry.Schema(query=Query))
    counted: list[str] = []

    def counting(name: str, serialise: Any) -> Any:
        def serialised(value: Any) -> Any:
            counted.append(name)
            return serialise(value)

        return serialised

    plain = {key: (attribute, counting(f"{key[0]}.{key[1]}", serialise))
             for key, (attribute, serialise) in plain_fields(schema).items()}  # fmt: skip
    assert set(plain) == {("Point", "x"), ("Point", "label")}
    result = execute(schema, parse("{ points { x label doubled } }"),
                     executor_class=lean_executor(schema, plain=plain))  # fmt: skip
    assert not inspect.isawaitable(result)
    assert result.errors is None
    assert result.data == {"points": [{"x": 1, "label": "a", "doubled": 2},
                                      {"x": 3, "label": "b", "doubled": 6}]}  # fmt: skip
    assert counted == ["Point.x", "Point.label", "Point.x", "Point.label"]
