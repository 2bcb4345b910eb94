"""The usepolicy error tree.

Every error carries a stable string ``code`` that tools and tests can rely on::

    UsePolicyError                 base of everything raised by usepolicy
     ├── PolicyError               a policy file cannot be loaded (all problems at once)
     ├── RequestError              a request is invalid (every bad field at once)
     ├── EvaluationError           a condition failed while a decision was evaluated
     ├── AuditError                a decision record could not be written or verified
     ├── BackendError              an external policy engine failed
     └── UseDenied                 ``Enforcer.require`` refused a use (carries the record)

Errors are one line each when printed: ``path:line:col: code: message``, with a
separate ``hint`` where there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._record import DecisionRecord

__all__ = [
    "AuditError",
    "BackendError",
    "Diagnostic",
    "EvaluationError",
    "FieldError",
    "PolicyError",
    "RequestError",
    "UseDenied",
    "UsePolicyError",
]


class UsePolicyError(Exception):
    """Base class of every error raised by usepolicy."""

    code: str = "error"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a policy file, with its source position (1-based)."""

    path: str
    line: int
    col: int
    code: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        # one line, whatever the user's text held
        message = self.message.replace("\r", "\\r").replace("\n", "\\n")
        return f"{self.path}:{self.line}:{self.col}: {self.code}: {message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.code)


class PolicyError(UsePolicyError):
    """A policy (or one of its included files and lists) cannot be loaded.

    ``diagnostics`` holds every problem found, sorted by file and position.
    """

    code = "policy-error"

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


@dataclass(frozen=True, slots=True)
class FieldError:
    """One bad field of a request: its dotted path (``$`` for the whole request)."""

    path: str
    code: str
    message: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        where = f"{self.line}:{self.col}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.code}: {self.message}"


class RequestError(UsePolicyError):
    """A request is invalid. ``errors`` lists every bad field path at once."""

    code = "invalid-request"

    def __init__(self, errors: list[FieldError], source: str | None = None) -> None:
        self.errors = errors
        self.source = source
        super().__init__("; ".join(str(e) for e in errors))


class EvaluationError(UsePolicyError):
    """A condition raised while a request was evaluated; the decision is deny."""

    code = "evaluation-error"


class AuditError(UsePolicyError):
    """A decision record could not be made durable, or an audit log failed to verify."""

    code = "audit-error"


class BackendError(UsePolicyError):
    """An external policy engine (such as Open Policy Agent) failed or answered badly."""

    code = "backend-error"


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
