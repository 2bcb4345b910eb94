"""``assert_allowed`` / ``assert_denied``: decision assertions that explain themselves.

On failure the ``AssertionError`` shows what was expected, what the policy decided,
the request and the explain trace of every rule, so a failing test says why.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Final

from ..engine import Decision, Engine
from ..policy import Effect, Policy, load_policy
from ._runner import format_trace

__all__ = ["ANY_RULE", "assert_allowed", "assert_denied"]


class _AnyRule:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ANY_RULE"


#: the default of ``rule=``: any determining rule (``rule=None`` means the default decided)
ANY_RULE: Final = _AnyRule()


@functools.lru_cache(maxsize=1)
def _reference_engine() -> Engine:
    return Engine(load_policy())


def _engine(engine: Engine | Policy | None) -> Engine:
    if engine is None:
        return _reference_engine()
    if isinstance(engine, Policy):
        return Engine(engine)
    return engine


def _check(
    request: Any,
    engine: Engine | Policy | None,
    effect: Effect,
    rule: str | _AnyRule | None,
    obligations: list[str] | tuple[str, ...] | None,
) -> Decision:
    __tracebackhide__ = True
    compiled = _engine(engine)
    explanation = compiled.explain(request)
    decision = explanation.decision
    problems = []
    if decision.effect is not effect:
        problems.append(f"expected {effect.value}, got {decision.effect.value}")
    if not isinstance(rule, _AnyRule) and decision.determining_rule != rule:
        problems.append(
            f"expected determining rule {rule or 'null (the default)'}, got "
            f"{decision.determining_rule or 'null (the default)'}"
        )
    if obligations is not None:
        got = sorted(o.id for o in decision.obligations)
        if sorted(obligations) != got:
            problems.append(f"expected obligations {sorted(obligations)}, got {got}")
    if problems:
        shown = request if isinstance(request, (dict, str)) else decision.request
        lines = [
            "; ".join(problems),
            f"policy: {compiled.policy.name} {compiled.policy.version}",
            f"decision: {decision!r}",
            f"request: {json.dumps(shown, ensure_ascii=False, default=str)}",
            "trace:",
            *format_trace(explanation),
        ]
        raise AssertionError("\n".join(lines))
    return decision


def assert_allowed(
    request: Any,
    engine: Engine | Policy | None = None,
    rule: str | _AnyRule | None = ANY_RULE,
    obligations: list[str] | tuple[str, ...] | None = None,
) -> Decision:
    """Assert the request is allowed (by ``rule``, with exactly ``obligations`` if given).

    Args:
        request: a request dict, JSON text or ``UseRequest``.
        engine: an ``Engine`` or ``Policy``; default: the reference pack.
        rule: the expected determining rule; leave out to accept any.
        obligations: the expected obligation ids, in any order.

    Returns:
        the ``Decision``.

    Raises:
        AssertionError: with the explain trace, when the decision differs.
        RequestError: the request is invalid.
    """
    __tracebackhide__ = True
    return _check(request, engine, Effect.ALLOW, rule, obligations)


def assert_denied(
    request: Any,
    engine: Engine | Policy | None = None,
    rule: str | _AnyRule | None = ANY_RULE,
) -> Decision:
    """Assert the request is denied (by ``rule`` if given; ``None`` means the default).

    Raises:
        AssertionError: with the explain trace, when the decision differs.
        RequestError: the request is invalid.
    """
    __tracebackhide__ = True
    return _check(request, engine, Effect.DENY, rule, None)
