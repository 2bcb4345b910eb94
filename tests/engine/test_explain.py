"""Explain traces: every rule, matched or the first failing condition with the value."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy.engine._compile import compile_cond
from usepolicy.engine._explain import Because
from usepolicy.policy import ListRef
from usepolicy.policy import Test as Cond
from usepolicy.request import validate_request
from usepolicy.testing import policies, requests


def test_trace_names_the_failing_condition_and_value() -> None:
    engine = usepolicy.Engine(usepolicy.load_policy())
    explanation = engine.explain(
        {
            "requester": {"organization": "FBI Field Office"},
            "purpose": "law_enforcement.investigation",
            "data": {
                "subjects": "domestic",
                "provenance": "targeted",
                "subject_count": 3,
                "legal_authority": "consent",
            },
        }
    )
    traces = {t.id: t for t in explanation.rules}
    assert [t.id for t in explanation.rules] == [r.id for r in engine.policy.rules]
    assert traces["domestic-with-authority"].failure == (
        'data.legal_authority: "consent" is not in ["warrant", "court_order"]'
    )
    assert traces["no-mass-domestic-surveillance"].failure == (
        'none of: data.provenance: "targeted" is not in ["bulk", "commercial"]; '
        "data.subject_count: 3 is not > 1000"
    )
    assert not explanation.decision.allowed and explanation.decision.determining_rule is None


def test_trace_marks_matches_and_errors() -> None:
    policy = usepolicy.loads_policy(
        "usepolicy: 1\nname: t\nrules:\n"
        "  - {id: num, effect: deny, reason: x, when: {attributes.tier: {gt: 1}}}\n"
        "  - {id: any, effect: allow, reason: x}\n"
    )
    explanation = usepolicy.Engine(policy).explain(
        {
            "requester": {"organization": "a"},
            "purpose": "general.assistant",
            "attributes": {"tier": "high"},
        }
    )
    num, anything = explanation.rules
    assert num.error is not None and "attributes.tier" in num.error and not num.matched
    assert anything.matched and anything.failure is None
    assert not explanation.decision.allowed


def texts(trace: usepolicy.RuleTrace) -> list[str]:
    return [str(b) for b in trace.because]


def test_a_matched_rule_names_each_condition_that_held_with_the_request_value() -> None:
    engine = usepolicy.Engine(usepolicy.load_policy())
    explanation = engine.explain(
        {
            "requester": {"organization": "Joint Analysis Cell"},
            "purpose": "intelligence.analysis",
            "data": {"subjects": "domestic", "provenance": "commercial", "subject_count": 20},
        }
    )
    traces = {t.id: t for t in explanation.rules}
    mass = traces["no-mass-domestic-surveillance"]
    assert mass.matched and mass.failure is None
    assert texts(mass) == [
        'data.subjects: "domestic" in ["domestic", "mixed"]',
        # `any`: the branch that held, not the ones after it
        'data.provenance: "commercial" in ["bulk", "commercial"]',
    ]
    # a rule the purpose alone decides is explained by its purpose test
    assert texts(traces["intelligence"]) == [
        'purpose: "intelligence.analysis" under ["intelligence"]'
    ]
    assert mass.lines() == [
        "+ no-mass-domestic-surveillance (deny) matched",
        '    data.subjects: "domestic" in ["domestic", "mixed"]',
        '    data.provenance: "commercial" in ["bulk", "commercial"]',
    ]
    [first, second] = mass.to_dict()["because"]
    assert first == {
        "field": "data.subjects",
        "op": "in",
        "operand": ["domestic", "mixed"],
        "value": "domestic",
        "holds": True,
        "conditions": [],
        "list_entry": None,
        "text": 'data.subjects: "domestic" in ["domestic", "mixed"]',
    }
    assert second["value"] == "commercial"


POLICY = """
usepolicy: 1
name: why
lists:
  allowed: [location, communications]
conditions:
  in-scope:
    not: {any: [{purpose: {under: weapons}}, {attributes.scope: military}]}
rules:
  - id: scoped
    effect: deny
    reason: x
    when:
      condition: in-scope
      data.categories: {all_in: {list: allowed}}
      not: {attributes.harmless: true}
  - id: purpose-first
    effect: deny
    reason: x
    when:
      any:
        - attributes.tier: {gt: 1}
        - purpose: {under: general}
  - id: everything
    effect: allow
    reason: x
