"""The rooms of the house and their doors, read from the source (every import counts,
also those inside functions and under ``TYPE_CHECKING``):

- a package is entered through its ``__init__``: no module imports another package's
  private modules (a subpackage may use its parent's, which is how the root's shared
  modules, ``_errors``, ``_files``, ``_crypto``, ``_version``, reach everyone);
- every import between rooms points down the line drawn in docs/architecture.md
  (``ROOMS`` below is that drawing).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import usepolicy

SRC = Path(usepolicy.__file__).parent

#: each room, and the rooms it may import (docs/architecture.md draws the same)
ROOMS: dict[str, frozenset[str]] = {
    "base": frozenset(),
    "request": frozenset({"base"}),
    "policy": frozenset({"base", "request"}),
    "record": frozenset({"base", "request"}),
    "engine": frozenset({"base", "request", "policy", "record"}),
    "tlog": frozenset({"base"}),
    "audit": frozenset({"base", "request", "record", "tlog"}),
    "enforcer": frozenset({"base", "request", "policy", "engine", "record", "audit"}),
    "backends": frozenset({"base", "request", "policy", "engine", "record"}),
    "testing": frozenset({"base", "request", "policy", "engine", "record"}),
    "report": frozenset({"base", "request", "record", "tlog", "audit"}),
    "gateway": frozenset({"base", "request", "policy", "engine", "record", "audit", "enforcer"}),
    "cli": frozenset(
        {
            "gateway",
            "base",
            "request",
            "policy",
            "engine",
            "record",
            "tlog",
            "audit",
            "enforcer",
            "backends",
            "testing",
            "report",
        }
    ),
    "root": frozenset({"base", "request", "policy", "engine", "record", "audit", "enforcer"}),
}
_BASE = ("_errors", "_files", "_version", "_crypto")


def room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    name = parts[1]
    if name in _BASE:
        return "base"
    return {
        "_enforcer": "enforcer",
        "_enforcement": "enforcer",
        "_async": "enforcer",
        "_obligations": "enforcer",
        "_outcomes": "enforcer",
        "__main__": "cli",
    }.get(name, name)


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(path): path for path in SRC.rglob("*.py")}
PACKAGES = {_module(path) for path in SRC.rglob("__init__.py")}


def imports(module: str) -> list[tuple[str, int]]:
    """The usepolicy modules (or packages) ``module`` imports, with the line."""
    path = MODULES[module]
    package = module if module in PACKAGES else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            found += [
                (f"{target}.{alias.name}", node.lineno)
                for alias in node.names
                if f"{target}.{alias.name}" in MODULES
            ]
        elif isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
    return [(target, line) for target, line in found if target.split(".")[0] == "usepolicy"]


def private_reaches(module: str) -> list[str]:
    """Imports of ``module`` that reach into another package's private modules."""
    here = module if module in PACKAGES else module.rpartition(".")[0]
    found = []
    for target, line in imports(module):
        if target not in MODULES or target in PACKAGES:
            continue
        package = target.rpartition(".")[0]
        if here == package or here.startswith(package + "."):
            continue  # its own package, or a parent's (the room it stands in)
        found.append(f"{module}:{line}: {target}")
    return found


def upward_arrows(module: str) -> list[str]:
    here = room(module)
    return [
        f"{module} ({here}) -> {target} ({room(target)})"
        for target, _ in imports(module)
        if room(target) != here and room(target) not in ROOMS[here]
    ]


def test_packages_are_entered_through_their_init() -> None:
    reaches = [r for module in sorted(MODULES) for r in private_reaches(module)]
    assert reaches == []


def test_every_arrow_between_rooms_points_down() -> None:
    assert {room(m) for m in MODULES} == set(ROOMS)
    arrows = [a for module in sorted(MODULES) for a in upward_arrows(module)]
    assert arrows == []


def test_the_checks_see_a_reach_and_an_upward_arrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = tmp_path / "_planted.py"
    planted.write_text(
        "from ..request._fast import Req\n"
        "def f():\n"
        "    from ..engine import Engine\n"
        "from .._errors import RequestError\n"
        "from . import _fields\n",
        encoding="utf-8",
    )
    monkeypatch.setitem(MODULES, "usepolicy.policy._planted", planted)
    assert private_reaches("usepolicy.policy._planted") == [
        "usepolicy.policy._planted:1: usepolicy.request._fast"
    ]
    assert upward_arrows("usepolicy.policy._planted") == [
        "usepolicy.policy._planted (policy) -> usepolicy.engine (engine)"
    ]


DOC = SRC.parents[1] / "docs" / "architecture.md"


def _doc_tree() -> list[str]:
    """The module paths the tree in docs/architecture.md lists, in order."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("## The tree, one line per module", 1)[1].split("```", 2)[1]
    paths, folder = [], ""
    for line in block.splitlines():
        if not line.strip():
            continue
        name = line.split()[0]
        if line.startswith("  "):
            paths.append(folder + name)
        elif name.endswith("/"):
            folder = name
        else:
            folder = ""
            paths.append(name)
    return paths


def _doc_rooms() -> dict[str, frozenset[str]]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Allowed import directions", 1)[1].split("\n\n")[1]
    rooms = {}
    for row in table.splitlines()[2:]:
        name, allowed = (cell.strip() for cell in row.strip("|").split("|"))
        allowed = allowed.split(" (")[0]  # a note in brackets follows the rooms
        rooms[name] = frozenset(a.strip() for a in allowed.split(", ") if a != "nothing")
    return rooms


def test_the_architecture_page_lists_every_module_and_the_rooms_of_this_test() -> None:
    listed = _doc_tree()
    actual = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py"))
    assert len(listed) == len(set(listed))
    assert sorted(listed) == actual
    assert _doc_rooms() == ROOMS
