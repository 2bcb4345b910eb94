"""The reference packs: their case files (interim runner) and their hard lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy.policy import pack_path
from usepolicy.testing import requests

from ..conftest import RunCli

PACKS = Path(usepolicy.__file__).parent / "packs"


@pytest.mark.parametrize("pack", sorted(p.name for p in PACKS.glob("*.test.yaml")))
def test_pack_case_files_pass_under_usepolicy_test(pack: str, run_cli: RunCli) -> None:
    """Every shipped pack's cases (and its invariants) pass through the real runner."""
    result = run_cli("test", str(PACKS / pack), str(PACKS / pack.replace(".test.yaml", ".yaml")))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed, 0 failed" in summary, summary


def test_safeguards_pack_has_exactly_the_design_rules() -> None:
    policy = usepolicy.load_policy()
    assert policy.name == "national-security-safeguards"
    assert [(r.id, r.effect.value) for r in policy.rules] == [
        ("denied-entity", "deny"),
        ("no-mass-domestic-surveillance", "deny"),
        ("domestic-requires-legal-authority", "deny"),
        ("no-fully-autonomous-weapons", "deny"),
        ("lethal-force-requires-human-in-the-loop", "deny"),
        ("classified-requires-accredited-network", "deny"),
        ("intelligence", "allow"),
        ("military-support", "allow"),
        ("weapons-with-human-control", "allow"),
        ("cyber", "allow"),
        ("domestic-with-authority", "allow"),
        ("general-use", "allow"),
    ]
    assert policy.default is usepolicy.Effect.DENY
    assert policy.combine is usepolicy.Combine.DENY_OVERRIDES


def test_every_rule_is_decided_by_some_case() -> None:
    spec = yaml.safe_load((PACKS / "national-security-safeguards.test.yaml").read_text())
    decided = {case["expect"].get("rule") for case in spec["cases"]}
    rules = {r.id for r in usepolicy.load_policy().rules}
    assert rules <= decided
    effects = {(c["expect"].get("rule"), c["expect"]["decision"]) for c in spec["cases"]}
    assert ("no-mass-domestic-surveillance", "deny") in effects


def test_denied_entities_list_is_real_and_loaded() -> None:
    names = usepolicy.load_policy().lists["denied_entities"]
    assert len(names) >= 25
    assert "Huawei Technologies Co., Ltd." in names


SAFEGUARDS = usepolicy.Engine(usepolicy.load_policy())


@settings(max_examples=400, deadline=None)
@given(requests(), st.booleans())
def test_never_allows_a_fully_autonomous_lethal_use(request: dict[str, Any], weapons: bool) -> None:
    request = {**request, "autonomy": {"level": "fully_autonomous", "lethal": True}}
    if weapons:
        request["purpose"] = "weapons.engagement"
    assert not SAFEGUARDS.evaluate(request).allowed


@settings(max_examples=400, deadline=None)
@given(
    requests(),
    st.sampled_from(["domestic", "mixed"]),
    st.sampled_from(["bulk", "commercial"]),
    st.sampled_from(["none", "warrant", "court_order", "consent", "statute"]),
)
def test_never_allows_bulk_or_bought_domestic_data(
    request: dict[str, Any], subjects: str, provenance: str, authority: str
) -> None:
    data = {
        **request.get("data", {}),
        "subjects": subjects,
        "provenance": provenance,
        "legal_authority": authority,
    }
    decision = SAFEGUARDS.evaluate({**request, "data": data})
    assert not decision.allowed
    assert decision.determining_rule in ("denied-entity", "no-mass-domestic-surveillance")


@settings(max_examples=300, deadline=None)
@given(requests())
def test_every_valid_request_gets_a_decision(request: dict[str, Any]) -> None:
    for name in ("national-security-safeguards", "any-lawful-use"):
        decision = _PACK_ENGINES[name].evaluate(request)
        assert decision.effect in (usepolicy.Effect.ALLOW, usepolicy.Effect.DENY)
        assert decision.errors == ()
        assert decision.record().decision == decision.effect.value


_PACK_ENGINES = {
    name: usepolicy.Engine(usepolicy.load_policy(pack_path(name)))
    for name in ("national-security-safeguards", "any-lawful-use")
}
