"""The pytest plugin, run in a real pytest subprocess: collection of policy test files,
readable failures, the fixtures and the assertion helpers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from usepolicy.policy import pack_path

from ..conftest import REPO
from .test_runner import CASES, broken_safeguards

HELPERS = """\
import pytest
from usepolicy.testing import assert_allowed, assert_denied

REQUEST = {"requester": {"organization": "X"}, "purpose": "weapons.targeting",
           "autonomy": {"level": "fully_autonomous"}}

def test_reference_pack_by_default(usepolicy_policy, usepolicy_engine):
    assert usepolicy_policy.name == "national-security-safeguards"
    assert_denied(REQUEST, engine=usepolicy_engine, rule="no-fully-autonomous-weapons")
    assert_allowed({"requester": {"organization": "X"}, "purpose": "cyber.defense"},
                   rule="cyber", obligations=[])
    assert_denied({"requester": {"organization": "X"}, "purpose": "surveillance.domestic"},
                  rule=None)

@pytest.mark.usepolicy_policy("broken.yaml")
def test_marker_selects_the_policy(usepolicy_engine):
    assert_denied(REQUEST, engine=usepolicy_engine)  # fails: the broken policy allows it
"""


def pytest_run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_collection_failures_fixtures_and_helpers(tmp_path: Path) -> None:
    (tmp_path / "ok.test.yaml").write_text(CASES.format(policy=pack_path()))
    broken_safeguards(tmp_path)
    (tmp_path / "bad.test.yaml").write_text(CASES.format(policy="broken.yaml"))
    (tmp_path / "test_helpers.py").write_text(HELPERS)
    result = pytest_run(tmp_path, "-v")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    # collected: one item per case and per invariant of the policy under test
    assert "ok.test.yaml::loitering munition is denied PASSED" in out
    assert "ok.test.yaml::invariant never-fully-autonomous-weapons PASSED" in out
    assert "bad.test.yaml::loitering munition is denied FAILED" in out
    assert "bad.test.yaml::invariant never-fully-autonomous-weapons FAILED" in out
    # a failing case: expected vs got, and the explain trace
    assert "bad.test.yaml:3:5: case `loitering munition is denied`" in out
    assert "expected: deny by rule no-fully-autonomous-weapons" in out
    assert "got:      allow by rule weapons-with-human-control" in out
    assert "+ weapons-with-human-control (allow) matched" in out
    # a violated invariant: the violating request as JSON
    assert "invariant `never-fully-autonomous-weapons` is violated" in out
    assert '"autonomy": {"level": "fully_autonomous"}' in out
    # fixtures, the marker and the helpers (which explain their failures)
    assert "test_helpers.py::test_reference_pack_by_default PASSED" in out
    assert "test_helpers.py::test_marker_selects_the_policy FAILED" in out
    assert "expected deny, got allow" in out
    assert "3 failed, 13 passed" in out  # 2 + 2 cases, 5 + 5 invariants, 2 tests


def test_ini_options(tmp_path: Path) -> None:
    (tmp_path / "p.test.yaml").write_text(CASES.format(policy=pack_path()))
    (tmp_path / "test_ini.py").write_text(
        "def test_ini_policy(usepolicy_policy):\n"
        "    assert usepolicy_policy.name == 'any-lawful-use'\n"
    )
    (tmp_path / "pytest.ini").write_text(
        f"[pytest]\nusepolicy_policy = {pack_path('any-lawful-use')}\nusepolicy_collect = false\n"
    )
    result = pytest_run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout  # the yaml file was not collected


def test_the_marker_and_the_ini_option_take_a_pack_by_name(tmp_path: Path) -> None:
    (tmp_path / "test_packs.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.usepolicy_policy('pack:eu-ai-act-prohibited')\n"
        "def test_marker(usepolicy_policy):\n"
        "    assert usepolicy_policy.name == 'eu-ai-act-prohibited'\n\n"
        "def test_ini(usepolicy_policy):\n"
        "    assert usepolicy_policy.name == 'any-lawful-use'\n\n"
        "@pytest.mark.usepolicy_policy('pack:eu-ai-act')\n"
        "def test_typo(usepolicy_policy):\n"
        "    pass\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nusepolicy_policy = pack:any-lawful-use\n")
    result = pytest_run(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 passed" in result.stdout and "1 error" in result.stdout
    assert (
        "pack:eu-ai-act:1:1: file-not-found: no reference pack named `eu-ai-act`; "
        "hint: did you mean `pack:eu-ai-act-prohibited`?"
    ) in result.stdout


def test_a_broken_test_file_is_a_collection_error(tmp_path: Path) -> None:
    (tmp_path / "x.test.yaml").write_text("policy: missing.yaml\ncases: 3\n")
    result = pytest_run(tmp_path)
    assert result.returncode == 2
    assert "x.test.yaml:2:8: wrong-type: `cases` must be a list" in result.stdout


def test_the_policy_author_example_and_the_packs_pass_under_pytest() -> None:
    # `-n 0`: in the repository, pytest-xdist's workers are the default (pyproject.toml);
    # started from a test that already runs in a worker, two more per core only contend
    result = pytest_run(REPO, "-n", "0", "examples/policy-author", "policies/")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert " failed" not in result.stdout
