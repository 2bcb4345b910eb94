"""``seal``: a record's digest and line are exactly those RFC 8785's reference makes;
a log written by usepolicy 0.1.0 (``fixtures/log-0.1.0.jsonl``, see
``fixtures/write_log.py``) is sealed again byte for byte, verifies, and goes on."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy import AuditLog, DecisionRecord
from usepolicy.audit import Signer, Verifier, read_records, verify_log
from usepolicy.record import Draft, canonical_json, seal
from usepolicy.record import _seal as seal_module
from usepolicy.testing import requests

from .test_canonical import _string_pool, scalars, strings

FIXTURES = Path(__file__).parent / "fixtures"
LOG = FIXTURES / "log-0.1.0.jsonl"
RECORDS = 316
ENGINE = usepolicy.Engine(usepolicy.load_policy())


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


small = st.recursive(  # JSON values of a few leaves: what requests and parameters hold
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
    max_leaves=8,
)
rules = st.builds(
    lambda id_, effect, reason, reference: {
        "id": id_, "effect": effect, "reason": reason, "reference": reference
    },
    strings, st.sampled_from(["allow", "deny"]), strings, st.none() | strings,
)  # fmt: skip
bodies = st.builds(
    lambda rule, obligation, error, request, redacted: {
        "record_version": 1,
        "decision_id": "d9b4c82c-7ae1-44c7-8f7c-dd64c0ff738b",
        "timestamp": "2026-11-23T13:45:31.394372Z",
        "decision": rule["effect"],
        "determining_rule": rule["id"],
        "matched_rules": [rule],
        "obligations": [{"id": "o", "with": obligation, "rule": rule["id"]}],
        "errors": [error] if error else [],
        "request": request,
        "request_digest": "sha256:" + "1" * 64,
        "policy": {"name": "p", "version": rule["reason"], "digest": "sha256:" + "2" * 64},
        "engine": {"name": "usepolicy", "version": "0.1.0"},
        "prev_digest": None,
        **({"redacted": redacted} if redacted else {}),
    },
    rules,
    st.dictionaries(strings, small, max_size=3),
    st.none() | st.builds(lambda m: {"code": "c", "message": m}, strings),
    st.none() | st.dictionaries(strings, small, max_size=5),
    st.lists(strings, max_size=2),
)


def expected(body: dict[str, Any], prev: str | None) -> tuple[str, bytes] | None:
    """(digest, line) by the reference encoder alone; None if it refuses the body."""
    content = {**body, "prev_digest": prev}
    try:
        record_digest = sha256(rfc8785.dumps(content))
        return record_digest, rfc8785.dumps({**content, "record_digest": record_digest})
    except ValueError:
        return None


def check_seal(body: dict[str, Any], prev: str | None, pre: bool) -> None:
    want = expected(body, prev)
    if want is None:
        with pytest.raises(ValueError):
            seal(body, prev)
        return
    encoded = {"request": canonical_json(body["request"])} if pre else {}
    sealed = seal(body, prev, encoded=encoded)
    assert (sealed.digest, sealed.line) == want
    assert sealed.body["prev_digest"] == prev and sealed.body["record_digest"] == want[0]


@settings(max_examples=1000, deadline=None)
@given(bodies, st.none() | strings, st.booleans())
def test_sealed_records_are_the_reference_bytes(body: dict[str, Any], prev: str | None, pre: bool):
    """Generated records (unicode keys and values, floats, big integers in their
    requests and obligation parameters): equal digests and lines, byte for byte, or both
    refused; with the request's canonical JSON made beforehand or not."""
    check_seal(body, prev, pre)


POOL = _string_pool()
# without U+E000..U+FFFF, so that orjson alone writes (most of) these records
BMP_SAFE = [w for w in POOL if not any("\ue000" <= c <= "\uffff" for c in w)]
EDGE_FLOATS = [0.0, -0.0, 1e16, 1e21, 1e-7, 1e-6, 5e-324, 2.5e-308, 1.7976931348623157e308]


