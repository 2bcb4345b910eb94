"""Explain a decision: for every rule, whether it matched and the first condition
that failed, with the request's value (``data.subject_count: 5000 is not <= 1000``).

Each test is evaluated with the same compiled closure the engine uses, so an
explanation cannot disagree with the decision it explains.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import EvaluationError
from .._fastrequest import Req
from ..policy._model import AllOf, AnyOf, Cond, NotOf, Test
from ._compile import Pred, compile_cond, getter, is_constant, specialize
from ._decision import Decision

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["Explanation", "RuleTrace", "explain"]

_PHRASES = {
    "eq": "==", "ne": "!=", "in": "in", "not_in": "not in", "lt": "<", "lte": "<=",
    "gt": ">", "gte": ">=", "under": "under", "contains": "containing",
    "contains_any": "containing any of", "contains_all": "containing all of",
    "in_list": "in list", "matches": "matching",
}  # fmt: skip
#: how a failed negative test reads (``not in`` failed: the value *is* in the set)
_NEGATED = {"ne": "==", "not_in": "is in"}


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """One rule's outcome: matched, or the first failing condition (or an error)."""

    id: str
    effect: str
    matched: bool
    failure: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "effect": self.effect, "matched": self.matched,
                "failure": self.failure, "error": self.error}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Explanation:
    """A decision and the trace of every rule of the policy, in policy order."""

    decision: Decision
    rules: tuple[RuleTrace, ...]

    def to_dict(self) -> list[dict[str, Any]]:
        return [trace.to_dict() for trace in self.rules]


def _show(value: Any) -> str:
    if value is None:
        return "absent"
    if isinstance(value, (list, tuple, frozenset)):
        return json.dumps(
            sorted(str(v) for v in value)
            if isinstance(value, frozenset)
            else [str(v) for v in value]
        )
    if isinstance(value, str):
        return json.dumps(str(value))
    return json.dumps(value)


def describe(test: Test) -> str:
    if test.op == "exists":
        return f"{test.field} {'exists' if test.operand else 'is absent'}"
    return f"{test.field} {_PHRASES[test.op]} {_show(test.operand)}"


class _Tracer:
    def __init__(self, engine: Engine) -> None:
        self.policy = engine.policy
        self.cache: dict[int, Pred] = {}

    def pred(self, test: Test) -> Pred:
        pred = self.cache.get(id(test))
        if pred is None:
            pred = compile_cond(test, self.policy.lists, self.policy.vocabulary)
            self.cache[id(test)] = pred
        return pred

    def check(self, cond: Cond, req: Req) -> tuple[bool, str]:
        """(held, why): ``why`` explains a failure, or describes what held."""
        if isinstance(cond, Test):
            held = self.pred(cond)(req)
            if held:
                return True, describe(cond)
            value = getter(cond.field)(req)
            shown = "absent" if value is None or not _present(value) else _show(value)
            if cond.op == "exists":
                return False, f"{cond.field}: is {'absent' if cond.operand else 'present'}"
            if cond.op in _NEGATED:
                return False, f"{cond.field}: {shown} {_NEGATED[cond.op]} {_show(cond.operand)}"
            return False, f"{cond.field}: {shown} is not {_PHRASES[cond.op]} " + _show(cond.operand)
        if isinstance(cond, NotOf):
            held, why = self.check(cond.item, req)
            return (not held), (f"not ({why})" if not held else f"`not` failed: {why}")
        if isinstance(cond, AllOf):
            for item in cond.items:
                held, why = self.check(item, req)
                if not held:
                    return False, why
            return True, "all held"
        assert isinstance(cond, AnyOf)
        reasons = []
        for item in cond.items:
            held, why = self.check(item, req)
            if held:
                return True, why
            reasons.append(why)
        return False, "none of: " + "; ".join(reasons)


def _present(value: Any) -> bool:
    from ._compile import _MISSING

    return value is not _MISSING


def explain(engine: Engine, req: Req) -> Explanation:
    """Trace every rule of ``engine``'s policy for a validated request.

    Like the engine, purpose conditions are decided first (they are known for every
    rule once the purpose is); the rest is traced in written order with the same
    short-circuits, so a trace shows exactly the errors the decision met.
    """
    tracer = _Tracer(engine)
    traces = []
    for rule in engine.policy.rules:
        effect = rule.effect.value
        if rule.when is None:
            traces.append(RuleTrace(rule.id, effect, True))
            continue
        rest = specialize(rule.when, req.purpose)
        constant = is_constant(rest)
        if constant is not None:
            held, why = tracer.check(_purpose_only(rule.when), req)
            traces.append(RuleTrace(rule.id, effect, constant, None if constant else why))
            continue
        try:
            held, why = tracer.check(rest, req)
        except EvaluationError as exc:
            traces.append(RuleTrace(rule.id, effect, False, error=str(exc)))
            continue
        traces.append(RuleTrace(rule.id, effect, held, None if held else why))
    return Explanation(engine.decide(req), tuple(traces))


def _purpose_only(cond: Cond) -> Cond:
    """``cond`` with every non-purpose test replaced by "true" (for a failure message
    when the purpose alone decided a rule: those tests never ran)."""
    if isinstance(cond, Test):
        return cond if cond.field == "purpose" and cond.op != "matches" else AllOf(())
    if isinstance(cond, NotOf):
        return NotOf(_purpose_only(cond.item))
    items = tuple(_purpose_only(item) for item in cond.items)
    return AllOf(items) if isinstance(cond, AllOf) else AnyOf(items)
