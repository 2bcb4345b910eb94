"""Semantic diff: the requests whose decision changes, one simplest witness per change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import usepolicy
from usepolicy import PolicyError
from usepolicy.engine import Engine
from usepolicy.policy import pack_path
from usepolicy.testing import diff_policies

from ..conftest import REPO

NSS = usepolicy.load_policy()
ALU = usepolicy.load_policy(pack_path("any-lawful-use"))

SURVEILLANCE_WEAPONS_CLASSIFIED = {
    "no-mass-domestic-surveillance",
    "domestic-requires-legal-authority",
    None,  # purposes under surveillance/law_enforcement without warrant: default deny
    "no-fully-autonomous-weapons",
    "lethal-force-requires-human-in-the-loop",
    "classified-requires-accredited-network",
}


def test_the_packs_differ_exactly_in_surveillance_weapons_and_classified_cases() -> None:
    report = diff_policies(ALU, NSS)
    assert report.stats.exhaustive
    assert not report.equivalent
    assert {c.new.rule for c in report.changes} == SURVEILLANCE_WEAPONS_CLASSIFIED
    assert len(report.changes) == len(SURVEILLANCE_WEAPONS_CLASSIFIED)  # one block each
    old, new = Engine(ALU), Engine(NSS)
    for change in report.changes:
        assert (change.old.decision, change.new.decision) == ("allow", "deny")
        assert change.old.rule == "any-lawful-use"
        assert change.old_rules == ("any-lawful-use",)
        # the witness really shows the change
        assert old.evaluate(change.request).determining_rule == "any-lawful-use"
        decision = new.evaluate(change.request)
        assert not decision.allowed
        assert decision.determining_rule == change.new.rule
    default = next(c for c in report.changes if c.new.rule is None)
    assert default.request["purpose"].startswith(("surveillance", "law_enforcement"))


def test_witnesses_are_minimal() -> None:
    report = diff_policies(ALU, NSS)
    by_rule = {c.new.rule: c.request for c in report.changes}
    assert by_rule["classified-requires-accredited-network"] == {
        "requester": {"organization": "Example Organization"},
        "purpose": "general.assistant",
        "environment": {"classification": "secret"},
    }
    assert by_rule[None] == {
        "requester": {"organization": "Example Organization"},
        "purpose": "surveillance.domestic",
    }


def test_the_reverse_diff_groups_by_the_new_rule() -> None:
    report = diff_policies(NSS, ALU)
    [change] = report.changes
    assert (change.old.decision, change.new.decision) == ("deny", "allow")
    assert change.new.rule == "any-lawful-use"
    assert set(change.old_rules) == SURVEILLANCE_WEAPONS_CLASSIFIED


def test_a_policy_is_equivalent_to_itself() -> None:
    for rules in (False, True):
        report = diff_policies(NSS, usepolicy.load_policy(pack_path()), rules=rules)
        assert report.equivalent
        assert report.changes == ()


def test_rules_shows_same_decision_rule_changes() -> None:
    report = diff_policies(ALU, NSS, rules=True)
    same = {c.new.rule for c in report.changes if c.old.decision == c.new.decision}
    assert same == {
        "intelligence",
        "military-support",
        "weapons-with-human-control",
        "cyber",
        "domestic-with-authority",
        "general-use",
    }


def test_reordering_rules_changes_nothing_under_deny_overrides() -> None:
    shuffled = dataclasses.replace(NSS, rules=tuple(reversed(NSS.rules)))
    assert diff_policies(NSS, shuffled).equivalent
    report = diff_policies(NSS, shuffled, rules=True)
    # decisions are the same; only which deny rule is named first can change
    assert report.changes
    assert all(c.old.decision == c.new.decision == "deny" for c in report.changes)


def test_a_raised_threshold_shows_its_boundary() -> None:
    text = pack_path().read_text().replace("{gt: 1000}", "{gt: 5000}")
    lenient = usepolicy.loads_policy(text, "lenient.yaml", base_dir=pack_path().parent)
    report = diff_policies(NSS, lenient)
    assert report.changes
    for change in report.changes:  # one per allow rule that now decides instead
        assert (change.old.rule, change.new.decision) == ("no-mass-domestic-surveillance", "allow")
        assert 1000 < change.request["data"]["subject_count"] <= 5000
        assert change.request["data"]["subjects"] in ("domestic", "mixed")


def test_new_purposes_are_grouped_by_decision() -> None:
    agency = usepolicy.load_policy(REPO / "examples" / "policy-author" / "my-policy.yaml")
    report = diff_policies(NSS, agency)
    invalid = [c for c in report.changes if c.old.decision == "invalid"]
    assert {c.new.decision for c in invalid} == {"allow", "deny"}
    assert len(invalid) == 2
    for change in invalid:
        assert change.request["purpose"] in ("intelligence.geoint", "training.language")
    data = report.changes[0].to_dict()
    assert set(data) == {"old", "new", "request", "classes"}
    assert set(data["new"]) >= {"decision", "rule", "matched_rules", "rules"}


def test_conflicting_attribute_declarations_are_an_error_naming_both(tmp_path: Path) -> None:
    (tmp_path / "old.yaml").write_text(
        "usepolicy: 1\nname: old\nvocabulary:\n  attributes:\n"
        "    tier: {type: integer}\n    setting: {type: string, values: [a, b]}\n"
    )
    (tmp_path / "new.yaml").write_text(
        "usepolicy: 1\nname: new\nvocabulary:\n  attributes:\n"
        "    setting: {type: string, values: [b, a], description: same values}\n"
        "    tier: {type: string}\n"
    )
    old, new = (usepolicy.load_policy(tmp_path / f"{n}.yaml") for n in ("old", "new"))
    with pytest.raises(PolicyError) as info:
        diff_policies(old, new)
    [d] = info.value.diagnostics  # `setting`: the same values, another description: no conflict
    assert (Path(d.path).name, d.line, d.col, d.code) == (
        "new.yaml",
        6,
        5,
        "conflicting-attributes",
    )
    assert d.message == (
        f"attribute `tier` is declared `string` here and `integer` at {old.sources[0]}:5:5"
    )
    assert diff_policies(old, old).equivalent


@pytest.mark.parametrize("op", ["contains_any", "all_in", "none_in", "contains_all"])
def test_list_items_matched_by_name_against_exactly_show_a_spelling(op: str) -> None:
    # a named list matches a list's items by name, an inline operand exactly: the
    # partition tries other spellings, so the diff finds the requests that tell them apart
    def policy(operand: str) -> usepolicy.Policy:
        return usepolicy.loads_policy(
            "usepolicy: 1\nname: t\ndefault: deny\nlists: {partners: [Acme Corp]}\nrules:\n"
            f"  - {{id: r, effect: allow, reason: x, when: {{attributes.orgs: {{{op}: {operand}}}}}}}\n"
        )

    exact, by_name = policy("[Acme Corp]"), policy("{list: partners}")
    report = diff_policies(exact, by_name)
    assert report.stats.exhaustive
    assert report.changes
    for change in report.changes:
        orgs = change.request["attributes"]["orgs"]
        assert any(o != "Acme Corp" and o.casefold() == "acme corp" for o in orgs), orgs
        before, after = (
            Engine(exact).evaluate(change.request),
            Engine(by_name).evaluate(change.request),
        )
        assert (before.effect.value, after.effect.value) == (
            change.old.decision,
            change.new.decision,
        )
        assert before.effect is not after.effect


# -- shadow mode -------------------------------------------------------------------------
SHADOW = """\
usepolicy: 1
name: shadow
version: "{version}"
default: deny
combine: deny-overrides
rules:
{trial}  - id: general
    effect: allow
    reason: general use
