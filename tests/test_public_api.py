"""The public surface is exactly ``usepolicy.__all__``, and each name resolves."""

from __future__ import annotations

import importlib
import types

import pytest

import usepolicy


def test_all_names_resolve() -> None:
    for name in usepolicy.__all__:
        assert getattr(usepolicy, name) is not None, name


def test_all_is_unique() -> None:
    assert len(set(usepolicy.__all__)) == len(usepolicy.__all__)


def test_no_private_or_module_leaks() -> None:
    public = {n for n in dir(usepolicy) if not n.startswith("_")}
    submodules = {
        "audit", "cli", "engine", "policy", "testing", "backends", "tlog", "report", "record",
        "request",
    }  # fmt: skip
    assert public - submodules - {"annotations"} <= set(usepolicy.__all__)


PACKAGES = (
    "usepolicy.request",
    "usepolicy.policy",
    "usepolicy.engine",
    "usepolicy.record",
    "usepolicy.audit",
    "usepolicy.audit.postgres",
    "usepolicy.tlog",
    "usepolicy.testing",
    "usepolicy.backends.opa",
)


@pytest.mark.parametrize("name", ["usepolicy", *PACKAGES])
def test_each_package_exports_exactly_what_it_lists(name: str) -> None:
    """A package's ``__all__`` is its door (other packages import only through it):
    listed once, sorted, every name resolving, and nothing public left off it."""
    package = importlib.import_module(name)
    listed = package.__all__
    assert listed == sorted(listed) or listed == sorted(listed, key=_ruff_order)
    assert len(set(listed)) == len(listed)
    for attr in listed:
        assert getattr(package, attr) is not None, f"{name}.{attr}"
    modules = {n for n, v in vars(package).items() if isinstance(v, types.ModuleType)}
    # vars, not dir: a package may narrow dir() to its __all__
    public = {n for n in vars(package) if not n.startswith("_")} - modules - {"annotations"}
    assert public <= set(listed), f"{name} leaks {sorted(public - set(listed))}"


def _ruff_order(name: str) -> tuple[int, str]:
    # ruff's isort-style order for __all__: SCREAMING_CASE, then CamelCase, then the rest
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return (kind, name)
