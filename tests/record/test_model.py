"""Decision records as models (``usepolicy.record.DecisionRecord``): fields, digests, round trips."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy import DecisionRecord
from usepolicy.testing import requests

ENGINE = usepolicy.Engine(usepolicy.load_policy())


def test_record_has_the_design_fields_and_valid_digests() -> None:
    decision = ENGINE.evaluate(
        {
            "requester": {"organization": "A"},
            "purpose": "intelligence.foreign",
            "data": {"subjects": "mixed", "provenance": "targeted"},
        }
    )
    record = decision.record()
    body = record.to_dict()
    assert list(body) == [
        "record_version",
        "decision_id",
        "timestamp",
        "decision",
        "determining_rule",
        "matched_rules",
        "obligations",
        "errors",
        "request",
        "request_digest",
        "policy",
        "engine",
        "prev_digest",
        "record_digest",
    ]
    assert body["decision"] == "allow" and body["determining_rule"] == "intelligence"
    assert body["obligations"][0]["id"] == "minimize-incidental-domestic-data"
    assert body["timestamp"].endswith("Z") and body["prev_digest"] is None
    assert body["request"]["request_id"]  # generated when absent
    expected = "sha256:" + hashlib.sha256(rfc8785.dumps(body["request"])).hexdigest()
    assert body["request_digest"] == expected
    without = {k: v for k, v in body.items() if k != "record_digest"}
    assert body["record_digest"] == "sha256:" + hashlib.sha256(rfc8785.dumps(without)).hexdigest()
    assert body["policy"]["digest"] == ENGINE.policy.digest
    assert body["engine"] == {"name": "usepolicy", "version": usepolicy.__version__}
    assert decision.record() is record  # made once


def test_round_trip_is_lossless() -> None:
    record = ENGINE.evaluate(
        {
            "requester": {"organization": "A"},
            "purpose": "general.assistant",
            "attributes": {"x": 1.5, "y": ["a"], "z": True, "n": 3},
        }
    ).record()
    again = DecisionRecord.from_json(record.to_json())
    assert again == record
    assert again.to_json() == record.to_json()
    assert again.computed_digest() == record.record_digest


def _shuffle(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffle(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffle(v, rng) for v in value]
    return value


@settings(max_examples=150, deadline=None)
@given(requests(), st.integers(), st.sampled_from([None, 0, 2, 5]))
def test_request_digest_ignores_key_order_and_whitespace(
    request: dict[str, Any], seed: int, indent: int | None
) -> None:
    request = {**request, "request_id": "fixed"}
    base = ENGINE.evaluate(request).record().request_digest
    text = json.dumps(_shuffle(request, random.Random(seed)), indent=indent)
    assert ENGINE.evaluate(text).record().request_digest == base


def test_policy_digest_ignores_comments_formatting_and_key_order(tmp_path: Any) -> None:
    a = "usepolicy: 1\nname: t\nversion: '1'\nrules:\n  - {id: r, effect: deny, reason: x, when: {model: m}}\n"
    b = (
        '# comment\nname:   t\nusepolicy: 1\nversion: "1"\n\nrules:\n  - when:\n'
        "      model: {eq: m}\n    reason: x   # why\n    effect: deny\n    id: r\n"
    )
    assert usepolicy.loads_policy(a).digest == usepolicy.loads_policy(b).digest
    c = a.replace("reason: x", "reason: y")
    assert usepolicy.loads_policy(c).digest != usepolicy.loads_policy(a).digest


def test_the_record_package_builds_and_seals_without_pydantic() -> None:
    """Records are built, sealed and stored as plain bodies; the models (and pydantic)
    load only when a record is handed out as an object."""
    import subprocess
    import sys

    code = (
        "import sys, usepolicy\n"
        "from usepolicy.record import seal\n"
        "engine = usepolicy.Engine(usepolicy.load_policy())\n"
        "draft = engine.evaluate({'requester': {'organization': 'A'},"
        " 'purpose': 'cyber.defense'}).record_draft()\n"
        "sealed = seal(draft.body, None, encoded=draft.encoded)\n"
        "print(sealed.digest[:7], sorted(m for m in sys.modules if m.startswith('pydantic')))\n"
        "from usepolicy.record import DecisionRecord\n"
        "print(DecisionRecord.from_body(sealed.body).record_digest == sealed.digest)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["sha256: []", "True"]


def test_every_name_the_record_package_exports_resolves() -> None:
    import usepolicy.record

    for name in usepolicy.record.__all__:
        assert getattr(usepolicy.record, name) is not None, name
    assert len(set(usepolicy.record.__all__)) == len(usepolicy.record.__all__)


@settings(max_examples=60, deadline=None)
@given(requests())
def test_from_body_is_the_same_record_whether_validated_strictly_or_not(
    request: dict[str, Any],
) -> None:
    """``from_body`` validates a built body strictly (the fast path) and anything else
    laxly: both give the same record, field for field and byte for byte."""
    body = ENGINE.evaluate(request).record().to_dict()
    strict = DecisionRecord.from_body(body)
    lax = DecisionRecord.model_validate(body)
    assert strict == lax and strict.model_fields_set == lax.model_fields_set
    assert strict.to_json() == lax.to_json()
    # a body strict validation refuses (tuples for lists) is still a record, the same one
    loose = {**body, "matched_rules": tuple(body["matched_rules"]), "errors": tuple(body["errors"])}
    assert DecisionRecord.from_body(loose) == lax
