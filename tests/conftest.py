"""Shared fixtures: repository paths and a runner for the real ``usepolicy`` entry point."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "requests"
POLICIES = REPO / "policies"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli() -> RunCli:
    """Run ``python -m usepolicy ARGS`` (the installed entry point's module) in a subprocess."""

    def run(
        *args: str, stdin: str | None = None, cwd: Path = REPO
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "usepolicy", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=120,
        )

    return run
