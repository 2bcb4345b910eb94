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
from usepolicy.audit import Signer, verify_log
from usepolicy.record import RecordObligation, digest

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

    monkeypatch.setattr(usepolicy.engine.Decision, "record_draft", broken)
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


def test_a_log_path_rotates_by_size_and_the_files_are_one_chain(tmp_path: Path):
    from usepolicy.audit import log_files

    path = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=path, durability="none", rotate_bytes=3000) as guard:
        for _ in range(6):
            assert guard.check(ALLOWED).decision == "allow"
    files = log_files(path)  # the archives in chain order, then the log itself
    assert len(files) >= 3 and files[-1] == path
    assert all(f.stat().st_size <= 3000 for f in files)
    assert verify_log(path).count == 6  # the chain checked across every file
    with pytest.raises(ValueError, match="rotation"):
        Enforcer(audit_log=MemorySink(), rotate_every=3600)
    with pytest.raises(ValueError, match="rotate_every"):
        Enforcer(audit_log=path, rotate_every=0.5)  # a misconfiguration: at once


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


# -- enforce: the richer call the CLI uses -------------------------------------------------
def test_enforce_says_what_happened():
    sink = MemorySink()
    guard = Enforcer(audit_log=sink)
    result = guard.enforce(ALLOWED)
    assert isinstance(result, usepolicy.Enforcement)
    assert result.allowed and result.stored
    assert (result.failure, result.request_error, result.explanation) == (None, None, None)
    assert result.decision is not None and result.decision.determining_rule == "intelligence"
    assert result.record == sink.records[-1]
    assert result.record is result.record  # made once
    denied = guard.enforce(DENIED)
    assert not denied.allowed and denied.stored
    assert denied.record.prev_digest == result.record.record_digest


def test_enforce_names_an_invalid_request():
    sink = MemorySink()
    result = Enforcer(audit_log=sink).enforce('{"purpose": "intelligence.foriegn"}')
    assert isinstance(result.request_error, usepolicy.RequestError)
    assert {e.path for e in result.request_error.errors} == {"requester", "purpose"}
    assert result.decision is None and not result.allowed
    assert result.stored and result.record == sink.records[0]
    assert result.record.request is None


def test_enforce_names_the_failure_of_a_sink():
    result = Enforcer(audit_log=BrokenSink(OSError(28, "No space left"))).enforce(ALLOWED)
    assert result.decision is not None and result.decision.allowed  # what was decided
    assert not result.allowed and not result.stored  # what to enforce
    assert isinstance(result.failure, AuditError)
    assert isinstance(result.failure.__cause__, OSError)
    assert result.record.errors[-1].code == "audit-error"
    assert result.record.computed_digest() == result.record.record_digest


def test_enforce_explains_with_an_engine_that_can():
    result = Enforcer(audit_log=MemorySink()).enforce(DENIED, explain=True)
    assert result.explanation is not None
    assert result.explanation.decision is result.decision
    assert any(t.matched for t in result.explanation.rules)


class OnlyDenies:
    """A decider that is not an Engine: any object with ``policy`` and ``evaluate``."""

    def __init__(self) -> None:
        self.engine = usepolicy.Engine(usepolicy.load_policy())
        self.policy = self.engine.policy

    def evaluate(self, request: Any) -> usepolicy.Decision:
        return self.engine.evaluate({**request, "purpose": "weapons.engagement"})


def test_any_decider_decides():
    guard = Enforcer(OnlyDenies(), audit_log=MemorySink())
    assert guard.policy.name == "national-security-safeguards"
    result = guard.enforce({**ALLOWED, "autonomy": {"level": "fully_autonomous"}})
    assert result.record.determining_rule == "no-fully-autonomous-weapons"
    with pytest.raises(TypeError, match="cannot explain"):
        guard.enforce(ALLOWED, explain=True)


