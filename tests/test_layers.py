"""No import loop crosses the rooms of the house (the rooms, and the arrows allowed
between them, are tests/test_boundaries.py's); the policy language and the engine
import without loops, and the language stands below the engine. Every import counts, also those only for
type checkers and those inside functions (a loop there still ties the modules
together)."""

from __future__ import annotations

import ast
from pathlib import Path

import usepolicy

from .test_boundaries import ROOMS, room

SRC = Path(usepolicy.__file__).parent


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports."""
    modules = {_module(path): path for path in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    child = f"{target}.{alias.name}"
                    found.add(child if child in modules else target)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def floor(module: str) -> str:
    """The room of ``module`` (the rooms and their allowed arrows: tests/test_boundaries.py)."""
    return room(module)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_loop_spans_two_packages_and_records_have_none() -> None:
    for component in cycles(import_graph()):
        packages = {m.rpartition(".")[0] if m.count(".") > 1 else m for m in component}
        assert len(packages) == 1, component
        assert floor(component[0]) not in ("base", "request", "record", "tlog", "audit"), component


def test_policy_and_engine_modules_import_without_loops() -> None:
    graph = import_graph()
    assert "usepolicy.engine._compile" in graph["usepolicy.engine._engine"]  # the reader works
    inside = {m for m in graph if m.startswith(("usepolicy.policy", "usepolicy.engine"))}
    assert cycles({m: graph[m] & inside for m in inside}) == []


def test_the_policy_language_does_not_import_the_engine() -> None:
    upward = {
        (module, target)
        for module, targets in import_graph().items()
        if module.startswith("usepolicy.policy")
        for target in targets
        if target.startswith("usepolicy.engine")
    }
    assert upward == set()


def test_the_transparency_log_stands_below_audit_without_loops() -> None:
    """``tlog`` (the standards) imports nothing of ``audit`` (which applies them to logs),
    ``cli`` or the engine; and neither package has an import loop."""
    graph = import_graph()
    assert "usepolicy.tlog._proof" in graph["usepolicy.tlog._sidecar"]  # the reader works
    upward = {
        (module, target)
        for module, targets in graph.items()
        if module.startswith("usepolicy.tlog")
        for target in targets
        if target.startswith(("usepolicy.audit", "usepolicy.cli", "usepolicy.engine"))
    }
    assert upward == set()
    inside = {m for m in graph if m.startswith(("usepolicy.tlog", "usepolicy.audit"))}
    assert cycles({m: graph[m] & inside for m in inside}) == []


def test_the_checker_sees_a_loop_and_an_upward_arrow() -> None:
    graph = import_graph()
    graph["usepolicy._errors"] = {"usepolicy.record._model"}  # as it was: a loop
    graph["usepolicy.record._model"] = graph["usepolicy.record._model"] | {"usepolicy._errors"}
    assert any("usepolicy._errors" in c for c in cycles(graph))
    assert floor("usepolicy._errors") == "base"
    assert "record" not in ROOMS["base"]


def test_the_cli_and_audit_modules_import_without_loops() -> None:
    """``audit show`` for files and the database is one module (``cli/_audit_show``):
    ``cli/_audit`` and ``cli/_audit_db`` no longer import each other."""
    graph = import_graph()
    inside = {m for m in graph if m.startswith(("usepolicy.cli", "usepolicy.audit"))}
    assert "usepolicy.cli._audit_show" in graph["usepolicy.cli._audit"]  # the reader works
    assert cycles({m: graph[m] & inside for m in inside}) == []
