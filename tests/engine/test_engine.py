"""Engine semantics through the public interface: combining, obligations, absent
values, typed attributes, indexes, fail-closed evaluation, threads and purity."""

from __future__ import annotations

import dataclasses
import functools
import textwrap
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import usepolicy
import usepolicy.engine._compile
import usepolicy.engine._engine
from usepolicy import Effect, Engine, loads_policy
from usepolicy.engine._compile import is_constant, specialize
from usepolicy.policy import AllOf
from usepolicy.policy import Test as Cond
from usepolicy.testing import requests

ORG = {"organization": "Army Intelligence Center"}


def engine_for(body: str, head: str = "default: deny\ncombine: deny-overrides\n") -> Engine:
    text = "usepolicy: 1\nname: t\nversion: '1'\n" + head + textwrap.dedent(body)
    return Engine(loads_policy(text))


def req(**fields: Any) -> dict[str, Any]:
    return {"requester": ORG, "purpose": "general.assistant", **fields}


LAYERED = """
rules:
  - id: allow-general
    effect: allow
    reason: general use
    obligations:
      - id: log
        with: {days: 30}
      - id: watermark
        when: {model: claude-gov}
    when: {purpose: {under: general}}
  - id: deny-bulk
    effect: deny
    reason: bulk data
    when: {data.provenance: bulk}
  - id: allow-all
    effect: allow
    reason: everything
    obligations: [review]
"""


def test_deny_overrides_first_deny_wins_and_all_matches_are_listed() -> None:
    engine = engine_for(LAYERED)
    decision = engine.evaluate(req(data={"provenance": "bulk"}))
    assert decision.effect is Effect.DENY and not decision.allowed
    assert decision.determining_rule == "deny-bulk"
    assert [m.id for m in decision.matched_rules] == ["allow-general", "deny-bulk", "allow-all"]
    assert decision.obligations == ()


def test_deny_overrides_obligations_of_every_matching_allow_rule() -> None:
    decision = engine_for(LAYERED).evaluate(req(model="claude-gov"))
    assert decision.determining_rule == "allow-general"
    assert [(o.id, dict(o.params), o.rule) for o in decision.obligations] == [
        ("log", {"days": 30}, "allow-general"),
        ("watermark", {}, "allow-general"),
        ("review", {}, "allow-all"),
    ]
    plain = engine_for(LAYERED).evaluate(req())
    assert [o.id for o in plain.obligations] == ["log", "review"]


def test_first_match_takes_the_first_matching_rule_only() -> None:
    engine = engine_for(LAYERED, head="default: deny\ncombine: first-match\n")
    decision = engine.evaluate(req(data={"provenance": "bulk"}))
    assert decision.determining_rule == "allow-general" and decision.allowed
    assert [o.id for o in decision.obligations] == ["log"]
    assert (
        engine.evaluate(req(purpose="cyber.defense", data={"provenance": "bulk"})).determining_rule
        == "deny-bulk"
    )


@pytest.mark.parametrize("default", ["allow", "deny"])
def test_default_applies_when_nothing_matches(default: str) -> None:
    engine = engine_for(
        "rules:\n  - {id: r, effect: deny, reason: x, when: {model: m}}\n",
        head=f"default: {default}\n",
    )
    decision = engine.evaluate(req())
    assert decision.effect.value == default
    assert decision.determining_rule is None and decision.matched_rules == ()


