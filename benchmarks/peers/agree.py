"""The agreement check: every peer must decide every request of the pool like usepolicy
before anything is timed. A disagreement raises ``Disagreement`` naming the requests."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from usepolicy import Decision

from .common import Disagreement


def native(decision: Decision) -> dict[str, Any]:
    """A usepolicy decision in the shape of DESIGN.md §6."""
    return {
        "decision": decision.effect.value,
        "determining_rule": decision.determining_rule,
        "matched_rules": [m.id for m in decision.matched_rules],
    }


def check(
    label: str,
    answer: Callable[[int], Any],
    expected: Callable[[int], Any],
    count: int,
    requests: Sequence[Any],
) -> None:
    """Compare ``answer(i)`` with ``expected(i)`` for every i; raise on any difference."""
    bad: list[str] = []
    total = 0
    for i in range(count):
        got, want = answer(i), expected(i)
        if got != want:
            total += 1
            if len(bad) < 5:
                bad.append(
                    f"  request #{i}: {label} says {got!r}, usepolicy says {want!r}\n"
                    f"    {json.dumps(requests[i], sort_keys=True)}"
                )
    if total:
        raise Disagreement(
            f"{label} disagrees with usepolicy on {total} of {count} requests; first ones:\n"
            + "\n".join(bad)
        )
