"""A file log against a checkpoint kept elsewhere: what passes, what fails, and which
record is named; checkpoints and proofs read the sidecar, not the whole log."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

import pytest

from usepolicy import DecisionRecord
from usepolicy.audit import (
    AuditLog,
    Signer,
    checkpoint_log,
    find_decision,
    open_tree,
    prove_consistency_log,
    prove_inclusion_log,
    verify_checkpoint,
    verify_log,
)
from usepolicy.tlog import (
    NoteSigner,
    TreeError,
    TreeState,
    leaf_hash,
    open_checkpoint,
    sidecar_path,
)

from .conftest import MakeRecord, WriteLog, lines_of

LOG_KEY = NoteSigner.generate("example.com/audit")


def rewrite(path: Path, at: int, signer: Signer | None, **changes: object) -> None:
    """What someone holding the log's signing key can do: change record ``at`` (0-based),
    then chain and sign every record after it again, so the whole log verifies."""
    forged = path.with_name("forged.jsonl")
    with AuditLog(forged, durability="none", signer=signer, tree=False) as log:
        for index, line in enumerate(lines_of(path)):
            record = DecisionRecord.from_json(line)
            if index == at:
                record = record.model_copy(update=changes)
            log.append(record)
    os.replace(forged, path)


def test_a_log_holds_its_checkpoint_and_may_grow(write_log: WriteLog, make_record: MakeRecord):
    path = write_log(20)
    note = checkpoint_log(path, LOG_KEY)
    checkpoint = open_checkpoint(note, LOG_KEY.verifier()).checkpoint
    assert (checkpoint.origin, checkpoint.size) == ("example.com/audit", 20)
    with AuditLog(path, durability="none") as log:
        for _ in range(7):
            log.append(make_record())
    verdict = verify_checkpoint(path, note, LOG_KEY.verifier())
    assert (
        verdict.ok and verdict.size == 20 and str(verdict).endswith("checkpoint example.com/audit")
    )
    assert checkpoint_log(path, LOG_KEY, "example.com/other").text.startswith(
        "example.com/other\n27\n"
    )


def test_truncation_below_the_checkpoint_fails_at_the_first_missing_record(write_log: WriteLog):
    path = write_log(12)
    note = checkpoint_log(path, LOG_KEY)
    path.write_bytes(b"".join(lines_of(path)[:9]))
    assert verify_log(path).ok  # a shorter chain is still a chain
    verdict = verify_checkpoint(path, note, LOG_KEY.verifier())
    assert (verdict.problem, verdict.line) == ("truncated", 10)
    assert "covers 12 records, there are 9" in str(verdict)


def test_a_rewrite_resigned_with_the_logs_own_key_fails_naming_the_record(
    write_log: WriteLog,
) -> None:
    signer = Signer.generate()
    path = write_log(30, signer=signer)
    note = checkpoint_log(path, LOG_KEY)
    rewrite(path, 11, signer, decision="deny", determining_rule=None)
    assert verify_log(path, signer.verifier()).ok  # chain and signatures all hold
    verdict = verify_checkpoint(path, note, LOG_KEY.verifier())
    assert (verdict.problem, verdict.line) == ("rewritten", 12), verdict
    assert "audit.jsonl.tree" in str(verdict)

    # a gateway that keeps the tree opens the rewritten log: its sidecar is stale, set
    # aside, and still names it
    with AuditLog(path, tree=True) as log:
        assert log.head == DecisionRecord.from_json(lines_of(path)[-1]).record_digest
    verdict = verify_checkpoint(path, note, LOG_KEY.verifier())
    assert (verdict.problem, verdict.line) == ("rewritten", 12)
    assert ".tree.stale-" in str(verdict)

    # without any tree hashes that match the checkpoint, only the fact remains
    for side in path.parent.glob("audit.jsonl.tree*"):
        side.unlink()
    verdict = verify_checkpoint(path, note, LOG_KEY.verifier())
    assert (verdict.problem, verdict.line) == ("checkpoint-mismatch", None)
    assert str(verdict).startswith(f"{path}: checkpoint-mismatch: the first 30 records")


def test_a_rewrite_of_the_last_checkpointed_record(write_log: WriteLog) -> None:
    path = write_log(8)
    note = checkpoint_log(path, LOG_KEY)
    rewrite(path, 7, None, decision="allow")
    verdict = verify_checkpoint(path, note, LOG_KEY.verifier())
    assert (verdict.problem, verdict.line) == ("rewritten", 8)


def test_a_checkpoint_not_signed_by_the_log_or_short_of_witnesses(write_log: WriteLog) -> None:
    path = write_log(3)
    note = checkpoint_log(path, LOG_KEY)
    other = NoteSigner.generate("example.com/audit")
    assert verify_checkpoint(path, note, other.verifier()).problem == "not-signed"
    forged = note.format().replace("\n3\n", "\n2\n")
    assert verify_checkpoint(path, forged, LOG_KEY.verifier()).problem == "bad-checkpoint"
    witness = NoteSigner.generate("witness.example")
    verdict = verify_checkpoint(
        path, note, LOG_KEY.verifier(), [witness.cosigner()], min_witnesses=1
    )
    assert verdict.problem == "witness-quorum" and verdict.line is None
    cosigned = note.signed(witness.cosign(note.text.encode(), 1_800_000_000))
    verdict = verify_checkpoint(
        path, cosigned, LOG_KEY.verifier(), [witness.cosigner()], min_witnesses=1
    )
    assert verdict.ok and verdict.witnesses == ("witness.example",)


def test_proofs_of_a_record_by_index_or_decision_id(write_log: WriteLog) -> None:
    path = write_log(13)
    checkpoint = open_checkpoint(checkpoint_log(path, LOG_KEY), LOG_KEY.verifier()).checkpoint
    line = lines_of(path)[6]
    decision_id = DecisionRecord.from_json(line).decision_id
    assert find_decision(path, decision_id) == [6]
    assert find_decision(path, "no-such-id") == []
    proof = prove_inclusion_log(path, find_decision(path, decision_id)[0])
    proof.verify(checkpoint.root_hash, leaf_hash(line.rstrip(b"\n")))
    older = prove_inclusion_log(path, 6, size=9)
    assert older.tree_size == 9
    prove_consistency_log(path, 9).verify(older.root_hash, checkpoint.root_hash)
    from usepolicy import AuditError

    with pytest.raises(AuditError, match="not in a tree of 13"):
        prove_inclusion_log(path, 13)
    with pytest.raises(AuditError, match="not 14"):
        prove_consistency_log(path, 3, 14)


def test_a_checkpoint_reads_the_sidecar_not_the_log(
    write_log: WriteLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_log(300)
    import usepolicy.tlog._grow as grow
    import usepolicy.tlog._sidecar as sidecar

    checked: list[bytes] = []  # the last record, checked against the log
    hashed: list[bytes] = []  # records hashed into the tree
    add = grow.Growth.add

    def counting(data: bytes) -> bytes:
        checked.append(data)
        return leaf_hash(data)

    def adding(self: grow.Growth, leaves: Iterable[bytes]) -> None:
        leaves = list(leaves)
        hashed.extend(leaves)
        add(self, leaves)

    open_tree(path).close()  # the sidecar, made now if the writer kept none
    monkeypatch.setattr(sidecar, "leaf_hash", counting)
    monkeypatch.setattr(grow.Growth, "add", adding)
    checkpoint_log(path, LOG_KEY)
    prove_inclusion_log(path, 150)
    assert len(checked) == 2 and not hashed  # once per open, and not the whole log
    sidecar_path(path).unlink()
    checkpoint_log(path, LOG_KEY)  # missing: rebuilt from the log
    assert len(hashed) == 300


def test_a_folder_we_may_not_write_gets_a_temporary_tree(
    write_log: WriteLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_log(5, tree=False)
    import usepolicy.audit._logtree as logtree

    real = logtree.TreeState

    def refused(log: Path, **options: object) -> TreeState:
        if "path" not in options:  # the sidecar beside the log: as in a read-only folder
            raise TreeError(errno.EACCES, f"{sidecar_path(log)}: cannot open: Permission denied")
        return real(log, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(logtree, "TreeState", refused)
    with open_tree(path) as tree:
        assert tree.size == 5 and not tree.path.exists()  # built, used, its name gone
    assert not sidecar_path(path).exists()


def test_a_decision_id_names_its_decision_record_not_the_outcome_after_it(
    tmp_path: Path,
) -> None:
    import json

    from usepolicy.audit import find_decision

    from .test_verify import _mixed_log

    log = tmp_path / "gateway.jsonl"
    _mixed_log(log)  # allow, its outcome (same decision_id), deny
    first = json.loads(log.read_bytes().splitlines()[0])["decision_id"]
    assert find_decision(log, first) == [0]
