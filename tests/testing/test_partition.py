"""The domain partition is exhaustive: every request falls into a class whose
representative gets the same decision (checked on the reference packs and on random
policies), and folding keeps evaluation errors where the engine meets them."""

from __future__ import annotations

from typing import Any

import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy.engine import Decision, Engine
from usepolicy.policy import Policy, pack_path
from usepolicy.request._fast import validate_request
from usepolicy.testing import Partition, check_invariants, policies, requests
from usepolicy.testing._domain import candidates
from usepolicy.testing._partition import policy_conditions
from usepolicy.testing._regex import regex_examples

NSS = usepolicy.load_policy()
ALU = usepolicy.load_policy(pack_path("any-lawful-use"))


def summary(decision: Decision) -> tuple[Any, ...]:
    return (
        decision.effect,
        decision.determining_rule,
        tuple(m.id for m in decision.matched_rules),
        tuple(o.id for o in decision.obligations),
        bool(decision.errors),
    )


def full_partition(policy: Policy) -> Partition:
    conds = policy_conditions(policy, invariants=True, obligations=True)
    return Partition([policy], [(0, cond) for cond in conds])


def policy_of(text: str) -> Policy:
    return usepolicy.loads_policy(text)


# -- the reference packs --------------------------------------------------------------


def test_reference_pack_classes_are_few_and_valid() -> None:
    partition = full_partition(NSS)
    engine = Engine(NSS)
    leaves = list(partition.leaves())
    assert 100 < len(leaves) < 20_000
    seen = set()
    for leaf in leaves:
        request = partition.request(leaf)
        usepolicy.UseRequest.model_validate(request)  # the public model accepts it
        seen.add(summary(engine.evaluate(request)))
    # every rule of the pack determines some representative
    assert {s[1] for s in seen} == {r.id for r in NSS.rules} | {None}


def test_unmentioned_fields_keep_their_defaults() -> None:
    partition = full_partition(ALU)
    assert partition.order == ["requester.organization", "requester.entity_id"]
    requests_ = [partition.request(leaf) for leaf in partition.leaves()]
    assert len(requests_) == 3  # on the list; off it with entity_id on it; neither
    assert all(set(r) == {"requester", "purpose"} for r in requests_)


@settings(max_examples=150, deadline=None)
@given(requests(policy=NSS))
def test_every_request_has_a_representative_with_its_decision(request: dict[str, Any]) -> None:
    partition = _NSS_PARTITION
    req = validate_request(request, NSS.vocabulary)
    assignment = partition.representative(req)
    assert assignment is not None
    assert summary(_NSS_ENGINE.decide(partition.req(assignment))) == summary(
        _NSS_ENGINE.decide(req)
    )


_NSS_PARTITION = full_partition(NSS)
_NSS_ENGINE = Engine(NSS)


# -- random policies --------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.data())
def test_partition_is_exhaustive_for_random_policies(data: st.DataObject) -> None:
    policy = data.draw(policies(), label="policy")
    partition = full_partition(policy)
    engine = Engine(policy)
    for request in data.draw(st.lists(requests(policy=policy), min_size=1, max_size=6)):
        req = validate_request(request, policy.vocabulary)
        assignment = partition.representative(req)
        assert assignment is not None, request
        assert summary(engine.decide(partition.req(assignment))) == summary(engine.decide(req))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.data())
def test_when_the_checker_says_holds_no_counterexample_exists(data: st.DataObject) -> None:
    policy = data.draw(policies(), label="policy")
    report = check_invariants(policy)
    assert report.stats.exhaustive
    engine = Engine(policy)
    for result in report.results:
        if not result.holds:  # a reported violation is real
            assert result.violation is not None
            decision = engine.evaluate(result.violation)
            assert decision.effect is result.invariant.never
            assert _when_holds(policy, result.invariant.when, result.violation)
    held = [r.invariant for r in report.results if r.holds]
    for request in data.draw(st.lists(requests(policy=policy), max_size=8)):
        effect = engine.evaluate(request).effect
        for inv in held:
            assert not (effect is inv.never and _when_holds(policy, inv.when, request)), (
                inv.id,
                request,
            )


