"""The exported Rego gives the native engine's answer: differential tests over the
reference packs, the examples and generated policies (2,000 generated requests each),
plus the semantics that are easy to get wrong, one by one."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usepolicy import Engine, Policy, RequestError, load_policy, loads_policy
from usepolicy.backends.opa import data_path, opa_input, to_rego
from usepolicy.policy._names import SCHEME, name_keys
from usepolicy.request._fast import request_to_builtins, validate_request

from ...conftest import EXAMPLES, REPO
from ...strategies import NAME_VARIANTS
from ._harness import Rego, RegoWorker, disagreements, generated_requests, native_answer
from ._policies import policies

REQUESTS_PER_POLICY = 2000
HUAWEI = "Huawei Technologies Co., Ltd."
POLICY_FILES = sorted(
    p
    for p in [*(REPO / "policies").glob("*.yaml"), *(REPO / "examples" / "policies").glob("*.yaml")]
    if not p.name.endswith(".test.yaml")
)


def example_requests(policy: Policy) -> list[dict[str, Any]]:
    """The example requests (examples/requests) that are valid for ``policy``."""
    out = []
    for path in sorted(EXAMPLES.glob("*.json")):
        try:
            req = validate_request(path.read_bytes(), policy.vocabulary)
        except RequestError:
            continue
        out.append(request_to_builtins(req))
    return out


def assert_agree(rego: Rego, policy: Policy, payloads: list[dict[str, Any]]) -> None:
    bad = disagreements(rego, policy, payloads)
    assert not bad, (
        f"{len(bad)} of {len(payloads)} requests differ; the first:\n"
        + json.dumps(bad[0], indent=1, ensure_ascii=False)[:3000]
    )


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_packs_and_examples_agree_with_the_native_engine(
    rego_worker: RegoWorker, path: Path
) -> None:
    policy = load_policy(path)
    rego = Rego(rego_worker, policy)
    payloads = generated_requests(policy, REQUESTS_PER_POLICY, seed=7)
    assert len(payloads) == REQUESTS_PER_POLICY
    payloads += example_requests(policy)
    assert_agree(rego, policy, payloads)
    # `decision` is the DESIGN.md §6 answer: the first three keys of `answer`
    sample = payloads[:200]
    for answer, decision in zip(
        rego.query(sample), rego.query(sample, rego.decision_entry), strict=True
    ):
        keys = ("decision", "determining_rule", "matched_rules")
        assert decision == {k: answer[k] for k in keys}


def test_the_examples_reach_every_outcome_of_the_reference_pack(rego_worker: RegoWorker) -> None:
    policy = load_policy()
    rego = Rego(rego_worker, policy)
    payloads = example_requests(policy)
    rules = {a["determining_rule"] for a in rego.answers(payloads)}
    assert {"denied-entity", "no-mass-domestic-surveillance", "intelligence", None} <= rules


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=policies())
def test_generated_policies_agree_with_the_native_engine(
    rego_worker: RegoWorker, text: str
) -> None:
    policy = loads_policy(text)
    payloads = generated_requests(policy, REQUESTS_PER_POLICY, seed=len(text))
    assert_agree(Rego(rego_worker, policy), policy, payloads)


# -- one semantic at a time ------------------------------------------------------------
def policy_of(rules: str, head: str = "default: deny\ncombine: deny-overrides\n") -> Policy:
    text = "usepolicy: 1\nname: t\nversion: '1'\n" + head + textwrap.dedent(rules)
    return loads_policy(text)


def request(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"requester": {"organization": "Cell 7"}, "purpose": "general.assistant"}
    base.update(fields)
    return base


def both(rego_worker: RegoWorker, policy: Policy, raw: dict[str, Any]) -> dict[str, Any]:
    """The answer, after checking native and Rego agree on it."""
    payload = request_to_builtins(validate_request(raw, policy.vocabulary))
    native = native_answer(Engine(policy), payload)
    [exported] = Rego(rego_worker, policy).answers([payload])
    assert exported == native
    return native


ERROR = {
    "decision": "deny",
    "determining_rule": None,
    "matched_rules": [],
    "obligations": [],
    "errors": ["evaluation-error"],
}


def test_a_type_error_met_in_evaluation_is_a_deny_with_no_rule(rego_worker: RegoWorker) -> None:
    policy = policy_of("""
        rules:
          - {id: big, effect: deny, reason: r, when: {attributes.tier: {gt: 2}}}
          - {id: any, effect: allow, reason: r}
    """)
    assert both(rego_worker, policy, request(attributes={"tier": "3"})) == ERROR
    assert both(rego_worker, policy, request(attributes={"tier": True})) == ERROR
    assert both(rego_worker, policy, request(attributes={"tier": 2}))["decision"] == "allow"
    assert both(rego_worker, policy, request())["matched_rules"] == ["any"]


def test_a_type_error_skipped_by_short_circuit_is_no_error(rego_worker: RegoWorker) -> None:
    policy = policy_of("""
        rules:
          - id: guarded
            effect: deny
            reason: r
            when:
              all:
                - model: claude-gov
                - attributes.tier: {gt: 2}
          - id: either
            effect: deny
            reason: r
            when:
              any:
                - model: {exists: false}
                - attributes.tier: {contains: x}
    """)
    bad = {"tier": "3"}
    # `all` stops at its false first item, `any` at its true first item: no error
    no_model = both(rego_worker, policy, request(attributes=bad))
    assert no_model["matched_rules"] == ["either"]
    assert not no_model["errors"]
    assert both(rego_worker, policy, request(model="claude-gov", attributes=bad)) == ERROR


def test_purpose_tests_are_decided_before_the_rest(rego_worker: RegoWorker) -> None:
    # the native engine folds purpose tests first, wherever they stand
    policy = policy_of("""
        rules:
          - id: late-purpose
            effect: deny
            reason: r
            when:
              all:
                - attributes.tier: {lt: 1}
                - purpose: {under: weapons}
          - {id: any, effect: allow, reason: r}
    """)
    bad = {"tier": "x"}
    assert both(rego_worker, policy, request(attributes=bad))["decision"] == "allow"
    targeting = request(purpose="weapons.targeting", attributes=bad)
    assert both(rego_worker, policy, targeting) == ERROR


def test_indexing_never_changes_which_errors_surface(rego_worker: RegoWorker) -> None:
    # four rules keyed on the organisation; the engine indexes a rule only on its first
    # test, so errors follow plain left-to-right order in both engines
    def keyed(first: str, second: str) -> str:
        return "".join(
            f"  - {{id: org{i}, effect: deny, reason: r, when: {{all: [{first}, {second}]}}}}\n"
            for i in range(4)
        )

    tier, org = "{attributes.tier: {gt: 1}}", "{requester.organization: ORG_N}"
    bad = {"tier": "x"}
    for first, second, errors_elsewhere in ((tier, org, True), (org, tier, False)):
        text = keyed(first, second)
        text = "".join(
            line.replace("ORG_N", f"Org {i}") for i, line in enumerate(text.splitlines(True))
        )
        policy = policy_of("rules:\n" + text + "  - {id: any, effect: allow, reason: r}\n")
        other = both(rego_worker, policy, request(attributes=bad))
        assert (other == ERROR) is errors_elsewhere
        assert (
            both(rego_worker, policy, request(requester={"organization": "Org 2"}, attributes=bad))
            == ERROR
        )


def test_absent_values_match_only_exists(rego_worker: RegoWorker) -> None:
    policy = policy_of("""
        rules:
          - {id: ne, effect: allow, reason: r, when: {attributes.tier: {ne: 1}}}
          - {id: not-in, effect: allow, reason: r, when: {model: {not_in: [a, b]}}}
          - {id: absent, effect: allow, reason: r, when: {attributes.tier: {exists: false}}}
          - {id: no-model, effect: allow, reason: r, when: {model: {exists: false}}}
          - {id: country-ne, effect: allow, reason: r, when: {requester.country: {ne: US}}}
    """)
    assert both(rego_worker, policy, request())["matched_rules"] == ["absent", "no-model"]
    present = request(
        model="c", attributes={"tier": 2}, requester={"organization": "o", "country": "FR"}
    )
    assert both(rego_worker, policy, present)["matched_rules"] == ["ne", "not-in", "country-ne"]


def test_attribute_equality_is_typed(rego_worker: RegoWorker) -> None:
    policy = policy_of("""
        rules:
          - {id: one, effect: allow, reason: r, when: {attributes.v: 1}}
          - {id: yes, effect: allow, reason: r, when: {attributes.v: true}}
          - {id: text, effect: allow, reason: r, when: {attributes.v: {in: ["1", x]}}}
    """)
    matched = [
        both(rego_worker, policy, request(attributes={"v": v}))["matched_rules"]
        for v in (1, 1.0, True, "1", ["1"])
    ]
    assert matched == [["one"], ["one"], ["yes"], ["text"], []]


def test_under_matches_on_dot_boundaries_only(rego_worker: RegoWorker) -> None:
    policy = policy_of(
        """
        rules:
          - {id: weapons, effect: allow, reason: r, when: {purpose: {under: weapons}}}
          - {id: attr, effect: allow, reason: r, when: {attributes.unit: {under: [a.b]}}}
        """,
        "default: deny\ncombine: first-match\n"
        "vocabulary: {purposes: {weaponsmith.forge: smithing}}\n",
    )
    assert (
        both(rego_worker, policy, request(purpose="weapons.targeting"))["determining_rule"]
        == "weapons"
    )
    assert (
        both(rego_worker, policy, request(purpose="weaponsmith.forge"))["determining_rule"] is None
    )
    units = [
        both(rego_worker, policy, request(attributes={"unit": u}))["matched_rules"]
        for u in ("a.b", "a.b.c", "a.bc", "a")
    ]
    assert units == [["attr"], ["attr"], [], []]


def test_first_match_and_obligations(rego_worker: RegoWorker) -> None:
    policy = policy_of(
        """
        rules:
          - id: watch
            effect: allow
            reason: r
            obligations:
              - {id: log, with: {days: 30}}
              - {id: review, when: {data.subjects: mixed}}
            when: {purpose: {under: general}}
          - {id: no, effect: deny, reason: r}
        """,
        "default: deny\ncombine: first-match\n",
    )
    answer = both(rego_worker, policy, request(data={"subjects": "mixed"}))
    assert answer["determining_rule"] == "watch"
    assert [o["id"] for o in answer["obligations"]] == ["log", "review"]
    assert both(rego_worker, policy, request(purpose="cyber.defense"))["determining_rule"] == "no"


def test_the_module_reads_like_the_policy() -> None:
    policy = load_policy()
    module = to_rego(policy)
    assert "package usepolicy.national_security_safeguards\n" in module
    assert "import future" not in module
    assert "import rego.v1" not in module
    for rule in policy.rules:
        assert module.count(f'_matched contains "{rule.id}"') == 1
        assert f"# {rule.id} ({rule.effect.value}): " in module
    # Rego v1 only: no rule head opens a body without `if`
    assert not re.search(r"^[^#\s][^\n]*[^f] \{$", module.replace(":= {", ":="), re.MULTILINE)
    assert max(len(line) for line in module.splitlines() if line.startswith("#")) <= 100


def test_names_that_are_not_rego_identifiers(rego_worker: RegoWorker) -> None:
    text = """
        usepolicy: 1
        name: 2026-default
        version: '1'
        default: deny
        lists: {denied-orgs: [Bad Org]}
        rules:
          - {id: in.list, effect: deny, reason: r, when: {requester.organization: {in_list: denied-orgs}}}
          - {id: key, effect: allow, reason: r, when: {attributes.in-scope: true}}
    """
    policy = loads_policy(textwrap.dedent(text))
    assert 'package usepolicy["2026_default"]' in to_rego(policy)
    bad = request(requester={"organization": "Bad Org"}, attributes={"in-scope": True})
    assert both(rego_worker, policy, bad)["determining_rule"] == "in.list"
    assert both(rego_worker, policy, request(attributes={"in-scope": True}))["decision"] == "allow"


def test_strings_are_quoted_exactly(rego_worker: RegoWorker) -> None:
    policy = policy_of("""
        rules:
          - {id: q, effect: allow, reason: "a \\"quoted\\" reason\\nover two lines", when: {model: "x\\"y"}}
          - {id: re, effect: allow, reason: r, when: {model: {matches: "^a`b\\\\d$"}}}
    """)
    assert both(rego_worker, policy, request(model='x"y'))["matched_rules"] == ["q"]
    assert both(rego_worker, policy, request(model="a`b1"))["matched_rules"] == ["re"]


# -- names: in_list reads the name keys usepolicy puts in the input -----------------------
PACK_PATHS = [
    REPO / "policies" / f"{n}.yaml" for n in ("national-security-safeguards", "any-lawful-use")
]


@pytest.mark.parametrize("path", PACK_PATHS, ids=lambda p: p.stem)
def test_every_variant_of_a_listed_name_is_denied_by_the_export(
    rego_worker: RegoWorker, path: Path
) -> None:
    policy = load_policy(path)
    payloads = []
    for field in ("organization", "entity_id"):
        for variant in NAME_VARIANTS.values():
            requester = {"organization": "Regional Distributor Ltd.", field: variant(HUAWEI)}
            raw = {"requester": requester, "purpose": "general.assistant"}
            payloads.append(request_to_builtins(validate_request(raw, policy.vocabulary)))
    assert_agree(Rego(rego_worker, policy), policy, payloads)
    answers = Rego(rego_worker, policy).answers(payloads)
    assert {(a["decision"], a["determining_rule"]) for a in answers} == {("deny", "denied-entity")}


def test_without_name_keys_the_module_denies_with_an_error(rego_worker: RegoWorker) -> None:
    # an allow-list: were a missing key read as "not listed", the answer would be allow
    policy = policy_of("""
        lists: {approved: [Army Intelligence Center]}
        rules:
          - {id: outsider, effect: deny, reason: r,
             when: {not: {requester.organization: {in_list: approved}}}}
          - {id: inside, effect: allow, reason: r}
    """)
    rego = Rego(rego_worker, policy)
    raw = request(requester={"organization": "Somebody Else"})
    payload = request_to_builtins(validate_request(raw, policy.vocabulary))
    keyed = opa_input(policy, raw)
    assert keyed["name_keys"]["fields"]["requester.organization"] == [
        "sornebody else",
        "sornebody else",
    ]
    wrong_scheme = {**keyed, "name_keys": {**keyed["name_keys"], "scheme": "usepolicy-names/0"}}
    no_field = {**keyed, "name_keys": {"scheme": SCHEME, "fields": {}}}
    for bad in (payload, wrong_scheme, no_field):
        [answer] = rego.query([bad], keyed=False)
        assert answer["decision"] == "deny" and answer["determining_rule"] is None
        assert answer["errors"][0]["code"] == "evaluation-error"
        assert "name_keys" in answer["errors"][0]["message"]
    [answer] = rego.query([keyed], keyed=False)
    assert (answer["decision"], answer["determining_rule"]) == ("deny", "outsider")
    insider = opa_input(policy, request(requester={"organization": "ARMY INTELLIGENCE CENTER"}))
    [answer] = rego.query([insider], keyed=False)
    assert (answer["decision"], answer["determining_rule"]) == ("allow", "inside")


def test_policies_without_lists_need_no_name_keys(rego_worker: RegoWorker) -> None:
    policy = policy_of("rules:\n  - {id: a, effect: allow, reason: r, when: {model: x}}\n")
    assert "name_keys" not in to_rego(policy)
    assert "name_keys" not in opa_input(policy, request(model="x"))
    [answer] = Rego(rego_worker, policy).query([request(model="x")], keyed=False)
    assert answer["determining_rule"] == "a"


def test_an_attribute_in_a_list_is_keyed_only_when_it_is_a_string(
    rego_worker: RegoWorker,
) -> None:
    policy = policy_of("""
        lists: {programs: [Alpha One]}
        rules:
          - {id: listed, effect: deny, reason: r, when: {attributes.program: {in_list: programs}}}
          - {id: rest, effect: allow, reason: r}
    """)
    fields = opa_input(policy, request(attributes={"program": 1}))["name_keys"]["fields"]
    assert fields == {"attributes.program": None}
    for value, rule in (("ALPHA  ONE", "listed"), (1, "rest"), (["Alpha One"], "rest")):
        assert (
            both(rego_worker, policy, request(attributes={"program": value}))["determining_rule"]
            == rule
        )
    assert both(rego_worker, policy, request())["determining_rule"] == "rest"


LIST_QUANTIFIERS = """
    lists:
      allowed: [location, communications]
      codes: [ALPHA, BRAVO]
      kinds: [domestic, mixed]
    conditions:
      domestic: {data.subjects: {in: {list: kinds}}}
      coded: {any: [{attributes.codes: {all_in: {list: codes}}}, {condition: domestic}]}
    rules:
      - {id: all-in, effect: allow, reason: r, when: {data.categories: {all_in: [location]}}}
      - {id: none-in, effect: allow, reason: r, when: {data.categories: {none_in: {list: allowed}}}}
      - {id: listed, effect: allow, reason: r, when: {data.categories: {contains_any: {list: allowed}}}}
      - {id: named, effect: allow, reason: r, when: {not: {condition: coded}}}
      - {id: attr-none, effect: allow, reason: r, when: {attributes.codes: {none_in: [ALPHA]}}}
      - {id: org, effect: allow, reason: r, when: {requester.organization: {not_in: {list: codes}}}}
"""


@pytest.mark.parametrize(
    ("fields", "matched"),
    [
        ({}, ["all-in", "none-in", "named", "org"]),
        ({"data": {"categories": ["location"]}}, ["all-in", "listed", "named", "org"]),
        ({"data": {"categories": ["location", "health"]}}, ["listed", "named", "org"]),
        ({"data": {"subjects": "mixed"}}, ["all-in", "none-in", "org"]),
        ({"attributes": {"codes": []}}, ["all-in", "none-in", "attr-none", "org"]),
        ({"attributes": {"codes": ["BRAVO"]}}, ["all-in", "none-in", "attr-none", "org"]),
        ({"attributes": {"codes": ["ALPHA", "X"]}}, ["all-in", "none-in", "named", "org"]),
        ({"requester": {"organization": "BRAVO"}}, ["all-in", "none-in", "named"]),
    ],
)
def test_list_quantifiers_named_lists_and_named_conditions(
    rego_worker: RegoWorker, fields: dict[str, Any], matched: list[str]
) -> None:
    policy = policy_of(LIST_QUANTIFIERS)
    assert both(rego_worker, policy, request(**fields))["matched_rules"] == matched


def test_a_list_quantifier_on_a_non_list_is_an_error_in_both(rego_worker: RegoWorker) -> None:
    policy = policy_of(LIST_QUANTIFIERS)
    assert both(rego_worker, policy, request(attributes={"codes": "ALPHA"})) == ERROR
    # named lists read from the bundle's data.json behave the same
    module = to_rego(policy, lists_from_data=True)
    lists = {name: sorted(keys) for name, keys in policy.name_lists.items()}
    rego = Rego(rego_worker, policy, module, {"usepolicy": {"t": {"lists": lists}}})
    payloads = generated_requests(policy, 300, seed=3)
    assert not disagreements(rego, policy, payloads)


ITEM_NAMES = """
    lists:
      partners: [Acme Corp, Beta Inc]
    rules:
      - {id: any, effect: allow, reason: r, when: {attributes.orgs: {contains_any: {list: partners}}}}
      - {id: every, effect: allow, reason: r, when: {attributes.orgs: {all_in: {list: partners}}}}
      - {id: none, effect: allow, reason: r, when: {attributes.orgs: {none_in: {list: partners}}}}
      - {id: both, effect: allow, reason: r, when: {attributes.orgs: {contains_all: {list: partners}}}}
"""


@pytest.mark.parametrize(
    ("orgs", "matched"),
    [
        ([], ["every", "none"]),
        (["ACME  CORP"], ["any", "every"]),  # other case, doubled space: the same name
        (["Аcme Corp", "Other"], ["any"]),  # a Cyrillic А: a look-alike is the same name
        (["acme corp", "BETA INC"], ["any", "every", "both"]),
        (["Other"], ["none"]),
    ],
)
def test_list_operators_with_a_named_list_match_items_by_name_in_both(
    rego_worker: RegoWorker, orgs: list[str], matched: list[str]
) -> None:
    policy = policy_of(ITEM_NAMES)
    keyed = opa_input(policy, request(attributes={"orgs": orgs}))
    assert keyed["name_keys"]["fields"]["attributes.orgs"] == {
        "items": [list(name_keys(o)) for o in orgs]
    }
    assert both(rego_worker, policy, request(attributes={"orgs": orgs}))["matched_rules"] == matched
    # an item list the module is asked with by hand, without keys: never an allow
    [answer] = Rego(rego_worker, policy).query([request(attributes={"orgs": orgs})], keyed=False)
    assert answer["decision"] == "deny"


def test_list_operators_with_a_named_list_on_a_non_list_are_an_error_in_both(
    rego_worker: RegoWorker,
) -> None:
    policy = policy_of(ITEM_NAMES)
    assert both(rego_worker, policy, request(attributes={"orgs": "Acme Corp"})) == ERROR


# -- shadow mode: dry-run rules --------------------------------------------------------
def _with_dryrun(text: str, chosen: list[bool]) -> str:
    """The policy with the deny rules ``chosen`` made dry-run rules."""
    document = yaml.safe_load(text)
    denies = [rule for rule in document["rules"] if rule["effect"] == "deny"]
    for rule, dry in zip(denies, chosen, strict=False):
        if dry:
            rule["enforcement"] = "dryrun"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=policies(), chosen=st.lists(st.booleans(), min_size=6, max_size=6))
def test_generated_policies_with_dryrun_rules_agree_with_the_native_engine(
    rego_worker: RegoWorker, text: str, chosen: list[bool]
) -> None:
    policy = loads_policy(_with_dryrun(text, [True, *chosen]))
    payloads = generated_requests(policy, REQUESTS_PER_POLICY, seed=len(text))
    assert_agree(Rego(rego_worker, policy), policy, payloads)


DRYRUN = """
    rules:
      - {id: trial, effect: deny, reason: r, enforcement: dryrun, when: {data.subjects: domestic}}
      - {id: typed, effect: deny, reason: r, enforcement: dryrun, when: {attributes.tier: {gt: 2}}}
      - {id: any, effect: allow, reason: r}
      - {id: late, effect: deny, reason: r, enforcement: dryrun, when: {data.subjects: domestic}}
"""


@pytest.mark.parametrize(
    ("combine", "listed"),
    [("deny-overrides", ["trial", "late"]), ("first-match", ["trial"])],
)
def test_dryrun_rules_never_decide_in_rego(
    rego_worker: RegoWorker, combine: str, listed: list[str]
) -> None:
    policy = policy_of(DRYRUN, f"default: deny\ncombine: {combine}\n")
    answer = both(rego_worker, policy, request(data={"subjects": "domestic"}))
    assert (answer["decision"], answer["matched_rules"]) == ("allow", ["any"])
    assert [d["id"] for d in answer["dryrun"]] == listed
    failing = both(rego_worker, policy, request(attributes={"tier": "high"}))
    assert failing["errors"] == [] and failing["dryrun"] == [
        {"id": "typed", "error": "evaluation-error"}
    ]
    # `decision` carries the dry-run list too, as an added key
    payload = request_to_builtins(validate_request(request(), policy.vocabulary))
    [decision] = Rego(rego_worker, policy).query([payload], f"{data_path(policy)}/decision")
    assert decision == {
        "decision": "allow",
        "determining_rule": "any",
        "matched_rules": ["any"],
        "dryrun": [],
    }


def test_a_policy_without_dryrun_rules_exports_as_before() -> None:
    module = to_rego(load_policy())
    assert "dryrun" not in module
