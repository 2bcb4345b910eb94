"""Fixtures for the transparency-log commands: a small log and a log's note key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from usepolicy import Engine, load_policy
from usepolicy.audit import AuditLog
from usepolicy.tlog import NoteSigner

REQUESTS = [
    {"requester": {"organization": "Army Intelligence Center"}, "purpose": "intelligence.foreign"},
    {
        "requester": {"organization": "Joint Analysis Cell"},
        "purpose": "intelligence.analysis",
        "data": {"subjects": "domestic", "provenance": "commercial"},
    },
]

Grow = Callable[[Path, int], None]


@pytest.fixture(scope="session")
def grow() -> Grow:
    """Append ``n`` decisions (allow, deny, allow, ...) to a log."""
    engine = Engine(load_policy())

    def append(path: Path, n: int) -> None:
        with AuditLog(path, durability="none") as log:
            for i in range(n):
                log.append(engine.evaluate(REQUESTS[i % 2]).record())

    return append


@pytest.fixture
def small_log(tmp_path: Path, grow: Grow) -> Path:
    path = tmp_path / "audit.jsonl"
    grow(path, 4)
    return path


@pytest.fixture
def log_key(tmp_path: Path) -> Path:
    """A log's note key file (``KEY``) and its verifier key (``KEY.pub``)."""
    signer = NoteSigner.generate("example.com/audit")
    path = tmp_path / "log.key"
    path.write_text(signer.skey + "\n")
    (tmp_path / "log.key.pub").write_text(signer.verifier().vkey + "\n")
    return path
