"""``usepolicy audit witness CHECKPOINT --log-key VKEY --key KEY --state DIR [--proof P]``."""

from __future__ import annotations

from pathlib import Path

from usepolicy.audit import checkpoint_log
from usepolicy.tlog import Note, NoteSigner, NoteVerifier, open_checkpoint

from ..conftest import RunCli
from .conftest import Grow


def test_a_witness_follows_a_log_and_refuses_a_rollback(
    small_log: Path, log_key: Path, tmp_path: Path, grow: Grow, run_cli: RunCli
) -> None:
    witness = NoteSigner.generate("witness.example/w1")
    (tmp_path / "w.key").write_text(witness.skey)
    signer = NoteSigner.from_file(log_key)
    first = tmp_path / "cp4"
    first.write_text(checkpoint_log(small_log, signer).format())
    grow(small_log, 2)
    second = tmp_path / "cp6"
    second.write_text(checkpoint_log(small_log, signer).format())
    proof = tmp_path / "proof.json"
    made = run_cli("audit", "prove", str(small_log), "--from", "4", "--to", "6")
    proof.write_text(made.stdout)
    common = ["--log-key", f"{log_key}.pub", "--key", str(tmp_path / "w.key"), "--state",
              str(tmp_path / "state")]  # fmt: skip

    cosigned = run_cli("audit", "witness", str(first), *common)
    assert cosigned.returncode == 0, cosigned.stderr
    opened = open_checkpoint(Note.parse(cosigned.stdout), signer.verifier(), [witness.cosigner()])
    assert [w.name for w in opened.witnesses] == ["witness.example/w1"]

    missing = run_cli("audit", "witness", str(second), *common)
    assert missing.returncode == 1 and "needs-proof" in missing.stderr
    grown = run_cli(
        "audit", "witness", "-", *common, "--proof", str(proof), stdin=second.read_text()
    )
    assert grown.returncode == 0, grown.stderr
    back = run_cli("audit", "witness", str(first), *common)
    assert back.returncode == 1 and "rollback: size 4 is below 6" in back.stderr
    assert len(back.stderr.splitlines()) == 1 and not back.stdout
    # the log key given inline rather than as a file
    inline = ["--log-key", NoteVerifier.from_file(f"{log_key}.pub").vkey, *common[2:]]
    again = run_cli("audit", "witness", str(second), *inline)
    assert again.returncode == 0, again.stderr


def test_bad_inputs(small_log: Path, log_key: Path, tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "w.key").write_text(NoteSigner.generate("w").skey)
    (tmp_path / "cp").write_text(checkpoint_log(small_log, NoteSigner.from_file(log_key)).format())
    (tmp_path / "bad.json").write_text('{"old_size": 1}')
    common = ["--key", str(tmp_path / "w.key"), "--state", str(tmp_path / "s")]
    for args, message in (
        ([str(tmp_path / "cp"), "--log-key", "x+1+AA==", *common], "bad-key"),
        ([str(tmp_path / "cp"), "--log-key", str(tmp_path / "w.key"), *common], "bad-key"),
        ([str(tmp_path / "none"), "--log-key", f"{log_key}.pub", *common], "cannot read"),
        (
            [
                str(tmp_path / "cp"),
                "--log-key",
                f"{log_key}.pub",
                *common,
                "--proof",
                str(tmp_path / "bad.json"),
            ],
            "bad-proof: missing `new_size`",
        ),
        ([str(small_log), "--log-key", f"{log_key}.pub", *common], "bad-checkpoint"),
    ):
        result = run_cli("audit", "witness", *args)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
