"""The policy language and the engine import without loops, and the language stands
below the engine: read from the source, counting imports inside functions and under
``TYPE_CHECKING`` too (a loop hidden there is still a loop)."""

from __future__ import annotations

import ast
from pathlib import Path

import usepolicy

ROOT = Path(usepolicy.__file__).parent
PACKAGES = ("policy", "engine")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every ``usepolicy`` module (or package) ``path`` imports, wherever it does."""
    package = _module(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            if node.module:
                found.add(".".join([*base, node.module]))
            else:
                found.update(".".join([*base, alias.name]) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("usepolicy."))
    return found


def _graph(packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    graph = {}
    for package in packages:
        for path in sorted((ROOT / package).glob("*.py")):
            graph[_module(path)] = _imports(path)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done or module not in graph:
            return None
        for target in sorted(graph[module]):
            if (found := visit(target, [*path, module])) is not None:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        if (found := visit(module, [])) is not None:
            return found
    return None


def test_policy_and_engine_modules_import_without_loops() -> None:
    graph = _graph()
    assert "usepolicy.engine._compile" in graph["usepolicy.engine._engine"]  # the reader works
    assert _cycle(graph) is None


def test_the_policy_language_does_not_import_the_engine() -> None:
    upward = {
        (module, target)
        for module, targets in _graph().items()
        if module.startswith("usepolicy.policy")
        for target in targets
        if target.startswith("usepolicy.engine")
    }
    assert upward == set()


def test_the_transparency_log_stands_below_audit_without_loops() -> None:
    """``tlog`` (the standards) imports nothing of ``audit`` (which applies them to logs),
    ``cli`` or the engine; and neither package has an import loop."""
    graph = _graph(("tlog", "audit"))
    assert "usepolicy.tlog._proof" in graph["usepolicy.tlog._sidecar"]  # the reader works
    upward = {
        (module, target)
        for module, targets in graph.items()
        if module.startswith("usepolicy.tlog")
        for target in targets
        if target.startswith(("usepolicy.audit", "usepolicy.cli", "usepolicy.engine"))
    }
    assert upward == set()
    assert _cycle(graph) is None
