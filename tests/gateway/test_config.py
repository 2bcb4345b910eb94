"""KEYS.yaml and ENV.yaml: what the deployment says, read with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from usepolicy import PolicyError
from usepolicy.gateway import KeyRing, key_digest, load_environment, load_keys

from .conftest import KEY, ORG


def test_a_key_maps_to_its_requester_and_only_its_digest_is_stored(keys_file: Path) -> None:
    ring = load_keys(keys_file)
    assert ring.requester(KEY) == {"organization": ORG, "country": "US", "entity_id": "aic-7"}
    assert ring.requester("sk-unknown") is None
    assert KEY not in keys_file.read_text()
    assert key_digest(KEY) in ring.requesters


def test_bad_key_files_name_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "keys:\n"
        "  - sha256: not-a-digest\n"
        "    organization: A\n"
        f"  - sha256: {key_digest('k')}\n"
        "    organisation: B\n"
        f"  - sha256: {key_digest('k')}\n"
        "    organization: C\n"
        "    country: usa\n"
    )
    with pytest.raises(PolicyError) as caught:
        load_keys(path)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{path}:2:13: bad-value: `sha256` must be")
    assert any(
        line.startswith(f"{path}:5:5: unknown-key: unknown key `organisation`") for line in lines
    )
    assert any(
        line.startswith(f"{path}:4:5: missing-key: a key needs `organization`") for line in lines
    )
    assert any(line.startswith(f"{path}:6:13: duplicate-key") for line in lines)
    assert any(line.startswith(f"{path}:8:14: bad-value: `country` `usa`") for line in lines)


def test_environment_file(env_file: Path, tmp_path: Path) -> None:
    assert load_environment(env_file) == {"network": "air_gapped", "classification": "secret"}
    bad = tmp_path / "env.yaml"
    bad.write_text("network: airgapped\n")
    with pytest.raises(PolicyError, match=r"env\.yaml:1:10: bad-value: `network` must be one of"):
        load_environment(bad)


def test_key_ring_of_plain_keys() -> None:
    ring = KeyRing.of({"k1": {"organization": "O"}})
    assert ring.requester("k1") == {"organization": "O"}
