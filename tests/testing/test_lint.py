"""Lint: proofs over the partition that rules never match or never decide, and names
that nothing uses, each with its position."""

from __future__ import annotations

from pathlib import Path

import pytest

import usepolicy
from usepolicy.policy import pack_path
from usepolicy.testing import lint_policy

FIRST_MATCH = """\
usepolicy: 1
name: first
default: deny
combine: first-match
vocabulary:
  purposes:
    intelligence.geoint: geospatial intelligence
    logistics.fleet: fleet management
lists:
  partners: [Acme, Beta]
  unused_names: [Gamma]
rules:
  - id: intelligence
    effect: allow
    reason: all intelligence
    when: {purpose: {under: intelligence}}
  - id: foreign-only
    effect: deny
    reason: shadowed, intelligence.foreign is under intelligence
    when: {purpose: intelligence.foreign}
  - id: impossible
    effect: deny
    reason: contradictory bounds
    when: {data.subject_count: {gt: 10, lt: 5}}
  - id: partners
    effect: allow
    reason: partners
    when: {requester.organization: {in_list: partners}}
  - id: narrowing
    effect: allow
    reason: partly shadowed only, so it still decides some requests
    when: {data.subjects: foreign}
"""

DENY_OVERRIDES = """\
usepolicy: 1
name: overrides
default: deny
combine: deny-overrides
rules:
  - id: no-lethal
    effect: deny
    reason: no lethal use
    when: {autonomy.lethal: true}
  - id: no-engagement
    effect: deny
    reason: no engagement
    when: {purpose: weapons.engagement}
  - id: lethal-engagement
    effect: allow
    reason: never wins, a deny rule always matches too
    when:
      purpose: weapons.engagement
      autonomy.lethal: true
  - id: targeting
    effect: allow
    reason: sometimes wins
    when: {purpose: {under: weapons}}
"""


