"""Shared fixtures: repository paths, a runner for the real ``usepolicy`` entry point, and
a throwaway PostgreSQL server (for the audit store's tests and the proxy's)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .audit.pg_server import PgServer, find_binaries

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


# -- a PostgreSQL server (tests/audit/postgres, the proxy with --audit-db) -------------------
REQUIRE_POSTGRES = os.environ.get("USEPOLICY_REQUIRE_POSTGRES") == "1"


def _unavailable(why: str) -> None:
    if REQUIRE_POSTGRES:
        pytest.fail(f"USEPOLICY_REQUIRE_POSTGRES=1 but {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL cluster (``pg_server.PgServer``), shared by the session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed: pip install 'usepolicy[postgres]'")
    folder, why = find_binaries()
    if folder is None:
        _unavailable(f"no PostgreSQL server can be started: {why}")
    # fsync off: these tests are about usepolicy, not the disk (on a slow virtual disk,
    # the checkpoint of a fast shutdown took 20 s); the benchmark keeps fsync on
    srv = PgServer(fsync=False)
    yield srv
    srv.destroy()


_names = itertools.count(1)


@pytest.fixture
def blank(server: PgServer) -> str:
    """The URL of a new, empty database."""
    return server.create_database(f"t{os.getpid()}_{next(_names)}")


@pytest.fixture
def db(blank: str) -> str:
    """The URL of a new database holding the audit tables."""
    from usepolicy.audit import init_db

    assert init_db(blank) == [1, 2, 3]
    return blank
