"""The eu-ai-act-prohibited pack: its cases, its structure, its scope and its composition."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy.policy import pack_path
from usepolicy.testing import requests

REPO = Path(__file__).resolve().parents[2]
PACK = pack_path("eu-ai-act-prohibited")
CASES = PACK.with_name("eu-ai-act-prohibited.test.yaml")
COMPOSITION = REPO / "examples" / "policies" / "eu-and-national-security.yaml"
PERMISSIVE = REPO / "examples" / "policies" / "eu-permissive.yaml"

POLICY = usepolicy.load_policy(PACK)
EU = usepolicy.Engine(POLICY)
COMPOSED = usepolicy.Engine(usepolicy.load_policy(COMPOSITION))
EU_PURPOSES = sorted(POLICY.purpose_additions)
OUT_OF_SCOPE_PURPOSES = sorted(
    p
    for p in usepolicy.STANDARD_PURPOSES
    if p.split(".")[0] in ("military", "weapons", "intelligence")
)
POINTS = "abcdefgh"


def _cases() -> list[Any]:
    spec = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["name"]) for case in spec["cases"]]


@pytest.mark.parametrize("case", _cases())
def test_case(case: dict[str, Any]) -> None:
    decision = EU.evaluate(case["request"])
    expect = case["expect"]
    assert decision.effect.value == expect["decision"]
    assert decision.determining_rule == expect["rule"]
    assert decision.errors == ()
    if decision.allowed:
        # a set of prohibitions: an allowed use is one no rule of the pack speaks to
        assert decision.matched_rules == ()


def test_every_point_has_a_deny_rule_with_its_reference() -> None:
    for point in POINTS:
        rules = [r for r in POLICY.rules if f"Article 5(1)({point})" in (r.reference or "")]
        assert len(rules) == 1, point
        assert rules[0].effect is usepolicy.Effect.DENY
        assert rules[0].id.startswith(f"eu-art5-1{point}-")


def test_the_pack_is_only_prohibitions() -> None:
    assert POLICY.name == "eu-ai-act-prohibited"
    assert POLICY.default is usepolicy.Effect.ALLOW
    assert POLICY.combine is usepolicy.Combine.DENY_OVERRIDES
    assert [r.effect for r in POLICY.rules] == [usepolicy.Effect.DENY] * len(POINTS)
    assert all(inv.never is usepolicy.Effect.ALLOW for inv in POLICY.invariants)
    assert len(POLICY.invariants) >= len(POINTS)


def test_every_point_is_both_denied_and_allowed_by_some_case() -> None:
    spec = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    for point in POINTS:
        named = [c for c in spec["cases"] if c["name"].startswith(f"({point})")]
        outcomes = {(c["expect"]["decision"], c["expect"]["rule"]) for c in named}
        rule = next(r.id for r in POLICY.rules if r.id.startswith(f"eu-art5-1{point}-"))
        assert ("deny", rule) in outcomes, point
        assert ("allow", None) in outcomes, point


def test_the_vocabulary_adds_the_practices() -> None:
    for name in (
        "biometric.identification.realtime",
        "biometric.categorisation",
        "biometric.facial_database",
        "emotion.recognition",
        "scoring.social",
        "profiling.crime_prediction",
    ):
        assert name in POLICY.vocabulary
        assert POLICY.purpose_additions[name]


def test_ids_do_not_collide_with_the_national_security_pack() -> None:
    safeguards = usepolicy.load_policy(pack_path("national-security-safeguards"))
    assert not {r.id for r in POLICY.rules} & {r.id for r in safeguards.rules}
    assert not set(POLICY.lists) & set(safeguards.lists)
    assert not {i.id for i in POLICY.invariants} & {i.id for i in safeguards.invariants}


# -- outside the Act (Article 2(3)) ----------------------------------------------------

# the attributes the pack reads, with values it knows and values of every other type
_EU_VALUES = {
    "scope": ["military", "defence", "national_security"],
    "technique": ["subliminal", "manipulative", "deceptive", "none"],
    "targets_vulnerability": ["age", "disability", "social_or_economic_situation", "none"],
    "significant_harm_likely": [True, False],
    "detrimental_treatment": ["unrelated_context", "disproportionate", "none"],
    "setting": ["workplace", "education", "public_space", "private_space", "online"],
    "inferred_traits": [["race"], ["age_group"], ["sexual_orientation", "age_group"], []],
    "exception": ["objective_facts", "medical", "safety", "dataset_labelling", "victim_search"],
    "law_enforcement": [True, False],
    "prior_authorisation": [True, False],
}
_TRAITS = list(POLICY.vocabulary.attributes["inferred_traits"].values or ())


def _eu_value(key: str) -> st.SearchStrategy[Any]:
    if key == "inferred_traits":
        # at most as many items as a valid request's list may hold: a longer list makes
        # the request invalid, which these properties are not about
        longest = usepolicy.request.LIMITS.max_attribute_list
        return st.one_of(
            st.sampled_from(_EU_VALUES[key]),
            st.lists(st.sampled_from(_TRAITS), max_size=longest),
        )
    return st.sampled_from(_EU_VALUES[key])


@st.composite
def eu_requests(draw: st.DrawFn, purposes: list[str]) -> dict[str, Any]:
    """A valid request whose attributes include some the pack reads (declared, so only
    their declared values are valid) and others it does not."""
    request = draw(requests(purposes=purposes, vocabulary=POLICY.vocabulary))
    chosen = draw(st.sets(st.sampled_from(sorted(_EU_VALUES))))
    others = [(k, v) for k, v in request.get("attributes", {}).items() if k not in _EU_VALUES]
    # within the limit, with room for the one key some tests add
    room = usepolicy.request.LIMITS.max_attributes - len(chosen) - 1
    attributes = dict(others[:room])
    for key in chosen:
        attributes[key] = draw(_eu_value(key))
    return {**request, "attributes": attributes}


def test_declares_every_attribute_it_reads_with_the_documented_values() -> None:
    declared = POLICY.vocabulary.attributes
    assert declared is not None
    assert set(declared) == set(_EU_VALUES)
    for key, values in _EU_VALUES.items():
        spec = declared[key]
        if spec.type == "boolean":
            assert values == [True, False]
        elif spec.type == "string":
            assert set(values) <= set(spec.values or ()), key
        else:
            assert spec.type == "list"
            assert {v for items in values for v in items} <= set(spec.values or ())


# requests that state a fact the pack reads with a misspelt value or a wrong type: not a
# decision at all, but an invalid request (they were fail-closed denies before the pack
# declared its attributes)
_ORG = {"organization": "Adwave SAS", "country": "FR"}


@pytest.mark.parametrize(
    ("purpose", "attributes", "path"),
    [
        ("general.assistant", {"technique": "Deceptive"}, "attributes.technique"),
        (
            "general.assistant",
            {"technique": "deceptive", "significant_harm_likely": "false"},
            "attributes.significant_harm_likely",
        ),
        ("emotion.recognition", {"setting": "Public_Space"}, "attributes.setting"),
        ("emotion.recognition", {"setting": "school"}, "attributes.setting"),
        (
            "biometric.identification.realtime",
            {"exception": "imminent_threat", "prior_authorisation": "yes"},
            "attributes.prior_authorisation",
        ),
        (
            "emotion.recognition",
            {"scope": "national security", "setting": "workplace"},
            "attributes.scope",
        ),
        (
            "biometric.identification.realtime",
            {"scope": "law_enforcement", "law_enforcement": True},
            "attributes.scope",
        ),
        ("biometric.categorisation", {"inferred_traits": "race"}, "attributes.inferred_traits"),
        ("biometric.categorisation", {"inferred_traits": ["rase"]}, "attributes.inferred_traits"),
    ],
)
def test_a_misspelt_or_wrongly_typed_fact_is_an_invalid_request(
    purpose: str, attributes: dict[str, Any], path: str
) -> None:
    request = {"requester": _ORG, "purpose": purpose, "attributes": attributes}
    for engine in (EU, COMPOSED):
        with pytest.raises(usepolicy.RequestError) as info:
            engine.evaluate(request)
        assert [(e.path, e.code) for e in info.value.errors] == [(path, "bad-attribute-value")]


def test_attributes_the_pack_does_not_read_stay_free() -> None:
    decision = EU.evaluate(
        {
            "requester": _ORG,
            "purpose": "emotion.recognition",
            "attributes": {"setting": "workplace", "Setting": "anything", "tier": 1},
        }
    )
    assert decision.determining_rule == "eu-art5-1f-emotion-recognition"


@settings(max_examples=500, deadline=None)
@given(eu_requests(OUT_OF_SCOPE_PURPOSES))
def test_never_decides_military_defence_or_intelligence_purposes(request: dict[str, Any]) -> None:
    decision = EU.evaluate(request)
    assert decision.determining_rule is None
    assert decision.matched_rules == ()
    assert decision.errors == ()
    assert decision.allowed


@settings(max_examples=500, deadline=None)
@given(
    eu_requests(sorted(usepolicy.STANDARD_PURPOSES) + EU_PURPOSES),
    st.sampled_from(["military", "defence", "national_security"]),
)
def test_never_decides_a_use_exclusively_for_national_security(
    request: dict[str, Any], scope: str
) -> None:
    decision = EU.evaluate({**request, "attributes": {**request["attributes"], "scope": scope}})
    assert decision.determining_rule is None
    assert decision.matched_rules == ()
    assert decision.allowed


# -- fail closed ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    eu_requests(["emotion.recognition"]),
    st.sampled_from(["workplace", "education", None]),
)
def test_never_allows_emotion_recognition_at_work_without_a_medical_or_safety_reason(
    request: dict[str, Any], setting: str | None
) -> None:
    attributes = dict(request["attributes"])
    attributes.pop("setting", None)
    if setting is not None:
        attributes["setting"] = setting
    in_scope = attributes.get("scope") not in ("military", "defence", "national_security")
    medical_or_safety = attributes.get("exception") in ("medical", "safety")
    decision = EU.evaluate({**request, "attributes": attributes})
    matched = [m.id for m in decision.matched_rules]
    assert ("eu-art5-1f-emotion-recognition" in matched) is (in_scope and not medical_or_safety)
    if in_scope and not medical_or_safety:
        assert not decision.allowed


@settings(max_examples=300, deadline=None)
@given(eu_requests(["biometric.identification.realtime"]))
def test_never_allows_realtime_identification_without_objective_and_authorisation(
    request: dict[str, Any],
) -> None:
    attrs = request["attributes"]
    decision = EU.evaluate(request)
    exempt = (
        attrs.get("scope") in ("military", "defence", "national_security")
        or attrs.get("law_enforcement") is False
        or attrs.get("setting") in ("private_space", "online")
        or (
            attrs.get("exception") in ("victim_search", "imminent_threat", "serious_crime_suspect")
            and attrs.get("prior_authorisation") is True
        )
    )
    matched = [m.id for m in decision.matched_rules]
    assert ("eu-art5-1h-realtime-remote-biometric-identification" in matched) is not exempt
    if not exempt:
        assert not decision.allowed


# -- composition -----------------------------------------------------------------------


def test_the_composition_decides_national_security_uses_by_the_safeguards_pack() -> None:
    org = {"organization": "Bundesnachrichtendienst", "country": "DE"}
    foreign = COMPOSED.evaluate(
        {
            "requester": org,
            "purpose": "intelligence.foreign",
            "data": {"subjects": "foreign", "provenance": "targeted", "categories": ["imagery"]},
            # would be a prohibited practice, were it in the Act's scope
            "attributes": {"technique": "deceptive", "significant_harm_likely": True},
        }
    )
    assert (foreign.effect.value, foreign.determining_rule) == ("allow", "intelligence")
    assert [m.id for m in foreign.matched_rules] == ["intelligence"]
    bulk = COMPOSED.evaluate(
        {
            "requester": org,
            "purpose": "intelligence.analysis",
            "data": {"subjects": "domestic", "provenance": "commercial", "subject_count": 10**6},
        }
    )
    assert (bulk.effect.value, bulk.determining_rule) == ("deny", "no-mass-domestic-surveillance")
    national_security = COMPOSED.evaluate(
        {
            "requester": org,
            "purpose": "emotion.recognition",
            "attributes": {"scope": "national_security", "setting": "workplace"},
        }
    )
    # outside the Act, and not a use the safeguards pack allows: the includer's default
    assert (national_security.effect.value, national_security.determining_rule) == ("deny", None)


def test_the_composition_decides_eu_uses_by_article_5() -> None:
    org = {"organization": "Acme Logistics GmbH", "country": "DE"}
    at_work = COMPOSED.evaluate(
        {"requester": org, "purpose": "emotion.recognition", "attributes": {"setting": "workplace"}}
    )
    assert (at_work.effect.value, at_work.determining_rule) == (
        "deny",
        "eu-art5-1f-emotion-recognition",
    )
    safety = COMPOSED.evaluate(
        {
            "requester": org,
            "purpose": "emotion.recognition",
            "attributes": {"setting": "workplace", "exception": "safety"},
        }
    )
    assert (safety.effect.value, safety.determining_rule) == (
        "allow",
        "eu-civilian-biometrics-and-profiling",
    )
    assert [o.id for o in safety.obligations] == ["eu-high-risk-deployer-obligations"]
    # the neighbours the composition adds are not prohibited: allowed, with obligations
    for purpose in ("scoring.creditworthiness", "biometric.identification.post"):
        neighbour = COMPOSED.evaluate(
            {
                "requester": org,
                "purpose": purpose,
                "data": {"subjects": "domestic", "provenance": "targeted", "subject_count": 1},
                "attributes": {"law_enforcement": True, "setting": "public_space"},
            }
        )
        assert neighbour.determining_rule == "eu-civilian-biometrics-and-profiling"
    # the safeguards pack's hard lines still hold for civilian uses
    bulk = COMPOSED.evaluate(
        {
            "requester": org,
            "purpose": "biometric.identification.post",
            "data": {"subjects": "domestic", "provenance": "bulk", "subject_count": 50_000},
        }
    )
    assert (bulk.effect.value, bulk.determining_rule) == ("deny", "no-mass-domestic-surveillance")


_SAFEGUARDS = usepolicy.Engine(usepolicy.load_policy(pack_path("national-security-safeguards")))
_SAFEGUARDS_WITH_EU = usepolicy.Engine(
    usepolicy.loads_policy(
        "usepolicy: 1\nname: both\ndefault: deny\n"
        "include: [pack:national-security-safeguards, pack:eu-ai-act-prohibited]\n"
    )
)


@settings(max_examples=400, deadline=None)
@given(eu_requests(sorted(usepolicy.STANDARD_PURPOSES)))
def test_including_the_pack_only_takes_uses_away(request: dict[str, Any]) -> None:
    both = _SAFEGUARDS_WITH_EU.evaluate(request)
    alone = _SAFEGUARDS.evaluate(request)
    if both.allowed:
        assert alone.allowed
    if not EU.evaluate(request).allowed:
        assert not both.allowed


def test_the_permissive_counterpart_accepts_the_same_requests() -> None:
    permissive = usepolicy.load_policy(PERMISSIVE)
    assert dict(permissive.purpose_additions) == dict(POLICY.purpose_additions)
    assert permissive.default is usepolicy.Effect.ALLOW
    assert all(rule.effect is usepolicy.Effect.ALLOW for rule in permissive.rules)


# -- documentation (its code blocks run in tests/test_docs.py) -------------------------


def test_the_eu_page_names_every_rule_and_attribute() -> None:
    text = (REPO / "docs" / "packs" / "eu-ai-act.md").read_text(encoding="utf-8")
    for rule in POLICY.rules:
        assert f"`{rule.id}`" in text
    for key in _EU_VALUES:
        assert re.search(rf"`{key}`", text), key


def test_the_scope_test_is_one_named_condition_that_means_it_written_out() -> None:
    text = PACK.read_text(encoding="utf-8")
    uses = text.count("- condition: eu-in-scope\n")
    assert uses == len(POLICY.rules) + len(POLICY.invariants)
    scope = POLICY.conditions["eu-in-scope"]
    for item in (*POLICY.rules, *POLICY.invariants):
        assert isinstance(item.when, usepolicy.policy.AllOf), item.id
        first = item.when.items[0]
        assert isinstance(first, usepolicy.policy.Named) and first.cond is scope.cond
    # the pack with the scope test written out in every place has the same digest
    head, _, rest = text.partition("conditions:\n  eu-in-scope:\n")
    definition, _, rules = rest.partition("\n\nrules:\n")
    inline = "".join(f"          {line[2:]}\n" for line in definition.splitlines())
    written_out = head + "rules:\n" + rules.replace("        - condition: eu-in-scope\n",
                                                    "        -\n" + inline)  # fmt: skip
    assert "condition:" not in written_out
    policy = usepolicy.loads_policy(written_out, base_dir=PACK.parent)
    assert policy.conditions == {}
    assert policy.digest == POLICY.digest
