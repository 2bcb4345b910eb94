"""The hot-path validator accepts exactly what the public ``UseRequest`` accepts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usepolicy import RequestError, UseRequest
from usepolicy.record import canonical_json
from usepolicy.request._fast import request_to_builtins, validate_many, validate_request
from usepolicy.request._vocabulary import STANDARD_VOCABULARY, AttributeSpec, Vocabulary
from usepolicy.testing import requests

from ..hostile import LyingStr, nested, nested_dicts

_surrogates = st.sampled_from(["\ud800", "a\udfff", "\udc00b", "\ud83d", "\udfff" * 3])
#: what a hostile caller passes (issue 12, item 5): lone surrogates, integers of
#: thousands of digits, values nested thousands deep
_hostile_scalars = st.one_of(
    _surrogates,
    # built, not listed: hypothesis describes a strategy by repr, which a huge int fails
    st.tuples(st.sampled_from([1, -1]), st.sampled_from([5000, 700, 16])).map(
        lambda sign_digits: sign_digits[0] * 10 ** sign_digits[1]
    ),
    st.sampled_from([2**53, 2**64, 10**15 + 1]),
    st.builds(nested, st.sampled_from([40, 5000])),
    st.builds(nested_dicts, st.sampled_from([40, 5000])),
)
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["none", "domestic", "bulk", "secret", "US", "us", "", "general.assistant"]),
    _hostile_scalars,
)
_json = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=6) | _surrogates, children, max_size=3)
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


class _Str(str):
    __slots__ = ()


class _List(list[Any]):
    pass


class _Dict(dict[Any, Any]):
    pass


_STRINGS: tuple[Any, ...] = (_Str, LyingStr)
_KEYS: tuple[Any, ...] = (_Str,)  # a lying key is simply a different key
_LISTS: tuple[Any, ...] = (_List, tuple, set, frozenset)
_DICTS: tuple[Any, ...] = (_Dict, OrderedDict, MappingProxyType)


#: a request is at most four levels deep; deeper (hostile) values are left as they are
_RETYPE_DEPTH = 4


def _count(value: Any, keys: bool, depth: int = 0) -> int:
    """How many strings, lists and dicts (and keys) ``value`` holds, itself included."""
    if depth > _RETYPE_DEPTH:
        return 0
    if isinstance(value, dict):
        return 1 + sum(keys + _count(v, keys, depth + 1) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_count(v, keys, depth + 1) for v in value)
    return 1 if isinstance(value, str) else 0


class _Retype:
    """Replace the nodes numbered in ``targets`` (in ``_count`` order) by other Python
    types for the same JSON: ``str`` subclasses, tuples, sets, other mappings."""

    def __init__(self, draw: st.DrawFn, targets: set[int], keys: bool) -> None:
        self.draw = draw
        self.targets = targets
        self.keys = keys
        self.seen = -1

    def hit(self) -> bool:
        self.seen += 1
        return self.seen in self.targets

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > _RETYPE_DEPTH:
            return value
        if isinstance(value, dict):
            hit = self.hit()
            pairs = {}
            for k, v in value.items():
                key = self.draw(st.sampled_from(_KEYS))(k) if self.keys and self.hit() else k
                pairs[key] = self(v, depth + 1)
            return self.draw(st.sampled_from(_DICTS))(pairs) if hit else pairs
        if isinstance(value, list):
            hit = self.hit()
            items = [self(item, depth + 1) for item in value]
            if not hit:
                return items
            hashable = all(isinstance(i, str) for i in items)
            return self.draw(st.sampled_from(_LISTS if hashable else _LISTS[:2]))(items)
        if isinstance(value, str) and self.hit():
            return self.draw(st.sampled_from(_STRINGS))(value)
        return value


def _retyped(draw: st.DrawFn, request: dict[str, Any]) -> Any:
    """``request`` with one to three of its parts retyped (see ``_Retype``)."""
    # msgspec refuses a key subclass: the model decides
    keys = draw(st.sampled_from([False, False, False, True]))
    size = _count(request, keys)
    # not the request itself (0): anything but a plain dict goes straight to the model
    targets = draw(st.sets(st.sampled_from(range(1, size)), min_size=1, max_size=3))
    return _Retype(draw, targets, keys)(request)


@st.composite
def hostile_requests(draw: st.DrawFn) -> Any:
    """A request as a hostile caller might pass it: a valid one retyped, or one with a
    hostile value or key in one place, or both."""
    how = draw(st.sampled_from(["retyped", "hostile", "both"]))
    if how == "retyped":
        return _retyped(draw, draw(requests()))
    request: Any = draw(st.one_of(requests(), mutated_requests()))
    target = request
    for key in draw(st.sampled_from([(), ("data",), ("attributes",), ("requester",)])):
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            break
    else:
        key = draw(st.one_of(_surrogates, st.sampled_from(["a.b", "x" * 200, "k"])))
        target[key] = draw(st.one_of(_hostile_scalars, _json))
    return _retyped(draw, request) if how == "both" else request


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_requests())
def test_hostile_requests_get_one_verdict_from_both_validators(obj: Any) -> None:
    fast = fast_accepts(obj)  # anything but RequestError fails the test
    assert fast == pydantic_accepts(obj)  # anything but ValidationError fails the test
    try:
        many = [request_to_builtins(r) for r in validate_many([obj, obj], STANDARD_VOCABULARY)]
    except RequestError:
        many = None
    assert many == (None if fast is None else [fast, fast])
    if fast is not None:
        canonical_json(fast)  # plain JSON types only: the record can be written


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


def test_threads_taking_their_first_requests_at_once() -> None:
    """The first conversion builds msgspec's type information, calling back into Python:
    sixteen threads doing it at once crashed the interpreter (a segmentation fault, in
    every run with a short switch interval) until the module built it at import."""
    script = textwrap.dedent(
        """
        import sys, threading
        sys.setswitchinterval(1e-6)
        import usepolicy
        engine = usepolicy.Engine(usepolicy.load_policy())
        request = {"requester": {"organization": "Army Intelligence Center",
                   "country": "US"}, "purpose": "intelligence.foreign",
                   "attributes": {"program": "ALPHA", "tier": 2}}
        start = threading.Barrier(16)
        def decide():
            start.wait()
            for _ in range(20):
                engine.evaluate(request)
        threads = [threading.Thread(target=decide) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print("decided")
        """
    )
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-X", "faulthandler", "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (done.returncode, done.stdout.strip()) == (0, "decided"), done.stderr[-2000:]