@pytest.mark.parametrize(
    ("condition", "request_patch", "holds"),
    [
        ("model: {ne: x}", {}, False),
        ("model: {not_in: [x]}", {}, False),
        ("model: {exists: false}", {}, True),
        ("model: {exists: true}", {"model": "m"}, True),
        ("requester.country: {ne: US}", {"requester": {**ORG, "country": "FR"}}, True),
        ("attributes.tier: {ne: 2}", {}, False),
        ("attributes.tier: {exists: false}", {}, True),
        ("attributes.flag: true", {"attributes": {"flag": 1}}, False),
        ("attributes.flag: 1", {"attributes": {"flag": 1.0}}, True),
        ("attributes.code: '1'", {"attributes": {"code": 1}}, False),
        ("attributes.tags: {contains: a}", {"attributes": {"tags": ["a", "b"]}}, True),
        ("attributes.program: {matches: '^AL'}", {"attributes": {"program": "ALPHA"}}, True),
        ("attributes.unit: {under: army}", {"attributes": {"unit": "army.intel"}}, True),
        ("attributes.unit: {under: army}", {"attributes": {"unit": "armyx"}}, False),
        ("purpose: {under: general}", {}, True),
        ("purpose: {matches: 'assist'}", {}, True),
        (
            "environment.classification: {gte: secret}",
            {"environment": {"classification": "top_secret"}},
            True,
        ),
        (
            "environment.classification: {lt: secret}",
            {"environment": {"classification": "cui"}},
            True,
        ),
        (
            "environment.classification: {lt: secret}",
            {"environment": {"classification": "secret"}},
            False,
        ),
        (
            "data.categories: {contains_all: [location, financial]}",
            {"data": {"categories": ["financial", "location", "health"]}},
            True,
        ),
        (
            "data.categories: {contains_any: [biometric]}",
            {"data": {"categories": ["location"]}},
            False,
        ),
        ("data.subject_count: {gt: 1000, lte: 5000}", {"data": {"subject_count": 5000}}, True),
        ("data.categories: {all_in: [location]}", {}, True),
        ("data.categories: {all_in: [location]}", {"data": {"categories": ["location"]}}, True),
        (
            "data.categories: {all_in: [location]}",
            {"data": {"categories": ["location", "health"]}},
            False,
        ),
        ("data.categories: {none_in: [location]}", {}, True),
        ("data.categories: {none_in: [location]}", {"data": {"categories": ["health"]}}, True),
        (
            "data.categories: {none_in: [location, health]}",
            {"data": {"categories": ["health"]}},
            False,
        ),
        ("attributes.tags: {all_in: [a, b]}", {"attributes": {"tags": ["a"]}}, True),
        ("attributes.tags: {all_in: [a, b]}", {"attributes": {"tags": []}}, True),
        ("attributes.tags: {all_in: [a, b]}", {"attributes": {"tags": ["a", "c"]}}, False),
        ("attributes.tags: {all_in: [a]}", {}, False),
        ("attributes.tags: {none_in: [a]}", {}, False),
        ("attributes.tags: {none_in: [a]}", {"attributes": {"tags": ["b"]}}, True),
        ("attributes.tags: {none_in: [a]}", {"attributes": {"tags": ["b", "a"]}}, False),
        ("not: {data.subjects: none}", {"data": {"subjects": "mixed"}}, True),
    ],
)
def test_matcher_semantics(condition: str, request_patch: dict[str, Any], holds: bool) -> None:
    engine = engine_for(
        f"rules:\n  - id: r\n    effect: allow\n    reason: x\n    when:\n      {condition}\n"
    )
    assert engine.evaluate(req(**request_patch)).allowed is holds


@pytest.mark.parametrize(
    "condition",
    [
        "attributes.tier: {gt: 1}",
        "attributes.tier: {contains: a}",
        "attributes.tier: {matches: a}",
        "attributes.tier: {all_in: [a]}",
        "attributes.tier: {none_in: [a]}",
    ],
)
def test_attribute_type_errors_fail_closed(condition: str) -> None:
    engine = engine_for(
        "rules:\n  - {id: a, effect: allow, reason: x}\n"
        f"  - id: r\n    effect: deny\n    reason: x\n    when:\n      {condition}\n",
        head="default: allow\n",
    )
    decision = engine.evaluate(req(attributes={"tier": True}))
    assert decision.effect is Effect.DENY
    assert decision.determining_rule is None and decision.matched_rules == ()
    assert [e.code for e in decision.errors] == ["evaluation-error"]
    assert "attributes.tier" in decision.errors[0].message
    assert decision.record().errors[0].code == "evaluation-error"


def test_index_on_organisation_keeps_policy_order() -> None:
    rules = "".join(
        f"  - id: org-{i}\n    effect: allow\n    reason: x\n"
        f"    when: {{requester.organization: {{in: [org{i}, shared]}}}}\n"
        for i in range(10)
    )
    rules += "  - {id: deny-bulk, effect: deny, reason: x, when: {data.provenance: bulk}}\n"
    engine = engine_for("rules:\n" + rules, head="combine: first-match\n")
    shared = engine.evaluate(
        {"requester": {"organization": "shared"}, "purpose": "general.assistant"}
    )
    assert [m.id for m in shared.matched_rules] == [f"org-{i}" for i in range(10)]
    org7 = engine.evaluate(
        {
            "requester": {"organization": "org7"},
            "purpose": "cyber.defense",
            "data": {"provenance": "bulk"},
        }
    )
    assert [m.id for m in org7.matched_rules] == ["org-7", "deny-bulk"]
    assert org7.determining_rule == "org-7"
    assert not engine.evaluate(req()).allowed


