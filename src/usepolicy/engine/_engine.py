"""The engine: a compiled policy that turns requests into decisions.

Pure: request in, ``Decision`` out. No file, clock, logging or network inside
``evaluate``; the compiled form is immutable, so one engine serves many threads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from .._errors import EvaluationError
from ..policy import (
    AllOf,
    Combine,
    Cond,
    Effect,
    Kind,
    ListRef,
    Named,
    Policy,
    Rule,
    Test,
    lookup_field,
)
from ..request import Req, validate_many, validate_request
from ._compile import Pred, compile_cond, generate_scan, getter, is_constant, specialize
from ._decision import Decision, DecisionProblem, DryRun, MatchedRule, Obligation
from ._explain import Explanation, explain

__all__ = ["Engine"]

#: a field earns a hash index once this many rules test it for equality
_INDEX_MIN_RULES: Final = 4
_INDEXABLE: Final = (Kind.STRING, Kind.ENUM)


@dataclass(frozen=True, slots=True)
class _CompiledObligation:
    obligation: Obligation
    when: Pred | None


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    order: int
    rule: Rule
    cond: Cond | None  # specialised for the plan's purpose; None = always
    pred: Pred
    matched: MatchedRule
    deny: bool
    obligations: tuple[_CompiledObligation, ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    """The candidate rules for one purpose: ``scan`` (generated code returning the
    matching ones, in order), plus hash indexes for rules keyed on equality with a field
    (e.g. one rule per organisation), whose few candidates are checked one by one."""

    rules: tuple[_CompiledRule, ...]
    scan: Callable[[Req], int]  # bit k set: rules[k] matched
    indexes: tuple[tuple[Any, dict[Any, tuple[_CompiledRule, ...]]], ...]
    outcomes: dict[int, _Outcome]  # mask -> outcome, filled on first sight
    #: the dry-run rules, each evaluated on its own: one that fails never decides
    trial: tuple[_CompiledRule, ...] = ()


#: (effect, determining rule id, matched rules, obligations, rules whose obligations
#: depend on the request, or None)
_Outcome = tuple[
    Effect, str | None, tuple[MatchedRule, ...], tuple[Obligation, ...],
    tuple[_CompiledRule, ...] | None,
]  # fmt: skip
_OUTCOMES_MAX: Final = 4096  # per purpose; beyond it outcomes are computed each time


def _equality_key(cond: Cond | None) -> tuple[str, tuple[Any, ...]] | None:
    """(field, values) when ``cond`` begins with ``field == one of values``.

    Only the first conjunct counts: skipping a rule whose first test fails is exactly
    what left-to-right evaluation does, so an index never changes a decision, not even
    which evaluation errors surface.
    """
    if cond is None:
        return None
    first = cond
    while isinstance(first, Named) or (isinstance(first, AllOf) and first.items):
        first = first.cond if isinstance(first, Named) else first.items[0]
    # a named list's items are not indexed: names on it may match in other forms
    if (
        isinstance(first, Test)
        and first.op in ("eq", "in")
        and not isinstance(first.operand, ListRef)
    ):
        spec = lookup_field(first.field)
        if spec is not None and spec.kind in _INDEXABLE:
            values = (first.operand,) if first.op == "eq" else tuple(first.operand)
            return first.field, values
    return None


class Engine:
    """A policy compiled for fast evaluation.

    Args:
        policy: a loaded ``Policy`` (see ``load_policy``).
    """

    __slots__ = ("_combine_first", "_default", "_order", "_plans", "_vocabulary", "policy")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._vocabulary = policy.vocabulary
        self._default = policy.default
        self._combine_first = policy.combine is Combine.FIRST_MATCH
        self._order = {rule.id: order for order, rule in enumerate(policy.rules)}
        self._plans = self._build_plans(policy)

    def _build_plans(self, policy: Policy) -> dict[str, _Plan]:
        cache: dict[int, Pred] = {}
        keep_alive: list[Cond] = []

        def compiled(cond: Cond) -> Pred:
            pred = cache.get(id(cond))
            if pred is None:
                pred = compile_cond(cond, policy.name_lists, policy.vocabulary)
                cache[id(cond)] = pred
                keep_alive.append(cond)
            return pred

        obligations: dict[str, tuple[_CompiledObligation, ...]] = {
            rule.id: tuple(
                _CompiledObligation(
                    Obligation(spec.id, spec.params, rule.id),
                    None if spec.when is None else compiled(spec.when),
                )
                for spec in rule.obligations
            )
            for rule in policy.rules
        }
        matched = {
            rule.id: MatchedRule(rule.id, rule.effect, rule.reason, rule.reference)
            for rule in policy.rules
        }
        plans: dict[str, _Plan] = {}
        for purpose in sorted(policy.vocabulary.names):
            candidates: list[_CompiledRule] = []
            for order, rule in enumerate(policy.rules):
                cond: Cond | None = None
                pred: Pred = _always
                if rule.when is not None:
                    cond = specialize(rule.when, purpose)
                    constant = is_constant(cond)
                    if constant is False:
                        continue
                    if constant:
                        cond = None
                    else:
                        pred = compiled(cond)
                candidates.append(
                    _CompiledRule(
                        order,
                        rule,
                        cond,
                        pred,
                        matched[rule.id],
                        rule.effect is Effect.DENY,
                        obligations[rule.id],
                    )
                )
            trial = tuple(rule for rule in candidates if rule.rule.dryrun)
            plan = _index([rule for rule in candidates if not rule.rule.dryrun], policy)
            plans[purpose] = plan if not trial else dataclasses.replace(plan, trial=trial)
        return plans

    # -- evaluation --------------------------------------------------------------------
    def evaluate(self, request: Any) -> Decision:
        """Decide one request (a dict, JSON text or ``UseRequest``).

        Raises:
            RequestError: the request is invalid (every bad field is listed).
        """
        req = validate_request(request, self._vocabulary)
        return self.decide(req)

    def evaluate_many(self, requests: Iterable[Any]) -> list[Decision]:
        """Decide many requests in order (e.g. to replay a log); raises like ``evaluate``."""
        decide = self.decide
        return [decide(req) for req in validate_many(list(requests), self._vocabulary)]

    def explain(self, request: Any) -> Explanation:
        """The decision plus, for every rule, matched or the first failing condition.

        Raises:
            RequestError: the request is invalid.
        """
        req = validate_request(request, self._vocabulary)
        return explain(self.policy, req, self.decide(req))

    def decide(self, req: Req) -> Decision:
        """Decide an already validated request. Any error here yields deny."""
        try:
            plan = self._plans[req.purpose]
            mask = plan.scan(req)
            found = _indexed_hits(plan, req) if plan.indexes else None
            if found:
                hits = [rule for k, rule in enumerate(plan.rules) if mask >> k & 1]
                hits.extend(found)
                hits.sort(key=_order)
                outcome = self._outcome(hits)
            else:
                outcome = plan.outcomes.get(mask) or self._remember(plan, mask)
            effect, rule_id, matched, obligations, dynamic = outcome
            if dynamic is not None:
                obligations = tuple(
                    ob.obligation
                    for rule in dynamic
                    for ob in rule.obligations
                    if ob.when is None or ob.when(req)
                )
            if plan.trial:
                dryrun = self._dryrun(plan.trial, req, rule_id)
                return Decision(
                    effect, rule_id, matched, obligations, (), req, self.policy, None, dryrun
                )
            return Decision(effect, rule_id, matched, obligations, (), req, self.policy)
        except Exception as exc:  # fail closed: never allow on an error
            return self._failed(req, exc)

    def _dryrun(
        self, trial: tuple[_CompiledRule, ...], req: Req, decider: str | None
    ) -> tuple[DryRun, ...]:
        """The dry-run rules that would have denied: under first-match, those before
        the rule that decided; a rule whose evaluation fails would have denied too."""
        before = len(self._order) if decider is None else self._order[decider]
        found: list[DryRun] = []
        for rule in trial:
            try:
                hit = rule.pred(req)
            except Exception as exc:  # would have denied; never decides
                found.append(DryRun(rule.matched, _problem(exc)))
                continue
            if hit and (not self._combine_first or rule.order < before):
                found.append(DryRun(rule.matched))
        return tuple(found)

    def _remember(self, plan: _Plan, mask: int) -> _Outcome:
        outcome = self._outcome([rule for k, rule in enumerate(plan.rules) if mask >> k & 1])
        if len(plan.outcomes) < _OUTCOMES_MAX:
            plan.outcomes[mask] = outcome  # a racing thread stores an equal value
        return outcome

    def _outcome(self, hits: list[_CompiledRule]) -> _Outcome:
        """Combine the matching rules (in policy order) into the decision's parts."""
        if not hits:
            return (self._default, None, (), (), None)
        if self._combine_first:
            decider = hits[0]
        else:
            decider = next((rule for rule in hits if rule.deny), hits[0])
        matched = tuple(rule.matched for rule in hits)
        if decider.deny:
            return (Effect.DENY, decider.rule.id, matched, (), None)
        # no deny matched under deny-overrides, so every hit is an allow rule
        allows = (decider,) if self._combine_first else tuple(hits)
        if any(ob.when is not None for rule in allows for ob in rule.obligations):
            return (Effect.ALLOW, decider.rule.id, matched, (), allows)
        static = tuple(ob.obligation for rule in allows for ob in rule.obligations)
        return (Effect.ALLOW, decider.rule.id, matched, static, None)

    def _failed(self, req: Req, exc: Exception) -> Decision:
        return Decision(Effect.DENY, None, (), (), (_problem(exc),), req, self.policy)


