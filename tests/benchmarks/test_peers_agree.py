"""The peers of benchmarks/bench_peers.py decide like usepolicy on the shared pool.

The Cedar and Rego translations of the reference pack (and of the 1012-rule benchmark
policy) are only worth comparing if they are the same policy: this keeps them honest.
Needs the ``bench`` extra (``pip install -e '.[bench]'``); skipped without it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("cedarpy", reason="cedarpy is not installed: pip install -e '.[bench]'")
pytest.importorskip("regopy", reason="regopy is not installed: pip install -e '.[bench]'")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import cedarpy
from peers import (
    Disagreement,
    builtins_pool,
    peer_pool,
    reference_policy,
    thousand_rule_policy,
)
from peers.agree import check, native
from peers.cedar import CedarPeer, comparable, policies_text, schema_text
from peers.floor import make_floor
from peers.rego import RegoPeer, exporter_module, hand_module

import usepolicy

POOL_SIZE = 300
EXTRA = 1000


@pytest.fixture(scope="module")
def pool() -> list[dict]:
    return peer_pool(POOL_SIZE)


@pytest.fixture(scope="module")
def reference() -> tuple:
    policy = reference_policy()
    return policy, usepolicy.Engine(policy)


@pytest.fixture(scope="module")
def thousand() -> tuple:
    policy = thousand_rule_policy(EXTRA)
    return policy, usepolicy.Engine(policy)


def _decisions(engine: usepolicy.Engine, pool: list[dict]) -> list:
    return [engine.evaluate(r) for r in pool]


def test_the_pool_exercises_every_rule_and_both_outcomes(pool, reference):
    policy, engine = reference
    decisions = _decisions(engine, pool)
    matched = {m.id for d in decisions for m in d.matched_rules}
    assert matched == {rule.id for rule in policy.rules}
    assert {d.effect.value for d in decisions} == {"allow", "deny"}
    assert any(d.determining_rule is None for d in decisions)  # the default
    assert any("entity_id" in r["requester"] for r in pool)
    assert any("data" not in r for r in pool)  # sparse: defaults apply


@pytest.mark.parametrize("extra", [0, EXTRA])
def test_the_cedar_policies_validate_against_the_schema(extra):
    result = cedarpy.validate_policies(policies_text(extra), schema_text())
    assert result.validation_passed, result.errors


def test_cedar_agrees_on_the_reference_pack(pool, reference):
    policy, engine = reference
    _check_cedar(CedarPeer(policy), engine, pool, policy)


def test_cedar_agrees_on_the_1012_rule_policy(pool, thousand):
    policy, engine = thousand
    _check_cedar(CedarPeer(policy, EXTRA), engine, pool, policy, each=False)


def _check_cedar(peer: CedarPeer, engine, pool, policy, each: bool = True) -> None:
    want = [comparable(d) for d in _decisions(engine, pool)]
    ready = builtins_pool(pool, policy)
    if each:  # one call per request, without and with Cedar's request validation
        check(
            "cedar",
            lambda i: peer.outcome(peer.authorize(ready[i])),
            want.__getitem__,
            len(pool),
            pool,
        )
        check(
            "cedar+schema",
            lambda i: peer.outcome(peer.authorize_validated(ready[i])),
            want.__getitem__,
            len(pool),
            pool,
        )
    batch = peer.authorize_batch(ready)
    check("cedar batch", lambda i: peer.outcome(batch[i]), want.__getitem__, len(pool), pool)


def test_the_hand_rego_agrees_on_the_reference_pack(pool, reference):
    policy, engine = reference
    _check_rego(RegoPeer(policy, hand_module(), "hand"), engine, pool, policy)


def test_the_hand_rego_agrees_on_the_1012_rule_policy(pool, thousand):
    policy, engine = thousand
    # rego-cpp needs ~10 ms a decision here: the requests the extra rules can match,
    # plus a slice of the rest
    some = [r for r in pool if r["purpose"].startswith("general.")][:12] + pool[:6]
    _check_rego(RegoPeer(policy, hand_module(EXTRA), "hand"), engine, some, policy)


def test_the_exported_rego_agrees_on_the_reference_pack(pool, reference):
    policy, engine = reference
    text = exporter_module(policy)
    if text is None:
        pytest.skip("usepolicy.backends.opa.to_rego is not available")
    # the exporter has its own tests; here, half the pool is enough to keep the peer honest
    _check_rego(RegoPeer(policy, text, "exporter"), engine, pool[:150], policy)


def _check_rego(peer: RegoPeer, engine, pool, policy) -> None:
    want = [native(d) for d in _decisions(engine, pool)]
    ready = builtins_pool(pool, policy)
    check(
        f"rego ({peer.source})", lambda i: peer.decide(ready[i]), want.__getitem__, len(pool), pool
    )


@pytest.mark.parametrize("extra", [0, EXTRA])
def test_the_python_floor_agrees(pool, reference, thousand, extra):
    policy, engine = thousand if extra else reference
    floor = make_floor(policy.lists["denied_entities"], extra)
    want = [(d.effect.value, d.determining_rule) for d in _decisions(engine, pool)]
    check("floor", lambda i: floor(pool[i]), want.__getitem__, len(pool), pool)


def test_a_disagreement_stops_the_benchmark(pool, reference):
    _, engine = reference
    want = [native(d) for d in _decisions(engine, pool)]
    lenient = [{**w, "decision": "allow"} for w in want]
    with pytest.raises(Disagreement, match=r"disagrees with usepolicy on \d+ of 300"):
        check("broken", lenient.__getitem__, want.__getitem__, len(pool), pool)
