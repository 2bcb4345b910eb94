"""Shared fixtures for the audit tests: an engine on the reference pack, sample records
(the PostgreSQL server is the root conftest's: the proxy's tests use it too)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import usepolicy
from usepolicy import DecisionRecord, Engine
from usepolicy.audit import AuditLog

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
