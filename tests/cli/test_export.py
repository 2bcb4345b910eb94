"""``usepolicy export rego|bundle`` and ``usepolicy check --opa-url`` through the real
entry point."""

from __future__ import annotations

import json
import socket
import tarfile
from pathlib import Path

from usepolicy import load_policy
from usepolicy.backends.opa import to_rego

from ..backends.opa._harness import fake_opa
from ..conftest import EXAMPLES, POLICIES, RunCli

PACK = POLICIES / "national-security-safeguards.yaml"


def test_export_rego_prints_the_module(run_cli: RunCli) -> None:
    result = run_cli("export", "rego", str(PACK))
    assert result.returncode == 0, result.stderr
    assert result.stdout == to_rego(load_policy(PACK))
    assert "package usepolicy.national_security_safeguards\n" in result.stdout


def test_export_rego_writes_a_file(run_cli: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "policy.rego"
    result = run_cli("export", "rego", str(PACK), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert out.read_text() == to_rego(load_policy(PACK))


def test_export_bundle(run_cli: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "bundle.tar.gz"
    result = run_cli("export", "bundle", str(PACK), "-o", str(out))
    assert result.returncode == 0, result.stderr
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("/.manifest"))  # type: ignore[arg-type]
    assert manifest["revision"] == load_policy(PACK).digest


def test_export_errors(run_cli: RunCli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("usepolicy: 1\nname: bad\nrules: [{id: x}]\n")
    invalid = run_cli("export", "rego", str(bad))
    assert invalid.returncode == 3
    assert invalid.stderr.startswith("usepolicy: ")
    for args in (("export",), ("export", "bundle", str(PACK)), ("export", "wasm", str(PACK))):
        usage = run_cli(*args)
        assert usage.returncode == 1, args
        assert "Traceback" not in usage.stderr
    unwritable = run_cli("export", "rego", str(PACK), "-o", str(tmp_path / "no" / "x.rego"))
    assert unwritable.returncode == 1
    assert "cannot write" in unwritable.stderr


def test_check_with_opa_gives_the_native_verdicts(run_cli: RunCli, tmp_path: Path) -> None:
    files = [
        str(EXAMPLES / f"{name}.json")
        for name in ("broker_location_data", "foreign_intercept_translation", "network_defense")
    ]
    native = run_cli("check", *files)
    log = tmp_path / "audit.jsonl"
    with fake_opa() as url:
        via_opa = run_cli("check", "--opa-url", url, "--opa-upload", *files)
        record = run_cli("check", "--opa-url", url, "--format", "json", files[1])
        logged = run_cli("check", "--opa-url", url, "--audit-log", str(log), *files)
    assert via_opa.returncode == native.returncode == 2, via_opa.stderr
    assert via_opa.stdout == native.stdout
    assert json.loads(record.stdout)["engine"]["name"] == "opa"
    assert logged.returncode == 2 and logged.stdout.count("  logged: ") == 3
    assert [json.loads(line)["engine"]["name"] for line in log.read_text().splitlines()] == [
        "opa"
    ] * 3


def test_check_with_an_unreachable_opa_denies(run_cli: RunCli) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = str(EXAMPLES / "foreign_intercept_translation.json")
    result = run_cli("check", "--opa-url", f"http://127.0.0.1:{port}", request)
    assert result.returncode == 2
    assert "DENY because evaluation failed" in result.stdout
    assert "opa-unreachable" in result.stdout
    explain = run_cli("check", "--opa-url", f"http://127.0.0.1:{port}", "--explain", request)
    assert explain.returncode == 1
    assert "--explain" in explain.stderr
