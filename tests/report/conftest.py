"""Fixtures for the report tests: the sample log, a tampered copy, their reports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .sample import write_sample

pytest.importorskip("matplotlib", reason="the report needs pip install 'usepolicy[report]'")


@pytest.fixture(scope="session")
def sample_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("report") / "audit.jsonl")


#: the line of the tampered copy whose decision was turned from deny into allow
TAMPERED_LINE = 101


@pytest.fixture(scope="session")
def tampered_log(sample_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = sample_log.read_bytes().splitlines(keepends=True)
    edited = lines[TAMPERED_LINE - 1].replace(b'"decision":"deny"', b'"decision":"allow"')
    assert edited != lines[TAMPERED_LINE - 1]
    lines[TAMPERED_LINE - 1] = edited
    path = tmp_path_factory.mktemp("tampered") / "audit.jsonl"
    path.write_bytes(b"".join(lines))
    return path


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``$USEPOLICY_ARTIFACTS`` (CI keeps it), else a temp folder."""
    folder = os.environ.get("USEPOLICY_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path
