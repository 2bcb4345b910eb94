"""Check a policy's invariants against every class of requests.

An invariant ``{never: allow, when: C}`` holds when no valid request satisfies ``C``
and is allowed. The partition is built over the policy's rules *and* the invariants'
conditions, so each representative answers both exactly as every request of its
class does. A ``when`` that fails with an evaluation error counts as holding: the
checker would rather report a request than hide one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..engine import Decision, Engine, Pred, compile_cond
from ..policy import Invariant, Policy
from ._partition import Partition, outcome, policy_conditions
from ._search import DEFAULT_BUDGET, DEFAULT_SAMPLES, SearchStats, search

__all__ = ["InvariantReport", "InvariantResult", "check_invariants"]


@dataclass(frozen=True, slots=True)
class InvariantResult:
    """One invariant: held, or the simplest violating request found and its decision."""

    invariant: Invariant
    violation: dict[str, Any] | None = None
    decision: Decision | None = None
    violations: int = 0

    @property
    def holds(self) -> bool:
        return self.violation is None


@dataclass(frozen=True, slots=True)
class InvariantReport:
    """Every invariant of a policy, and how thoroughly the requests were covered."""

    policy: Policy
    results: tuple[InvariantResult, ...]
    stats: SearchStats
    seconds: float

    @property
    def holds(self) -> bool:
        return all(result.holds for result in self.results)


def check_invariants(
    policy: Policy, *, budget: int = DEFAULT_BUDGET, samples: int = DEFAULT_SAMPLES
) -> InvariantReport:
    """Check every invariant of ``policy`` exhaustively (or by search past ``budget``).

    Returns:
        an ``InvariantReport``; a violated invariant carries the simplest violating
        request found (fewest fields away from the defaults), as a request dict.
    """
    started = time.perf_counter()
    invariants = policy.invariants
    if not invariants:
        return InvariantReport(policy, (), SearchStats(True, 0, 0, ()), 0.0)
    partition = Partition(
        [policy], [(0, cond) for cond in policy_conditions(policy, invariants=True)]
    )
    engine = Engine(policy)
    whens: list[Pred | None] = [
        None if inv.when is None else compile_cond(inv.when, policy.name_lists, policy.vocabulary)
        for inv in invariants
    ]
    best: list[tuple[int, dict[str, Any]] | None] = [None] * len(invariants)
    counts = [0] * len(invariants)

    def visit(assignment: dict[str, Any]) -> None:
        req = partition.req(assignment)
        effect = engine.decide(req).effect
        for i, inv in enumerate(invariants):
            if effect is not inv.never:
                continue
            when = whens[i]
            if when is not None and outcome(when, req) is False:
                continue
            counts[i] += 1
            score = partition.nondefault(assignment)
            found = best[i]
            if found is None or score < found[0]:
                best[i] = (score, dict(assignment))

    stats = search(partition, visit, budget=budget, samples=samples)
    results = []
    for i, inv in enumerate(invariants):
        found = best[i]
        if found is None:
            results.append(InvariantResult(inv))
            continue
        request = partition.request(found[1])
        decision = engine.evaluate(request)  # from the very JSON that is shown
        if decision.effect is not inv.never:  # pragma: no cover - a partition bug
            raise AssertionError(f"invariant {inv.id}: representative did not reproduce")
        results.append(InvariantResult(inv, request, decision, counts[i]))
    return InvariantReport(policy, tuple(results), stats, time.perf_counter() - started)
