"""The command dispatcher: every command is listed and reachable; a plain ``check``
stays a cold-start fast path (it must not import pydantic or the audit machinery)."""

from __future__ import annotations

import subprocess
import sys

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
        " or m.startswith(('usepolicy.audit', 'usepolicy.testing', 'usepolicy.backends',"
        " 'usepolicy._enforcer', 'usepolicy._record', 'usepolicy._request')))\n"
        "print(rc, heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stdout + result.stderr
