"""Fixtures of the gateway tests: a key file, an environment file, a fake upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from usepolicy.gateway import key_digest

from .upstream import SEEN, serve, upstream_app

KEY = "sk-test-army"
OTHER_KEY = "sk-test-cell"
ORG = "Army Intelligence Center"


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "keys:\n"
        f"  - sha256: {key_digest(KEY)}\n"
        f"    organization: {ORG}\n"
        "    country: US\n"
        "    entity_id: aic-7\n"
        f"  - sha256: {key_digest(OTHER_KEY)}\n"
        "    organization: Joint Analysis Cell\n"
    )
    return path


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / "env.yaml"
    path.write_text("network: air_gapped\nclassification: secret\n")
    return path


@pytest.fixture(scope="session")
def upstream() -> Iterator[str]:
    """The fake upstream's base URL (one server for the session)."""
    with serve(upstream_app()) as url:
        yield url


@pytest.fixture
def seen() -> list[tuple[dict[str, str], dict[str, object]]]:
    SEEN.clear()
    return SEEN
