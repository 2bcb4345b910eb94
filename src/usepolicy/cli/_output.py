"""Shared output helpers: one-line errors on stderr, exit codes."""

from __future__ import annotations

import sys
from typing import Final, TextIO

from .._errors import Diagnostic, FieldError, PolicyError

__all__ = ["EXIT_ALLOWED", "EXIT_DENIED", "EXIT_ERROR", "EXIT_INVALID", "error", "policy_error"]

EXIT_ALLOWED: Final = 0
EXIT_ERROR: Final = 1  # usage or internal error
EXIT_DENIED: Final = 2
EXIT_INVALID: Final = 3  # invalid request or policy


def error(message: str, stream: TextIO | None = None) -> None:
    """Print one ``usepolicy: ...`` line on stderr (newlines folded)."""
    text = " ".join(message.split("\n"))
    print(f"usepolicy: {text}", file=stream or sys.stderr)


def diagnostic_line(diag: Diagnostic) -> str:
    return f"{diag}; hint: {diag.hint}" if diag.hint else str(diag)


def policy_error(exc: PolicyError) -> None:
    for diag in exc.diagnostics:
        error(diagnostic_line(diag))


def field_error_line(source: str, err: FieldError) -> str:
    """``source:line:col: code: field: message`` (the field is ``$`` for the whole
    request; a position that cannot be found is 1:1)."""
    line, col = (err.line, err.col) if err.line is not None else (1, 1)
    return f"{source}:{line}:{col}: {err.code}: {err.path}: {err.message}"
