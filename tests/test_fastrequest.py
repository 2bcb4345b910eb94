"""The hot-path validator accepts exactly what the public ``UseRequest`` accepts."""

from __future__ import annotations

from typing import Any

import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usepolicy import RequestError, UseRequest
from usepolicy._fastrequest import request_to_builtins, validate_request
from usepolicy._vocabulary import STANDARD_VOCABULARY

from .strategies import requests

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["none", "domestic", "bulk", "secret", "US", "us", "", "general.assistant"]),
)
_json = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def mutated_requests(draw: st.DrawFn) -> Any:
    """A valid request with one value replaced by arbitrary JSON (often invalid)."""
    request: dict[str, Any] = draw(requests())
    target = request
    path = draw(
        st.sampled_from(
            [
                ("purpose",),
                ("requester", "organization"),
                ("requester", "country"),
                ("requester", "entity_id"),
                ("model",),
                ("data", "subjects"),
                ("data", "subject_count"),
                ("data", "categories"),
                ("autonomy", "lethal"),
                ("environment", "classification"),
                ("attributes",),
                ("attributes", "k"),
                ("extra",),
                ("data", "extra"),
            ]
        )
    )
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = draw(_json)
    return request


def pydantic_accepts(obj: Any) -> dict[str, Any] | None:
    try:
        return UseRequest.model_validate(obj).model_dump(mode="json")
    except pydantic.ValidationError:
        return None


def fast_accepts(obj: Any) -> dict[str, Any] | None:
    try:
        return request_to_builtins(validate_request(obj, STANDARD_VOCABULARY))
    except RequestError:
        return None


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_requests())
def test_fast_path_and_public_model_agree(obj: Any) -> None:
    assert fast_accepts(obj) == pydantic_accepts(obj)


@settings(max_examples=300)
@given(requests())
def test_valid_requests_round_trip_identically(obj: dict[str, Any]) -> None:
    fast = fast_accepts(obj)
    assert fast is not None
    assert fast == pydantic_accepts(obj)
    assert fast_accepts(fast) == fast
