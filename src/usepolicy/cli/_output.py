"""Shared output helpers: one-line errors on stderr, exit codes, and the escaping of
everything the CLI shows a person.

Human output carries strings from requests, records, policies and file names. A control
character in one (an ANSI escape, a carriage return), a bidi override or another
invisible format character would drive the terminal or show text other than what is
there. ``cli.main`` runs every command with its human output (stderr always, stdout
unless it prints JSON or Rego) written through ``escaping``, which shows each such
character as a Python-style escape (``\\x1b``, ``\\u202e``); line feeds pass, since the
CLI writes them. Where a value must also keep to its line (a table cell, a name in a
one-line summary), ``escape`` shows its line feeds and tabs too.
"""

from __future__ import annotations

import io
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final, Literal, TextIO, cast

from .._errors import Diagnostic, FieldProblem, PolicyError

__all__ = [
    "EXIT_ALLOWED",
    "EXIT_DENIED",
    "EXIT_ERROR",
    "EXIT_INVALID",
    "error",
    "escape",
    "escaping",
    "policy_error",
    "print_table",
    "records",
]

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


def field_error_line(source: str, err: FieldProblem) -> str:
    """``source:line:col: code: field: message`` (the field is ``$`` for the whole
    request; a position that cannot be found is 1:1)."""
    line, col = (err.line, err.col) if err.line is not None else (1, 1)
    return f"{source}:{line}:{col}: {err.code}: {err.path}: {err.message}"


#: control (C0, DEL, C1), format (bidi controls, zero-width characters, soft hyphen...),
#: surrogate (a lone one cannot even be written as UTF-8), line and paragraph separator
_HIDDEN: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT: Final = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _shown(char: str) -> str:
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape(text: str, *, newlines: bool = True) -> str:
    """``text`` with control, format (bidi...), surrogate and separator characters shown
    as escapes (``\\x1b``, ``\\u202e``); with ``newlines=False``, line feeds kept."""
    if text.isprintable():  # the common case: nothing to escape (fast, in C)
        return text
    return "".join(
        _shown(char)
        if unicodedata.category(char) in _HIDDEN and (newlines or char != "\n")
        else char
        for char in text
    )


class _Escaping(io.TextIOBase):
    """A text stream that writes to ``stream`` what ``escape`` makes of each write,
    line feeds kept."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(escape(text, newlines=False))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding


@contextmanager
def escaping(name: Literal["stdout", "stderr"]) -> Iterator[None]:
    """Write ``sys.stdout`` or ``sys.stderr`` through ``escape`` (line feeds kept)
    until the block ends."""
    saved: TextIO = getattr(sys, name)
    wrapper = _Escaping(saved)
    setattr(sys, name, cast(TextIO, wrapper))
    try:
        yield
    finally:
        setattr(sys, name, saved)


def records(count: int, *, grouped: bool = False) -> str:
    """``1 record``, ``2 records`` (``1,000 records`` when ``grouped``)."""
    number = f"{count:,}" if grouped else str(count)
    return f"{number} record{'' if count == 1 else 's'}"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns aligned under ``header``; each cell escaped, line feeds and tabs too, so
    no value can start a row of its own or shift the columns."""
    cells = [[escape(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
