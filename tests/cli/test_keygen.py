"""``usepolicy keygen`` does not leave a private key where ``git add .`` would commit it;
``keygen --note NAME [--witness]`` makes note keys in Go's sumdb/note format."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from usepolicy.tlog import COSIGNATURE_V1, ED25519, NoteSigner, NoteVerifier

from ..conftest import REPO, RunCli

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture
def work_tree(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "config").mkdir()
    return tmp_path


def test_a_key_in_a_work_tree_is_refused(work_tree: Path, run_cli: RunCli) -> None:
    result = run_cli("keygen", "-o", "config/usepolicy.key", cwd=work_tree)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"usepolicy: config/usepolicy.key: inside the git work tree {work_tree}, and not "
        "ignored there: `git add .` would commit the private key."
    )
    assert "--force" in result.stderr
    assert list((work_tree / "config").iterdir()) == []


def test_force_writes_it_anyway(work_tree: Path, run_cli: RunCli) -> None:
    result = run_cli("keygen", "-o", "config/usepolicy.key", "--force", cwd=work_tree)
    assert result.returncode == 0, result.stderr
    assert (work_tree / "config" / "usepolicy.key").exists()


def test_a_key_git_ignores_is_written(work_tree: Path, run_cli: RunCli) -> None:
    (work_tree / ".gitignore").write_text("*.key\n")
    result = run_cli("keygen", "-o", str(work_tree / "config" / "usepolicy.key"))
    assert result.returncode == 0, result.stderr
    status = subprocess.run(
        ["git", "-C", str(work_tree), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "usepolicy.key.pub" in status and "usepolicy.key\n" not in status


def test_a_linked_work_tree_counts_and_without_git_it_refuses(
    tmp_path: Path, work_tree: Path
) -> None:
    # a linked work tree or submodule has a `.git` file; and when git cannot be asked
    # whether it ignores the key (not on PATH), the answer is no
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".git").write_text(f"gitdir: {work_tree}/.git\n")
    result = subprocess.run(
        [sys.executable, "-m", "usepolicy", "keygen", "-o", str(linked / "k.key")],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PATH": ""},
    )  # fmt: skip
    assert result.returncode == 1
    assert f"inside the git work tree {linked}" in result.stderr
    assert not (linked / "k.key").exists()


def test_outside_a_work_tree_nothing_changes(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("keygen", "-o", str(tmp_path / "usepolicy.key"))
    assert result.returncode == 0, result.stderr


def test_this_repository_ignores_private_keys() -> None:
    def ignored(path: str) -> bool:
        found = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", path])
        assert found.returncode in (0, 1)
        return found.returncode == 0

    assert ignored("usepolicy.key") and ignored("keys/gateway.key")
    assert not ignored("usepolicy.key.pub")


def test_a_note_key_in_a_work_tree_is_refused_too(work_tree: Path, run_cli: RunCli) -> None:
    result = run_cli("keygen", "--note", "example.com/audit", "-o", "config/log.key", cwd=work_tree)
    assert result.returncode == 1 and "would commit the private key" in result.stderr
    assert list((work_tree / "config").iterdir()) == []


def test_a_log_key_and_a_witness_key(tmp_path: Path, run_cli: RunCli) -> None:
    made = run_cli("keygen", "--note", "example.com/audit", "-o", str(tmp_path / "log.key"))
    assert made.returncode == 0, made.stderr
    signer = NoteSigner.from_file(tmp_path / "log.key")
    verifier = NoteVerifier.from_file(tmp_path / "log.key.pub")
    assert signer.verifier() == verifier and verifier.key_type == ED25519
    assert verifier.vkey in made.stdout and "log verifier key" in made.stdout
    assert (tmp_path / "log.key").stat().st_mode & 0o777 == 0o600
    made = run_cli("keygen", "--note", "w.example", "--witness", "-o", str(tmp_path / "w.key"))
    assert made.returncode == 0 and "witness verifier key" in made.stdout
    assert NoteVerifier.from_file(tmp_path / "w.key.pub").key_type == COSIGNATURE_V1


def test_bad_uses(tmp_path: Path, run_cli: RunCli) -> None:
    again = run_cli("keygen", "--note", "a", "-o", str(tmp_path / "k"))
    assert again.returncode == 0
    exists = run_cli("keygen", "--note", "a", "-o", str(tmp_path / "k"))
    assert exists.returncode == 1 and "exists (use --force" in exists.stderr
    spaced = run_cli("keygen", "--note", "a b", "-o", str(tmp_path / "s"))
    assert spaced.returncode == 1 and "bad key name `a b`" in spaced.stderr
    alone = run_cli("keygen", "--witness", "-o", str(tmp_path / "w"))
    assert alone.returncode == 1 and "give --note NAME" in alone.stderr