"""


def test_why_follows_not_named_conditions_and_the_engine_order() -> None:
    engine = usepolicy.Engine(usepolicy.loads_policy(POLICY))
    explanation = engine.explain(
        {
            "requester": {"organization": "Lab"},
            "purpose": "general.research",
            "data": {"categories": ["location"]},
            # a string where a number is compared: never evaluated, because the purpose
            # decides the `any` first, as in the engine
            "attributes": {"tier": "high"},
        }
    )
    scoped, purpose_first, everything = explanation.rules
    assert not explanation.decision.errors
    assert texts(scoped) == [
        'condition in-scope: purpose: "general.research" is not under ["weapons"]',
        'condition in-scope: attributes.scope: absent is not == "military"',
        'data.categories: ["location"] all in list allowed',
        "attributes.harmless: absent is not == true",
    ]
    assert [b.holds for b in scoped.because] == [False, False, True, False]
    assert [b.conditions for b in scoped.because] == [("in-scope",), ("in-scope",), (), ()]
    assert scoped.because[2].operand == {"list": "allowed"}
    assert texts(purpose_first) == ['purpose: "general.research" under ["general"]']
    assert everything.matched and everything.because == ()
    assert everything.lines() == ["+ everything (allow) matched", "    (no `when`: every request)"]


def test_an_unmatched_rule_keeps_its_first_failure() -> None:
    engine = usepolicy.Engine(usepolicy.loads_policy(POLICY))
    explanation = engine.explain(
        {
            "requester": {"organization": "Lab"},
            "purpose": "general.research",
            "data": {"categories": ["location", "biometric"]},
        }
    )
    scoped = explanation.rules[0]
    assert not scoped.matched and scoped.because == ()
    assert scoped.failure == (
        'data.categories: ["location", "biometric"] is not all in list allowed'
    )
    assert scoped.lines() == [
        '- scoped (deny): data.categories: ["location", "biometric"] is not all in list allowed'
    ]


def _test_of(because: Because, policy: usepolicy.Policy) -> Cond:
    operand = because.operand
    if isinstance(operand, dict):
        name = operand["list"]
        operand = name if because.op == "in_list" else ListRef(name, policy.lists[name])
    elif isinstance(operand, list):
        operand = tuple(operand)
    return Cond(because.field, because.op, operand)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_why_agrees_with_the_engine_on_generated_policies(data: st.DataObject) -> None:
    policy = data.draw(policies(), label="policy")
    engine = usepolicy.Engine(policy)
    for request in data.draw(st.lists(requests(policy=policy), min_size=1, max_size=4)):
        decision = engine.evaluate(request)
        explanation = engine.explain(request)
        matched = [t.id for t in explanation.rules if t.matched]
        if not decision.errors:
            assert matched == [m.id for m in decision.matched_rules]
        req = validate_request(request, policy.vocabulary)
        for trace in explanation.rules:
            rule = policy.rule(trace.id)
            assert bool(trace.because) is (trace.matched and rule.when is not None)
            for because in trace.because:
                # each entry is a test's own answer on this request, with its value
                test = _test_of(because, policy)
                assert (
                    compile_cond(test, policy.name_lists, policy.vocabulary)(req) is because.holds
                )
                assert set(because.conditions) <= set(policy.conditions)


def test_a_rule_the_purpose_rules_out_names_the_purpose_test_that_did() -> None:
    # regression: tests the purpose made moot were taken as true, so a `not` around
    # them read "`not` failed: all held" instead of naming the purpose test
    engine = usepolicy.Engine(usepolicy.load_policy("pack:eu-ai-act-prohibited"))
    explanation = engine.explain(
        {
            "requester": {"organization": "Retail Co"},
            "purpose": "emotion.recognition",
            "attributes": {"setting": "workplace"},
        }
    )
    traces = {t.id: t for t in explanation.rules}
    assert traces["eu-art5-1c-social-scoring"].failure == (
        'purpose: "emotion.recognition" is not under ["scoring.social"]'
    )
    # an absent value meets no matcher but `exists`, negative ones included
    assert traces["eu-art5-1a-manipulation"].failure == (
        'attributes.technique: absent is not != "none"'
    )
    military = engine.explain({"requester": {"organization": "X"}, "purpose": "military.planning"})
    assert military.rules[0].failure == (
        'condition eu-in-scope: `not` failed: purpose: "military.planning" under '
        '["military", "weapons", "intelligence"]'
    )


def test_a_name_matched_against_a_named_list_names_the_entry() -> None:
    policy = usepolicy.loads_policy(
        "usepolicy: 1\nname: t\nlists: {partners: [ACME Corp]}\nconditions:\n"
        "  partner: {requester.organization: {in: {list: partners}}}\n"
        "rules:\n  - {id: p, effect: allow, reason: x, when: {condition: partner}}\n"
    )
    explanation = usepolicy.Engine(policy).explain(
        {"requester": {"organization": "Acme\u00a0Corp"}, "purpose": "general.assistant"}
    )
    [trace] = explanation.rules
    text = (
        'requester.organization: "Acme\\u00a0Corp" matches list entry "ACME Corp" of '
        '"partners" (after normalisation: "acme corp")'
    )
    assert trace.matched and trace.list_matches == (text,)
    [because] = trace.because
    assert (because.list_entry, because.conditions, str(because)) == (
        "ACME Corp",
        ("partner",),
        f"condition partner: {text}",
    )


def test_list_items_matched_by_name_name_their_entries() -> None:
    policy = usepolicy.loads_policy(
        "usepolicy: 1\nname: t\nlists: {partners: [ACME Corp, Beta Inc]}\nrules:\n"
        "  - {id: p, effect: allow, reason: x,"
        " when: {attributes.orgs: {all_in: {list: partners}}}}\n"
    )
    request = {
        "requester": {"organization": "X"},
        "purpose": "general.assistant",
        "attributes": {"orgs": ["acme corp", "Beta Inc"]},
    }
    [trace] = usepolicy.Engine(policy).explain(request).rules
    [because] = trace.because
    assert trace.matched
    assert because.list_entry == "ACME Corp"
    assert str(because).endswith(
        '(names on the list, after normalisation: "acme corp" as "ACME Corp", "Beta Inc")'
    )
    # an empty list is all in any list, and matches no entry
    empty = {**request, "attributes": {"orgs": []}}
    [trace] = usepolicy.Engine(policy).explain(empty).rules
    assert trace.matched
    assert trace.because[0].list_entry is None
