"""verify_log: every kind of tampering is found, at the right line; anchors catch truncation."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usepolicy import AuditError, AuditLog, DecisionRecord, Engine
from usepolicy.audit import PROBLEMS, Signer, read_records, verify_log
from usepolicy.record import record_digest
from usepolicy.testing import requests

from ..conftest import unblocked
from .conftest import MakeRecord, WriteLog, lines_of


def rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def redigest(line: bytes, **changes: Any) -> bytes:
    """The line with ``changes`` applied and a correct record_digest (a careful forger)."""
    body = json.loads(line)
    body.update(changes)
    body.pop("signature", None)
    body["record_digest"] = record_digest(body)
    return (DecisionRecord.model_validate(body).to_json() + "\n").encode()


def problem(path: Path, **options: Any) -> tuple[str | None, int | None]:
    result = verify_log(path, **options)
    return result.problem, result.line


def test_a_good_log_verifies(write_log: WriteLog):
    path = write_log(6)
    result = verify_log(path)
    assert result.ok
    assert (result.count, result.line, result.problem) == (6, None, None)
    assert result.head == [r for _, r in read_records(path)][-1].record_digest
    assert str(result).endswith(f"ok: 6 records, head {result.head}")


def test_visit_sees_each_good_record_once_as_the_log_streams_past(write_log: WriteLog):
    path = write_log(6)
    seen: list[tuple[int, str]] = []
    result = verify_log(path, visit=lambda line, record: seen.append((line, record.decision)))
    assert result.ok
    assert seen == [(n, "deny" if n % 2 == 0 else "allow") for n in range(1, 7)]
    lines = path.read_bytes().splitlines(keepends=True)
    rewrite(path, [*lines[:3], lines[3].replace(b"Joint", b"Joynt"), *lines[4:]])
    seen.clear()
    assert verify_log(path, visit=lambda line, record: seen.append((line, ""))).line == 4
    assert [line for line, _ in seen] == [1, 2, 3]  # nothing from the bad line on


def test_an_empty_log_verifies(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    result = verify_log(path)
    assert (result.ok, result.count, result.head) == (True, 0, None)


def test_a_missing_log_is_an_error(tmp_path: Path):
    with pytest.raises(AuditError, match="cannot read"):
        verify_log(tmp_path / "nope.jsonl")


def test_a_log_that_is_not_a_regular_file_is_an_error(tmp_path: Path, fifo: Path):
    for path in (tmp_path, Path("/dev/zero")):  # once IsADirectoryError; /dev/zero "ok"
        for read in (verify_log, lambda p: list(read_records(p))):
            with pytest.raises(AuditError, match=f"^{path}: cannot read: is a "):
                read(path)
    with pytest.raises(AuditError, match="is a named pipe"):  # once: waited for a writer
        unblocked(lambda: verify_log(fifo), fifo)


def test_an_edited_field_is_found(write_log: WriteLog):
    path = write_log(6)
    lines = lines_of(path)
    assert b'"decision":"deny"' in lines[3]
    lines[3] = lines[3].replace(b'"decision":"deny"', b'"decision":"allow"')
    rewrite(path, lines)
    result = verify_log(path)
    assert (result.problem, result.line, result.count) == ("edited", 4, 3)
    assert "record_digest" in str(result.message)
    assert str(result).startswith(f"{path}:4: edited: ")


def test_an_edit_with_a_recomputed_digest_breaks_the_next_link(write_log: WriteLog):
    path = write_log(6)
    lines = lines_of(path)
    lines[3] = redigest(lines[3], decision="allow")
    rewrite(path, lines)
    result = verify_log(path)
    assert (result.problem, result.line) == ("deleted", 5)
    assert "line 4 was edited" in str(result.message)


def test_an_edit_at_the_end_with_a_recomputed_digest_needs_a_signature_or_an_anchor(
    write_log: WriteLog,
):
    path = write_log(6)
    head = verify_log(path).head
    lines = lines_of(path)
    lines[5] = redigest(lines[5], decision="allow")
    rewrite(path, lines)
    assert verify_log(path).ok  # the file alone cannot tell
    assert problem(path, expect_head=head) == ("truncated", 7)  # after the last line


def test_a_whitespace_edit_is_found(write_log: WriteLog):
    path = write_log(3)
    lines = lines_of(path)
    lines[1] = lines[1].replace(b'{"decision"', b'{ "decision"')
    rewrite(path, lines)
    assert problem(path) == ("edited", 2)
    assert "canonical" in str(verify_log(path).message)


@pytest.mark.parametrize("position", [0, 2, 5])
def test_an_inserted_forged_line_is_found(write_log: WriteLog, position: int):
    path = write_log(6)
    lines = lines_of(path)
    prev = None if position == 0 else json.loads(lines[position - 1])["record_digest"]
    # a well-formed record that chains to the line before it, slipped in
    forged = redigest(lines[position], prev_digest=prev, decision_id="forged")
    rewrite(path, [*lines[:position], forged, *lines[position:]])
    result = verify_log(path)
    assert (result.problem, result.line) == ("inserted", position + 1), result
    assert result.count == position


def test_an_inserted_line_with_a_made_up_link_is_found(write_log: WriteLog):
    path = write_log(6)
    lines = lines_of(path)
    forged = redigest(lines[2], prev_digest="sha256:" + "0" * 64)
    rewrite(path, [*lines[:3], forged, *lines[3:]])
    assert problem(path) == ("inserted", 4)


def test_a_copied_line_is_found(write_log: WriteLog):
    path = write_log(6)
    lines = lines_of(path)
    rewrite(path, [*lines[:4], lines[1], *lines[4:]])
    result = verify_log(path)
    assert (result.problem, result.line) == ("inserted", 5)
    assert "copy of line 2" in str(result.message)


@pytest.mark.parametrize("index", [1, 3, 4])
def test_a_deleted_line_is_found(write_log: WriteLog, index: int):
    path = write_log(6)
    lines = lines_of(path)
    del lines[index]
    rewrite(path, lines)
    result = verify_log(path)
    assert (result.problem, result.line, result.count) == ("deleted", index + 1, index)


def test_deleting_the_first_lines_is_found(write_log: WriteLog):
    path = write_log(6)
    rewrite(path, lines_of(path)[2:])
    assert problem(path) == ("deleted", 1)


@pytest.mark.parametrize(("a", "b"), [(0, 1), (2, 3), (1, 4), (4, 5)])
def test_swapped_lines_are_found(write_log: WriteLog, a: int, b: int):
    path = write_log(6)
    lines = lines_of(path)
    lines[a], lines[b] = lines[b], lines[a]
    rewrite(path, lines)
    result = verify_log(path)
    assert (result.problem, result.line) == ("reordered", a + 1), result
    assert "which comes after it" in str(result.message)


def test_a_torn_tail_is_found(write_log: WriteLog):
    path = write_log(4)
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    result = verify_log(path)
    assert (result.problem, result.line, result.count) == ("torn-tail", 4, 3)


@pytest.mark.parametrize(
    ("junk", "kind"),
    [(b"\n", "bad-json"), (b"not json\n", "bad-json"), (b'{"a": 1}\n', "bad-record")],
)
def test_lines_that_are_not_records_are_found(write_log: WriteLog, junk: bytes, kind: str):
    path = write_log(4)
    lines = lines_of(path)
    rewrite(path, [*lines[:2], junk, *lines[2:]])
    assert problem(path) == (kind, 3)


def test_duplicate_keys_are_refused(write_log: WriteLog):
    path = write_log(2)
    lines = lines_of(path)
    lines[1] = lines[1].replace(b'{"decision":"deny",', b'{"decision":"allow","decision":"deny",')
    rewrite(path, lines)
    assert problem(path) == ("bad-json", 2)


# -- truncation and anchors ------------------------------------------------------------
def test_truncation_needs_an_anchor(write_log: WriteLog):
    path = write_log(6)
    anchor = verify_log(path)
    rewrite(path, lines_of(path)[:4])
    assert verify_log(path).ok  # a shorter chain is still a chain
    assert problem(path, expect_count=6) == ("truncated", 5)
    assert problem(path, expect_head=anchor.head) == ("truncated", 5)
    assert "removed from the end" in str(verify_log(path, expect_count=6).message)


def test_a_log_that_grew_past_its_anchor_verifies(write_log: WriteLog, make_record: MakeRecord):
    path = write_log(4)
    anchor = verify_log(path)
    with AuditLog(path) as log:
        log.append(make_record())
    result = verify_log(path, expect_head=anchor.head, expect_count=anchor.count)
    assert result.ok and result.count == 5


def test_an_anchor_at_the_wrong_count_is_found(write_log: WriteLog):
    path = write_log(6)
    head_at_3 = [r for _, r in read_records(path)][2].record_digest
    assert problem(path, expect_head=head_at_3, expect_count=3) == (None, None)
    assert problem(path, expect_head=head_at_3, expect_count=5)[0] == "anchor-mismatch"


def test_every_reported_problem_is_documented():
    assert set(PROBLEMS) >= {
        "torn-tail", "bad-json", "bad-record", "edited", "inserted", "deleted",
        "reordered", "unsigned", "bad-signature", "truncated", "anchor-mismatch",
    }  # fmt: skip


def test_read_records_names_the_bad_line(write_log: WriteLog):
    path = write_log(3)
    lines = lines_of(path)
    rewrite(path, [*lines[:2], b"oops\n", lines[2]])
    records = read_records(path)
    assert [next(records)[0], next(records)[0]] == [1, 2]
    with pytest.raises(AuditError, match=r":3: bad-json: "):
        next(records)


# -- properties ------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(requests(), max_size=8), st.booleans())
def test_any_sequence_of_decisions_verifies(
    engine: Engine, batch: list[dict[str, Any]], redact: bool
):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "audit.jsonl"
        options: dict[str, Any] = {"redact": ["description"]} if redact else {}
        with AuditLog(path, durability="none", **options) as log:
            stored = [log.append(engine.evaluate(request).record()) for request in batch]
        result = verify_log(path)
        assert result.ok, result
        assert result.count == len(batch)
        assert result.head == (stored[-1].record_digest if stored else None)


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> bytes:
    path = tmp_path_factory.mktemp("log") / "audit.jsonl"
    with AuditLog(path, durability="none") as log:
        for request in (
            {"requester": {"organization": "A"}, "purpose": "intelligence.foreign"},
            {"requester": {"organization": "B"}, "purpose": "weapons.engagement",
             "autonomy": {"level": "fully_autonomous", "lethal": True}},
            {"requester": {"organization": "C"}, "purpose": "general.assistant",
             "attributes": {"n": 1.5, "tags": ["x", "y"]}},
        ):  # fmt: skip
            log.append(engine.evaluate(request).record())
    return path.read_bytes()


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_byte_edit_is_found(small_log: bytes, data: st.DataObject):
    # half the time near JSON structure, with bytes that JSON gives a meaning to
    structural = [i for i, b in enumerate(small_log) if b in b'{}[]:,"\n']
    position = data.draw(
        st.one_of(st.integers(0, len(small_log) - 1), st.sampled_from(structural)),
        label="position",
    )
    how = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="how")
    byte = data.draw(
        st.one_of(st.integers(0, 255), st.sampled_from(list(b' \t\r\n{}[]:,"0123456789.-\\'))),
        label="byte",
    )
    if how == "replace":
        if byte == small_log[position]:
            byte = (byte + 1) % 256
        edited = small_log[:position] + bytes([byte]) + small_log[position + 1 :]
    elif how == "delete":
        edited = small_log[:position] + small_log[position + 1 :]
    else:
        edited = small_log[:position] + bytes([byte]) + small_log[position:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "audit.jsonl"
        path.write_bytes(edited)
        result = verify_log(path)
    assert not result.ok, (how, position, byte)


def test_signatures_catch_a_careful_forger(tmp_path: Path, make_record: MakeRecord):
    signer = Signer.generate()
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, signer=signer, durability="none") as log:
        for i in range(4):
            log.append(make_record(deny=bool(i % 2)))
    lines = lines_of(path)
    lines[3] = redigest(lines[3], decision="allow")  # re-digested, and so unsigned
    rewrite(path, lines)
    assert problem(path) == (None, None)
    assert problem(path, public_key=signer.verifier()) == ("unsigned", 4)


def _mixed_log(path: Path) -> list[bytes]:
    """allow, its outcome, deny: a log as a gateway writes it."""
    from usepolicy import Enforcer

    with Enforcer(audit_log=path) as guard:
        allowed = guard.check(
            {"requester": {"organization": "Cell"}, "purpose": "general.assistant"}
        )
        guard.record_outcome(allowed.decision_id, "executed", status=200)
        guard.check({"requester": {"organization": "Cell"}, "purpose": "weapons.engagement",
                     "autonomy": {"level": "fully_autonomous"}})  # fmt: skip
    return lines_of(path)


def test_outcome_records_verify_in_the_chain_and_tampering_with_them_is_found(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _mixed_log(path)
    result = verify_log(path)
    assert result.ok and result.count == 3
    kinds = [type(record).__name__ for _, record in read_records(path)]
    assert kinds == ["DecisionRecord", "OutcomeRecord", "DecisionRecord"]
    rewrite(path, [lines[0], lines[1].replace(b'"executed"', b'"refused"'), lines[2]])
    assert problem(path) == ("edited", 2)
    rewrite(path, [lines[0], lines[2]])
    assert problem(path) == ("deleted", 2)
    body = json.loads(lines[1])
    body["outcome"] = "finished"
    rewrite(path, [lines[0], json.dumps(body).encode() + b"\n", lines[2]])
    assert problem(path) == ("bad-record", 2)