def lint(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    warnings = lint_policy(usepolicy.load_policy(path))
    return [str(w).replace(str(path), "policy.yaml") for w in warnings]


@pytest.mark.parametrize("name", ["national-security-safeguards", "any-lawful-use"])
def test_reference_packs_are_clean(name: str) -> None:
    assert lint_policy(usepolicy.load_policy(pack_path(name))) == []


def test_first_match_findings_with_positions(tmp_path: Path) -> None:
    assert lint(tmp_path, FIRST_MATCH) == [
        "policy.yaml:8:5: unused-purpose: purpose `logistics.fleet` is added to the "
        "vocabulary but no condition names it (requests with it reach only rules that "
        "ignore the purpose)",
        "policy.yaml:11:3: unused-list: list `unused_names` is never used "
        "(no `in_list: unused_names`, no `{list: unused_names}`)",
        "policy.yaml:17:5: shadowed-rule: rule `foreign-only` never decides: every "
        "request it matches is decided by an earlier rule (`intelligence`)",
        "policy.yaml:21:5: unreachable-rule: rule `impossible` can never match: no request "
        "satisfies its conditions (they contradict each other, or always fail)",
    ]


def test_an_allow_rule_every_deny_overrides(tmp_path: Path) -> None:
    assert lint(tmp_path, DENY_OVERRIDES) == [
        "policy.yaml:14:5: overridden-allow: allow rule `lethal-engagement` never decides: "
        "every request it matches also matches a deny rule (`no-lethal`), and deny overrides",
    ]


ALLOW_AFTER_ALLOW = """\
usepolicy: 1
name: allows
default: deny
combine: deny-overrides
rules:
  - id: general
    effect: allow
    reason: every general use
    when: {purpose: {under: general}}
  - id: no-secret
    effect: deny
    reason: not on secret material
    when: {environment.classification: secret}
  - id: research
    effect: allow
    reason: never decides, and attaches nothing
    when: {purpose: general.research, environment.network: air_gapped}
  - id: assistant
    effect: allow
    reason: never decides, but its obligation rides on the decisions general makes
    obligations:
      - id: keep-prompts
        with: {days: 30}
        when: {environment.network: private}
    when: {purpose: general.assistant}
  - id: assistant-cui
    effect: allow
    reason: never decides, and its obligation never applies where it matches
    obligations:
      - id: mark-cui
        when: {environment.classification: top_secret}
    when: {purpose: general.assistant, environment.classification: cui}
  - id: secret-research
    effect: allow
    reason: never decides, every request it matches is denied
    when: {purpose: general.research, environment.classification: secret}
"""


def test_an_allow_rule_another_allow_rule_decides_is_not_called_overridden_by_a_deny(
    tmp_path: Path,
) -> None:
    assert lint(tmp_path, ALLOW_AFTER_ALLOW) == [
        "policy.yaml:14:5: overridden-allow: allow rule `research` never decides: every "
        "request it matches is denied by a deny rule (`no-secret`), or decided by an earlier "
        "allow rule (`general`)",
        "policy.yaml:26:5: shadowed-rule: rule `assistant-cui` never decides and attaches no "
        "obligations: every request it matches is decided by an earlier allow rule (`general`)",
        "policy.yaml:33:5: overridden-allow: allow rule `secret-research` never decides: every "
        "request it matches also matches a deny rule (`no-secret`), and deny overrides",
    ]  # `assistant` never decides either, but attaches its obligation: it is not dead


def test_fixing_the_policy_clears_the_warnings(tmp_path: Path) -> None:
    fixed = (
        FIRST_MATCH.replace("    logistics.fleet: fleet management\n", "")
        .replace("  unused_names: [Gamma]\n", "")
        .replace("{gt: 10, lt: 5}", "{gt: 5, lt: 10}")
        .replace("purpose: intelligence.foreign}", "requester.country: KP}")
    )
    assert lint(tmp_path, fixed) == []


def test_a_rule_that_only_errors_never_matches(tmp_path: Path) -> None:
    text = DENY_OVERRIDES + (
        "  - id: tier-both-ways\n    effect: deny\n    reason: r\n"
        "    when: {attributes.tier: {gt: 3, lt: 2}}\n"
    )
    found = lint(tmp_path, text)
    assert any(w.startswith("policy.yaml:24:5: unreachable-rule:") for w in found)


def test_too_many_classes_skips_the_rule_checks(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(FIRST_MATCH)
    warnings = lint_policy(usepolicy.load_policy(path), budget=3)
    codes = [w.code for w in warnings]
    assert "lint-incomplete" in codes
    assert "shadowed-rule" not in codes
    assert "unused-list" in codes  # the name checks need no partition


NAMED = """\
usepolicy: 1
name: named
vocabulary:
  purposes:
    training.language: language training
lists:
  trainings: [training.language]
  allowed: [location]
  only_by_unused: [x]
conditions:
  domestic: {data.subjects: domestic}
  allowed-data: {data.categories: {all_in: {list: allowed}}}
  unused: {any: [{condition: domestic}, {condition: helper}]}
  helper: {model: {in: {list: only_by_unused}}}
rules:
  - {id: r, effect: deny, reason: x, when: {all: [{condition: domestic}]}}
  - {id: t, effect: allow, reason: x, when: {purpose: {in: {list: trainings}}}}
invariants:
  - {id: i, never: allow, when: {condition: allowed-data}}
"""


def test_unused_named_conditions_and_lists_used_only_through_them(tmp_path: Path) -> None:
    # `helper` is used, but only by `unused`: neither reaches a rule, nor does its list;
    # the added purpose is named, through a list
    assert lint(tmp_path, NAMED) == [
        "policy.yaml:9:3: unused-list: list `only_by_unused` is never used "
        "(no `in_list: only_by_unused`, no `{list: only_by_unused}`)",
        "policy.yaml:13:3: unused-condition: condition `unused` is never used by a rule, "
        "obligation or invariant (no `condition: unused` reaches one)",
        "policy.yaml:14:3: unused-condition: condition `helper` is never used by a rule, "
        "obligation or invariant (no `condition: helper` reaches one)",
    ]


def test_an_included_files_own_settings_that_the_set_ignores(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(
        "usepolicy: 1\nname: pack\ndefault: allow\ncombine: deny-overrides\n"
        "rules:\n  - {id: no-lethal, effect: deny, reason: x, when: {autonomy.lethal: true}}\n"
    )
    (tmp_path / "org.yaml").write_text(
        "usepolicy: 1\nname: org\ncombine: first-match\ninclude: [pack.yaml]\n"
        "rules:\n  - {id: general, effect: allow, reason: x, when: {purpose: {under: general}}}\n"
    )
    found = [str(w) for w in lint_policy(usepolicy.load_policy(tmp_path / "org.yaml"))]
    pack = usepolicy.load_policy(tmp_path / "org.yaml").sources[0]
    org = usepolicy.load_policy(tmp_path / "org.yaml").roots[0]
    assert found == [
        f"{pack}:3:10: ignored-setting: `default: allow` of this included file is ignored: "
        "the set uses `default: deny` (the built-in default; included files' settings never "
        "apply)",
        f"{pack}:4:10: ignored-setting: `combine: deny-overrides` of this included file is "
        f"ignored: the set uses `combine: first-match` (set by {org}; included files' "
        "settings never apply)",
    ]
    # the same settings in the including file: nothing is ignored
    (tmp_path / "org.yaml").write_text(
        "usepolicy: 1\nname: org\ndefault: allow\ninclude: [pack.yaml]\n"
    )
    assert lint_policy(usepolicy.load_policy(tmp_path / "org.yaml")) == []


SHADOW = """\
usepolicy: 1
name: shadow
default: deny
combine: {combine}
rules:
  - id: trial
    effect: deny
    reason: being rolled out
    enforcement: dryrun
    when: {{data.subjects: domestic}}
  - id: general
    effect: allow
    reason: general use
  - id: late-trial
    effect: deny
    reason: after a rule that decides everything
    enforcement: dryrun
    when: {{data.subjects: domestic}}
"""


def test_a_dryrun_rule_counts_where_it_would_have_denied() -> None:
    # it never matches in `matched_rules`; that alone must not make it "unreachable"
    policy = usepolicy.loads_policy(SHADOW.format(combine="deny-overrides"))
    assert lint_policy(policy) == []
    first = usepolicy.loads_policy(SHADOW.format(combine="first-match"))
    [warning] = lint_policy(first)
    assert (warning.line, warning.code) == (14, "unreachable-rule")
    assert "dry-run rule `late-trial` would never deny" in warning.message
