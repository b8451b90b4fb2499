"""The structure the code keeps, checked from its imports and calls: no import circle, no
import running back up the layers, every engine difference and every database library under
`storage/`, every touch of a framework's internals under `frameworks/`, and `Settings` built
in one place."""

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).parents[1] / "src" / "personal_stats"
# The folders from the bottom up; a module imports only from its own folder or those below.
LAYERS: list[set[str]] = [
    {"core", "support"},  # the pure core; settings, logs and metrics (neither imports the other)
    {"storage"},  # the tables too (storage/models.py)
    {"frameworks"},  # the frameworks' code reached beyond their documented API
    {"service"},
    {"http"},  # what every HTTP adapter answers with
    {"adapters"},  # rest, graphql, web, events, write_api: none imports another
    {"server"},  # the application composed of the adapters
    {"cli"},  # the command line
]
DATABASE_LIBRARIES = {"sqlalchemy", "sqlmodel", "asyncpg", "sqlite3", "aiosqlite", "alembic"}
ENGINE_WORDS = ("sqlite", "postgres")
FRAMEWORKS = {"uvicorn", "graphql", "strawberry"}
# Their modules that their documentation imports from; any other is internal.
DOCUMENTED = {
    "uvicorn", "graphql", "strawberry", "strawberry.asgi", "strawberry.exceptions",
    "strawberry.extensions", "strawberry.http", "strawberry.http.exceptions",
    "strawberry.permission", "strawberry.schema.config", "strawberry.subscriptions",
    "strawberry.types",
}  # fmt: skip


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        name = ".".join(("personal_stats", *parts)).removesuffix(".__init__")
        found[name] = ast.parse(path.read_text(), str(path))
    return found


MODULES = modules()


def imports(tree: ast.Module, names: bool = True) -> set[str]:
    """Every module it imports, at its top or inside a function, and (with `names`) every
    name imported from a module, as module.name."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if names:
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def own(name: str) -> str | None:
    """The project's module of an imported name (a name imported from a module is that
    module), or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def room(module: str) -> str:
    """The folder under the package (a module at its top is a room of its own)."""
    return module.split(".")[1] if module.count(".") else module


