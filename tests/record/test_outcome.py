"""Outcome records: built once, sealed like decision records, read back by kind."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from usepolicy.record import (
    DecisionRecord,
    OutcomeRecord,
    digest,
    outcome_draft,
    parse_record,
    seal,
)


def test_an_outcome_record_is_sealed_and_read_back_as_its_kind() -> None:
    draft = outcome_draft("d-1", "upstream-error", status=502,
                          errors=[{"code": "upstream-status", "message": "answered 502"}],
                          prompt=[{"role": "user", "content": "hi"}])  # fmt: skip
    sealed = seal(draft.body, "sha256:" + "0" * 64)
    record = parse_record(sealed.body)
    assert isinstance(record, OutcomeRecord)
    assert record.record_kind == "outcome"
    assert (record.decision_id, record.outcome, record.status) == ("d-1", "upstream-error", 502)
    assert record.prompt_digest == digest([{"role": "user", "content": "hi"}])
    assert "prompt" not in record.to_dict()
    assert record.to_json().encode() == sealed.line
    assert record.computed_digest() == record.record_digest


def test_the_prompt_is_kept_only_when_asked() -> None:
    body = outcome_draft("d", "executed", prompt="text", store_prompt=True).body
    assert body["prompt"] == "text"
    assert "prompt" not in outcome_draft("d", "executed", prompt="text").body
    assert outcome_draft("d", "executed").body["prompt_digest"] is None


def test_a_record_without_kind_is_a_decision_record() -> None:
    with pytest.raises(ValidationError):
        parse_record({"decision_id": "x"})  # neither kind: a decision record, invalid
    with pytest.raises(ValidationError):
        parse_record({"record_kind": "other"})
    assert parse_record.__doc__ and "record_kind" in parse_record.__doc__
    assert DecisionRecord.model_fields.get("record_kind") is None  # §3 records unchanged


def test_unknown_outcomes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome `ok`"):
        outcome_draft("d", "ok")
