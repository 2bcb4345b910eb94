"""The hypothesis strategies draw valid requests and valid policies; the helpers
assert decisions and explain failures."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy.policy import pack_path
from usepolicy.request._fast import validate_request
from usepolicy.testing import (
    ANY_RULE,
    assert_allowed,
    assert_denied,
    policies,
    requests,
)

NSS = usepolicy.load_policy()
EU = usepolicy.load_policy("pack:eu-ai-act-prohibited")


@settings(max_examples=150, deadline=None)
@given(requests())
def test_requests_are_valid(request: dict[str, Any]) -> None:
    usepolicy.UseRequest.model_validate(request)
    validate_request(request, usepolicy.Vocabulary())


@settings(max_examples=100, deadline=None)
@given(requests(policy=NSS))
def test_requests_for_a_policy_are_valid_for_it(request: dict[str, Any]) -> None:
    req = validate_request(request, NSS.vocabulary)
    assert req.purpose in NSS.vocabulary


# no shrinking: these tests ask whether an example comes up at all, and shrinking a
# request whose description is 64 KiB long took seconds for nothing
_FIND = settings(
    max_examples=3000,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
_LIMITS = usepolicy.request.LIMITS


@pytest.mark.parametrize(
    ("label", "reached"),
    [
        ("longest organisation", lambda r: len(r["requester"]["organization"]) == _LIMITS.max_name),
        (
            "longest description",
            lambda r: len(r.get("description") or "") == _LIMITS.max_description,
        ),
        (
            "largest subject count",
            lambda r: r.get("data", {}).get("subject_count") == _LIMITS.max_subject_count,
        ),
        (
            "most categories",
            lambda r: len(r.get("data", {}).get("categories", [])) == _LIMITS.max_categories,
        ),
        ("most attributes", lambda r: len(r.get("attributes", {})) == _LIMITS.max_attributes),
        (
            "longest attribute key",
            lambda r: any(len(k) == _LIMITS.max_attribute_key for k in r.get("attributes", {})),
        ),
        (
            "largest attribute number",
            lambda r: _LIMITS.max_abs_number in r.get("attributes", {}).values(),
        ),
    ],
)
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_requests_reach_the_declared_limits(label: str, reached: Any) -> None:
    # drawn from the declared shape: each limit comes up, and is valid in both validators
    found = find(requests(), reached, settings=_FIND)
    usepolicy.UseRequest.model_validate(found)
    validate_request(found, usepolicy.Vocabulary())


def test_requests_can_be_held_to_some_purposes() -> None:
    found = find(requests(purposes=["cyber.defense"]), lambda r: True, settings=_FIND)
    assert found["purpose"] == "cyber.defense"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        requests(purposes=["no.such"])


@settings(max_examples=150, deadline=None)
@given(requests(policy=EU))
def test_requests_honour_the_declared_attributes_of_a_policy(request: dict[str, Any]) -> None:
    # every attribute EU declares gets a value of its declared type and values
    validate_request(request, EU.vocabulary)


@settings(max_examples=40, deadline=None)
@given(requests(vocabulary=EU.vocabulary))
def test_requests_honour_the_declared_attributes_of_a_vocabulary(request: dict[str, Any]) -> None:
    validate_request(request, EU.vocabulary)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(policies(), st.data())
def test_requests_are_valid_for_generated_policies(
    policy: usepolicy.Policy, data: st.DataObject
) -> None:
    request = data.draw(requests(policy=policy))
    validate_request(request, policy.vocabulary)
    usepolicy.Engine(policy).evaluate(request)


def test_strategies_need_hypothesis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "usepolicy.testing._strategies")
    with pytest.raises(ImportError, match=r"pip install 'usepolicy\[test\]'"):
        importlib.import_module("usepolicy.testing._strategies")


# -- assert_allowed / assert_denied ----------------------------------------------------

WEAPONS = {
    "requester": {"organization": "X"},
    "purpose": "weapons.targeting",
    "autonomy": {"level": "fully_autonomous"},
}


def test_assertions_pass_and_return_the_decision() -> None:
    decision = assert_denied(WEAPONS, rule="no-fully-autonomous-weapons")
    assert decision.determining_rule == "no-fully-autonomous-weapons"
    assert_denied({"requester": {"organization": "X"}, "purpose": "law_enforcement.investigation"},
                  rule=None)  # fmt: skip
    any_lawful = usepolicy.load_policy(pack_path("any-lawful-use"))
    assert_allowed(WEAPONS, engine=any_lawful, rule="any-lawful-use", obligations=[])
    assert_allowed(WEAPONS, engine=usepolicy.Engine(any_lawful), rule=ANY_RULE)


def test_assertion_failures_explain_themselves() -> None:
    with pytest.raises(AssertionError) as info:
        assert_allowed(WEAPONS)
    text = str(info.value)
    assert text.startswith("expected allow, got deny")
    assert "policy: national-security-safeguards" in text
    assert "+ no-fully-autonomous-weapons (deny) matched" in text
    assert "- intelligence (allow): purpose:" in text
    with pytest.raises(AssertionError, match="expected determining rule null"):
        assert_denied(WEAPONS, rule=None)
    with pytest.raises(AssertionError, match=r"expected obligations \['x'\], got \[\]"):
        assert_allowed({"requester": {"organization": "X"}, "purpose": "cyber.defense"},
                       obligations=["x"])  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(requests(complete=True, at_limits=False, organizations=["Acme Corp", "Beta Inc"]))
def test_complete_typical_requests_from_given_organisations(request: dict[str, Any]) -> None:
    assert set(request) == set(usepolicy.request.FIELD_ORDER)
    assert request["requester"]["organization"] in ("Acme Corp", "Beta Inc")
    assert len(request.get("description") or "") < usepolicy.request.LIMITS.max_description
    validate_request(request, usepolicy.Vocabulary())