def _problem(exc: Exception) -> DecisionProblem:
    code = exc.code if isinstance(exc, EvaluationError) else "internal-error"
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, EvaluationError):
        message = f"{type(exc).__name__}: {message}"
    return DecisionProblem(code, message)


def _always(req: Req) -> bool:
    return True


def _index(candidates: list[_CompiledRule], policy: Policy) -> _Plan:
    by_field: dict[str, list[tuple[_CompiledRule, tuple[Any, ...]]]] = {}
    for rule in candidates:
        key = _equality_key(rule.cond)
        if key is not None:
            by_field.setdefault(key[0], []).append((rule, key[1]))
    indexed: set[int] = set()
    indexes: list[tuple[Any, dict[Any, tuple[_CompiledRule, ...]]]] = []
    for field, entries in by_field.items():
        if len(entries) < _INDEX_MIN_RULES:
            continue
        table: dict[Any, list[_CompiledRule]] = {}
        for rule, values in entries:
            indexed.add(rule.order)
            for value in dict.fromkeys(values):
                table.setdefault(value, []).append(rule)
        indexes.append((getter(field), {k: tuple(v) for k, v in table.items()}))
    scanned = tuple(rule for rule in candidates if rule.order not in indexed)
    scan = generate_scan([rule.cond for rule in scanned], policy.name_lists, policy.vocabulary)
    return _Plan(scanned, scan, tuple(indexes), {})


def _indexed_hits(plan: _Plan, req: Req) -> list[_CompiledRule]:
    # each indexed rule sits in exactly one table, under distinct values
    return [
        rule for get, table in plan.indexes for rule in table.get(get(req), ()) if rule.pred(req)
    ]


def _order(rule: _CompiledRule) -> int:
    return rule.order
