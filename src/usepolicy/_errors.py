"""The usepolicy error tree.

Every error carries a stable string ``code`` that tools and tests can rely on. Every
exception a public module exports is drawn here (``tests/test_errors.py`` holds the
drawing to the classes), with its built-in base where it has one too::

    UsePolicyError                        base of everything raised by usepolicy
     ├── PolicyError                      a policy cannot be loaded (all problems at once)
     │    └── YamlFailure                 a file is not acceptable YAML (policy, case file)
     ├── RequestError                     a request is invalid (every bad field at once)
     ├── EvaluationError                  a condition failed while a decision was evaluated
     ├── AuditError                       a decision record could not be written or verified
     ├── BackendError                     an external policy engine failed
     ├── UseDenied                        ``Enforcer.require`` refused a use (``record``)
     ├── InputFileError (OSError)         a file a user named cannot be read (``_files``)
     ├── SigningUnavailableError (ImportError)   signing needs ``usepolicy[sign]``
     ├── PostgresUnavailableError (ImportError)  the PostgreSQL store needs ``[postgres]``
     ├── NoteError (ValueError)           a signed note is malformed or fails to verify
     ├── CheckpointError (ValueError)     a checkpoint is malformed (``tlog``)
     ├── ProofError (ValueError)          an inclusion or consistency proof fails
     ├── WitnessError (ValueError)        a witness refuses to cosign
     └── TreeError (OSError)              a log's tree sidecar cannot be kept

What a request, a decision or a record *carries* about errors is data, not exceptions,
and is not named ``*Error``: ``FieldProblem`` (one bad request field), ``Diagnostic``
(one policy file problem), ``engine.DecisionProblem`` and ``record.RecordProblem`` (an
error a decision or a record holds). Their old names (``FieldError``,
``DecisionError``, ``RecordError``) still resolve, with a ``DeprecationWarning``.

Errors are one line each when printed: ``path:line:col: code: message``, with a
separate ``hint`` where there is one.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import ClassVar, Final

__all__ = [
    "AuditError",
    "BackendError",
    "Diagnostic",
    "EvaluationError",
    "FieldProblem",
    "PolicyError",
    "RequestError",
    "UsePolicyError",
    "path_part",
    "plural",
    "printable",
    "quote_value",
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


#: a key longer than this is cut in field paths (no request key may be longer than 64)
_MAX_PATH_PART: Final = 64
#: a message longer than this is cut: an error must stay small enough to print and record
_MAX_MESSAGE: Final = 1000


def printable(text: str) -> str:
    """``text`` with every unprintable character (controls, lone surrogates, bidi and
    other format characters) written as its Python escape, so it fits on one line, in
    UTF-8 and in canonical JSON."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def path_part(key: object) -> str:
    """A request key as it appears in a ``FieldProblem`` path: printable and cut short.

    The request layer's JSON locator names keys the same way, so the paths it indexes
    match the paths that errors carry.
    """
    text = printable(str.__str__(key) if isinstance(key, str) else str(key))
    return text if len(text) <= _MAX_PATH_PART else text[:_MAX_PATH_PART] + "…"


class _ShortRepr(reprlib.Repr):
    """``reprlib`` bounded in depth and length, and safe for any value a caller passes."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = 60
        self.maxother = 60

    def repr_int(self, x: int, level: int) -> str:
        # repr of an int over 4,300 digits raises, and a long one is slow to build
        if x.bit_length() > 128:
            return f"<an integer of about {int(x.bit_length() * 0.30103) + 1} digits>"
        return int.__repr__(x)

    def repr_str(self, x: str, level: int) -> str:
        return super().repr_str(str.__str__(x), level)


_short_repr: Final = _ShortRepr()


def quote_value(value: object, limit: int = 60) -> str:
    """A user's value for an error message: bounded, one line, in backticks.

    Safe for any input: huge integers, deep nesting, lone surrogates, ``str``
    subclasses and objects whose ``repr`` fails.
    """
    try:
        text = _short_repr.repr(value)
    except Exception:  # a hostile __repr__ reached through a builtin container
        text = f"<{type(value).__name__}>"
    text = printable(text)
    return f"`{text[:limit]}…`" if len(text) > limit else f"`{text}`"


def plural(count: int, word: str) -> str:
    """``1 class``, ``2 classes``, ``1,000 changes``."""
    if count == 1:
        return f"1 {word}"
    return f"{count:,} {word}{'es' if word.endswith(('s', 'x', 'ch', 'sh')) else 's'}"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One bad field of a request: its dotted path (``$`` for the whole request).

    ``path`` and ``message`` are made printable (see ``printable``) and the message is
    cut at 1,000 characters, so any error can be printed on one line and recorded.
    """

    path: str
    code: str
    message: str
    line: int | None = None
    col: int | None = None

    def __post_init__(self) -> None:
        message = printable(self.message)
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        object.__setattr__(self, "path", printable(self.path))
        object.__setattr__(self, "message", message)

    def __str__(self) -> str:
        where = f"{self.line}:{self.col}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.code}: {self.message}"


class RequestError(UsePolicyError):
    """A request is invalid. ``errors`` lists every bad field path at once.

    At most ``max_errors`` field errors are kept; when there were more, a last entry
    (path ``$``, code ``too-many-errors``) says how many were left out, and ``omitted``
    holds that number.
    """

    code = "invalid-request"
    #: the most field errors a RequestError (and so a decision record) carries
    max_errors: ClassVar[int] = 100

    def __init__(
        self, errors: list[FieldProblem], source: str | None = None, *, omitted: int = 0
    ) -> None:
        """``omitted``: errors the caller found but did not build (beyond the cap)."""
        keep = self.max_errors
        omitted += max(0, len(errors) - keep)
        errors = errors[:keep]
        if omitted:
            errors.append(
                FieldProblem(
                    "$",
                    "too-many-errors",
                    f"{omitted} more errors left out (at most {keep} are reported)",
                )
            )
        self.errors = errors
        self.omitted = omitted
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
