"""A deterministic pool of varied requests, shared by the benchmarks: drawn from the
public request strategy (``usepolicy.testing.requests``, the one the tests and users
draw from): complete, typical requests from a few organisations (as a gateway sees
them), biased towards the constants the benchmarked policy tests."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

import usepolicy
from usepolicy.policy import pack_path
from usepolicy.testing import requests

ORGS = [f"Organisation {i}" for i in range(50)] + ["Huawei Technologies Co., Ltd."]


def request_pool(
    size: int = 1000, seed_: int = 7, policy: usepolicy.Policy | None = None
) -> list[dict[str, Any]]:
    """``size`` valid request dicts, the same ones for the same ``seed_`` (and the same
    hypothesis version), valid for ``policy`` (default: the 1012-rule policy) and biased
    towards the constants it tests."""
    if policy is None:
        policy = usepolicy.loads_policy(thousand_rule_policy_text(), base_dir=pack_path().parent)
    pool: list[dict[str, Any]] = []

    @seed(seed_)
    @settings(
        max_examples=size,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(policy=policy, at_limits=False, complete=True, organizations=ORGS))
    def draw(request: dict[str, Any]) -> None:
        # a gateway names the organisation; a stable entity id is rare (the peer pool
        # adds some on purpose), and a fresh one per request would measure the name
        # normalisation's cache misses instead (bench_engine has rows for those)
        request["requester"].pop("entity_id", None)
        pool.append(request)

    draw()
    return pool[:size]


def thousand_rule_policy_text(n: int = 1000) -> str:
    """The reference pack plus ``n`` per-organisation allow rules."""
    base = pack_path().read_text()
    extra = "".join(
        f"  - id: org-{i}-research\n    effect: allow\n    reason: contract {i}\n"
        f"    when:\n      requester.organization: Organisation {i}\n"
        f"      purpose: {{under: general}}\n"
        for i in range(n)
    )
    return base.replace("rules:\n", "rules:\n" + extra, 1)


def eu_request_pool(size: int = 1000, seed_: int = 11) -> list[dict[str, Any]]:
    """``size`` requests valid for the eu-ai-act-prohibited pack: its purposes and the
    standard ones, its declared attributes with declared values only (the strategy
    honours a policy's declarations)."""
    return request_pool(size, seed_, usepolicy.load_policy(pack_path("eu-ai-act-prohibited")))