def _explained_matches(engine: Engine, request: dict[str, Any]) -> list[str]:
    return [trace.id for trace in engine.explain(request).rules if trace.matched]


@settings(max_examples=300, deadline=None)
@given(requests())
def test_compiled_indexed_engine_agrees_with_rule_by_rule_trace(request: dict[str, Any]) -> None:
    engine = _REFERENCE
    decision = engine.evaluate(request)
    assert [m.id for m in decision.matched_rules] == _explained_matches(engine, request)


_REFERENCE = Engine(usepolicy.load_policy())


def _faulty_policy(index: int) -> usepolicy.Policy:
    """The reference pack with a condition that raises put first in rule ``index``."""
    policy = _REFERENCE.policy
    rules = list(policy.rules)
    fault = Cond("attributes.injected_fault", "exists", False)
    target = rules[index]
    when = fault if target.when is None else AllOf((fault, target.when))
    rules[index] = dataclasses.replace(target, when=when)
    return dataclasses.replace(policy, rules=tuple(rules))


def _raising(test: Any, *args: Any) -> Any:
    real = _real_compile_cond(test, *args)
    if isinstance(test, Cond) and test.field == "attributes.injected_fault":

        def boom(_: Any) -> bool:
            raise ZeroDivisionError("injected")

        return boom
    return real


_real_compile_cond = usepolicy.engine._compile.compile_cond


