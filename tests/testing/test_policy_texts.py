"""The policy strategies: small valid policies over the whole language."""

from __future__ import annotations

import importlib
import sys

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

import usepolicy
from usepolicy.testing import policies, policy_texts


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(policy_texts())
def test_policy_texts_load(text: str) -> None:
    policy = usepolicy.loads_policy(text)
    assert policy.rules


def test_policy_texts_cover_the_whole_language() -> None:
    features = {"conditions:", "condition: c", "all_in:", "none_in:", "list: cats", "attributes:"}
    seen: set[str] = set()

    def covers_the_rest(text: str) -> bool:
        seen.update(feature for feature in features if feature in text)
        return seen == features

    find(
        policy_texts(),
        covers_the_rest,
        settings=settings(
            max_examples=2000,
            phases=[Phase.generate],  # any example will do: no shrinking
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(policies())
def test_policies_evaluate(policy: usepolicy.Policy) -> None:
    engine = usepolicy.Engine(policy)
    decision = engine.evaluate({"requester": {"organization": "X"}, "purpose": "cyber.defense"})
    assert decision.effect in (usepolicy.Effect.ALLOW, usepolicy.Effect.DENY)


def test_the_policy_strategies_need_hypothesis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "usepolicy.testing._policy_texts")
    with pytest.raises(ImportError, match=r"pip install 'usepolicy\[test\]'"):
        importlib.import_module("usepolicy.testing._policy_texts")