def _when_holds(policy: Policy, when: Any, request: dict[str, Any]) -> bool:
    if when is None:
        return True
    from usepolicy.engine._compile import compile_cond

    pred = compile_cond(when, policy.name_lists, policy.vocabulary)
    try:
        return bool(pred(validate_request(request, policy.vocabulary)))
    except usepolicy.EvaluationError:
        return True  # the checker counts an erroring `when` as holding


# -- folding and domains ----------------------------------------------------------------

_ERRORS = """
usepolicy: 1
name: errors
default: allow
combine: deny-overrides
rules:
  - id: purpose-first
    effect: deny
    reason: a purpose test settles the condition before the attribute is read
    when:
      any:
        - purpose: {under: weapons}
        - attributes.tier: {gt: 2}
  - id: attribute-first
    effect: deny
    reason: the attribute is read before the organization is compared
    when:
      all:
        - attributes.level: {gt: 2}
        - requester.organization: Acme
  - id: organization-first
    effect: deny
    reason: the organization is compared before the attribute is read
    when:
      all:
        - requester.organization: Beta
        - attributes.grade: {gt: 2}
"""

_ERROR_REQUESTS = [
    {"requester": {"organization": org}, "purpose": purpose, "attributes": attributes}
    for org in ("Acme", "Beta", "Other")
    for purpose in ("weapons.targeting", "general.assistant")
    for attributes in (
        {},
        {"tier": "high"},
        {"tier": 3},
        {"level": "high"},
        {"level": 3},
        {"grade": ["a"]},
        {"grade": 3},
    )
]


def test_evaluation_errors_are_classes_of_their_own() -> None:
    policy = policy_of(_ERRORS)
    partition = full_partition(policy)
    engine = Engine(policy)
    errors = 0
    for request in _ERROR_REQUESTS:
        req = validate_request(request, policy.vocabulary)
        decision = engine.decide(req)
        errors += bool(decision.errors)
        assignment = partition.representative(req)
        assert assignment is not None, request
        assert summary(engine.decide(partition.req(assignment))) == summary(decision), request
    assert 0 < errors < len(_ERROR_REQUESTS)  # some errors are met, some short-circuited


def test_an_error_the_engine_meets_is_never_folded_away() -> None:
    policy = policy_of(_ERRORS)
    partition = full_partition(policy)
    engine = Engine(policy)
    # `attributes.level` is read first, so the error shows whatever the organization
    req = validate_request(
        {"requester": {"organization": "Other"}, "purpose": "general.assistant",
         "attributes": {"level": "high"}},
        policy.vocabulary,
    )  # fmt: skip
    assert engine.decide(req).errors
    assignment = partition.representative(req)
    assert assignment is not None
    assert assignment.get("attributes.level") is not None
    assert engine.decide(partition.req(assignment)).errors
    found = [engine.evaluate(partition.request(a)) for a in partition.leaves()]
    assert any(d.errors for d in found)
    assert any(not d.errors for d in found)


def test_integer_fields_split_at_every_threshold() -> None:
    policy = policy_of(
        "usepolicy: 1\nname: t\nrules:\n  - id: r\n    effect: deny\n    reason: r\n"
        "    when: {data.subject_count: {gt: 1000, lte: 5000}}\n"
    )
    values = full_partition(policy).values["data.subject_count"]
    assert values[0] == 0  # the default comes first
    assert {1001, 5001} <= set(values)
    assert len(values) == 3  # <= 1000, 1001..5000, > 5000


def test_attribute_numbers_split_between_adjacent_thresholds() -> None:
    policy = policy_of(
        "usepolicy: 1\nname: t\nrules:\n  - id: r\n    effect: deny\n    reason: r\n"
        "    when: {attributes.x: {gt: 1, lt: 2}}\n"
    )
    engine = Engine(policy)
    decisions = {
        engine.evaluate(full_partition(policy).request({"attributes.x": v})).determining_rule
        for v in full_partition(policy).values["attributes.x"]
    }
    assert "r" in decisions  # only a fraction between 1 and 2 matches


