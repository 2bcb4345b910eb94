"""``open_sink``: one way to open the sink a log path or a database URL names (the
database cases run against a real PostgreSQL in ``postgres/test_sink.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from usepolicy import AuditError
from usepolicy.audit import AuditLog, Signer, open_sink, verify_log

from .conftest import MakeRecord


def test_a_path_is_a_log_file(tmp_path: Path, make_record: MakeRecord):
    signer = Signer.generate()
    sink = open_sink(tmp_path / "audit.jsonl", durability="batch", signer=signer)
    assert isinstance(sink, AuditLog) and sink.durability == "batch"
    with sink:
        sink.append(make_record())
    assert verify_log(tmp_path / "audit.jsonl", signer.verifier()).ok
    assert open_sink(str(tmp_path / "other.jsonl")).durability == "always"


def test_a_log_that_cannot_be_opened_raises_at_once(tmp_path: Path):
    with pytest.raises(AuditError, match="cannot open"):
        open_sink(tmp_path / "missing" / "audit.jsonl")


@pytest.mark.parametrize(
    ("target", "options", "message"),
    [
        ("audit.jsonl", {"writer_id": "gw-1"}, "database URL"),
        ("audit.jsonl", {"spool": "spool.jsonl"}, "database URL"),
        ("postgresql://localhost/audit", {}, "writer_id"),
        ("postgres://localhost/audit", {"writer_id": "gw", "durability": "none"}, "durable"),
    ],
)
def test_options_must_fit_the_target(target: str, options: dict[str, str], message: str):
    with pytest.raises(ValueError, match=message):
        open_sink(target, **options)  # type: ignore[arg-type]
