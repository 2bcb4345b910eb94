"""Interoperability with an independent implementation: Go's golang.org/x/mod/sumdb/note
and sumdb/tlog check what usepolicy makes, and usepolicy checks what they make.

The Go program is ``tests/tlog/interop/main.go``. Debian's ``golang-golang-x-mod-dev``
installs golang.org/x/mod as source in a GOPATH tree (``/usr/share/gocode/src``), so it
builds offline in GOPATH mode (``GO111MODULE=off GOPATH=/usr/share/gocode``): no module
download, no go.mod. Without ``go`` (``apt-get install golang-go
golang-golang-x-mod-dev``) the tests skip; ``USEPOLICY_REQUIRE_GO=1`` (set by ``.ci/run``)
makes them fail instead.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from usepolicy import Engine, load_policy
from usepolicy.audit import AuditLog, checkpoint_log, prove_consistency_log, prove_inclusion_log
from usepolicy.tlog import (
    ConsistencyProof,
    InclusionProof,
    Note,
    NoteSigner,
    NoteVerifier,
    Witness,
    open_checkpoint,
    tree_hash,
)
from usepolicy.tlog._hash import stored_count, stored_index

from .reference import Memory

HERE = Path(__file__).parent / "interop"
GOPATH = Path(os.environ.get("USEPOLICY_GOPATH", "/usr/share/gocode"))
REQUIRED = os.environ.get("USEPOLICY_REQUIRE_GO") == "1"
INSTALL = "apt-get install golang-go golang-golang-x-mod-dev"


def _unavailable(why: str) -> None:
    if REQUIRED:
        pytest.fail(f"USEPOLICY_REQUIRE_GO=1 but {why}")
    pytest.skip(f"{why}: the Go interoperability tests need it ({INSTALL})")


@pytest.fixture(scope="module")
def interop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        _unavailable("no `go` command")
    if not (GOPATH / "src/golang.org/x/mod/sumdb/note").is_dir():
        _unavailable(f"golang.org/x/mod is not in {GOPATH}/src")
    out = tmp_path_factory.mktemp("go")
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(out / "cache"),
        "GOFLAGS": "",
        "GOPROXY": "off",
    }
    binary = out / "interop"
    built = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    return binary


def run(binary: Path, command: str, request: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [str(binary), command],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _flip(text: str) -> str:
    """A base64 hash with one bit changed."""
    raw = bytearray(base64.b64decode(text))
    raw[5] ^= 0x10
    return base64.b64encode(bytes(raw)).decode()


def test_go_checks_our_checkpoints_cosignatures_and_proofs(interop: Path, tmp_path: Path):
    engine = Engine(load_policy())
    log_key = NoteSigner.generate("example.com/audit")
    witness = Witness(tmp_path / "witness", NoteSigner.generate("witness.example/w1"))
    path = tmp_path / "audit.jsonl"
    checkpoints: list[str] = []
    with AuditLog(path, durability="none") as log:
        for size in (1, 6, 13, 21):  # the log grows; a checkpoint at each size, witnessed
            while len(path.read_bytes().splitlines()) < size:
                org = f"Org {len(checkpoints)}-{size} é"  # non-ASCII survives both readers
                log.append(engine.evaluate(
                    {"requester": {"organization": org}, "purpose": "general.assistant"}
                ).record())  # fmt: skip
            note = checkpoint_log(path, log_key)
            old = (
                open_checkpoint(checkpoints[-1], log_key.verifier()).checkpoint
                if checkpoints
                else None
            )
            proof = prove_consistency_log(path, old.size) if old else None
            checkpoints.append(witness.cosign(note, log_key.verifier(), proof).note.format())
    sizes = [1, 6, 13, 21]
    inclusion = [
        {"checkpoint": c, "proof": prove_inclusion_log(path, index, size).to_dict()}
        for c, size in enumerate(sizes)
        for index in range(size)
    ]
    consistency = [
        {"old": a, "new": b, "proof": prove_consistency_log(path, sizes[a], sizes[b]).to_dict()}
        for a in range(4)
        for b in range(a, 4)
    ]
    records = path.read_bytes().splitlines()
    request = {
        "log_key": log_key.verifier().vkey,
        "witness_keys": [witness.signer.cosigner().vkey],
        "checkpoints": checkpoints,
        "leaves": [base64.b64encode(r).decode() for r in records],
        "inclusion": inclusion,
        "consistency": consistency,
    }
    result = run(interop, "check", request)
    for size, opened in zip(sizes, result["checkpoints"], strict=True):
        assert opened.get("error") is None, opened
        assert (opened["origin"], opened["size"]) == ("example.com/audit", size)
        assert opened["signers"] == ["example.com/audit", "witness.example/w1"]
    assert result["inclusion"] == [""] * len(inclusion)
    assert result["consistency"] == [""] * len(consistency)
    ours = [p["proof"]["leaf_hash"] for p in inclusion if p["checkpoint"] == 3]
    assert result["leaf_hashes"] == ours  # Go's RecordHash of each line is our leaf hash

    # and Go refuses what is wrong: a changed checkpoint, a changed proof hash
    request["checkpoints"] = [checkpoints[0].replace("\n1\n", "\n2\n", 1), *checkpoints[1:]]
    request["inclusion"] = [dict(inclusion[-1])]
    request["inclusion"][0]["proof"] = {
        **inclusion[-1]["proof"],
        "hashes": [
            _flip(inclusion[-1]["proof"]["hashes"][0]),
            *inclusion[-1]["proof"]["hashes"][1:],
        ],
    }
    request["consistency"] = [dict(consistency[-2])]
    request["consistency"][0]["proof"] = {
        **consistency[-2]["proof"],
        "hashes": [_flip(h) for h in consistency[-2]["proof"]["hashes"]],
    }
    result = run(interop, "check", request)
    assert "invalid signature" in result["checkpoints"][0]["error"]
    assert result["inclusion"][0] and result["consistency"][0]


def test_we_check_gos_keys_checkpoints_cosignatures_and_proofs(interop: Path):
    leaves = [bytes([i, i * 3 % 256]) * (i % 4) for i in range(37)]
    sizes = [1, 2, 7, 8, 9, 31, 37]
    pairs_in = [(i, n) for n in sizes for i in range(n)]
    pairs_cons = [(a, b) for a in sizes for b in sizes if a < b]
    nodes = [(level, k) for level in range(6) for k in range(12)]
    made = run(
        interop,
        "make",
        {
            "name": "go.example/log",
            "witness_name": "go.example/witness",
            "time": 1_800_000_000,
            "leaves": [base64.b64encode(x).decode() for x in leaves],
            "sizes": sizes,
            "inclusion": pairs_in,
            "consistency": pairs_cons,
            "nodes": nodes,
        },
    )
    log_key = NoteVerifier.from_vkey(made["log_vkey"])
    witness_key = NoteVerifier.from_vkey(made["witness_vkey"])
    memory = Memory(leaves)
    roots = {}
    for size in sizes:
        note = Note.parse(made["checkpoints"][str(size)])
        opened = open_checkpoint(note, log_key, [witness_key], min_witnesses=1)
        assert opened.checkpoint.size == size and opened.checkpoint.origin == "go.example/log"
        assert opened.note.signatures[1].timestamp == 1_800_000_000
        assert opened.checkpoint.root_hash == tree_hash(size, memory)
        roots[size] = opened.checkpoint.root_hash
    for body in made["inclusion"]:
        proof = InclusionProof.from_json(body)
        proof.verify(roots[proof.tree_size])
    assert len(made["inclusion"]) == len(pairs_in)
    for body, (old, new) in zip(made["consistency"], pairs_cons, strict=True):
        proof = ConsistencyProof.from_json({**body, "hashes": body["hashes"] or []})
        assert (proof.old_size, proof.new_size) == (old, new)
        proof.verify(roots[old], roots[new])
    # Go's signer key is ours too: same key id, same (deterministic) signatures
    signer = NoteSigner.from_skey(made["log_skey"])
    assert signer.verifier() == log_key
    text = Note.parse(made["checkpoints"]["9"]).text
    assert (
        signer.sign(text.encode()).line()
        == Note.parse(made["checkpoints"]["9"]).signatures[0].line()
    )
    # the sidecar stores hashes in the order of Go's StoredHashIndex
    for level, k, index in made["stored_hash_index"]:
        assert stored_index(level, k) == index
    assert stored_count(len(leaves)) == made["stored_hash_count"]
