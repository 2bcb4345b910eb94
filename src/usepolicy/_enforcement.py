"""``Enforcement``: what one ``Enforcer`` call did with a request, for the gateway, the
CLI and the async calls alike; its record model made only when asked for."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import AuditError, RequestError, printable
from .record import Sealed

if TYPE_CHECKING:
    from .engine import Decision, Explanation
    from .record import DecisionRecord

__all__ = ["Enforcement", "describe", "record_model", "stored"]

_new = object.__new__


class Enforcement:
    """What ``Enforcer.enforce`` did with one request.

    Attributes:
        allowed: the answer to enforce: the decision allowed the use and its record
            was stored (with no sink, the decision alone).
        record: the ``DecisionRecord`` as stored; when it could not be stored, the
            deny returned instead (not stored), its last error the ``audit-error``.
        decision: the decider's ``Decision``; None for an input that never became a
            valid request.
        stored: whether the record is in the sink (durable as the sink promises).
        failure: why the record could not be stored (an ``AuditError``), else None.
        request_error: the ``RequestError`` of an input that is not a valid request
            (its record is a deny listing every bad field), else None.
        explanation: every rule's trace, when asked for (``explain=True``).
    """

    __slots__ = (
        "_body",
        "_record",
        "_sealed",
        "decision",
        "explanation",
        "failure",
        "request_error",
        "stored",
    )

    def __init__(
        self,
        body: dict[str, Any],
        *,
        decision: Decision | None,
        stored: bool,
        failure: AuditError | None = None,
        request_error: RequestError | None = None,
        explanation: Explanation | None = None,
        record: DecisionRecord | None = None,
        sealed: Sealed | None = None,
    ) -> None:
        self._body = body
        self._record = record
        self._sealed = sealed  # the record as sealed here: its model is made from it
        self.decision = decision
        self.stored = stored
        self.failure = failure
        self.request_error = request_error
        self.explanation = explanation

    @property
    def allowed(self) -> bool:
        return bool(self._body["decision"] == "allow")

    @property
    def body(self) -> dict[str, Any]:
        """The record as JSON-ready builtins (``record.to_dict()``, without making the
        model): for code that only reads a few fields, such as a gateway."""
        return self._body

    @property
    def record(self) -> DecisionRecord:
        # made on first use: a caller that only needs the answer never pays for it
        if self._record is None:
            sealed = self._sealed
            self._record = (
                record_model().from_body(self._body) if sealed is None else _record_of()(sealed)
            )
        return self._record

    def __repr__(self) -> str:
        state = "stored" if self.stored else f"not stored ({self.failure})"
        return f"Enforcement({self._body['decision']}, {state})"


def stored(
    kept: Sealed | DecisionRecord,
    decision: Decision | None,
    request_error: RequestError | None,
    explanation: Explanation | None = None,
) -> Enforcement:
    """The result of a record a sink stored: as a chained sink sealed it, or as another
    sink returned it."""
    # made slot by slot, as ``__init__`` would make it: every stored record comes this
    # way, and the keywords of that call cost as much again as the rest of it
    made: Enforcement = _new(Enforcement)
    if isinstance(kept, Sealed):
        made._body, made._record, made._sealed = kept.body, None, kept
    else:
        made._body, made._record, made._sealed = kept.to_dict(), kept, None
    made.decision = decision
    made.stored = True
    made.failure = None
    made.request_error = request_error
    made.explanation = explanation
    return made


@functools.cache
def record_model() -> type[DecisionRecord]:
    # imported on first use: the record models bring pydantic, which a CLI check that
    # prints a verdict never needs
    from .record import DecisionRecord

    return DecisionRecord


@functools.cache
def _record_of() -> Callable[[Sealed], DecisionRecord]:
    from .record import record_of  # as record_model: pydantic, on first use

    return record_of


def describe(exc: BaseException) -> str:
    # printable: the text may quote a request's value, and the record must be writable
    text = printable(str(exc))[:1000]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
