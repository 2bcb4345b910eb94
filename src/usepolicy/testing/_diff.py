"""Semantic difference of two policies: the requests whose decision changes.

Both policies' rules go into one partition, so every representative stands for a
class of requests that both policies treat uniformly. Each distinct change
(old decision and rule -> new decision and rule) is reported once, with the simplest
representative that shows it (fewest fields away from the defaults).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from ..engine import Engine
from ..policy import Policy
from ._partition import Partition, policy_conditions
from ._search import DEFAULT_BUDGET, DEFAULT_SAMPLES, SearchStats, search

__all__ = ["Change", "DiffReport", "Side", "diff_policies"]

Verdict = Literal["allow", "deny", "invalid"]


@dataclass(frozen=True, slots=True)
class Side:
    """One policy's answer: decision (``invalid`` when the purpose is unknown to it),
    the determining rule (None: the default, or an evaluation error), every matching
    rule, and the evaluation error if there was one."""

    decision: Verdict
    rule: str | None
    matched: tuple[str, ...] = ()
    reason: str | None = None
    error: str | None = None
    #: the dry-run rules that would have denied (``enforcement: dryrun``)
    dryrun: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.decision == "invalid":
            return "invalid (the purpose is not in its vocabulary)"
        if self.error is not None:
            return f"{self.decision} (evaluation error: {self.error})"
        text = f"{self.decision} by " + (f"rule {self.rule}" if self.rule else "default")
        if self.dryrun:
            text += f", dry run would deny by {', '.join(self.dryrun)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "decision": self.decision,
            "rule": self.rule,
            "matched_rules": list(self.matched),
            "reason": self.reason,
            "error": self.error,
        }
        if self.dryrun:  # an added key, only when dry-run rules would have denied
            body["dryrun"] = list(self.dryrun)
        return body


@dataclass(frozen=True, slots=True)
class Change:
    """One kind of change, and the simplest request that shows it.

    Changes are grouped by the new side's outcome (decision and determining rule):
    ``old``/``new`` are the answers for ``request``; ``old_rules``/``new_rules`` list
    every determining rule seen in the group on each side (None: the default) and
    ``classes`` counts the classes of requests in it. A request whose purpose only one
    policy knows is ``invalid`` for the other; such requests form one group per
    decision.
    """

    old: Side
    new: Side
    request: dict[str, Any]
    classes: int
    old_rules: tuple[str | None, ...] = ()
    new_rules: tuple[str | None, ...] = ()

    @property
    def dryrun_only(self) -> bool:
        """The decision is the same; only what dry-run rules would have denied differs
        (what enforcing them would change)."""
        return (self.old.decision, self.old.rule) == (self.new.decision, self.new.rule)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": {**self.old.to_dict(), "rules": list(self.old_rules)},
            "new": {**self.new.to_dict(), "rules": list(self.new_rules)},
            "request": self.request,
            "classes": self.classes,
        }


@dataclass(frozen=True, slots=True)
class DiffReport:
    """Every change between two policies; empty when they decide every request alike."""

    old: Policy
    new: Policy
    changes: tuple[Change, ...]
    stats: SearchStats
    seconds: float

    @property
    def equivalent(self) -> bool:
        """No request changes decision (or, with ``rules``, determining rule); what
        dry-run rules would have denied is reported, and does not count."""
        return all(change.dryrun_only for change in self.changes)


def _side(engine: Engine, policy: Policy, req: Any) -> Side:
    if req.purpose not in policy.vocabulary:
        return Side("invalid", None)
    decision = engine.decide(req)
    reason = None
    for matched in decision.matched_rules:
        if matched.id == decision.determining_rule:
            reason = matched.reason
    return Side(
        "allow" if decision.allowed else "deny",
        decision.determining_rule,
        tuple(m.id for m in decision.matched_rules),
        reason,
        decision.errors[0].message if decision.errors else None,
        tuple(d.id for d in decision.dryrun),
    )


def _group(old: Side, new: Side) -> tuple[Any, ...]:
    if "invalid" in (old.decision, new.decision):
        return (old.decision, new.decision)
    if (old.decision, old.rule) == (new.decision, new.rule):  # a dry-run difference
        return (old.decision, new.decision, new.rule, old.dryrun, new.dryrun)
    return (old.decision, new.decision, new.rule, new.error is not None)


def diff_policies(
    old: Policy,
    new: Policy,
    *,
    rules: bool = False,
    budget: int = DEFAULT_BUDGET,
    samples: int = DEFAULT_SAMPLES,
) -> DiffReport:
    """The requests whose decision differs between ``old`` and ``new``.

    Args:
        rules: also report requests with the same decision but a different
            determining rule.

    Requests decided alike whose dry-run rules (``enforcement: dryrun``) would have
    denied differently are reported too (``Change.dryrun_only``, after the others):
    what enforcing those rules would change. They do not make the policies differ.

    Returns:
        a ``DiffReport`` whose changes are ordered by the new policy's determining
        rule (in rule order, the default last), then the old one's.

    Raises:
        PolicyError: the policies declare an attribute differently
            (``conflicting-attributes``, naming both declarations).
    """
    started = time.perf_counter()
    conditions = [(0, c) for c in policy_conditions(old)] + [(1, c) for c in policy_conditions(new)]
    partition = Partition([old, new], conditions)
    engines = (Engine(old), Engine(new))
    groups: dict[tuple[Any, ...], _Group] = {}

    def visit(assignment: dict[str, Any]) -> None:
        req = partition.req(assignment)
        before = _side(engines[0], old, req)
        after = _side(engines[1], new, req)
        same = before.decision == after.decision and (
            not rules or before.rule == after.rule or before.decision == "invalid"
        )
        shadow = before.dryrun != after.dryrun and before.decision != "invalid"
        if same and not (shadow and before.rule == after.rule):
            return
        group = groups.setdefault(_group(before, after), _Group())
        group.add(partition.nondefault(assignment), assignment, before, after)

    stats = search(partition, visit, budget=budget, samples=samples)
    changes = [group.change(partition, old, new) for group in groups.values()]
    changes.sort(
        key=lambda c: (
            c.dryrun_only,
            "invalid" in (c.old.decision, c.new.decision),
            _rank(new, c.new.rule),
            c.new.error is not None,
            c.old.decision,
        )
    )
    return DiffReport(old, new, tuple(changes), stats, time.perf_counter() - started)


class _Group:
    def __init__(self) -> None:
        self.best: tuple[int, dict[str, Any], Side, Side] | None = None
        self.count = 0
        self.old_rules: set[str | None] = set()
        self.new_rules: set[str | None] = set()

    def add(self, score: int, assignment: dict[str, Any], old: Side, new: Side) -> None:
        self.count += 1
        self.old_rules.add(old.rule)
        self.new_rules.add(new.rule)
        if self.best is None or score < self.best[0]:
            self.best = (score, dict(assignment), old, new)

    def change(self, partition: Partition, old: Policy, new: Policy) -> Change:
        assert self.best is not None
        _, assignment, before, after = self.best
        return Change(
            before,
            after,
            partition.request(assignment),
            self.count,
            tuple(sorted(self.old_rules, key=lambda r: _rank(old, r))),
            tuple(sorted(self.new_rules, key=lambda r: _rank(new, r))),
        )


def _rank(policy: Policy, rule: str | None) -> int:
    for index, candidate in enumerate(policy.rules):
        if candidate.id == rule:
            return index
    return len(policy.rules)