def test_category_sets_cover_every_combination_mentioned() -> None:
    policy = policy_of(
        "usepolicy: 1\nname: t\nrules:\n  - id: r\n    effect: deny\n    reason: r\n"
        "    when: {data.categories: {contains_all: [location, health]}}\n"
    )
    values = full_partition(policy).values["data.categories"]
    assert ("health", "location") in values or ("location", "health") in values
    assert values[0] == ()


def test_in_list_needs_only_one_member_per_class() -> None:
    partition = full_partition(NSS)
    assert len(partition.values["requester.organization"]) == 2
    on_list = partition.values["requester.organization"][1]
    assert on_list in NSS.lists["denied_entities"]


def test_country_domain_is_listed_whole_for_patterns() -> None:
    test = usepolicy.policy.Test("requester.country", "matches", "^[AB]")
    domain = candidates("requester.country", [(test, NSS)], sorted(NSS.vocabulary.names))
    assert "AZ" in domain.values
    assert not domain.notes


def test_regex_examples_match() -> None:
    for pattern in [r"^(ab|c[d-f]+)\.x?\d{2,}$", "Inc$", "(?i)army", r"\bUS\b", "^[A-Z]{2}-"]:
        found = regex_examples(pattern)
        assert found, pattern
        assert all(re2.search(pattern, text) for text in found)


def test_patterns_make_a_note_about_sampling() -> None:
    policy = policy_of(
        "usepolicy: 1\nname: t\nrules:\n  - id: r\n    effect: deny\n    reason: r\n"
        "    when: {model: {matches: '^claude'}}\n"
    )
    partition = full_partition(policy)
    assert any("matches" in note for note in partition.notes)
    assert any(isinstance(v, str) and v.startswith("claude") for v in partition.values["model"])


def test_all_in_adds_one_item_no_test_names() -> None:
    policy = policy_of(
        "usepolicy: 1\nname: t\nlists:\n  ok: [location, health]\nrules:\n"
        "  - {id: cats, effect: deny, reason: r, when: {data.categories: {all_in: {list: ok}}}}\n"
        "  - {id: tags, effect: deny, reason: r, when: {attributes.tags: {all_in: [a]}}}\n"
    )
    partition = full_partition(policy)
    engine = Engine(policy)

    def matched(assignment: dict[str, Any]) -> set[str]:
        return {m.id for m in engine.evaluate(partition.request(assignment)).matched_rules}

    categories = partition.values["data.categories"]
    unnamed = [v for v in categories if set(v) - {"location", "health"}]
    # an item outside the list is what makes `all_in` fail: one such class is enough
    assert unnamed and all("cats" not in matched({"data.categories": v}) for v in unnamed)
    assert "cats" in matched({"data.categories": ("location",)})
    # for an attribute, a list with another item answers like an absent one
    tags = candidates("attributes.tags", [(policy.rules[1].when, policy)], []).values
    assert any(isinstance(v, tuple) and set(v) - {"a"} for v in tags)
    for value in (["a", "zz"], ["zz"], ["a"], []):
        request = {"requester": {"organization": "O"}, "purpose": "general.assistant",
                   "attributes": {"tags": value}}  # fmt: skip
        req = validate_request(request, policy.vocabulary)
        assignment = partition.representative(req)
        assert assignment is not None
        assert summary(engine.decide(partition.req(assignment))) == summary(engine.decide(req))


def test_a_named_condition_adds_no_classes() -> None:
    inline = policy_of(
        "usepolicy: 1\nname: t\nrules:\n"
        "  - {id: r, effect: deny, reason: r, when: {any: [{model: m}, {data.subjects: mixed}]}}\n"
    )
    named = policy_of(
        "usepolicy: 1\nname: t\nconditions:\n  c: {any: [{model: m}, {data.subjects: mixed}]}\n"
        "rules:\n  - {id: r, effect: deny, reason: r, when: {condition: c}}\n"
    )
    assert list(full_partition(named).leaves()) == list(full_partition(inline).leaves())
