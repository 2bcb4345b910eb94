"""Hypothesis strategies for valid requests (test-local)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from usepolicy import (
    STANDARD_PURPOSES,
    AutonomyLevel,
    Category,
    Classification,
    LegalAuthority,
    Network,
    Provenance,
    Subjects,
)

_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30
)
_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,10}", fullmatch=True)
_attr_values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
    st.text(max_size=20),
    st.lists(st.text(max_size=10), max_size=4),
)


def _values(enum: Any) -> st.SearchStrategy[str]:
    return st.sampled_from([m.value for m in enum])


@st.composite
def requests(draw: st.DrawFn, purposes: list[str] | None = None) -> dict[str, Any]:
    """A valid request dict; optional parts are sometimes left out."""
    request: dict[str, Any] = {
        "requester": {"organization": draw(_names)},
        "purpose": draw(st.sampled_from(purposes or sorted(STANDARD_PURPOSES))),
    }
    if draw(st.booleans()):
        request["requester"]["country"] = draw(st.from_regex(r"[A-Z]{2}", fullmatch=True))
    if draw(st.booleans()):
        request["requester"]["entity_id"] = draw(_names)
    if draw(st.booleans()):
        request["model"] = draw(_names)
    if draw(st.booleans()):
        request["description"] = draw(st.text(max_size=40))
    if draw(st.booleans()):
        data: dict[str, Any] = {}
        for key, strategy in (
            ("subjects", _values(Subjects)),
            ("provenance", _values(Provenance)),
            ("subject_count", st.integers(min_value=0, max_value=10**7)),
            ("categories", st.lists(_values(Category), max_size=4)),
            ("legal_authority", _values(LegalAuthority)),
        ):
            if draw(st.booleans()):
                data[key] = draw(strategy)
        request["data"] = data
    if draw(st.booleans()):
        request["autonomy"] = {
            "level": draw(_values(AutonomyLevel)),
            "lethal": draw(st.booleans()),
        }
    if draw(st.booleans()):
        request["environment"] = {
            "network": draw(_values(Network)),
            "classification": draw(_values(Classification)),
        }
    if draw(st.booleans()):
        request["attributes"] = draw(st.dictionaries(_keys, _attr_values, max_size=5))
    return request
