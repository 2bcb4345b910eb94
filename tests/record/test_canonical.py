"""``canonical_json`` writes exactly the bytes of the RFC 8785 reference (``rfc8785``),
and refuses exactly what it refuses; orjson does the writing wherever it can."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy.record import _canonical as canonical_module
from usepolicy.record import canonical_json, digest

# characters where encoders part ways: escapes, separators, DEL, the private-use and
# specials block (U+E000..U+FFFF) against characters above U+FFFF, lone surrogates
TRICKY = [
    "\x00", "\x01", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1f", " ", '"', "\\", "/",
    "\x7f", "\x80", "\u00e9", "\u2028", "\u2029", "\ud7ff", "\ue000", "\uf8ff", "\ufeff",
    "\ufffd", "\uffff", "\U00010000", "\U0001f600", "\U0010ffff", "\ud800", "\udfff",
]  # fmt: skip
chars = st.one_of(st.sampled_from(TRICKY), st.characters())  # surrogates included
text = st.text(alphabet=chars, max_size=8)


def _string_pool(size: int = 4000) -> list[str]:
    """Strings made of the tricky characters and random ones from every plane (one in a
    hundred with a lone surrogate), drawn once: a string is then one draw for
    hypothesis instead of one per character."""
    rng = random.Random(8785)
    valid = [c for c in TRICKY if not 0xD800 <= ord(c) <= 0xDFFF]

    def char() -> str:
        if rng.random() < 0.4:
            return rng.choice(valid)
        code = rng.randrange(0x110000 - 0x800)
        return chr(code if code < 0xD800 else code + 0x800)  # no surrogate

    pool = ["", "a", "é"]
    while len(pool) < size:
        word = "".join(char() for _ in range(rng.randint(1, 6)))
        if rng.random() < 0.01:
            word += rng.choice(["\ud800", "\udfff"])
        pool.append(word)
    return pool


strings = st.sampled_from(_string_pool())
floats = st.one_of(
    st.floats(),  # NaN and infinities too: both must refuse them
    st.sampled_from([0.0, -0.0, 1e16, 1e21, 1e-7, 1e-6, 5e-324, 1.7976931348623157e308, 100.0]),
)
integers = st.one_of(
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.sampled_from([2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 2**64, -(2**64)]),
    st.integers(),
)
scalars = st.one_of(st.none(), st.booleans(), integers, floats, strings)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(strings, inner, max_size=5),
    ),
    max_leaves=16,
)


def reference(value: Any) -> bytes | type[ValueError]:
    try:
        return rfc8785.dumps(value)
    except ValueError:  # rfc8785.CanonicalizationError and its kinds
        return ValueError


def ours(value: Any) -> bytes | type[ValueError]:
    try:
        return canonical_json(value)
    except ValueError:
        return ValueError


@settings(max_examples=1000, deadline=None)
@given(values)
def test_canonical_json_is_the_reference(value: Any) -> None:
    assert ours(value) == reference(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "\U0001f600": 2},  # UTF-16 puts the emoji first, code points last
        {"a\ue000": 1, "a\U0001f600": 2, "b": [1.5, {"\uffff": None, "\U00010000": 0}]},
        [100.0, 1e16, -0.0, 1e21, 1e-7, 0.000001, 5e-324, 123456789.125],
        '\x00\x1f\x7f\u2028\u2029"\\/\b\f\n\r\t',
        {"nested": [[[[{"deep": 1.25}]]]]},
        (1, "tuple"),
        {"k": True, "n": None, "i": 2**53 - 1, "j": -(2**53) + 1},
    ],
)
def test_known_divergences_of_orjson_are_written_as_the_reference_writes_them(value: Any):
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), [float("-inf")], 2**53, {"x": -(2**53)}, "\ud800", {"\udfff": 1}],
)
def test_what_rfc_8785_cannot_write_is_refused(value: Any):
    with pytest.raises(ValueError):
        rfc8785.dumps(value)
    with pytest.raises(ValueError):
        canonical_json(value)


def test_values_orjson_writes_its_own_way_go_to_the_reference():
    class Text(str):
        pass

    value = {Text("key"): Text("value"), "e": usepolicy.Effect.ALLOW, "nested": [Text("x")]}
    assert (
        canonical_json(value)
        == rfc8785.dumps(value)
        == b'{"e":"allow","key":"value","nested":["x"]}'
    )


def test_digest_is_sha256_of_the_canonical_json():
    value = {"b": [1.5, "é"], "a": None}
    assert digest(value) == "sha256:" + hashlib.sha256(rfc8785.dumps(value)).hexdigest()


class _NoReference:
    @staticmethod
    def dumps(value: Any) -> bytes:
        raise AssertionError(f"the reference wrote a whole value: {value!r}")


def test_records_are_written_by_orjson_with_only_floats_from_the_reference(
    monkeypatch: pytest.MonkeyPatch,
):
    """The fast path is the path: a typical record (floats included) never falls back
    to the reference for the whole value, which costs some 50 times as much."""
    monkeypatch.setattr(canonical_module, "rfc8785", _NoReference)
    engine = usepolicy.Engine(usepolicy.load_policy())
    request = {
        "requester": {"organization": "Army Intelligence Center \u00e9 \U0001f600"},
        "purpose": "intelligence.foreign",
        "data": {"subjects": "mixed", "provenance": "targeted"},
        "attributes": {"score": 0.75, "tier": 2, "tags": ["a", "\u2028"]},
    }
    record = engine.evaluate(request).record()
    assert record.computed_digest() == record.record_digest
    assert canonical_json(record.to_dict()) == record.to_json().encode()
    usepolicy.Enforcer(engine, audit_log=usepolicy.MemorySink()).check(request)
