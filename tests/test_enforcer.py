"""Enforcer: decide, log, enforce; invalid input and a failing log are logged or denied."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import usepolicy
from usepolicy import (
    AuditError,
    AuditLog,
    DecisionRecord,
    Enforcer,
    MemorySink,
    Sink,
    UseDenied,
    UsePolicyError,
)
from usepolicy._errors import RequestError
from usepolicy._record import RecordObligation, digest
from usepolicy.audit import Signer, verify_log

from .hostile import INVALID, INVALID_TEXT, SUBCLASSED, many_unknown_keys

ALLOWED: dict[str, Any] = {
    "requester": {"organization": "Army Intelligence Center"},
    "purpose": "intelligence.foreign",
    "data": {"subjects": "mixed", "provenance": "targeted"},
}
DENIED: dict[str, Any] = {
    "requester": {"organization": "Joint Analysis Cell"},
    "purpose": "intelligence.analysis",
    "data": {"subjects": "domestic", "provenance": "commercial"},
}


class BrokenSink:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def append(self, record: DecisionRecord) -> DecisionRecord:
        raise self.exc


def test_check_logs_and_returns_the_stored_record(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=path) as guard:
        allowed = guard.check(ALLOWED)
        denied = guard.check(json.dumps(DENIED))
    assert allowed.allowed and allowed.determining_rule == "intelligence"
    assert not denied.allowed and denied.determining_rule == "no-mass-domestic-surveillance"
    assert denied.prev_digest == allowed.record_digest
    assert path.read_text().splitlines() == [allowed.to_json(), denied.to_json()]
    assert verify_log(path).count == 2


def test_obligations_are_typed(tmp_path: Path):
    guard = Enforcer(audit_log=MemorySink())
    record = guard.require(ALLOWED)
    assert [type(o) for o in record.obligations] == [RecordObligation]
    assert record.obligations[0].id == "minimize-incidental-domestic-data"
    assert record.obligations[0].rule == "intelligence"


def test_require_raises_use_denied_with_the_logged_record():
    sink = MemorySink()
    guard = Enforcer(audit_log=sink)
    assert guard.require(ALLOWED).allowed
    with pytest.raises(UseDenied) as caught:
        guard.require(DENIED)
    assert isinstance(caught.value, UsePolicyError)
    assert caught.value.code == "use-denied"
    assert caught.value.record == sink.records[-1]
    assert "no-mass-domestic-surveillance" in str(caught.value)


def test_an_invalid_request_is_a_logged_deny(tmp_path: Path):
    sink = MemorySink()
    guard = Enforcer(audit_log=sink)
    raw = {"requester": {}, "purpose": "nonsense.purpose", "extra": 1}
    record = guard.check(raw)
    assert record == sink.records[0]
    assert record.decision == "deny"
    assert record.request is None
    assert record.request_digest == digest(raw)
    assert {e.code for e in record.errors} == {"invalid-request"}
    messages = " ".join(e.message for e in record.errors)
    for field in ("requester.organization", "purpose", "extra"):
        assert field in messages
    assert record.policy.name == "national-security-safeguards"
    with pytest.raises(UseDenied, match="invalid-request"):
        guard.require(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"purpose": 1}', digest({"purpose": 1})),  # JSON text: the digest of its value
        (b"{not json", digest("{not json")),  # not JSON: the digest of the text
        (b"\xff\xfe", None),  # not even text
        ({"when": object()}, None),  # not JSON-serializable
        (None, digest(None)),
    ],
)
def test_an_invalid_input_is_digested_when_it_is_json(raw: Any, expected: str | None):
    record = Enforcer(audit_log=MemorySink()).check(raw)
    assert record.decision == "deny"
    assert record.request_digest == expected
    assert record.errors


_HOSTILE = [*INVALID, *INVALID_TEXT, ("many-unknown-keys", many_unknown_keys(110_000))]  # 1 MB


@pytest.mark.parametrize(("case", "raw"), _HOSTILE, ids=[c for c, _ in _HOSTILE])
def test_a_hostile_request_is_a_logged_deny_with_a_small_record(
    case: str, raw: Any, tmp_path: Path
):
    """Issue 12: these raised UnicodeEncodeError, ValueError or RecursionError, or logged
    a 24 MB record; each is now a deny whose record is written and verifies."""
    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as guard:
        record = guard.check(raw)
    assert record.decision == "deny" and record.request is None
    assert {e.code for e in record.errors} == {"invalid-request"}
    assert len(record.errors) <= RequestError.max_errors + 1
    assert len(log.read_bytes()) < 40_000
    assert verify_log(log).count == 1


def test_too_many_errors_are_counted_in_the_record():
    record = Enforcer(audit_log=MemorySink()).check(many_unknown_keys(1000))
    assert len(record.errors) == RequestError.max_errors + 1
    assert record.errors[-1].message.startswith("$: too-many-errors: 900 more errors left out")


@pytest.mark.parametrize(("case", "raw", "plain"), SUBCLASSED, ids=[c for c, _, _ in SUBCLASSED])
def test_str_subclasses_are_decided_and_logged_as_plain_strings(
    case: str, raw: Any, plain: Any, tmp_path: Path
):
    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as guard:
        record = guard.check(raw)  # raised TypeError
        expected = guard.check(plain)
    assert record.decision == expected.decision
    assert record.determining_rule == expected.determining_rule
    assert verify_log(log).count == 2


def test_a_record_that_cannot_be_made_is_a_logged_deny(monkeypatch: pytest.MonkeyPatch):
    def broken(self: Any) -> DecisionRecord:
        raise TypeError("Encoding objects of type \ud800 is unsupported")

    monkeypatch.setattr(usepolicy.engine.Decision, "record", broken)
    sink = MemorySink()
    record = Enforcer(audit_log=sink).check(ALLOWED)
    assert record.decision == "deny" and record == sink.records[0]
    assert [e.code for e in record.errors] == ["internal-error"]
    assert "\\ud800" in record.errors[0].message


@pytest.mark.parametrize(
    "exc", [AuditError("disk on fire"), OSError(28, "No space left on device"), RuntimeError()]
)
def test_a_failing_sink_turns_the_answer_into_deny(exc: Exception):
    guard = Enforcer(audit_log=BrokenSink(exc))
    record = guard.check(ALLOWED)
    assert record.decision == "deny"
    assert record.determining_rule is None
    assert record.obligations == []
    assert record.errors[-1].code == "audit-error"
    assert record.computed_digest() == record.record_digest
    with pytest.raises(UseDenied) as caught:
        guard.require(ALLOWED)
    assert isinstance(caught.value.__cause__, AuditError)
    assert caught.value.record.errors[-1].code == "audit-error"


def test_a_full_disk_denies():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    guard = Enforcer(audit_log="/dev/full")
    record = guard.check(ALLOWED)
    assert record.decision == "deny"
    assert "No space left" in record.errors[-1].message
    with pytest.raises(UseDenied):
        guard.require(ALLOWED)


def test_a_log_that_cannot_be_opened_denies_until_it_can(tmp_path: Path):
    path = tmp_path / "not-yet" / "audit.jsonl"
    guard = Enforcer(audit_log=path)
    record = guard.check(ALLOWED)
    assert (record.decision, record.errors[-1].code) == ("deny", "audit-error")
    path.parent.mkdir()
    assert guard.check(ALLOWED).allowed  # the log opens: the gateway recovers
    guard.close()
    assert verify_log(path).count == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_directory_denies(tmp_path: Path):
    tmp_path.chmod(0o500)
    try:
        record = Enforcer(audit_log=tmp_path / "audit.jsonl").check(ALLOWED)
    finally:
        tmp_path.chmod(0o700)
    assert (record.decision, record.errors[-1].code) == ("deny", "audit-error")


def test_signing_and_durability_apply_to_a_path(tmp_path: Path):
    signer = Signer.generate()
    path = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=path, signer=signer, durability="batch") as guard:
        guard.check(ALLOWED)
    assert verify_log(path, signer.verifier()).ok
    with pytest.raises(ValueError, match="sink"):
        Enforcer(audit_log=MemorySink(), signer=signer)
    with pytest.raises(TypeError):
        Enforcer(audit_log=42)  # type: ignore[arg-type]


def test_policies_engines_and_paths_are_accepted(repo: Path):
    pack = repo / "src" / "usepolicy" / "packs" / "any-lawful-use.yaml"
    for policy in (None, usepolicy.load_policy(), usepolicy.Engine(usepolicy.load_policy())):
        assert Enforcer(policy, audit_log=MemorySink()).policy.name == (
            "national-security-safeguards"
        )
    other = Enforcer(pack, audit_log=MemorySink())
    assert other.policy.name == "any-lawful-use"
    assert other.check(DENIED).allowed


def test_log_records_a_decision_made_elsewhere():
    sink = MemorySink()
    guard = Enforcer(audit_log=sink)
    decision = guard.engine.explain(DENIED).decision
    assert guard.log(decision) == sink.records[0]


def test_many_threads_share_one_enforcer(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    guard = Enforcer(audit_log=path, durability="batch")
    results: list[bool] = []

    def work() -> None:
        for i in range(40):
            results.append(guard.check(ALLOWED if i % 2 else DENIED).allowed)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    guard.close()
    assert results.count(True) == results.count(False) == 160
    assert verify_log(path).count == 320


def test_sinks_are_a_one_method_protocol():
    assert isinstance(MemorySink(), Sink)
    assert isinstance(AuditLog.__new__(AuditLog), Sink)
    assert isinstance(BrokenSink(AuditError()), Sink)


def test_use_denied_survives_pickling():
    import pickle

    record = Enforcer(audit_log=MemorySink()).check(DENIED)
    again = pickle.loads(pickle.dumps(UseDenied(record)))
    assert again.record == record
    assert str(again) == str(UseDenied(record))


def test_a_closed_enforcer_denies(tmp_path: Path):
    guard = Enforcer(audit_log=tmp_path / "audit.jsonl")
    assert guard.check(ALLOWED).allowed
    guard.close()
    record = guard.check(ALLOWED)
    assert (record.decision, record.errors[-1].code) == ("deny", "audit-error")
    assert "closed" in record.errors[-1].message
    assert verify_log(tmp_path / "audit.jsonl").count == 1
