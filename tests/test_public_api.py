"""The public surface is exactly ``usepolicy.__all__``, and each name resolves."""

from __future__ import annotations

import usepolicy


def test_all_names_resolve() -> None:
    for name in usepolicy.__all__:
        assert getattr(usepolicy, name) is not None, name


def test_all_is_unique() -> None:
    assert len(set(usepolicy.__all__)) == len(usepolicy.__all__)


def test_no_private_or_module_leaks() -> None:
    public = {n for n in dir(usepolicy) if not n.startswith("_")}
    submodules = {"audit", "cli", "engine", "policy", "testing", "backends", "tlog", "report"}
    assert public - submodules - {"annotations"} <= set(usepolicy.__all__)


def test_subpackages_export_what_they_list() -> None:
    import usepolicy.audit
    import usepolicy.tlog

    for package in (usepolicy.audit, usepolicy.tlog):
        assert len(set(package.__all__)) == len(package.__all__)
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"
