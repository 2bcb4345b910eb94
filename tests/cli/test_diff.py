"""``usepolicy diff`` through the real entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import usepolicy

from ..conftest import REPO, RunCli

ALU = "policies/any-lawful-use.yaml"
NSS = "policies/national-security-safeguards.yaml"
EXPECTED_NEW_RULES = {
    "no-mass-domestic-surveillance",
    "domestic-requires-legal-authority",
    "no-fully-autonomous-weapons",
    "lethal-force-requires-human-in-the-loop",
    "classified-requires-accredited-network",
    None,
}


def test_diff_between_the_packs(run_cli: RunCli) -> None:
    result = run_cli("diff", ALU, NSS)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert out.startswith(
        "any-lawful-use 2026-02-26 -> national-security-safeguards 2026-02-26: "
        "6 changes of decision (all "
    )
    headers = re.findall(r"^allow -> deny (?:by rule (\S+)|by default)$", out, re.M)
    assert {h or None for h in headers} == EXPECTED_NEW_RULES
    assert out.count("  e.g.    {") == 6
    assert "intelligence" not in re.findall(r"by rule (\S+)", out)


def test_diff_json_witnesses_reproduce(run_cli: RunCli) -> None:
    result = run_cli("diff", "--format", "json", ALU, NSS)
    assert result.returncode == 1
    changes = json.loads(result.stdout)
    assert {c["new"]["rule"] for c in changes} == EXPECTED_NEW_RULES
    new = usepolicy.Engine(usepolicy.load_policy(NSS))
    for change in changes:
        decision = new.evaluate(change["request"])
        assert decision.determining_rule == change["new"]["rule"]
        assert change["old"] == {
            "decision": "allow",
            "rule": "any-lawful-use",
            "matched_rules": ["any-lawful-use"],
            "reason": "any lawful use",
            "error": None,
            "rules": ["any-lawful-use"],
        }


def test_diff_of_a_policy_with_itself_is_empty(run_cli: RunCli) -> None:
    result = run_cli("diff", "--rules", NSS, "policies/national-security-safeguards.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no differences" in result.stdout
    result = run_cli("diff", "--format", "json", NSS, NSS)
    assert (result.returncode, json.loads(result.stdout)) == (0, [])


def test_diff_of_an_invalid_policy(run_cli: RunCli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("usepolicy: 1\nname: bad\nrules: 3\n")
    result = run_cli("diff", NSS, str(bad))
    assert result.returncode == 3
    assert re.search(r"^usepolicy: \S*bad\.yaml:3:8: wrong-type: ", result.stderr, re.M)


def test_diff_of_policies_whose_declarations_conflict(run_cli: RunCli, tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text(
        "usepolicy: 1\nname: old\nvocabulary:\n  attributes:\n    tier: {type: integer}\n"
    )
    new = tmp_path / "new.yaml"
    new.write_text(
        "usepolicy: 1\nname: new\nvocabulary:\n  attributes:\n    tier: {type: string}\n"
    )
    result = run_cli("diff", str(old), str(new))
    assert result.returncode == 3 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert re.fullmatch(
        r"usepolicy: \S*new\.yaml:5:5: conflicting-attributes: attribute `tier` is declared "
        r"`string` here and `integer` at \S*old\.yaml:5:5; hint: .*",
        line,
    ), line


def test_diff_shows_what_a_dryrun_rule_would_deny(run_cli: RunCli, tmp_path: Path) -> None:
    base = (REPO / NSS).read_text()
    trial = (
        "rules:\n  - id: no-bulk-anything\n    effect: deny\n    reason: rolling out\n"
        "    enforcement: dryrun\n    when: {data.provenance: bulk}\n"
    )
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "denied-entities.txt").write_text(
        (REPO / "policies" / "lists" / "denied-entities.txt").read_text()
    )
    (tmp_path / "shadow.yaml").write_text(base.replace("rules:\n", trial, 1))
    result = run_cli("diff", NSS, str(tmp_path / "shadow.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr  # no decision changes
    assert ": no differences; " in result.stdout and "dry-run difference" in result.stdout
    assert "dry run: allow stands; enforcing would change it" in result.stdout
    assert "  new dry run would deny by: no-bulk-anything" in result.stdout
