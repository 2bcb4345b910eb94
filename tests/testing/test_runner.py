"""Test files, the runner, coverage and the invariant checker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import usepolicy
from usepolicy.engine import Engine
from usepolicy.engine._compile import compile_cond
from usepolicy.policy import pack_path
from usepolicy.testing import (
    CaseResult,
    InvariantOutcome,
    LoadFailure,
    Runner,
    check_invariants,
    format_case_failure,
    load_case_file,
    run_case,
)

from ..conftest import POLICIES, unblocked

#: a two-case test file for the reference pack (format with `policy=`), shared by the
#: CLI and plugin tests
CASES = """\
policy: {policy}
cases:
  - name: loitering munition is denied
    request:
      requester: {{organization: X}}
      purpose: weapons.targeting
      autonomy: {{level: fully_autonomous}}
    expect: {{decision: deny, rule: no-fully-autonomous-weapons}}
  - name: planning is allowed
    request: {{requester: {{organization: X}}, purpose: military.planning}}
    expect: {{decision: allow, rule: military-support, obligations: []}}
"""


def broken_safeguards(folder: Path) -> Path:
    """The reference pack without `no-fully-autonomous-weapons`, written to ``folder``."""
    text = pack_path().read_text()
    start = text.index("  - id: no-fully-autonomous-weapons")
    end = text.index("  - id: lethal-force-requires-human-in-the-loop")
    (folder / "lists").mkdir(exist_ok=True)
    (folder / "lists" / "denied-entities.txt").write_text(
        (POLICIES / "lists" / "denied-entities.txt").read_text()
    )
    target = folder / "broken.yaml"
    target.write_text(text[:start] + text[end:])
    return target


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- test files -------------------------------------------------------------------------


def test_reference_test_files_load_with_positions() -> None:
    casefile = load_case_file(POLICIES / "national-security-safeguards.test.yaml")
    assert len(casefile.cases) >= 24  # an allow and a deny case per rule
    assert [p.name for p in casefile.policies] == ["national-security-safeguards.yaml"]
    first = casefile.cases[0]
    assert first.line > 1
    assert first.col == 5
    assert first.expect.decision is usepolicy.Effect.DENY


def test_every_problem_in_a_test_file_is_reported_with_its_position(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.test.yaml",
        "policy: p.yaml\n"
        "extra: 1\n"
        "cases:\n"
        "  - name: one\n"
        "    request: {purpose: general.assistant}\n"
        "    expect: {decision: maybe}\n"
        "  - name: one\n"
        "    request: {}\n"
        "    expect: {decision: allow, rule: 3}\n"
        "  - request: {}\n"
        "    expect: {decision: allow}\n",
    )
    with pytest.raises(usepolicy.PolicyError) as info:
        load_case_file(path)
    lines = [str(d).replace(str(tmp_path) + "/", "") for d in info.value.diagnostics]
    assert lines == [
        "bad.test.yaml:2:1: unknown-key: unknown key `extra` in a policy test file",
        "bad.test.yaml:6:24: bad-value: `decision` must be `allow` or `deny`, got `maybe`",
        "bad.test.yaml:9:37: wrong-type: `rule` must be a rule id or null",
        "bad.test.yaml:10:5: missing-key: a case needs `name`",
    ]


def test_a_test_file_may_name_a_shipped_pack(tmp_path: Path) -> None:
    case = (
        "  - name: c\n    request: {requester: {organization: O}, purpose: cyber.defense}\n"
        "    expect: {decision: allow, rule: any-lawful-use}\n"
    )
    path = write(tmp_path / "pack.test.yaml", "policy: pack:any-lawful-use\ncases:\n" + case)
    assert load_case_file(path).policies == (pack_path("any-lawful-use"),)
    results = [e for e in Runner().run([path]) if isinstance(e, CaseResult)]
    assert [r.passed for r in results] == [True]
    path = write(tmp_path / "typo.test.yaml", "policies: [pack:any-lawful]\ncases:\n" + case)
    with pytest.raises(usepolicy.PolicyError) as info:
        load_case_file(path)
    [d] = info.value.diagnostics
    assert (d.line, d.col, d.code, d.message, d.hint) == (
        1, 12, "file-not-found", "no reference pack named `any-lawful`",
        "did you mean `pack:any-lawful-use`?",
    )  # fmt: skip


def test_duplicate_case_names_are_errors(tmp_path: Path) -> None:
    case = "  - name: same\n    request: {}\n    expect: {decision: allow}\n"
    path = write(tmp_path / "dup.test.yaml", "policy: p.yaml\ncases:\n" + case + case)
    with pytest.raises(usepolicy.PolicyError, match=r"dup\.test\.yaml:6:11: duplicate-case"):
        load_case_file(path)


# -- running cases ----------------------------------------------------------------------


def test_the_reference_packs_pass_with_full_coverage() -> None:
    runner = Runner()
    events = list(runner.run([POLICIES]))
    failures = [e for e in events if isinstance(e, LoadFailure)]
    assert not failures
    cases = [e for e in events if isinstance(e, CaseResult)]
    assert cases
    assert all(e.passed for e in cases), [format_case_failure(e) for e in cases if not e.passed]
    invariants = [e for e in events if isinstance(e, InvariantOutcome)]
    assert {e.result.invariant.id for e in invariants} >= {
        "never-fully-autonomous-lethal",
        "never-denied-entities",
    }
    assert all(e.result.holds and e.report.stats.exhaustive for e in invariants)
    coverage = {report.policy.name: report for report in runner.coverage()}
    safeguards = coverage["national-security-safeguards"]
    assert safeguards.percent == 100.0
    assert all(rule.decided >= 1 and rule.matched >= rule.decided for rule in safeguards.rules)


def test_a_failing_case_explains_itself() -> None:
    casefile = load_case_file(POLICIES / "national-security-safeguards.test.yaml")
    case = next(c for c in casefile.cases if c.expect.rule == "no-fully-autonomous-weapons")
    policy = usepolicy.load_policy()
    weaker = usepolicy.Policy(
        **{
            **{f: getattr(policy, f) for f in policy.__dataclass_fields__},
            "rules": tuple(r for r in policy.rules if r.id != "no-fully-autonomous-weapons"),
        }
    )
    result = run_case(Engine(weaker), case)
    assert not result.passed
    text = format_case_failure(result)
    assert f"case `{case.name}`" in text
    assert "expected: deny by rule no-fully-autonomous-weapons" in text
    assert "got:" in text
    assert "trace:" in text
    assert "+ weapons-with-human-control (allow) matched" in text
    assert run_case(Engine(policy), case).passed


def test_an_invalid_request_in_a_case_fails_it(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.test.yaml",
        f"policy: {pack_path()}\ncases:\n"
        "  - name: unknown purpose\n"
        "    request: {requester: {organization: X}, purpose: weapons.lasers}\n"
        "    expect: {decision: deny}\n",
    )
    [result] = [e for e in Runner(invariants=False).run([path]) if isinstance(e, CaseResult)]
    assert not result.passed
    assert "invalid request" in format_case_failure(result)
    assert "unknown purpose `weapons.lasers`" in format_case_failure(result)


# -- invariants -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["national-security-safeguards", "any-lawful-use"])
def test_reference_pack_invariants_hold_exhaustively(name: str) -> None:
    report = check_invariants(usepolicy.load_policy(pack_path(name)))
    assert report.holds
    assert report.stats.exhaustive
    assert report.stats.tried == 0
    assert not report.stats.notes
    assert report.results


def test_a_broken_policy_violates_its_invariant(tmp_path: Path) -> None:
    policy = usepolicy.load_policy(broken_safeguards(tmp_path))
    report = check_invariants(policy)
    broken = {r.invariant.id: r for r in report.results if not r.holds}
    assert set(broken) == {"never-fully-autonomous-weapons"}
    result = broken["never-fully-autonomous-weapons"]
    assert result.violation is not None
    # the reported request truly violates it: allowed, and the invariant's `when` holds
    req = usepolicy.request._fast.validate_request(result.violation, policy.vocabulary)
    assert Engine(policy).decide(req).allowed
    inv = result.invariant
    assert inv.when is not None
    assert compile_cond(inv.when, policy.name_lists, policy.vocabulary)(req)
    assert result.violation["autonomy"]["level"] == "fully_autonomous"
    # and it is minimal: nothing beyond the organization, purpose and autonomy level
    assert set(result.violation) == {"requester", "purpose", "autonomy"}


def test_past_the_budget_the_search_turns_random_and_says_so(tmp_path: Path) -> None:
    policy = usepolicy.load_policy(broken_safeguards(tmp_path))
    report = check_invariants(policy, budget=50, samples=200)
    assert not report.stats.exhaustive
    assert report.stats.classes == 50
    assert report.stats.tried == 200
    assert any("not a proof" in note for note in report.stats.notes)
    # the violation is still found (by the search), and it is real
    [bad] = [r for r in report.results if not r.holds]
    assert bad.decision is not None
    assert bad.decision.allowed


def test_unreadable_paths_are_load_failures_not_crashes(tmp_path: Path) -> None:
    # once: a long name or a link loop crashed the runner (OSError, RuntimeError), and a
    # FIFO test file blocked it
    case = tmp_path / "c.test.yaml"
    os.mkfifo(case)
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    paths = [case, tmp_path / "loop.yaml", tmp_path / ("x" * 300)]
    events = unblocked(lambda: list(Runner().run(paths)), case)
    failures = [e for e in events if isinstance(e, LoadFailure)]
    assert len(failures) == len(events)
    assert [line.partition(": ")[2] for e in failures for line in e.lines] == [
        "file-unreadable: policy test file is a named pipe (FIFO), not a regular file",
        "file-unreadable: policy file is a symbolic link loop (too many levels of links)",
        "file-unreadable: policy file has a name too long for the system",
    ]
    with pytest.raises(usepolicy.PolicyError, match="is a folder, not a file"):
        load_case_file(tmp_path)


# -- shadow mode -------------------------------------------------------------------------
SHADOW_POLICY = """\
usepolicy: 1
name: shadow
version: "1"
default: deny
combine: deny-overrides
rules:
  - id: stricter-domestic
    effect: deny
    reason: being rolled out
    enforcement: dryrun
    when: {data.subjects: domestic}
  - id: general
    effect: allow
    reason: general use
