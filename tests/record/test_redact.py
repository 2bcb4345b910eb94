"""Redaction: fields stored as their digest, the request digest still provable."""

from __future__ import annotations

from pathlib import Path

import pytest

from usepolicy import AuditError, AuditLog, Enforcer, MemorySink
from usepolicy.audit import read_records, verify_log
from usepolicy.record import digest, redact, unredact

from .conftest import ALLOWED, MakeRecord

PATHS = ["description", "attributes.case_notes"]


def test_redacted_fields_are_stored_as_their_digest(tmp_path: Path, make_record: MakeRecord):
    record = make_record()
    full = record.request
    assert full is not None
    with AuditLog(tmp_path / "a.jsonl", redact=PATHS) as log:
        stored = log.append(record)
    assert stored.redacted == PATHS
    assert stored.request is not None
    assert stored.request["description"] == digest(full["description"])
    assert stored.request["attributes"]["case_notes"] == digest("informant ALPHA-7")
    assert stored.request["attributes"]["tier"] == 2  # the rest is as it was
    assert stored.request["purpose"] == full["purpose"]
    assert stored.request_digest == record.request_digest == digest(full)
    line = (tmp_path / "a.jsonl").read_text()
    assert "informant" not in line
    assert "radio traffic" not in line
    assert verify_log(tmp_path / "a.jsonl").ok


def test_the_holder_of_the_original_can_prove_it(tmp_path: Path, make_record: MakeRecord):
    record = make_record()
    with AuditLog(tmp_path / "a.jsonl", redact=PATHS) as log:
        log.append(record)
    [(_, stored)] = list(read_records(tmp_path / "a.jsonl"))
    values = {"description": ALLOWED["description"], "attributes.case_notes": "informant ALPHA-7"}
    restored = unredact(stored, values)
    assert restored == record.request
    assert digest(restored) == stored.request_digest
    with pytest.raises(AuditError, match="does not match its digest"):
        unredact(stored, {**values, "description": "something else"})
    with pytest.raises(AuditError, match="no value given"):
        unredact(stored, {"description": ALLOWED["description"]})


def test_absent_fields_are_not_listed(make_record: MakeRecord):
    record = make_record(description=None, attributes={})
    redacted = redact(record, PATHS)
    assert redacted.redacted is None
    assert redacted.request == record.request


def test_redaction_is_not_applied_twice(make_record: MakeRecord):
    once = redact(make_record(), PATHS)
    twice = redact(once, PATHS)
    assert twice.request == once.request
    assert twice.redacted == PATHS


def test_redact_recomputes_the_digest(make_record: MakeRecord):
    record = redact(make_record(), ["description"])
    assert record.computed_digest() == record.record_digest


@pytest.mark.parametrize("path", ["", "nope", "description.", ".description", "data..x"])
def test_bad_paths_are_refused(path: str):
    with pytest.raises(ValueError, match="redaction path"):
        AuditLog("unused.jsonl", redact=[path])


def test_an_enforcer_redacts_for_any_sink():
    sink = MemorySink()
    guard = Enforcer(audit_log=sink, redact=["description"])
    stored = guard.check(ALLOWED)
    assert stored.redacted == ["description"]
    assert sink.records[0].request is not None
    assert sink.records[0].request["description"].startswith("sha256:")
    restored = unredact(stored, {"description": ALLOWED["description"]})
    assert digest(restored) == stored.request_digest


def test_an_invalid_request_has_nothing_to_redact(tmp_path: Path):
    guard = Enforcer(audit_log=tmp_path / "a.jsonl", redact=["description"])
    stored = guard.check({"description": "secret", "purpose": 3})
    assert stored.request is None
    assert stored.redacted is None
    assert "secret" not in (tmp_path / "a.jsonl").read_text()
    guard.close()


def test_redaction_paths_are_the_request_fields():
    """Redaction checks paths against the fast validator's field table, which must be
    the public model's fields in its order (``request_to_builtins`` relies on it too)."""
    from usepolicy import UseRequest
    from usepolicy.record import check_redact_paths
    from usepolicy.request import FIELD_ORDER

    assert tuple(UseRequest.model_fields) == FIELD_ORDER
    assert check_redact_paths([f"{name}.x" for name in UseRequest.model_fields])
    with pytest.raises(ValueError, match="request fields are request_id, requester"):
        check_redact_paths(["requestor"])
