"""``usepolicy audit prove LOG (--index N | --decision-id ID) [--size N]`` and
``--from OLD --to NEW``: proofs that check against checkpoints, without the log."""

from __future__ import annotations

import json
from pathlib import Path

from usepolicy import DecisionRecord
from usepolicy.audit import checkpoint_log
from usepolicy.tlog import ConsistencyProof, InclusionProof, NoteSigner, leaf_hash, open_checkpoint

from ..conftest import RunCli
from .conftest import Grow


def root(path: Path, key: Path) -> bytes:
    signer = NoteSigner.from_file(key)
    return open_checkpoint(checkpoint_log(path, signer), signer.verifier()).checkpoint.root_hash


def test_inclusion_and_consistency(small_log: Path, log_key: Path, grow: Grow, run_cli: RunCli):
    old_root = root(small_log, log_key)
    grow(small_log, 3)
    new_root = root(small_log, log_key)
    lines = small_log.read_bytes().splitlines()
    decision_id = DecisionRecord.from_json(lines[2]).decision_id
    by_id = run_cli("audit", "prove", str(small_log), "--decision-id", decision_id)
    assert by_id.returncode == 0, by_id.stderr
    proof = InclusionProof.from_json(by_id.stdout)
    assert sorted(json.loads(by_id.stdout)) == sorted(
        ["index", "tree_size", "leaf_hash", "root_hash", "hashes"]
    )
    assert (proof.index, proof.tree_size) == (2, 7)
    proof.verify(new_root, leaf_hash(lines[2]))
    older = run_cli("audit", "prove", str(small_log), "--index", "3", "--size", "4")
    InclusionProof.from_json(older.stdout).verify(old_root, leaf_hash(lines[3]))
    consistency = run_cli("audit", "prove", str(small_log), "--from", "4", "--to", "7")
    assert consistency.returncode == 0, consistency.stderr
    ConsistencyProof.from_json(consistency.stdout).verify(old_root, new_root)


def test_errors(small_log: Path, run_cli: RunCli) -> None:
    for args, message in (
        (["--index", "4"], "leaf index 4 is not in a tree of 4 leaves"),
        (["--index", "1", "--size", "9"], "the tree has 4 leaves, not 9"),
        (["--from", "3", "--to", "9"], "not 9"),
        (["--from", "1", "--size", "3"], "--from goes with --to"),
        (["--index", "1", "--to", "3"], "--from goes with --to"),
        (["--decision-id", "nope"], "decision id `nope`: no record; give --index"),
        (["--index", "-1"], "must not be negative"),
        (["--index", "1", "--writer", "w"], "--writer applies to a database URL"),
    ):
        result = run_cli("audit", "prove", str(small_log), *args)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
        assert not result.stdout
