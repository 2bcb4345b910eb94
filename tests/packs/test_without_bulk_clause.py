"""The clause-removal demo: the reference pack without the bulk and commercially acquired
data clause (examples/policies/without-bulk-clause.yaml), and exactly what ``usepolicy
diff`` says the removal opens, each change with a witness request that shows it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings

import usepolicy
from usepolicy import Engine
from usepolicy.testing import diff_policies, requests

from ..conftest import REPO, RunCli

PACK = usepolicy.load_policy()
VARIANT_PATH = REPO / "examples" / "policies" / "without-bulk-clause.yaml"
VARIANT = usepolicy.load_policy(VARIANT_PATH)
BULK_OR_BOUGHT = {"bulk", "commercial"}
DOMESTIC = {"domestic", "mixed"}
#: the allow rules that decide once the clause no longer denies
OPENED = ["intelligence", "military-support", "weapons-with-human-control", "cyber", "general-use"]


def _in_removed_clause(request: dict[str, Any]) -> bool:
    """Domestic persons' bulk or bought data in a collection the size test leaves alone."""
    data = request.get("data", {})
    return (
        data.get("subjects", "none") in DOMESTIC
        and data.get("provenance", "none") in BULK_OR_BOUGHT
        and data.get("subject_count", 0) <= 1000
    )


def test_the_variant_is_the_pack_without_exactly_the_clause() -> None:
    pack, variant = PACK.document(), VARIANT.document()
    assert (variant["name"], variant["version"]) == ("without-bulk-clause", pack["version"])
    for key in ("default", "combine", "vocabulary", "lists"):
        assert variant[key] == pack[key], key
    [removed] = [i for i in pack["invariants"] if i not in variant["invariants"]]
    assert removed["id"] == "never-bulk-domestic-data"
    assert [i for i in pack["invariants"] if i is not removed] == variant["invariants"]
    assert [r["id"] for r in variant["rules"]] == [r["id"] for r in pack["rules"]]
    for old, new in zip(pack["rules"], variant["rules"], strict=True):
        if old["id"] != "no-mass-domestic-surveillance":
            assert new == old, old["id"]
            continue
        subjects, either = old["when"]["all"]
        provenance, size = either["any"]
        assert provenance == {
            "field": "data.provenance", "op": "in", "value": ["bulk", "commercial"]
        }  # fmt: skip
        assert new["when"] == {"all": [subjects, size]}  # the clause, and nothing else, is gone
        assert new["reference"] == old["reference"]
        assert "bulk" not in new["reason"]


def test_diff_lists_exactly_the_uses_the_removal_opens_each_with_a_witness() -> None:
    report = diff_policies(PACK, VARIANT)
    assert report.stats.exhaustive
    assert [c.new.rule for c in report.changes] == OPENED
    pack, variant = Engine(PACK), Engine(VARIANT)
    for change in report.changes:
        assert (change.old.decision, change.new.decision) == ("deny", "allow")
        assert change.old_rules == ("no-mass-domestic-surveillance",)
        assert change.new_rules == (change.new.rule,)
        # the witness is a request the removal opens, and it shows the change
        assert _in_removed_clause(change.request), change.request
        before, after = pack.evaluate(change.request), variant.evaluate(change.request)
        assert before.determining_rule == "no-mass-domestic-surveillance"
        assert after.allowed and after.determining_rule == change.new.rule
    # the reverse direction: nothing the variant denies is allowed by the pack
    assert all(c.new.decision == "deny" for c in diff_policies(VARIANT, PACK).changes)


@settings(max_examples=300, deadline=None)
@given(requests(policy=PACK))
def test_only_requests_in_the_removed_clause_change(request: dict[str, Any]) -> None:
    before = Engine(PACK).evaluate(request)
    after = Engine(VARIANT).evaluate(request)
    if not _in_removed_clause(request):
        assert (after.effect, after.determining_rule) == (before.effect, before.determining_rule)
    elif after.effect is not before.effect:  # a change of decision can only open a use
        assert before.determining_rule == "no-mass-domestic-surveillance"
        assert after.allowed and after.determining_rule in OPENED


def test_the_cli_shows_the_same_changes(run_cli: RunCli) -> None:
    result = run_cli(
        "diff", "--format", "json", "policies/national-security-safeguards.yaml", str(VARIANT_PATH)
    )
    assert result.returncode == 1, result.stderr
    changes = json.loads(result.stdout)
    assert [c["new"]["rule"] for c in changes] == OPENED
    assert {c["old"]["rule"] for c in changes} == {"no-mass-domestic-surveillance"}
    # each witness the command prints is denied by the pack and allowed by the variant
    pack, variant = Engine(PACK), Engine(VARIANT)
    for change in changes:
        before, after = pack.evaluate(change["request"]), variant.evaluate(change["request"])
        assert (before.effect.value, before.determining_rule) == (
            "deny",
            "no-mass-domestic-surveillance",
        )
        assert (after.effect.value, after.determining_rule) == ("allow", change["new"]["rule"])


def test_the_opened_uses_are_every_purpose_the_clause_alone_denied() -> None:
    # found without the diff: one request inside the removed clause per purpose, each
    # otherwise as plain as can be; the uses it opens are the diff's, no more, no fewer
    pack, variant = Engine(PACK), Engine(VARIANT)
    opened = set()
    for purpose in sorted(PACK.vocabulary.names):
        for provenance in sorted(BULK_OR_BOUGHT):
            request = {
                "requester": {"organization": "Example Organization"},
                "purpose": purpose,
                "data": {"subjects": "domestic", "provenance": provenance},
            }
            before, after = pack.evaluate(request), variant.evaluate(request)
            assert not before.allowed
            if after.allowed:
                assert before.determining_rule == "no-mass-domestic-surveillance"
                opened.add(after.determining_rule)
    assert sorted(opened) == sorted(OPENED)


def test_the_variant_keeps_its_remaining_invariants(run_cli: RunCli) -> None:
    result = run_cli("test", str(VARIANT_PATH))
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("4 passed, 0 failed")
