"""Shared fixtures for the audit tests: an engine on the reference pack, sample records,
a PostgreSQL server."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import usepolicy
from usepolicy import DecisionRecord, Engine
from usepolicy.audit import AuditLog, init_db

from .pg_server import PgServer, find_binaries

ALLOWED: dict[str, Any] = {
    "requester": {"organization": "Army Intelligence Center", "country": "US"},
    "purpose": "intelligence.foreign",
    "description": "translate intercepted radio traffic",
    "data": {"subjects": "foreign", "provenance": "targeted", "subject_count": 12},
    "attributes": {"case_notes": "informant ALPHA-7", "tier": 2},
}
DENIED: dict[str, Any] = {
    "requester": {"organization": "Joint Analysis Cell"},
    "purpose": "intelligence.analysis",
    "data": {"subjects": "domestic", "provenance": "commercial", "subject_count": 250000},
}


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(usepolicy.load_policy())


MakeRecord = Callable[..., DecisionRecord]


@pytest.fixture
def make_record(engine: Engine) -> MakeRecord:
    """A fresh (unchained) record: allowed by default, denied with ``deny=True``."""

    def make(deny: bool = False, **changes: Any) -> DecisionRecord:
        request = {**(DENIED if deny else ALLOWED), **changes}
        return engine.evaluate(request).record()

    return make


WriteLog = Callable[..., Path]


@pytest.fixture
def write_log(tmp_path: Path, make_record: MakeRecord) -> WriteLog:
    """Write a log of ``n`` records (alternating allow/deny) and return its path."""

    def write(n: int = 6, name: str = "audit.jsonl", **options: Any) -> Path:
        path = tmp_path / name
        with AuditLog(path, durability="none", **options) as log:
            for i in range(n):
                log.append(make_record(deny=bool(i % 2)))
        return path

    return write


def lines_of(path: Path) -> list[bytes]:
    """The log's lines, each with its ``\\n``."""
    return path.read_bytes().splitlines(keepends=True)


# -- a PostgreSQL server for the store's tests (postgres/test_sink, postgres/test_tree) -------------
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
    assert init_db(blank) == [1, 2]
    return blank
