"""``usepolicy test`` through the real entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import usepolicy
from usepolicy.policy import pack_path

from ..conftest import RunCli
from ..testing.test_runner import CASES, broken_safeguards


def test_the_reference_packs_and_the_example_pass(run_cli: RunCli) -> None:
    result = run_cli("test", "policies/", "examples/policy-author/", "--min-coverage", "100")
    assert result.returncode == 1  # the example's cases do not cover the included rules
    assert "coverage of example-agency is 40%, below --min-coverage 100%" in result.stderr
    result = run_cli("test", "policies/", "examples/policy-author/")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^policies/national-security-safeguards\.test\.yaml \.+ \[\d+\]$", out, re.M)
    assert "policies/national-security-safeguards.yaml: invariants checked against all" in out
    assert re.search(r"^\d+ passed, 0 failed in [\d.]+s$", out, re.M)


def test_a_failing_case_and_a_violated_invariant(run_cli: RunCli, tmp_path: Path) -> None:
    broken = broken_safeguards(tmp_path)
    (tmp_path / "bad.test.yaml").write_text(CASES.format(policy="broken.yaml"))
    result = run_cli("test", str(tmp_path / "bad.test.yaml"), "--coverage")
    assert result.returncode == 1
    out = result.stdout
    assert "bad.test.yaml F. [2]" in out
    assert "broken.yaml invariants .F... [5]" in out
    assert "expected: deny by rule no-fully-autonomous-weapons" in out
    assert "got:      allow by rule weapons-with-human-control" in out
    assert "trace:" in out
    assert "5 passed, 2 failed in" in out
    # coverage: rules matched and decided
    assert re.search(r"^  military-support\s+allow\s+1\s+1$", out, re.M)
    # the violating request is printed as JSON, and it truly violates the invariant
    line = next(
        text.strip()
        for text in out.splitlines()
        if text.strip().startswith("{") and "fully_autonomous" in text
    )
    request = json.loads(line)
    policy = usepolicy.load_policy(broken)
    decision = usepolicy.Engine(policy).evaluate(request)
    assert decision.allowed
    assert request["autonomy"]["level"] == "fully_autonomous"
    assert request["purpose"].startswith("weapons.")


def test_a_policy_file_has_its_invariants_checked(run_cli: RunCli) -> None:
    result = run_cli("test", str(pack_path()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "invariants ..... [5]" in result.stdout
    assert "5 passed, 0 failed" in result.stdout


def test_a_broken_test_file_reports_positions(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "x.test.yaml").write_text("policy: missing.yaml\ncases:\n  - name: a\n")
    result = run_cli("test", str(tmp_path / "x.test.yaml"), cwd=tmp_path)
    assert result.returncode == 1
    assert "usepolicy: x.test.yaml:3:5: missing-key: a case needs `request`" in result.stderr
    assert "0 passed, 1 failed" in result.stdout
