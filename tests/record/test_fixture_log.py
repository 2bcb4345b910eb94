"""A log written by usepolicy 0.1.0 (``fixtures/log-0.1.0.jsonl``, see
``fixtures/write_log.py``) still verifies, line for line and byte for byte, and its
chain goes on: later encoders must produce exactly the bytes that release wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

import usepolicy
from usepolicy import AuditLog, DecisionRecord
from usepolicy.audit import Verifier, read_records, verify_log

FIXTURES = Path(__file__).parent / "fixtures"
LOG = FIXTURES / "log-0.1.0.jsonl"
RECORDS = 316


def test_the_fixture_log_verifies_with_its_signatures() -> None:
    result = verify_log(LOG)
    assert result.ok, result
    assert (result.count, result.signed) == (RECORDS, 60)
    verifier = Verifier.from_file(FIXTURES / "log-0.1.0.key.pub")
    signed = [record for _, record in read_records(LOG) if record.signature is not None]
    assert len(signed) == 60
    assert all(verifier.problem(record) is None for record in signed)


def test_each_line_is_re_encoded_byte_for_byte() -> None:
    lines = LOG.read_bytes().splitlines()
    assert len(lines) == RECORDS
    for line in lines:
        record = DecisionRecord.from_json(line)
        assert record.to_json().encode("utf-8") == line
        assert record.computed_digest() == record.record_digest


def test_the_chain_goes_on(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    shutil.copyfile(LOG, log)
    head = verify_log(LOG).head
    engine = usepolicy.Engine(usepolicy.load_policy())
    with AuditLog(log) as sink:
        stored = sink.append(
            engine.evaluate(
                {"requester": {"organization": "A"}, "purpose": "cyber.defense"}
            ).record()
        )
    assert stored.prev_digest == head
    result = verify_log(log)
    assert (result.ok, result.count) == (True, RECORDS + 1)