def random_value(rng: random.Random, pool: list[str], depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:  # now and then beyond 2**53, where both must refuse
        big = rng.random() < 0.02
        return rng.randint(-(2**70), 2**70) if big else rng.randint(-(2**53) + 1, 2**53 - 1)
    if kind == 2:  # now and then NaN or an infinity, where both must refuse
        if rng.random() < 0.01:
            return rng.choice([float("nan"), float("inf"), float("-inf")])
        return rng.choice(
            [rng.choice(EDGE_FLOATS), rng.random() * 10 ** rng.randint(-30, 30), -rng.random()]
        )
    if kind < 6:
        return rng.choice(pool)
    if kind < 8:
        return {
            rng.choice(pool): random_value(rng, pool, depth + 1) for _ in range(rng.randrange(5))
        }
    return [random_value(rng, pool, depth + 1) for _ in range(rng.randrange(4))]


def random_body(rng: random.Random) -> dict[str, Any]:
    pool = POOL if rng.random() < 0.5 else BMP_SAFE
    rule = {
        "id": rng.choice(pool),
        "effect": rng.choice(["allow", "deny"]),
        "reason": rng.choice(pool),
        "reference": rng.choice([None, *rng.sample(pool, 2)]),
    }
    request = {rng.choice(pool): random_value(rng, pool, 1) for _ in range(rng.randrange(7))}
    body = {
        "record_version": 1,
        "decision_id": rng.choice(pool),
        "timestamp": "2026-11-23T13:45:31.394372Z",
        "decision": rule["effect"],
        "determining_rule": rule["id"],
        "matched_rules": [rule],
        "obligations": [
            {
                "id": "o",
                "with": random_value(rng, pool, 2) if rng.random() < 0.5 else {},
                "rule": "r",
            }
        ],
        "errors": [{"code": "c", "message": rng.choice(pool)}] * rng.randrange(2),
        "request": request if rng.random() < 0.9 else None,
        "request_digest": "sha256:" + "1" * 64,
        "policy": {"name": "p", "version": rng.choice(pool), "digest": "sha256:" + "2" * 64},
        "engine": {"name": "usepolicy", "version": "0.1.0"},
        "prev_digest": None,
    }
    if rng.random() < 0.2:
        body["redacted"] = rng.sample(pool, 2)
    return body


@settings(max_examples=10_000, deadline=None)
@given(st.randoms(use_true_random=True))
def test_ten_thousand_records_are_the_reference_bytes(rng: random.Random):
    """Ten thousand records with random unicode keys and values (every plane, the
    characters where encoders part ways), floats (edge ones, NaN and infinities too) and
    integers beyond 2**53, built from a seed hypothesis draws (a generated record costs
    a few microseconds this way, not the milliseconds of a structured draw)."""
    check_seal(random_body(rng), rng.choice([None, "sha256:" + "3" * 64]), rng.random() < 0.5)


@settings(max_examples=300, deadline=None)
@given(requests())
def test_engine_records_are_the_reference_bytes(request: dict[str, Any]):
    """The engine's records take shortcuts (the validated request, matched rules encoded
    once): they land on the reference bytes all the same."""
    record = ENGINE.evaluate(request).record()
    body = record.to_dict()
    assert body["request_digest"] == sha256(rfc8785.dumps(body["request"]))
    content = {k: v for k, v in body.items() if k != "record_digest"}
    assert record.record_digest == sha256(rfc8785.dumps(content))
    assert record.to_json().encode() == rfc8785.dumps(body)


def test_a_typical_record_is_sealed_by_the_fast_path(monkeypatch: pytest.MonkeyPatch):
    """Sealing falls back to encoding the whole body again only where it must: a bug
    that sent every record there (as one did) would pass every equality test above."""

    def refuse(value: Any) -> bytes:
        raise AssertionError("sealed by the slow path")

    monkeypatch.setattr(seal_module, "canonical_json", refuse)
    request = {
        "requester": {"organization": "A \U0001f600"},
        "purpose": "intelligence.foreign",
        "data": {"subjects": "mixed", "provenance": "targeted"},
        "attributes": {"score": 0.5},
    }
    draft = ENGINE.evaluate(request).record_draft()
    assert set(draft.encoded) == {"matched_rules", "obligations", "errors", "request"}
    sealed = seal(draft.body, "sha256:" + "0" * 64, Signer.generate(), encoded=draft.encoded)
    assert sealed.line == rfc8785.dumps(sealed.body)


def test_a_signer_signs_the_digest():
    signer = Signer.generate()
    draft = ENGINE.evaluate({"requester": {"organization": "A"}, "purpose": "cyber.defense"})
    sealed = seal(draft.record_draft().body, None, signer)
    record = DecisionRecord.from_body(sealed.body)
    assert signer.verifier().problem(record) is None
    assert sealed.line == rfc8785.dumps(sealed.body)


def test_seal_replaces_chain_fields_and_keeps_the_body():
    body = (
        ENGINE.evaluate({"requester": {"organization": "A"}, "purpose": "cyber.defense"})
        .record_draft()
        .body
    )
    first = seal({**body, "record_digest": "x", "signature": {"a": "b"}}, "sha256:prev")
    assert "signature" not in first.body and first.body["prev_digest"] == "sha256:prev"
    assert first.digest == seal(body, "sha256:prev").digest
    assert "record_digest" not in body  # the body given is not changed
    assert Draft(body).encoded == {}


# -- the log 0.1.0 wrote ------------------------------------------------------------------
def test_the_fixture_log_verifies_with_its_signatures() -> None:
    result = verify_log(LOG)
    assert result.ok, result
    assert (result.count, result.signed) == (RECORDS, 60)
    verifier = Verifier.from_file(FIXTURES / "log-0.1.0.key.pub")
    signed = [record for _, record in read_records(LOG) if record.signature is not None]
    assert len(signed) == 60
    assert all(verifier.problem(record) is None for record in signed)


def test_each_line_of_the_fixture_log_is_sealed_again_byte_for_byte() -> None:
    lines = LOG.read_bytes().splitlines()
    assert len(lines) == RECORDS
    prev = None
    for line in lines:
        body = json.loads(line)
        sealed = seal(body, prev)
        assert sealed.digest == body["record_digest"]
        assert canonical_json({**sealed.body, **body}) == line
        if "signature" not in body:
            assert sealed.line == line
        record = DecisionRecord.from_json(line)
        assert record.to_json().encode("utf-8") == line
        prev = sealed.digest


def test_the_fixture_log_goes_on(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    shutil.copyfile(LOG, log)
    head = verify_log(LOG).head
    with AuditLog(log) as sink:
        stored = sink.append(
            ENGINE.evaluate(
                {"requester": {"organization": "A"}, "purpose": "cyber.defense"}
            ).record()
        )
    assert stored.prev_digest == head
    result = verify_log(log)
    assert (result.ok, result.count) == (True, RECORDS + 1)
