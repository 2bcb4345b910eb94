"""Shared fixtures: repository paths and a runner for the real ``usepolicy`` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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


T = TypeVar("T")


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A named pipe nobody writes to: reading it the ordinary way blocks forever."""
    path = tmp_path / "fifo.yaml"
    os.mkfifo(path)
    return path


def unblocked(call: Callable[[], T], fifo: Path) -> T:
    """``call()``, which must not block on ``fifo``; its exception is re-raised here.

    A guard, not a timing: should ``call`` block, a writer opens and closes the FIFO
    after a minute, so the call returns and the test fails instead of hanging.
    """
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # end of file for the reader
        thread.join(60)
        pytest.fail(f"blocked reading the FIFO {fifo}")
    ok, value = outcome[0]
    if not ok:
        raise value
    result: T = value
    return result
