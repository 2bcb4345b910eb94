"""``usepolicy audit verify LOG --checkpoint CP --key VKEY [--witness VKEY ...
--min-witnesses K]``: a receipt kept by the other party against the log shown later."""

from __future__ import annotations

import json
from pathlib import Path

from usepolicy import DecisionRecord, Engine, load_policy
from usepolicy.audit import AuditLog, Signer, checkpoint_log, generate_keypair
from usepolicy.tlog import NoteSigner

from ..conftest import RunCli
from .conftest import REQUESTS, Grow


def test_the_log_holds_the_receipt(
    small_log: Path, log_key: Path, tmp_path: Path, grow: Grow, run_cli: RunCli
) -> None:
    witnesses = [NoteSigner.generate(f"w{i}.example") for i in range(3)]
    note = checkpoint_log(small_log, NoteSigner.from_file(log_key))
    for w in witnesses[:2]:
        note = note.signed(w.cosign(note.text.encode(), 1_800_000_000))
    receipt = tmp_path / "receipt"
    receipt.write_text(note.format())
    for i, w in enumerate(witnesses):
        (tmp_path / f"w{i}.pub").write_text(w.cosigner().vkey)
    grow(small_log, 2)  # the log went on

    base = [
        "audit",
        "verify",
        str(small_log),
        "--checkpoint",
        str(receipt),
        "--key",
        f"{log_key}.pub",
    ]
    ok = run_cli(
        *base, "--witness", str(tmp_path / "w0.pub"), "--witness", str(tmp_path / "w1.pub")
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[2:] == [
        f"  checkpoint: example.com/audit, 4 records, root {note.text.split()[2]}",
        "    signed by the log key; the log holds those records unchanged",
        "    cosigned by 2 witness(es): w0.example, w1.example",
    ]
    three = [f"--witness={tmp_path / f'w{i}.pub'}" for i in range(3)]
    short = run_cli(*base, *three)
    assert short.returncode == 1 and "witness-quorum: 2 of the 3 known witnesses" in short.stderr
    assert run_cli(*base, *three, "--min-witnesses", "2").returncode == 0
    as_json = run_cli(*base, "--format", "json")
    body = json.loads(as_json.stdout)
    assert body["ok"] and body["count"] == 6 and body["checkpoint"]["ok"]
    assert body["checkpoint"]["size"] == 4


def test_a_rewrite_resigned_with_the_logs_keys_fails_naming_the_record(
    tmp_path: Path, log_key: Path, run_cli: RunCli
) -> None:
    _, pem, pub = generate_keypair(tmp_path / "records.key")  # the gateway's record key
    records = Signer.from_file(pem)
    path = tmp_path / "audit.jsonl"
    engine = Engine(load_policy())
    with AuditLog(path, durability="none", signer=records) as log:
        for i in range(9):
            log.append(engine.evaluate(REQUESTS[i % 2]).record())
    receipt = tmp_path / "receipt"
    receipt.write_text(checkpoint_log(path, NoteSigner.from_file(log_key)).format())
    lines = path.read_bytes().splitlines()
    with AuditLog(tmp_path / "forged.jsonl", durability="none", signer=records, tree=False) as log:
        for i, line in enumerate(lines):
            record = DecisionRecord.from_json(line)
            log.append(record.model_copy(update={"decision": "allow"}) if i == 3 else record)
    (tmp_path / "forged.jsonl").replace(path)

    chain = run_cli("audit", "verify", str(path), "--key", str(pub))
    assert chain.returncode == 0  # the chain and every signature hold
    bad = run_cli("audit", "verify", str(path), "--key", str(pub), "--checkpoint", str(receipt),
                  "--key", f"{log_key}.pub")  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.startswith(f"usepolicy: {path}:4: rewritten: record 4 is not the record")
    assert not bad.stdout


def test_usage_errors(small_log: Path, log_key: Path, tmp_path: Path, run_cli: RunCli) -> None:
    receipt = tmp_path / "receipt"
    receipt.write_text(checkpoint_log(small_log, NoteSigner.from_file(log_key)).format())
    (tmp_path / "junk").write_text("not a note")
    for args, message in (
        (["--checkpoint", str(receipt)], "--checkpoint needs the log's verifier key"),
        (
            ["--key", f"{log_key}.pub"],
            "a note verifier key (--key VKEY) is for checking a --checkpoint",
        ),
        (["--checkpoint", str(tmp_path / "junk"), "--key", f"{log_key}.pub"], "bad-checkpoint"),
        (["--checkpoint", str(tmp_path / "none"), "--key", f"{log_key}.pub"], "cannot read"),
        (
            ["--checkpoint", str(receipt), "--key", f"{log_key}.pub", "--witness", "nope"],
            "cannot read the key",
        ),
    ):
        result = run_cli("audit", "verify", str(small_log), *args)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.splitlines()) == 1
