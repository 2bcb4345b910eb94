"""``usepolicy.testing`` exports exactly its ``__all__``, each name resolving."""

from __future__ import annotations

import usepolicy.testing


def test_all_names_resolve() -> None:
    assert len(set(usepolicy.testing.__all__)) == len(usepolicy.testing.__all__)
    for name in usepolicy.testing.__all__:
        assert getattr(usepolicy.testing, name) is not None, name


def test_no_private_leaks() -> None:
    public = {n for n in dir(usepolicy.testing) if not n.startswith("_")}
    assert public - {"annotations", "typing"} <= set(usepolicy.testing.__all__)