def test_without_a_sink_records_are_made_not_stored():
    guard = Enforcer(audit_log=None)
    result = guard.enforce(ALLOWED)
    assert result.allowed and not result.stored and result.failure is None
    assert result.record.prev_digest is None
    assert result.record.computed_digest() == result.record.record_digest
    assert guard.check(DENIED).decision == "deny"
    with pytest.raises(ValueError, match="log path"):
        Enforcer(audit_log=None, durability="none")
    guard.close()
    closed = guard.enforce(ALLOWED)
    assert not closed.allowed and closed.failure is not None


def test_a_decision_whose_record_cannot_be_encoded_is_a_logged_deny():
    """A record with no canonical form (here an obligation parameter that is not a
    finite number, from a decider of one's own) cannot be made: the deny of a rejected
    input saying why is logged instead, never an exception."""

    class Odd(OnlyDenies):
        def evaluate(self, request: Any) -> usepolicy.Decision:
            decision = self.engine.evaluate(request)
            return usepolicy.Decision(
                decision.effect,
                decision.determining_rule,
                decision.matched_rules,
                (usepolicy.Obligation("x", {"ratio": float("nan")}, "intelligence"),),
                (),
                decision._req,
                decision.policy,
            )

    sink = MemorySink()
    result = Enforcer(Odd(), audit_log=sink).enforce(ALLOWED)
    assert not result.allowed and result.stored and result.record == sink.records[0]
    assert result.record.obligations == [] and result.record.request is None
    assert [e.code for e in result.record.errors] == ["internal-error"]
    assert "nan" in result.record.errors[0].message


def test_a_decider_that_raises_is_a_logged_deny():
    class Broken(OnlyDenies):
        def evaluate(self, request: Any) -> usepolicy.Decision:
            raise RuntimeError("lone \ud800 surrogate")

    sink = MemorySink()
    result = Enforcer(Broken(), audit_log=sink).enforce(ALLOWED)
    assert not result.allowed and result.stored and result.record == sink.records[0]
    assert result.decision is None and result.request_error is None
    assert result.record.request is None
    assert [e.code for e in result.record.errors] == ["internal-error"]
    assert "\\ud800" in result.record.errors[0].message  # written out, so recordable


def test_an_enforcer_with_a_path_redacts_once(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=path, redact=["description"]) as guard:
        record = guard.check({**ALLOWED, "description": "case 2026-114"})
    [stored] = [DecisionRecord.from_json(line) for line in path.read_text().splitlines()]
    assert record == stored
    assert record.redacted == ["description"]
    assert record.request is not None and record.request["description"].startswith("sha256:")


def test_a_database_url_needs_a_sink_with_a_writer_id():
    with pytest.raises(ValueError, match="writer_id"):
        Enforcer(audit_log="postgresql://localhost/audit")


def test_log_stores_the_record_the_decision_made():
    decision = usepolicy.Engine(usepolicy.load_policy()).evaluate(ALLOWED)
    record = decision.record()
    stored = Enforcer(audit_log=MemorySink()).log(decision)
    assert (stored.decision_id, stored.timestamp) == (record.decision_id, record.timestamp)
    assert stored.request_digest == record.request_digest


def test_a_record_that_cannot_be_stored_nor_encoded_is_still_a_deny():
    """An engine that names itself with a lone surrogate (an external engine's answer
    can): the record cannot be encoded, so not stored, and the deny returned writes the
    text out instead of raising."""
    from usepolicy.backends.opa import OpaDecision

    class Strange(OnlyDenies):
        def evaluate(self, request: Any) -> usepolicy.Decision:
            d = self.engine.evaluate(request)
            return OpaDecision(
                d.effect, d.determining_rule, d.matched_rules, d.obligations, d.errors,
                d._req, d.policy, _engine={"name": "opa", "version": "\ud800"},
            )  # fmt: skip

    sink = MemorySink()
    result = Enforcer(Strange(), audit_log=sink).enforce(ALLOWED)
    assert not result.allowed and not result.stored and not sink.records
    assert result.record.engine.version == "\\ud800"
    assert result.record.errors[-1].code == "audit-error"
    assert result.record.computed_digest() == result.record.record_digest