"""
SHADOW_CASES = """\
policy: shadow.yaml
cases:
  - name: domestic data is still allowed, and the dry run says it would deny
    request: {requester: {organization: X}, purpose: general.assistant, data: {subjects: domestic}}
    expect: {decision: allow, rule: general, dryrun: [stricter-domestic]}
  - name: nothing to say otherwise
    request: {requester: {organization: X}, purpose: general.assistant}
    expect: {decision: allow, dryrun: []}
"""


def test_cases_expect_what_dryrun_rules_would_have_denied(tmp_path: Path) -> None:
    write(tmp_path / "shadow.yaml", SHADOW_POLICY)
    good = write(tmp_path / "shadow.test.yaml", SHADOW_CASES)
    runner = Runner(invariants=False)
    results = [e for e in runner.run([good]) if isinstance(e, CaseResult)]
    assert [r.passed for r in results] == [True, True]
    [report] = runner.coverage()
    assert report.percent == 100.0  # the dry-run rule counts for the case it would decide
    bad = write(tmp_path / "bad.test.yaml", SHADOW_CASES.replace("dryrun: []", "dryrun: [general]"))
    [_, failed] = [e for e in Runner(invariants=False).run([bad]) if isinstance(e, CaseResult)]
    assert not failed.passed
    text = format_case_failure(failed)
    assert "dry run would deny: expected ['general'], got []" in text
    assert "expected: allow, dry run would deny [general]" in text


def test_a_bad_dryrun_expectation_is_a_positioned_error(tmp_path: Path) -> None:
    write(tmp_path / "shadow.yaml", SHADOW_POLICY)
    path = write(tmp_path / "x.test.yaml", SHADOW_CASES.replace("dryrun: []", "dryrun: nope"))
    with pytest.raises(usepolicy.PolicyError, match=r"x.test.yaml:8:39: wrong-type: `dryrun`"):
        load_case_file(path)
