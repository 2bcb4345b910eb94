"""``write_bundle``: the layout ``opa run --server --bundle`` loads, a reproducible file,
and a module that, with the bundle's data, answers as the native engine does."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from usepolicy import load_policy
from usepolicy.backends.opa import bundle_files, write_bundle

from ._harness import Rego, RegoWorker, disagreements, generated_requests


def read_bundle(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {
            member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
        }


def test_layout_manifest_and_data(tmp_path: Path) -> None:
    policy = load_policy()
    path = tmp_path / "bundle.tar.gz"
    write_bundle(policy, path)
    files = read_bundle(path)
    module_path = "/usepolicy/national_security_safeguards/policy.rego"
    assert set(files) == {"/.manifest", "/data.json", module_path}  # as `opa build` names them
    manifest = json.loads(files["/.manifest"])
    assert manifest["revision"] == policy.digest
    assert manifest["roots"] == ["usepolicy/national_security_safeguards"]
    assert manifest["rego_version"] == 1
    data = json.loads(files["/data.json"])
    lists = data["usepolicy"]["national_security_safeguards"]["lists"]
    # the name keys of the items, which the input's name keys are compared with
    assert lists == {name: sorted(keys) for name, keys in policy.name_lists.items()}
    assert "huawei technologies co., ltd." in lists["denied_entities"]
    module = files[module_path].decode()
    assert "package usepolicy.national_security_safeguards\n" in module
    assert "_lists := data.usepolicy.national_security_safeguards.lists" in module
    assert "Huawei" not in module  # the lists live in data.json, once


def test_the_file_is_reproducible(tmp_path: Path) -> None:
    policy = load_policy()
    write_bundle(policy, tmp_path / "a.tar.gz")
    write_bundle(policy, tmp_path / "b.tar.gz")
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        assert {m.mtime for m in tar.getmembers()} == {0}


def test_the_bundle_answers_as_the_native_engine(rego_worker: RegoWorker) -> None:
    for name in ("national-security-safeguards", "any-lawful-use"):
        policy = load_policy(Path(__file__).parents[3] / "policies" / f"{name}.yaml")
        files = bundle_files(policy)
        [module] = [text for path, text in files.items() if path.endswith(".rego")]
        rego = Rego(rego_worker, policy, module.decode(), json.loads(files["/data.json"]))
        payloads = generated_requests(policy, 500, seed=3)
        assert not disagreements(rego, policy, payloads)


def test_without_its_data_the_module_denies_with_an_error(rego_worker: RegoWorker) -> None:
    policy = load_policy()
    files = bundle_files(policy)
    module = files["/usepolicy/national_security_safeguards/policy.rego"].decode()
    rego = Rego(rego_worker, policy, module)  # no data.json: the lists are missing
    request = generated_requests(policy, 1, seed=1)
    [answer] = rego.query(request)
    assert answer["decision"] == "deny"
    assert answer["determining_rule"] is None
    assert "denied_entities" in answer["errors"][0]["message"]


def test_the_archive_is_a_gzipped_tar_with_regular_files(tmp_path: Path) -> None:
    path = tmp_path / "bundle.tar.gz"
    write_bundle(load_policy(), path)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    with tarfile.open(fileobj=io.BytesIO(path.read_bytes()), mode="r:gz") as tar:
        assert all(m.isfile() and m.mode == 0o644 for m in tar.getmembers())
