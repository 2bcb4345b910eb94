"""The result of evaluating one request: ``Decision`` and its parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from ..policy._model import Effect

if TYPE_CHECKING:
    from .._fastrequest import Req
    from .._record import DecisionRecord
    from ..policy._model import Policy
else:  # msgspec resolves annotations at class creation; these are opaque to it
    Req = DecisionRecord = Policy = object

__all__ = ["Decision", "DecisionError", "MatchedRule", "Obligation"]


@dataclass(frozen=True, slots=True)
class MatchedRule:
    """A rule whose condition held for the request."""

    id: str
    effect: Effect
    reason: str
    reference: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "effect": self.effect.value,
            "reason": self.reason,
            "reference": self.reference,
        }


@dataclass(frozen=True, slots=True)
class Obligation:
    """Something the gateway must do when it lets the use go ahead.

    ``rule`` is the allow rule that attached it; ``params`` its ``with:`` mapping.
    """

    id: str
    params: Mapping[str, Any]
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "with": dict(self.params), "rule": self.rule}


@dataclass(frozen=True, slots=True)
class DecisionError:
    """An error met during evaluation (the decision is then deny)."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class Decision(msgspec.Struct, gc=False, repr_omit_defaults=True):
    """The answer for one request.

    Attributes:
        effect: ``Effect.ALLOW`` or ``Effect.DENY``.
        determining_rule: id of the rule that decided, or None (default or error).
        matched_rules: every rule whose condition held, in policy order.
        obligations: what the gateway must fulfil (allow decisions only).
        errors: evaluation errors; any error means deny.
    """

    # A msgspec Struct without GC tracking: cheap to create, and a gateway keeping many
    # decisions pays no garbage-collector scans for them (they cannot form cycles).
    effect: Effect
    determining_rule: str | None
    matched_rules: tuple[MatchedRule, ...]
    obligations: tuple[Obligation, ...]
    errors: tuple[DecisionError, ...]
    _req: Req | None
    _policy: Policy
    _record: DecisionRecord | None = None

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def request(self) -> dict[str, Any] | None:
        """The validated request with defaults filled in (None if it never validated)."""
        from .._fastrequest import request_to_builtins

        return None if self._req is None else request_to_builtins(self._req)

    def record(self) -> DecisionRecord:
        """The decision record (DESIGN.md §3), unchained: ``prev_digest`` is null.

        The record is made once, with a fresh ``decision_id`` and the current UTC time,
        and the same object is returned on every later call.
        """
        if self._record is None:
            from .._record import make_record

            self._record = make_record(self)
        return self._record

    def __repr__(self) -> str:
        return (
            f"Decision({self.effect.value}, rule={self.determining_rule!r}, "
            f"matched={[m.id for m in self.matched_rules]}, errors={len(self.errors)})"
        )
