"""A deterministic pool of realistic, varied requests, shared by the benchmarks."""

from __future__ import annotations

import random
from typing import Any

from usepolicy import (
    STANDARD_PURPOSES,
    AutonomyLevel,
    Category,
    Classification,
    LegalAuthority,
    Network,
    Provenance,
    Subjects,
)

ORGS = [f"Organisation {i}" for i in range(50)] + ["Huawei Technologies Co., Ltd."]


def request_pool(
    size: int = 1000, seed: int = 7, orgs: list[str] | None = None
) -> list[dict[str, Any]]:
    """``size`` valid request dicts covering every purpose and enum value."""
    rng = random.Random(seed)
    pick = rng.choice
    out = []
    for _ in range(size):
        request: dict[str, Any] = {
            "requester": {"organization": pick(orgs or ORGS), "country": "US"},
            "model": "claude-gov",
            "purpose": pick(sorted(STANDARD_PURPOSES)),
            "description": "benchmark request",
            "data": {
                "subjects": pick(list(Subjects)).value,
                "provenance": pick(list(Provenance)).value,
                "subject_count": pick([0, 3, 12, 999, 1000, 1001, 40_000, 2_000_000]),
                "categories": rng.sample([c.value for c in Category], k=rng.randint(0, 3)),
                "legal_authority": pick(list(LegalAuthority)).value,
            },
            "autonomy": {"level": pick(list(AutonomyLevel)).value, "lethal": rng.random() < 0.3},
            "environment": {
                "network": pick(list(Network)).value,
                "classification": pick(list(Classification)).value,
            },
            "attributes": {"program": "ALPHA", "tier": rng.randint(1, 3)},
        }
        out.append(request)
    return out


def thousand_rule_policy_text(n: int = 1000) -> str:
    """The reference pack plus ``n`` per-organisation allow rules."""
    from usepolicy.policy import pack_path

    base = pack_path().read_text()
    extra = "".join(
        f"  - id: org-{i}-research\n    effect: allow\n    reason: contract {i}\n"
        f"    when:\n      requester.organization: Organisation {i}\n"
        f"      purpose: {{under: general}}\n"
        for i in range(n)
    )
    return base.replace("rules:\n", "rules:\n" + extra, 1)
