"""The command dispatcher: every command is listed and reachable; a plain ``check``
stays a cold-start fast path (it goes through the ``Enforcer`` like every check, but
must not import pydantic, the record models or the audit machinery)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from usepolicy.cli import COMMANDS

from ..conftest import REPO, RunCli


def test_help_lists_every_command(run_cli: RunCli) -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert f"    {name}" in result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_help(run_cli: RunCli, name: str) -> None:
    result = run_cli(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: usepolicy {name}")


def test_plain_check_imports_no_pydantic_and_no_audit_code() -> None:
    code = (
        "import sys, usepolicy.cli\n"
        "rc = usepolicy.cli.main(['check', 'examples/requests/network_defense.json'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'cryptography')"
        " or m.startswith(('usepolicy.audit', 'usepolicy.tlog', 'usepolicy.testing',"
        " 'usepolicy.backends', 'usepolicy.record._model', 'usepolicy.request._model')))\n"
        "print(rc, heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stdout + result.stderr


#: command -> the exit code of an input it cannot read (DESIGN.md section 4)
UNREADABLE_EXIT = {
    "validate {}": 3,
    "check {}": 3,
    "check -p {} examples/requests/network_defense.json": 3,
    "export rego {}": 3,
    "lint {}": 3,
    "diff policies/any-lawful-use.yaml {}": 3,
    "test {}": 1,
    "audit verify {}": 1,
    "audit show {}": 1,
    "audit verify --key {} LOG": 1,
}


def test_every_command_refuses_an_unreadable_path_in_one_line(tmp_path: Path) -> None:
    """A FIFO, a device, a folder, a symlink loop or a name too long, given to any
    command: one ``usepolicy:`` line and the documented exit code; never a hang, a
    traceback or an internal error. (All cases run in one child process, which a
    FIFO read would block: the timeout ends it.)"""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "folder").mkdir()
    (tmp_path / "LOG").write_text("")
    paths = [str(tmp_path / n) for n in ("fifo", "loop", "x" * 300)] + ["/dev/zero"]
    cases = [
        (command.format(path).replace("LOG", str(tmp_path / "LOG")).split(), code)
        for command, code in UNREADABLE_EXIT.items()
        for path in paths
    ]
    cases += [(["audit", "verify", str(tmp_path / "folder")], 1)]
    code = (
        "import contextlib, io, json, sys, usepolicy.cli\n"
        "out = []\n"
        "for args in json.loads(sys.argv[1]):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):\n"
        "        out.append([usepolicy.cli.main(args), err.getvalue()])\n"
        "print(json.dumps(out))\n"
    )
    argv = json.dumps([args for args, _ in cases])
    result = subprocess.run(
        [sys.executable, "-c", code, argv], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stderr
    for (args, expected), (status, stderr) in zip(cases, json.loads(result.stdout), strict=True):
        lines = [line for line in stderr.splitlines() if line.startswith("usepolicy: ")]
        assert status == expected and len(lines) == 1, (args, status, stderr)
        assert "internal error" not in stderr and "Traceback" not in stderr, (args, stderr)
        assert any(
            why in stderr
            for why in ("not a regular file", "link loop", "too long", "is a folder", "no policy")
        ), (args, stderr)