@functools.cache
def _faulty_engine(index: int) -> Engine:
    """One engine per faulty rule (12), not one per example: compiling is not under test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(usepolicy.engine._compile, "compile_cond", _raising)
        patch.setattr(usepolicy.engine._engine, "compile_cond", _raising)
        return Engine(_faulty_policy(index))


@settings(max_examples=200, deadline=None)
@given(requests(), st.integers(min_value=0, max_value=11))
def test_an_injected_fault_in_any_condition_yields_deny(
    request: dict[str, Any], index: int
) -> None:
    engine = _faulty_engine(index)
    policy = engine.policy
    decision = engine.evaluate(request)
    rule = policy.rules[index]
    if is_constant(specialize(rule.when, request["purpose"])) is False:
        return  # the rule cannot apply to this purpose, so its condition never runs
    assert decision.effect is Effect.DENY and not decision.allowed
    assert decision.determining_rule is None and decision.matched_rules == ()
    assert decision.errors[0].code == "internal-error"
    assert "injected" in decision.errors[0].message


_CONDITIONS = st.sampled_from(
    [
        "data.subjects: domestic",
        "data.provenance: {in: [bulk, public]}",
        "data.subject_count: {gt: 100}",
        "autonomy.level: {ne: none}",
        "purpose: {under: weapons}",
        "environment.network: internet",
        "attributes.tier: {exists: true}",
        "model: {matches: gov}",
        "not: {autonomy.lethal: true}",
    ]
)


@functools.cache
def _with_a_deny_rule(conditions: tuple[str, ...]) -> Engine:
    """The reference pack with a deny rule of ``conditions`` first (loaded and compiled
    once per list of conditions: hypothesis draws the same lists many times)."""
    when = "".join(f"\n        - {c}" for c in conditions)
    extra_rule = (
        f"  - id: extra-deny\n    effect: deny\n    reason: x\n    when:\n      all:{when}\n"
    )
    pack = usepolicy.policy.pack_path()
    text = pack.read_text().replace("rules:\n", "rules:\n" + extra_rule, 1)
    return Engine(loads_policy(text, base_dir=pack.parent))


@settings(max_examples=200, deadline=None)
@given(requests(), st.lists(_CONDITIONS, min_size=1, max_size=3))
def test_adding_a_deny_rule_never_turns_a_deny_into_an_allow(
    request: dict[str, Any], conditions: list[str]
) -> None:
    before = _REFERENCE.evaluate(request)
    after = _with_a_deny_rule(tuple(conditions)).evaluate(request)
    if not before.allowed:
        assert not after.allowed
    if after.allowed:
        assert before.allowed and before.determining_rule == after.determining_rule


def test_one_engine_serves_many_threads() -> None:
    engine = Engine(usepolicy.load_policy())
    samples = [
        req(purpose=p, data={"subjects": s, "provenance": "bulk"})
        for p in sorted(usepolicy.STANDARD_PURPOSES)
        for s in ("none", "domestic")
    ]
    expected = [(d.effect, d.determining_rule) for d in engine.evaluate_many(samples)]
    failures: list[str] = []

    def worker() -> None:
        for _ in range(200):
            got = [(d.effect, d.determining_rule) for d in engine.evaluate_many(samples)]
            if got != expected:
                failures.append("mismatch")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_evaluate_does_no_io_and_reads_no_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import socket
    import time

    engine = Engine(usepolicy.load_policy())
    engine.evaluate(req())  # warm up lazy imports

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("I/O or clock used during evaluate")

    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(socket, "socket", forbidden)
    monkeypatch.setattr(time, "time", forbidden)
    monkeypatch.setattr(time, "time_ns", forbidden)
    decision = engine.evaluate(req(data={"subjects": "domestic", "provenance": "commercial"}))
    assert decision.determining_rule == "no-mass-domestic-surveillance"
    explanation = engine.explain(req())
    assert explanation.decision.allowed


def test_evaluate_raises_request_error_with_every_path() -> None:
    engine = Engine(usepolicy.load_policy())
    with pytest.raises(usepolicy.RequestError) as info:
        engine.evaluate({"purpose": "weapons.engagment", "autonomy": {"level": "full"}})
    assert {e.path for e in info.value.errors} == {"requester", "purpose", "autonomy.level"}


@settings(max_examples=50, deadline=None)
@given(st.lists(requests(), min_size=1, max_size=20))
def test_evaluate_many_equals_one_by_one(batch: list[dict[str, Any]]) -> None:
    engine = _REFERENCE
    many = engine.evaluate_many(batch)
    single = [engine.evaluate(request) for request in batch]
    assert [(d.effect, d.determining_rule, d.matched_rules, d.obligations) for d in many] == [
        (d.effect, d.determining_rule, d.matched_rules, d.obligations) for d in single
    ]


def test_evaluate_many_raises_for_an_invalid_request() -> None:
    good = req()
    with pytest.raises(usepolicy.RequestError) as info:
        _REFERENCE.evaluate_many([good, {**good, "purpose": "nope.nope"}, good])
    assert [e.path for e in info.value.errors] == ["purpose"]


def test_outcomes_are_cached_per_set_of_matching_rules_without_mixing_obligations() -> None:
    engine = engine_for(LAYERED)
    first = engine.evaluate(req(model="claude-gov"))
    second = engine.evaluate(req(model="other"))  # same matching rules, other obligations
    assert [o.id for o in first.obligations] == ["log", "watermark", "review"]
    assert [o.id for o in second.obligations] == ["log", "review"]


# -- shadow mode: `enforcement: dryrun` ---------------------------------------------------
DRYRUN = """
rules:
  - id: stricter-domestic
    effect: deny
    reason: the clause being rolled out
    enforcement: dryrun
    when: {data.subjects: domestic}
  - id: tier-limit
    effect: deny
    reason: typed on an attribute
    enforcement: dryrun
    when: {attributes.tier: {gt: 2}}
  - id: general
    effect: allow
    reason: general use
  - id: late-trial
    effect: deny
    reason: after the allow rule
    enforcement: dryrun
    when: {data.subjects: domestic}
