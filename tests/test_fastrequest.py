"""The hot-path validator accepts exactly what the public ``UseRequest`` accepts."""

from __future__ import annotations

from typing import Any

import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usepolicy import RequestError, UseRequest
from usepolicy._fastrequest import request_to_builtins, validate_request
from usepolicy._vocabulary import STANDARD_VOCABULARY, AttributeSpec, Vocabulary

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


# -- a vocabulary that declares attributes -------------------------------------------

_DECLARED = Vocabulary(
    attributes={
        "setting": AttributeSpec("string", ("workplace", "education", "online")),
        "label": AttributeSpec("string"),
        "ratio": AttributeSpec("number"),
        "tier": AttributeSpec("integer"),
        "authorised": AttributeSpec("boolean"),
        "traits": AttributeSpec("list", ("race", "age")),
        "tags": AttributeSpec("list"),
    }
)
_declared_values = st.one_of(
    st.sampled_from(["workplace", "education", "online", "Workplace", "race", "age", ""]),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.sampled_from(["race", "age", "Race", "x"]), max_size=3),
    st.lists(st.integers(0, 2), max_size=2),
    st.none(),
    st.text(max_size=4),
)


@st.composite
def declared_requests(draw: st.DrawFn) -> Any:
    """A valid request whose attributes include declared ones, often with a wrong value."""
    request: dict[str, Any] = draw(requests())
    attributes = dict(request.get("attributes", {}))
    keys = st.sampled_from([*sorted(_DECLARED.attributes or {}), "undeclared"])
    for key in draw(st.sets(keys, max_size=4)):
        attributes[key] = draw(_declared_values)
    request["attributes"] = attributes
    return request


def _pydantic_declared(obj: Any) -> dict[str, Any] | None:
    try:
        return UseRequest.model_validate(obj, context={"vocabulary": _DECLARED}).model_dump(
            mode="json"
        )
    except pydantic.ValidationError:
        return None


def _fast_declared(obj: Any) -> dict[str, Any] | None:
    try:
        return request_to_builtins(validate_request(obj, _DECLARED))
    except RequestError:
        return None


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(declared_requests())
def test_fast_path_and_public_model_agree_on_declared_attributes(obj: Any) -> None:
    fast = _fast_declared(obj)
    assert fast == _pydantic_declared(obj)
    if fast is None:
        return
    for key, value in fast["attributes"].items():
        spec = (_DECLARED.attributes or {}).get(key)
        assert spec is None or spec.accepts(value)


def test_a_declared_attribute_error_names_the_allowed_values() -> None:
    request = {
        "requester": {"organization": "x"},
        "purpose": "general.assistant",
        "attributes": {"setting": "school", "traits": ["race", "Age"], "tier": 1.0, "x": 1},
    }
    try:
        validate_request(request, _DECLARED)
    except RequestError as exc:
        assert [(e.path, e.code) for e in exc.errors] == [
            ("attributes.setting", "bad-attribute-value"),
            ("attributes.traits", "bad-attribute-value"),
            ("attributes.tier", "bad-attribute-value"),
        ]
        assert "one of `workplace`, `education`, `online`, got `'school'`" in exc.errors[0].message
    else:
        raise AssertionError("expected a RequestError")