"""
TRIAL = """\
  - id: no-bulk
    effect: deny
    reason: the clause being rolled out
{enforcement}    when: {{data.provenance: bulk}}
"""


def _shadow(version: str, enforcement: str | None) -> usepolicy.Policy:
    trial = "" if enforcement is None else TRIAL.format(enforcement=enforcement)
    return usepolicy.loads_policy(SHADOW.format(version=version, trial=trial))


def test_a_dryrun_rule_shows_what_enforcing_it_would_change() -> None:
    before, shadow = _shadow("1", None), _shadow("2", "    enforcement: dryrun\n")
    report = diff_policies(before, shadow)
    assert report.equivalent  # no decision changes: the dry run never decides
    [change] = report.changes
    assert change.dryrun_only and (change.old.dryrun, change.new.dryrun) == ((), ("no-bulk",))
    assert change.request["data"]["provenance"] == "bulk"
    assert change.new.decision == "allow" and change.to_dict()["new"]["dryrun"] == ["no-bulk"]
    # enforcing it changes the decision exactly where the dry run said it would
    enforced = diff_policies(shadow, _shadow("3", ""))
    assert not enforced.equivalent
    [flip] = enforced.changes
    assert (flip.old.decision, flip.new.decision, flip.new.rule) == ("allow", "deny", "no-bulk")
    assert flip.request == change.request
