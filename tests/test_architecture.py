"""Imports point one way (docs/architecture.md, "Layers"): read from the source with `ast`.

- `core/`, `law/`, `models/`, `profile/` and `events/` (the layers below the features) import
  no feature package;
- no two packages of `app/` import each other, directly or round a longer cycle (imports
  inside functions count: hiding one there does not remove the dependency);
- a router module (`router*.py`) imports no `app.models` and builds no SQL: its queries live
  in the package's services.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
LOWER = {"core", "law", "models", "profile", "events"}
# Module names of SQLAlchemy/SQLModel that build statements; a router may name `Session`.
SQL_BUILDERS = {
    "select",
    "insert",
    "update",
    "delete",
    "text",
    "func",
    "and_",
    "or_",
    "exists",
    "tuple_",
    "col",
}
SESSION_QUERIES = {"exec", "execute", "scalar", "scalars", "query", "get"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names], node.lineno))
    return found


def _package(module: str) -> str | None:
    """`app.requests.service` -> `requests`; None for `app.main`, `app.cli`, `app.jobs`
    (the top: they may import anything) and for modules outside `app`."""
    parts = module.split(".")
    if parts[0] != "app" or len(parts) < 2:
        return None
    if (APP / parts[1]).is_dir():
        return parts[1]
    return None


def _graph() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> where ("module:line")."""
    graph: dict[str, dict[str, list[str]]] = {}
    for module, path in _modules().items():
        source = _package(module)
        if source is None:
            continue
        for imported, _names, line in _imports(path):
            target = _package(imported)
            if target is not None and target != source:
                graph.setdefault(source, {}).setdefault(target, []).append(f"{module}:{line}")
    return graph


def lower_layer_violations() -> list[str]:
    graph = _graph()
    return [
        f"{source} imports {target} ({', '.join(where)})"
        for source in sorted(LOWER)
        for target, where in sorted(graph.get(source, {}).items())
        if target not in LOWER
    ]


def package_cycles() -> list[list[str]]:
    """Each cycle among packages once (Tarjan's strongly connected components)."""
    graph = {source: set(targets) for source, targets in _graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def router_violations() -> list[str]:
    problems = []
    for module, path in _modules().items():
        if not module.rsplit(".", 1)[-1].startswith("router"):
            continue
        for imported, names, line in _imports(path):
            if imported == "app.models" or imported.startswith("app.models."):
                problems.append(f"{module}:{line} imports {imported}")
            root = imported.split(".")[0]
            if root in {"sqlalchemy", "sqlmodel"}:
                built = sorted(SQL_BUILDERS & set(names)) or ([] if names else [imported])
                if built:
                    problems.append(f"{module}:{line} imports {', '.join(built)} from {imported}")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SESSION_QUERIES
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "session"
            ):
                problems.append(f"{module}:{node.lineno} queries: session.{node.func.attr}(…)")
    return problems


def test_lower_layers_import_no_feature():
    assert lower_layer_violations() == []


def test_no_package_cycles():
    assert package_cycles() == []


def test_routers_build_no_sql():
    assert router_violations() == []


def test_a_planted_backwards_import_is_caught(tmp_path, monkeypatch):
    """The checks see a new file: `core/` importing a feature, which also closes a cycle."""
    import shutil

    copy = tmp_path / "app"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "templates"))
    (copy / "core" / "planted.py").write_text("from app.requests import service\n")
    (copy / "requests" / "router_planted.py").write_text(
        "from sqlmodel import select\nfrom app.models.request import Request\n"
    )
    monkeypatch.setattr(f"{__name__}.APP", copy)
    assert any("core imports requests" in v for v in lower_layer_violations())
    assert any("core" in cycle and "requests" in cycle for cycle in package_cycles())
    assert any("router_planted" in v and "app.models" in v for v in router_violations())
    assert any("router_planted" in v and "select" in v for v in router_violations())
