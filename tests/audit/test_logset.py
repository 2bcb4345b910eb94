"""A rotated log's files read and verified as one chain: a missing, misplaced or
foreign file named, a bad line named by its file, anchors counted across the files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from usepolicy.audit import AuditLog, log_files, read_log, read_records, verify_log

from .conftest import MakeRecord


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def rotated(tmp_path: Path, make_record: MakeRecord) -> list[Path]:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, rotate_bytes=1) as log:  # a file per record
        for n in range(4):
            log.append(make_record(deny=n % 2 == 1))
    return log_files(path)


def test_a_missing_middle_file_is_named(rotated: list[Path]):
    rotated[1].unlink()
    result = verify_log(rotated[-1])
    assert (result.ok, result.path, result.line, result.problem) == (
        False,
        str(rotated[2]),
        1,
        "deleted",
    )
    assert f"a file is missing between {rotated[0].name} and {rotated[2].name}" in str(result)
    assert result.count == 1  # the good records before it


def test_files_given_out_of_order_are_named(rotated: list[Path]):
    result = verify_log([rotated[0], rotated[2], rotated[1], rotated[3]])
    assert (result.path, result.line, result.problem) == (str(rotated[2]), 1, "reordered")
    assert f"{rotated[2].name} continues {rotated[1].name}, which comes after it" in str(result)


def test_a_file_from_another_log_is_named(
    rotated: list[Path], tmp_path: Path, make_record: MakeRecord
):
    with AuditLog(tmp_path / "x.jsonl") as other:
        other.append(make_record())
    result = verify_log([*rotated[:2], tmp_path / "x.jsonl", *rotated[2:]])
    assert (result.line, result.problem) == (1, "inserted")
    assert "x.jsonl starts a new chain" in str(result)


def test_an_edit_in_an_archive_names_its_file_and_line(rotated: list[Path]):
    data = rotated[1].read_bytes().replace(b'"decision":"deny"', b'"decision":"allow"')
    rotated[1].write_bytes(data)
    result = verify_log(rotated[-1].parent)
    assert (result.path, result.line, result.problem, result.count) == (
        str(rotated[1]),
        1,
        "edited",
        1,
    )


def test_anchors_count_across_the_files(rotated: list[Path]):
    head = _lines(rotated[2])[0]["record_digest"]
    assert verify_log(rotated[-1], expect_head=head, expect_count=3).ok
    result = verify_log(rotated[-1], expect_head=head, expect_count=2)
    assert result.problem == "anchor-mismatch"


def test_read_records_reads_one_file(rotated: list[Path]):
    assert [n for n, _ in read_records(rotated[0])] == [1]


def test_read_log_reads_the_files_in_order(rotated: list[Path]):
    found = [(path, line, record.decision) for path, line, record in read_log(rotated[-1])]
    assert found == [(f, 1, "deny" if n % 2 else "allow") for n, f in enumerate(rotated)]
