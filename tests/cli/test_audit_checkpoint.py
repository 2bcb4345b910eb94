"""``usepolicy audit checkpoint LOG --sign-key KEY [--origin ORIGIN]``."""

from __future__ import annotations

import os
from pathlib import Path

from usepolicy.audit import generate_keypair
from usepolicy.tlog import Note, NoteSigner, open_checkpoint

from ..conftest import RunCli


def test_prints_the_signed_checkpoint(small_log: Path, log_key: Path, run_cli: RunCli) -> None:
    made = run_cli("audit", "checkpoint", str(small_log), "--sign-key", str(log_key))
    assert made.returncode == 0, made.stderr
    opened = open_checkpoint(Note.parse(made.stdout), NoteSigner.from_file(log_key).verifier())
    assert (opened.checkpoint.origin, opened.checkpoint.size) == ("example.com/audit", 4)
    named = run_cli(
        "audit", "checkpoint", str(small_log), "--sign-key", str(log_key), "--origin", "x.org/y"
    )
    assert named.stdout.startswith("x.org/y\n4\n")


def test_errors_are_one_line(small_log: Path, log_key: Path, tmp_path: Path, run_cli: RunCli):
    _, pem, _ = generate_keypair(tmp_path / "records.pem")
    for args, message in (
        (["--sign-key", str(pem)], "a PEM key (for signing records), not a note key"),
        (["--sign-key", str(tmp_path / "none")], "cannot read the key"),
        (["--sign-key", str(log_key), "--writer", "w"], "--writer applies to a database URL"),
    ):
        result = run_cli("audit", "checkpoint", str(small_log), *args)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert len(result.stderr.splitlines()) == 1 and not result.stdout
    missing = run_cli("audit", "checkpoint", str(tmp_path / "no.jsonl"), "--sign-key", str(log_key))
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_files_that_are_not_regular_files_are_refused_not_waited_on(
    small_log: Path, log_key: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # reading it would block until a writer came
    for args in (
        [str(fifo), "--sign-key", str(log_key)],
        [str(small_log), "--sign-key", str(fifo)],
    ):
        result = run_cli("audit", "checkpoint", *args)
        assert result.returncode == 1 and "named pipe" in result.stderr, result.stderr
    note = run_cli("audit", "verify", str(small_log), "--checkpoint", str(fifo), "--key",
                   f"{log_key}.pub")  # fmt: skip
    assert note.returncode == 1 and "named pipe" in note.stderr
    witness = run_cli("audit", "witness", str(fifo), "--log-key", f"{log_key}.pub", "--key",
                      str(log_key), "--state", str(tmp_path / "s"))  # fmt: skip
    assert witness.returncode == 1 and "named pipe" in witness.stderr
