"""The ``usepolicy`` command line. One module per subcommand; no logic here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from .._version import __version__
from ._output import EXIT_ERROR, error

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors; usepolicy's contract says 1 (2 is "denied")."""

    def error(self, message: str) -> NoReturn:
        error(f"{message} (see --help)")
        raise SystemExit(EXIT_ERROR)


def _parser() -> argparse.ArgumentParser:
    from . import _check, _schema, _validate

    parser = _Parser(
        prog="usepolicy",
        description="Check requested AI-model uses against declarative policies.",
    )
    parser.add_argument("--version", action="version", version=f"usepolicy {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for module in (_check, _validate, _schema):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (DESIGN.md §4)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_usage(sys.stderr)
        error("no command given (see --help)")
        return EXIT_ERROR
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # one line, never a traceback
        error(f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_ERROR
    return code


def _entry() -> NoReturn:  # pragma: no cover - console script
    sys.exit(main())
