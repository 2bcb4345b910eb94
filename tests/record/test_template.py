"""A record sealed from its outcome's template is the record sealed from its whole body,
byte for byte, and the RFC 8785 reference writes the same line; its ``DecisionRecord``,
assembled from the template's parts, is the one pydantic validates from the body."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy.record import DecisionRecord, decision_draft, record_of, seal
from usepolicy.record import _template as template_module
from usepolicy.testing import requests

# texts where encoders part ways: escapes, separators, DEL, U+E000..U+FFFF beside
# characters above U+FFFF (their keys sort differently in UTF-16)
TRICKY = '\x00\x01\x1f "\\/\x7f\x80é\u2028\u2029\ue000\uffff\U00010000\U0001f600'
texts = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(codec="utf-8"), max_size=6)
keys = st.text(
    alphabet=st.sampled_from(TRICKY) | st.characters(codec="utf-8"), min_size=1, max_size=4
)
param_values = st.one_of(
    texts,
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 9), max_size=2),
)
PURPOSES = ["intelligence.foreign", "intelligence.analysis", "military.planning", "cyber.defense"]


@st.composite
def policy_texts(draw: st.DrawFn) -> str:
    """Policies whose records hold what a template must write as canonical JSON: texts
    with escapes and characters from every plane, obligation parameters of every JSON
    type (floats among them), dry-run rules, references or none."""
    rules = []
    for n in range(draw(st.integers(1, 4))):
        effect = draw(st.sampled_from(["allow", "deny"]))
        rule: dict[str, Any] = {
            "id": f"rule-{n}",
            "effect": effect,
            "reason": draw(texts) or "why",
            "when": {
                "purpose": {"in": draw(st.lists(st.sampled_from(PURPOSES), min_size=1, max_size=3))}
            },
        }
        if draw(st.booleans()):
            rule["reference"] = draw(texts) or "where"
        if effect == "deny" and draw(st.booleans()):
            rule["enforcement"] = "dryrun"
        elif effect == "allow" and draw(st.booleans()):
            rule["obligations"] = [
                {"id": f"ob-{n}", "with": draw(st.dictionaries(keys, param_values, max_size=3))}
            ]
        rules.append(rule)
    document = {
        "usepolicy": 1,
        "name": "templates",
        "version": draw(texts) or "1",
        "default": draw(st.sampled_from(["allow", "deny"])),
        "combine": draw(st.sampled_from(["deny-overrides", "first-match"])),
        "rules": rules,
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


signers = st.sampled_from([None, "signed"])
prevs = st.one_of(st.none(), st.just("sha256:" + "ab" * 32), texts)


def _sealed_both_ways(draft: Any, prev: str | None, signer: Any) -> tuple[Any, Any]:
    from_template = draft.seal(prev, signer)
    whole = seal(draft.body, prev, signer)  # no template, nothing encoded before
    return from_template, whole


def _assert_same(from_template: Any, whole: Any) -> None:
    assert from_template.line == whole.line
    assert from_template.body == whole.body and list(from_template.body) == list(whole.body)
    assert from_template.line == rfc8785.dumps(whole.body)  # the reference, not ours
    record, validated = record_of(from_template), DecisionRecord.model_validate(whole.body)
    assert record == validated
    assert record.model_fields_set == validated.model_fields_set
    assert record.to_dict() == whole.body and record.to_json() == whole.line.decode()


@pytest.fixture(scope="module")
def signer() -> Any:
    pytest.importorskip("cryptography")
    from usepolicy.audit import Signer

    return Signer.generate()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=policy_texts(), data=st.data(), prev=prevs, signed=signers)
def test_a_record_sealed_from_its_template_is_the_record_sealed_whole(
    text: str, data: st.DataObject, prev: str | None, signed: str | None, signer: Any
) -> None:
    engine = usepolicy.Engine(usepolicy.loads_policy(text, "<generated>"))
    request = data.draw(requests(purposes=PURPOSES))
    decision = engine.evaluate(request)
    for _ in range(2):  # the template made, then the template taken from the cache
        draft = decision.record_draft(decision_id=data.draw(texts) or None)
        assert draft.template is not None  # no error: every decision of it has one
        from_template, whole = _sealed_both_ways(draft, prev, signer if signed else None)
        assert from_template.template is draft.template
        _assert_same(from_template, whole)


@settings(max_examples=100, deadline=None)
@given(request=requests(), prev=prevs)
def test_the_reference_packs_records_from_templates(
    request: dict[str, Any], prev: str | None
) -> None:
    for engine in PACKS:
        draft = engine.evaluate(request).record_draft()
        from_template, whole = _sealed_both_ways(draft, prev, None)
        _assert_same(from_template, whole)


PACKS = [
    usepolicy.Engine(usepolicy.load_policy(f"pack:{name}"))
    for name in ("national-security-safeguards", "any-lawful-use", "eu-ai-act-prohibited")
]


def test_a_decision_id_only_the_reference_refuses_is_refused_the_same_way():
    request = {**_REQUEST, "request_id": "ticket-1"}  # else the id is the request's too
    draft = PACKS[0].evaluate(request).record_draft(decision_id="lone \ud800 surrogate")
    assert draft.template is not None
    with pytest.raises(ValueError):
        seal(draft.body, None)
    with pytest.raises(ValueError):
        draft.seal(None)


def test_a_stand_in_found_in_the_policy_means_no_template(monkeypatch: pytest.MonkeyPatch):
    """The pieces are cut where random stand-ins stand; a policy holding the stand-in's
    text (never by chance: 128 random bits) gets no template, and its records are
    sealed whole, the same bytes."""
    token = "0123456789abcdef" * 2
    monkeypatch.setattr(template_module.secrets, "token_hex", lambda n: token)
    monkeypatch.setattr(template_module, "_templates", {})
    text = yaml.safe_dump(
        {
            "usepolicy": 1,
            "name": "stand-in",
            "version": "1",
            "default": "deny",
            "rules": [
                {
                    "id": "r",
                    "effect": "allow",
                    "reason": f"{token}.0",
                    "when": {"purpose": PURPOSES[0]},
                }
            ],
        }
    )
    engine = usepolicy.Engine(usepolicy.loads_policy(text, "<stand-in>"))
    draft = engine.evaluate(_REQUEST).record_draft()
    assert draft.template is None
    sealed = draft.seal(None)
    assert sealed.template is None and sealed.line == rfc8785.dumps(sealed.body)


def test_only_a_decision_without_errors_of_a_validated_request_has_a_template():
    policy = PACKS[0].policy
    common: dict[str, Any] = dict(
        decision="deny", determining_rule=None, matched_rules=[], obligations=[],
        request=dict(json.loads(json.dumps(PACKS[0].evaluate(_REQUEST).request))),
        policy=policy, encoded={"matched_rules": b"[]", "obligations": b"[]", "errors": b"[]"},
    )  # fmt: skip
    assert decision_draft(errors=[], validated=True, **_fresh(common)).template is not None
    errors = [{"code": "evaluation-error", "message": "a message of this request"}]
    assert decision_draft(errors=errors, validated=True, **_fresh(common)).template is None
    assert decision_draft(errors=[], validated=False, **_fresh(common)).template is None


def test_the_cache_of_templates_starts_again_when_full(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(template_module, "TEMPLATES_MAX", 2)
    monkeypatch.setattr(template_module, "_templates", {})
    for n in range(5):
        draft = PACKS[0].evaluate(_REQUEST).record_draft()
        template_module.template_for(("outcome", n), draft.body)
        assert len(template_module._templates) <= 2


def _fresh(common: dict[str, Any]) -> dict[str, Any]:
    return {**common, "request": dict(common["request"]), "encoded": dict(common["encoded"])}


_REQUEST = {
    "requester": {"organization": "Army Intelligence Center", "country": "US"},
    "purpose": "intelligence.foreign",
    "data": {"subjects": "foreign", "provenance": "targeted", "subject_count": 12},
    "autonomy": {"level": "none"},
    "attributes": {"program": "ALPHA", "ratio": 0.1, "big": 1e15},
}


def test_an_assembled_record_behaves_as_a_validated_one():
    """``record_of`` builds the model without validating again: it must still be a whole
    pydantic model (frozen, copied, pickled, dumped as one that pydantic validated)."""
    import pickle

    import pydantic

    sealed = PACKS[0].evaluate(_REQUEST).record_draft().seal("sha256:" + "0" * 64)
    assert sealed.template is not None
    record, validated = record_of(sealed), DecisionRecord.model_validate(sealed.body)
    assert record.model_dump_json() == validated.model_dump_json()
    assert pickle.loads(pickle.dumps(record)) == validated
    assert record.model_copy(update={"decision_id": "x"}).decision_id == "x"
    with pytest.raises(pydantic.ValidationError):
        record.decision_id = "changed"  # type: ignore[misc]
    record.matched_rules.clear()  # its lists are its own: the next record is whole
    assert record_of(sealed).matched_rules == validated.matched_rules
