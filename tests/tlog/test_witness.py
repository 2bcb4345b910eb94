"""The witness cosigns a log's checkpoints only while they stay consistent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from usepolicy.tlog import (
    Checkpoint,
    Note,
    NoteSigner,
    Witness,
    WitnessError,
    open_checkpoint,
    prove_consistency,
    tree_hash,
)

from .reference import Memory

LOG = NoteSigner.generate("example.com/audit")
LEAVES = [b"record %d" % i for i in range(40)]
MEMORY = Memory(LEAVES)
FORK = Memory([*LEAVES[:20], b"a different record 20", *LEAVES[21:]])


def checkpoint(size: int, memory: Memory = MEMORY) -> Note:
    return Checkpoint("example.com/audit", size, tree_hash(size, memory)).sign(LOG)


@pytest.fixture
def witness(tmp_path: Path) -> Witness:
    return Witness(tmp_path / "state", NoteSigner.generate("witness.example/w1"))


def refused(witness: Witness, note: Note, proof: object = None, code: str = "") -> WitnessError:
    with pytest.raises(WitnessError) as caught:
        witness.cosign(note, LOG.verifier(), proof, now=1_800_000_100)  # type: ignore[arg-type]
    assert caught.value.code == code, caught.value
    return caught.value


def test_cosigns_a_log_that_only_grows(witness: Witness) -> None:
    first = witness.cosign(checkpoint(10), LOG.verifier(), now=1_800_000_000)
    assert first.previous is None  # the first checkpoint of a log is taken as it is
    opened = open_checkpoint(
        first.note, LOG.verifier(), [witness.signer.cosigner()], min_witnesses=1
    )
    assert opened.note.signatures[-1].timestamp == 1_800_000_000
    again = witness.cosign(checkpoint(10), LOG.verifier())  # the same head: re-cosigned
    assert again.previous == first.checkpoint
    grown = witness.cosign(checkpoint(25), LOG.verifier(), prove_consistency(10, 25, MEMORY))
    assert grown.previous is not None and grown.previous.size == 10
    last = witness.last("example.com/audit")
    assert last is not None and last[0].size == 25 and last[1] == LOG.verifier().vkey


def test_refuses_a_rollback_and_a_fork_and_keeps_the_evidence(witness: Witness) -> None:
    witness.cosign(checkpoint(25), LOG.verifier())
    error = refused(witness, checkpoint(24), code="rollback")
    assert "below 25" in str(error)
    refused(witness, checkpoint(25, FORK), code="fork")  # same size, another root
    # a larger tree that does not extend the one cosigned: no proof can hold
    bad = prove_consistency(25, 30, FORK)
    refused(witness, checkpoint(30, FORK), bad, code="fork")
    kept = sorted(p.name for p in witness.state.iterdir() if ".refused-" in p.name)
    assert len(kept) == 3
    evidence = Note.parse((witness.state / kept[0]).read_text())
    assert open_checkpoint(evidence, LOG.verifier()).checkpoint.size in (24, 25, 30)
    last = witness.last("example.com/audit")
    assert last is not None and last[0].size == 25  # nothing refused was remembered


def test_needs_a_proof_for_the_right_sizes(witness: Witness) -> None:
    witness.cosign(checkpoint(10), LOG.verifier())
    refused(witness, checkpoint(20), code="needs-proof")
    refused(witness, checkpoint(20), prove_consistency(11, 20, MEMORY), code="bad-proof")
    witness.cosign(checkpoint(20), LOG.verifier(), prove_consistency(10, 20, MEMORY))


def test_refuses_what_the_log_did_not_sign_and_another_log_key(witness: Witness) -> None:
    forged = Checkpoint("example.com/audit", 5, tree_hash(5, MEMORY)).sign(
        NoteSigner.generate("example.com/audit")
    )
    refused(witness, forged, code="not-signed")
    witness.cosign(checkpoint(5), LOG.verifier())
    impostor = NoteSigner.generate("example.com/audit")
    note = Checkpoint("example.com/audit", 6, tree_hash(6, MEMORY)).sign(impostor)
    with pytest.raises(WitnessError) as caught:
        witness.cosign(note, impostor.verifier(), prove_consistency(5, 6, MEMORY))
    assert caught.value.code == "wrong-log-key"


def test_damaged_state_is_refused_not_overwritten(witness: Witness) -> None:
    witness.cosign(checkpoint(5), LOG.verifier())
    state = next(p for p in witness.state.iterdir() if p.suffix == ".json")
    assert json.loads(state.read_text())["log_key"] == LOG.verifier().vkey
    state.write_text("{not json")
    refused(witness, checkpoint(6), prove_consistency(5, 6, MEMORY), code="bad-state")
    assert state.read_text() == "{not json"


def test_each_origin_has_its_own_state(witness: Witness) -> None:
    other = Checkpoint("../escape/log", 3, tree_hash(3, MEMORY)).sign(LOG)
    witness.cosign(other, LOG.verifier())
    witness.cosign(checkpoint(7), LOG.verifier())
    names = sorted(p.name for p in witness.state.iterdir())
    assert names == ["..%2Fescape%2Flog.json", ".lock", "example.com%2Faudit.json"]
