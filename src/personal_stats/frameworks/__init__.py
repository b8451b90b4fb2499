"""The frameworks' code this service reaches beyond their documented API, one module a
framework: `uvicorn`, `graphql_core`, `strawberry`. Nothing else in the package imports their
internal modules or names their private attributes (`tests/test_structure.py`).

Each module lists its hooks (`HOOKS`): every upstream method the service overrides or calls
past the documented API, every attribute it reads, with the parameters it was written against
and the releases it was checked with (`pyproject.toml` keeps each framework below its next
minor release). `tests/test_frameworks.py` checks every hook against the installed release,
naming the upstream symbol that is missing or changed, and proves that each hook is still
called: an upgrade that moves one fails loudly instead of running slower or skipping a
safeguard.
"""

import importlib
import inspect
from dataclasses import dataclass


@dataclass(frozen=True)
class Hook:
    """An upstream symbol the service relies on: a function or method with these parameters
    (all of them, in order: it is overridden; or, with `called`, among its parameters: the
    service passes them), or, with `parameters` None, an attribute (a class attribute, or an
    instance attribute its class's `__init__` sets)."""

    symbol: str  # module.Class.name
    parameters: tuple[str, ...] | None
    releases: str  # the releases it was written against
    called: bool = False


def resolve(symbol: str) -> tuple[object, str]:
    """The owner (module or class) of a dotted symbol and the symbol's last name."""
    parts = symbol.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1]
    raise ImportError(symbol)


def problem(hook: Hook) -> str | None:
    """What is wrong with the hook in the installed release, naming the symbol; None if
    nothing."""
    try:
        owner, name = resolve(hook.symbol)
    except (ImportError, AttributeError):
        return f"{hook.symbol} is missing (written against {hook.releases})"
    if hook.parameters is None:
        if hasattr(owner, name) or _declared(owner, name):
            return None
        return f"{hook.symbol} is missing (written against {hook.releases})"
    found = getattr(owner, name, None)
    if found is None:
        return f"{hook.symbol} is missing (written against {hook.releases})"
    parameters = tuple(inspect.signature(found).parameters)
    if hook.called:
        missing = [name for name in hook.parameters if name not in parameters]
        if missing:
            missed = ", ".join(missing)
            return f"{hook.symbol} changed: it has no parameter {missed} ({hook.releases})"
        return None
    if parameters != hook.parameters:
        return (f"{hook.symbol} changed: its parameters are {parameters}, the hook was "
                f"written for {hook.parameters} ({hook.releases})")  # fmt: skip
    return None


def _declared(owner: object, name: str) -> bool:
    """Whether a class (or a base) annotates the attribute or sets it in its `__init__`."""
    if not inspect.isclass(owner):
        return False
    for cls in owner.__mro__:
        if name in vars(cls).get("__annotations__", {}):
            return True
        init = vars(cls).get("__init__")
        if init is None or cls is object:
            continue
        try:
            source = inspect.getsource(init)
        except (OSError, TypeError):
            continue
        if f"self.{name} =" in source or f"self.{name}:" in source:
            return True
    return False
