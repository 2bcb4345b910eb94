"""The result of evaluating one request: ``Decision`` and its parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from ..policy import Effect
from ..record import Draft, canonical_json, decision_draft
from ..request import request_to_builtins

if TYPE_CHECKING:
    from ..policy import Policy
    from ..record import DecisionRecord
    from ..request import Req
else:  # msgspec resolves annotations at class creation; these are opaque to it
    Req = DecisionRecord = Policy = object

__all__ = ["Decider", "Decision", "DecisionProblem", "DryRun", "MatchedRule", "Obligation"]


class _Part:
    """A part of a decision that its record holds as ``to_dict()``. The engine makes
    each matched rule and obligation once and shares it between decisions, so its
    canonical JSON is made once too, on first use."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def canonical_json(self) -> bytes:
        """The canonical JSON of ``to_dict()`` (made once)."""
        made: bytes | None = self._json  # type: ignore[attr-defined]
        if made is None:
            made = canonical_json(self.to_dict())
            object.__setattr__(self, "_json", made)
        return made


@dataclass(frozen=True, slots=True)
class MatchedRule(_Part):
    """A rule whose condition held for the request."""

    id: str
    effect: Effect
    reason: str
    reference: str | None
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "effect": _EFFECT_VALUE[self.effect],
            "reason": self.reason,
            "reference": self.reference,
        }


@dataclass(frozen=True, slots=True)
class Obligation(_Part):
    """Something the gateway must do when it lets the use go ahead.

    ``rule`` is the allow rule that attached it; ``params`` its ``with:`` mapping.
    A record holds the same three as ``RecordObligation(id, params, rule)``.
    """

    id: str
    params: Mapping[str, Any]
    rule: str
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "with": dict(self.params), "rule": self.rule}


@dataclass(frozen=True, slots=True)
class DecisionProblem(_Part):
    """An error met during evaluation (the decision is then deny)."""

    code: str
    message: str
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class DryRun(_Part):
    """A dry-run rule (``enforcement: dryrun``) that would have denied the request: it
    matched, or its evaluation failed (``error``), and an error denies too."""

    rule: MatchedRule
    error: DecisionProblem | None = None
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.rule.id

    def to_dict(self) -> dict[str, Any]:
        body = self.rule.to_dict()
        if self.error is not None:
            body["error"] = self.error.to_dict()
        return body


#: the plain string of each effect (``Effect.value`` goes through the enum's descriptor)
_EFFECT_VALUE: dict[Effect, str] = {effect: effect.value for effect in Effect}


# Most decisions have no obligations, errors or dry runs and match one rule: those
# cases skip the list comprehension, which Python 3.11 runs in a frame of its own (a
# third of a microsecond, even over nothing).


def _array(parts: tuple[_Part, ...]) -> bytes:
    if not parts:
        return b"[]"
    if len(parts) == 1:
        return b"[" + parts[0].canonical_json() + b"]"
    return b"[" + b",".join([part.canonical_json() for part in parts]) + b"]"


def _dicts(parts: tuple[_Part, ...]) -> list[dict[str, Any]]:
    if not parts:
        return []
    if len(parts) == 1:
        return [parts[0].to_dict()]
    return [part.to_dict() for part in parts]


class Decision(msgspec.Struct, gc=False, repr_omit_defaults=True):
    """The answer for one request.

    Attributes:
        effect: ``Effect.ALLOW`` or ``Effect.DENY``.
        determining_rule: id of the rule that decided, or None (default or error).
        matched_rules: every rule whose condition held, in policy order.
        obligations: what the gateway must fulfil (allow decisions only).
        errors: evaluation errors; any error means deny.
        dryrun: the dry-run rules that would have denied, had they been enforced (they
            never decide): under deny-overrides every one that matched; under
            first-match those before the rule that decided.
    """

    # A msgspec Struct without GC tracking: cheap to create, and a gateway keeping many
    # decisions pays no garbage-collector scans for them (they cannot form cycles).
    effect: Effect
    determining_rule: str | None
    matched_rules: tuple[MatchedRule, ...]
    obligations: tuple[Obligation, ...]
    errors: tuple[DecisionProblem, ...]
    _req: Req | None
    _policy: Policy
    _record: DecisionRecord | None = None
    dryrun: tuple[DryRun, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def request(self) -> dict[str, Any] | None:
        """The validated request with defaults filled in (None if it never validated)."""
        return None if self._req is None else request_to_builtins(self._req)

    def record(
        self, *, now: datetime | None = None, decision_id: str | None = None
    ) -> DecisionRecord:
        """The decision record (DESIGN.md §3), unchained: ``prev_digest`` is null.

        Args:
            now: when the decision was made (default: the current UTC time).
            decision_id: the record's id (default: a fresh UUID).

        Called without arguments, the record is made once and the same object is
        returned on every later call; with either argument, a new record is made.
        """
        if now is not None or decision_id is not None:
            return self._make_record(now, decision_id)
        if self._record is None:
            self._record = self._make_record(None, None)
        return self._record

    def _make_record(self, now: datetime | None, decision_id: str | None) -> DecisionRecord:
        from ..record import record_of

        return record_of(self.record_draft(now=now, decision_id=decision_id).seal(None))

    def record_draft(self, *, now: datetime | None = None, decision_id: str | None = None) -> Draft:
        """The record's body, not sealed yet (what an ``Enforcer`` hands its sink).

        The engine reads no clock and makes no id: the defaults (``now``, a fresh
        ``decision_id``) come from ``usepolicy.record``. Once ``record()`` has made the
        record, the draft without arguments is that record's (same id, same time).
        """
        if self._record is not None and now is None and decision_id is None:
            return Draft(self._record.to_dict())
        # the canonical JSON of the record's members made of the engine's parts
        encoded = {
            "matched_rules": _array(self.matched_rules),
            "obligations": _array(self.obligations),
            "errors": _array(self.errors),
        }
        if self.dryrun:
            encoded["dryrun"] = _array(self.dryrun)
        return decision_draft(
            decision=_EFFECT_VALUE[self.effect],
            determining_rule=self.determining_rule,
            matched_rules=_dicts(self.matched_rules),
            obligations=_dicts(self.obligations),
            errors=_dicts(self.errors),
            dryrun=_dicts(self.dryrun),
            request=self.request,
            policy=self._policy,
            engine=self._record_engine(),
            now=now,
            decision_id=self._record_id(decision_id),
            encoded=encoded,
            validated=True,
        )

    def _record_engine(self) -> Mapping[str, str | None] | None:
        """The engine a record names (None: this package's own)."""
        return None

    def _record_id(self, decision_id: str | None) -> str | None:
        """The record's id, given the one asked for (another engine may have its own)."""
        return decision_id

    def __repr__(self) -> str:
        return (
            f"Decision({self.effect.value}, rule={self.determining_rule!r}, "
            f"matched={[m.id for m in self.matched_rules]}, errors={len(self.errors)}"
            + (f", dryrun={[d.id for d in self.dryrun]})" if self.dryrun else ")")
        )


@runtime_checkable
class Decider(Protocol):
    """What decides requests for an ``Enforcer``: the native ``Engine``, or an engine
    backed by another policy engine (``usepolicy.backends.opa.OpaEngine``)."""

    @property
    def policy(self) -> Policy:
        """The policy it decides by."""
        ...

    def evaluate(self, request: Any) -> Decision:
        """Decide one request; never raises but for an invalid request (``RequestError``)."""
        ...
