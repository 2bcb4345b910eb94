"""Tests for my-policy.yaml, written the way a policy author would.

Run them with ``pytest examples/policy-author``: the usepolicy pytest plugin also
collects ``my-policy.test.yaml`` beside this file (one test per case, one per
invariant), and provides the ``usepolicy_policy`` / ``usepolicy_engine`` fixtures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

import usepolicy
from usepolicy.testing import (
    assert_allowed,
    assert_denied,
    check_invariants,
    diff_policies,
    lint_policy,
    requests,
)

POLICY = usepolicy.load_policy(Path(__file__).parent / "my-policy.yaml")
ENGINE = usepolicy.Engine(POLICY)

# the fixtures load this policy (paths are relative to this file)
pytestmark = pytest.mark.usepolicy_policy("my-policy.yaml")

GEOINT = {
    "requester": {"organization": "Example Agency GEOINT Office", "country": "US"},
    "purpose": "intelligence.geoint",
    "environment": {"network": "air_gapped", "classification": "secret"},
}


def test_geoint_needs_an_approved_program(usepolicy_engine: usepolicy.Engine) -> None:
    assert_denied(GEOINT, engine=usepolicy_engine, rule="geoint-needs-approved-program")
    approved = {**GEOINT, "attributes": {"program": "BRAVO"}}
    assert_allowed(approved, engine=usepolicy_engine, rule="intelligence", obligations=[])


def test_the_reference_safeguards_still_apply(usepolicy_engine: usepolicy.Engine) -> None:
    bulk_domestic = {
        **GEOINT,
        "attributes": {"program": "ALPHA"},
        "data": {"subjects": "domestic", "provenance": "commercial", "categories": ["location"]},
    }
    assert_denied(bulk_domestic, engine=usepolicy_engine, rule="no-mass-domestic-surveillance")


def test_every_invariant_holds_for_every_request(usepolicy_policy: usepolicy.Policy) -> None:
    report = check_invariants(usepolicy_policy)
    assert report.holds, [r.violation for r in report.results if not r.holds]
    assert report.stats.exhaustive  # proven over every class of requests, not sampled


def test_no_lint_warnings(usepolicy_policy: usepolicy.Policy) -> None:
    assert [str(w) for w in lint_policy(usepolicy_policy)] == []


def test_against_the_reference_pack_only_tier_rules_take_allows_away(
    usepolicy_policy: usepolicy.Policy,
) -> None:
    report = diff_policies(usepolicy.load_policy(), usepolicy_policy)
    taken = [c for c in report.changes if (c.old.decision, c.new.decision) == ("allow", "deny")]
    assert taken
    for change in taken:  # each one needs a tier: of 3 or more, or not a number
        assert "tier" in change.request.get("attributes", {}), change.request


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@settings(max_examples=200, deadline=None)
@given(requests(policy=POLICY))
def test_high_tiers_never_run_on_the_internet(request: dict[str, Any]) -> None:
    tier = request.get("attributes", {}).get("tier")
    network = request.get("environment", {}).get("network", "internet")
    if _number(tier) and tier >= 3 and network == "internet":
        assert not ENGINE.evaluate(request).allowed
