"""Hostile or garbage input never escapes as anything but a clean usepolicy error."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy import PolicyError, RequestError, loads_policy

_yamlish = st.text(
    alphabet=st.sampled_from(
        [*list("usepolicy: 1\nname-rules[]{}&*!|>-'\"#%@`,?~\t 0123456789."), "\x00", "é"]
    ),
    max_size=200,
)


@settings(max_examples=400, deadline=None)
@given(_yamlish)
def test_any_text_loads_or_fails_with_diagnostics(text: str) -> None:
    try:
        policy = loads_policy(text)
    except PolicyError as exc:
        assert exc.diagnostics
        for diag in exc.diagnostics:
            assert diag.line >= 1 and diag.col >= 1
            assert "\n" not in str(diag)
    else:
        assert policy.digest.startswith("sha256:")


_HEAD = "usepolicy: 1\nname: fuzz\nrules:\n  - id: r\n    effect: deny\n    reason: x\n    when:\n      "


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([*sorted(usepolicy.policy.FIELDS), "attributes.k", "description", "nope"]),
    st.sampled_from([*list(usepolicy.policy.OPERATORS), "bogus"]),
    st.one_of(
        st.integers(), st.booleans(), st.text(max_size=5), st.lists(st.text(max_size=3), max_size=3)
    ),
)
def test_any_field_operator_operand_combination_is_checked_at_load(
    field: str, op: str, operand: Any
) -> None:
    import json

    text = _HEAD + f"{field}: {{{op}: {json.dumps(operand)}}}\n"
    try:
        engine = usepolicy.Engine(loads_policy(text))
    except PolicyError:
        return
    decision = engine.evaluate(
        {
            "requester": {"organization": "a"},
            "purpose": "general.assistant",
            "attributes": {"k": "v"},
        }
    )
    assert decision.effect in (usepolicy.Effect.ALLOW, usepolicy.Effect.DENY)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_request_bytes_decide_or_fail_cleanly(raw: bytes) -> None:
    engine = _ENGINE
    try:
        decision = engine.evaluate(raw)
    except RequestError as exc:
        assert exc.errors
    else:
        assert decision.effect in (usepolicy.Effect.ALLOW, usepolicy.Effect.DENY)


_ENGINE = usepolicy.Engine(usepolicy.load_policy())