"""


def test_a_dryrun_rule_never_decides_and_says_what_it_would_have_denied() -> None:
    engine = engine_for(DRYRUN)
    plain = engine.evaluate(req())
    assert plain.allowed and plain.dryrun == () and "dryrun" not in plain.record().to_dict()
    shadowed = engine.evaluate(req(data={"subjects": "domestic"}))
    assert shadowed.allowed and shadowed.determining_rule == "general"
    assert [m.id for m in shadowed.matched_rules] == ["general"]  # dry-run rules apart
    # deny-overrides: every dry-run deny that matched would have denied
    assert [d.id for d in shadowed.dryrun] == ["stricter-domestic", "late-trial"]
    entry = shadowed.record().to_dict()["dryrun"][0]
    assert entry == {
        "id": "stricter-domestic",
        "effect": "deny",
        "reason": "the clause being rolled out",
        "reference": None,
    }


def test_under_first_match_only_dryrun_rules_before_the_decider_count() -> None:
    engine = engine_for(DRYRUN, "default: deny\ncombine: first-match\n")
    decision = engine.evaluate(req(data={"subjects": "domestic"}))
    assert decision.allowed and [d.id for d in decision.dryrun] == ["stricter-domestic"]


def test_a_failing_dryrun_rule_is_listed_with_its_error_and_does_not_deny() -> None:
    # enforced, the type error would have denied (fail closed); in dry run it only says so
    decision = engine_for(DRYRUN).evaluate(req(attributes={"tier": "high"}))
    assert decision.allowed and decision.errors == ()
    [trial] = decision.dryrun
    assert trial.id == "tier-limit" and trial.error is not None
    assert trial.error.code == "evaluation-error"
    assert decision.record().to_dict()["dryrun"][0]["error"]["code"] == "evaluation-error"


def test_an_enforced_copy_of_a_dryrun_rule_denies_what_it_listed() -> None:
    # what the shadow says is what enforcing the rule does
    enforced = engine_for(DRYRUN.replace("    enforcement: dryrun\n", ""))
    shadow = engine_for(DRYRUN)
    for fields in ({}, {"data": {"subjects": "domestic"}}, {"attributes": {"tier": 3}}):
        listed = bool(shadow.evaluate(req(**fields)).dryrun)
        assert enforced.evaluate(req(**fields)).allowed is not listed


def test_a_dryrun_record_survives_the_audit_log(tmp_path: Any) -> None:
    from usepolicy.audit import read_records, verify_log

    log = tmp_path / "audit.jsonl"
    with usepolicy.Enforcer(engine_for(DRYRUN), audit_log=log) as guard:
        record = guard.check(req(data={"subjects": "domestic"}))
    assert record.allowed and [d.id for d in record.dryrun or ()] == [
        "stricter-domestic",
        "late-trial",
    ]
    assert verify_log(log).ok
    [(_, stored)] = list(read_records(log))
    assert stored == record


def _in_shadow(policy: usepolicy.Policy, ids: set[str]) -> usepolicy.Policy:
    rules = tuple(
        dataclasses.replace(r, enforcement=usepolicy.policy.Enforcement.DRYRUN)
        if r.id in ids
        else r
        for r in policy.rules
    )
    return dataclasses.replace(policy, rules=rules)


_PACK = usepolicy.load_policy()
_SHADOWED = {"no-mass-domestic-surveillance", "no-fully-autonomous-weapons"}
_WITHOUT = Engine(
    dataclasses.replace(_PACK, rules=tuple(r for r in _PACK.rules if r.id not in _SHADOWED))
)
_SHADOW = Engine(_in_shadow(_PACK, _SHADOWED))


def _summary(d: usepolicy.Decision) -> tuple[Any, ...]:
    return (d.effect, d.determining_rule, d.matched_rules, d.obligations, d.errors)


@settings(max_examples=300, deadline=None)
@given(requests())
def test_dryrun_rules_decide_nothing_and_list_what_enforcing_them_denies(
    request: dict[str, Any],
) -> None:
    # for every request: the shadowed pack decides as the pack without those rules, and
    # lists exactly the shadowed rules that match in the pack itself (deny-overrides)
    shadow, without, enforced = (e.evaluate(request) for e in (_SHADOW, _WITHOUT, _REFERENCE))
    assert _summary(shadow) == _summary(without)
    matched = [m.id for m in enforced.matched_rules if m.id in _SHADOWED]
    assert [d.id for d in shadow.dryrun] == matched


def test_explain_marks_dryrun_rules() -> None:
    explanation = engine_for(DRYRUN).explain(req(data={"subjects": "domestic"}))
    traces = {t.id: t for t in explanation.rules}
    assert traces["stricter-domestic"].matched
    assert traces["stricter-domestic"].effect == "deny, dry run"
    assert traces["general"].effect == "allow"
