"""Explain traces: every rule, matched or the first failing condition with the value."""

from __future__ import annotations

import usepolicy


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