def adapter(module: str) -> str | None:
    """The adapter a module belongs to (`rest`, `graphql`, ...), or None."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "adapters" else None


def layer(module: str) -> int:
    (found,) = [i for i, rooms in enumerate(LAYERS) if room(module) in rooms]
    return found


GRAPH = {
    name: {o for i in imports(tree) if (o := own(i)) and o != name and o != "personal_stats"}
    for name, tree in MODULES.items()
}


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        if name != "personal_stats":
            layer(name)


def test_no_import_circle() -> None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            pytest.fail(f"import circle: {' -> '.join([*path[path.index(name) :], name])}")
        if name in done:
            return
        for imported in GRAPH[name]:
            visit(imported, [*path, name])
        done.add(name)

    for name in GRAPH:
        visit(name, [])


def test_no_import_runs_back_up() -> None:
    upward = [(name, imported) for name, found in GRAPH.items() if name != "personal_stats"
              for imported in found if layer(imported) > layer(name)]  # fmt: skip
    assert upward == []


def test_every_folder_says_what_it_holds_and_may_import() -> None:
    folders = {room(name) for name in MODULES if name.count(".") > 1}
    for folder in folders:
        tree = MODULES[f"personal_stats.{folder}"]
        assert ast.get_docstring(tree), f"{folder}/__init__.py has no docstring"


def test_no_adapter_imports_another() -> None:
    found = [(name, imported) for name, found in GRAPH.items() if adapter(name)
             for imported in found
             if adapter(imported) and adapter(imported) != adapter(name)]  # fmt: skip
    assert found == []


def test_the_core_is_pure() -> None:
    """The core and support import nothing of each other, and the core no web, GraphQL,
    database or metrics library."""
    outside = {"starlette", "strawberry", "graphql", "uvicorn", "prometheus_client", "httpx",
               "websockets", *DATABASE_LIBRARIES}  # fmt: skip
    found = [(name, i) for name, tree in MODULES.items() if room(name) == "core"
             for i in imports(tree, names=False) if i.split(".")[0] in outside]  # fmt: skip
    assert found == []
    below = [(name, i) for name, found in GRAPH.items() if room(name) == "core"
             for i in found if room(i) != "core"]  # fmt: skip
    assert below == []
    crossing = [(name, i) for name, found in GRAPH.items() if room(name) == "support"
                for i in found if room(i) == "core"]  # fmt: skip
    assert crossing == []


def test_the_service_and_adapters_see_storage_through_its_interface() -> None:
    """Reads through a `Store`'s snapshots, writes through `Writes`: the layers above
    import the storage package itself, none of its modules (only the composition roots,
    `server` and `cli`, make the engine and run the migrations)."""
    found = [(name, i) for name, tree in MODULES.items() if room(name) in {"service", "adapters"}
             for i in imports(tree, names=False)
             if i.startswith("personal_stats.storage.")]  # fmt: skip
    assert found == []


def test_only_storage_imports_a_database_library() -> None:
    """The table models included: they live under storage/ too."""
    found = [(name, i) for name, tree in MODULES.items()
             for i in imports(tree) if i.split(".")[0] in DATABASE_LIBRARIES
             and room(name) != "storage"]  # fmt: skip
    assert found == []


def test_no_engine_branch_outside_storage() -> None:
    """No `.dialect`, and no comparison or call that names an engine, outside storage."""
    found = []
    for name, tree in MODULES.items():
        if room(name) == "storage":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "dialect":
                found.append((name, node.lineno))
            if isinstance(node, ast.Compare | ast.Call):
                texts = [n.value for n in ast.walk(node)
                         if isinstance(n, ast.Constant) and isinstance(n.value, str)]  # fmt: skip
                if any(word in text.lower() for text in texts for word in ENGINE_WORDS):
                    found.append((name, node.lineno))
    assert found == []


def test_settings_are_built_in_one_place() -> None:
    """By the command line, which hands them to the app and its workers (the Alembic
    environment aside: `alembic` run by hand has no other way to them)."""
    found = {
        name for name, tree in MODULES.items() for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id == "Settings"
    }  # fmt: skip
    assert found == {"personal_stats.cli", "personal_stats.storage.migrations.env"}


def test_only_the_fences_import_a_frameworks_internal_modules() -> None:
    found = [(name, module) for name, tree in MODULES.items() if room(name) != "frameworks"
             for module in imports(tree, names=False)
             if module.split(".")[0] in FRAMEWORKS and module not in DOCUMENTED]  # fmt: skip
    assert found == []


def test_only_the_fences_name_a_private_attribute_of_a_framework() -> None:
    """In every module that imports a framework (outside the fences), no `x._name` of
    anything but the module's own objects (`self`, `cls`)."""
    found = []
    for name, tree in MODULES.items():
        modules = imports(tree, names=False)
        if room(name) == "frameworks" or not any(m.split(".")[0] in FRAMEWORKS for m in modules):
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
            ):
                found.append((name, node.lineno, node.attr))
    assert found == []


def _declared_questions() -> tuple[set[str], set[str]]:
    """The names of the question declarations in core/questions.py, and the REST paths and
    GraphQL field names they declare (the first argument of each `Rest(...)`/`GraphQL(...)`)."""
    names, words = set(), set()
    for node in MODULES["personal_stats.core.questions"].body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value
            if isinstance(call.func, ast.Name) and call.func.id == "Asked":
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
                for part in call.args:
                    if (isinstance(part, ast.Call) and isinstance(part.func, ast.Name)
                            and part.func.id in {"Rest", "GraphQL"} and part.args):  # fmt: skip
                        first = part.args[0]
                        if isinstance(first, ast.Constant) and first.value:
                            words.add(first.value)
    return names, words


def test_each_question_is_declared_once() -> None:
    """Routes, GraphQL fields, OpenAPI operations and costs are built from `QUESTIONS`: no
    other module names two questions, or writes a question's REST path or GraphQL field."""
    names, words = _declared_questions()
    assert len(names) >= 5  # the declarations were read
    assert len(words) >= 9
    for name, tree in MODULES.items():
        if name == "personal_stats.core.questions":
            continue
        named = {node.attr for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute) and node.attr in names}  # fmt: skip
        named |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                  for alias in node.names if alias.name in names}  # fmt: skip
        assert len(named) <= 1, f"{name} lists questions: {sorted(named)}"
        written = {node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and node.value in words}  # fmt: skip
        assert not written, f"{name} writes {sorted(written)}"
