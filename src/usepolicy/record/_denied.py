"""``UseDenied``, the error ``Enforcer.require`` raises: it carries the decision record,
so it lives beside the records (the error tree is drawn in ``usepolicy._errors``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import UsePolicyError

if TYPE_CHECKING:
    from ._model import DecisionRecord

__all__ = ["UseDenied"]


class UseDenied(UsePolicyError):
    """A use was denied; raised by ``Enforcer.require``.

    ``record`` is the decision record (logged, unless logging itself failed: then its
    ``errors`` hold the ``audit-error`` and the exception's ``__cause__`` is the
    ``AuditError``).
    """

    code = "use-denied"

    def __init__(self, record: DecisionRecord) -> None:
        self.record = record
        rule = record.determining_rule
        if record.errors:
            message = "use denied: " + "; ".join(f"{e.code}: {e.message}" for e in record.errors)
        elif rule is not None:
            reason = next((m.reason for m in record.matched_rules if m.id == rule), "")
            message = f"use denied by rule `{rule}`: {reason}"
        else:
            message = "use denied by the policy default (no rule matched)"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[UseDenied], tuple[DecisionRecord]]:
        return (type(self), (self.record,))
