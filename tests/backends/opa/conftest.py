"""Fixtures of the OPA tests: one regopy worker process for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._harness import RegoWorker


@pytest.fixture(scope="session")
def rego_worker() -> Iterator[RegoWorker]:
    worker = RegoWorker()
    yield worker
    worker.close()
