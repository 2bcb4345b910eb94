"""The ``usepolicy`` command line. One module per subcommand; no logic here."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from .._errors import UsePolicyError
from .._version import __version__
from ._output import EXIT_ERROR, error, escaping

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors; usepolicy's contract says 1 (2 is "denied")."""

    def error(self, message: str) -> NoReturn:
        error(f"{message} (see --help)")
        raise SystemExit(EXIT_ERROR)


#: subcommand -> (module, one-line help), in the order ``--help`` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("_check", "evaluate requests and print the decisions"),
    "validate": ("_validate", "load and check policies"),
    "test": ("_test", "run policy test files and check invariants"),
    "diff": ("_diff", "requests whose decision changes between two policies"),
    "lint": ("_lint", "find rules that never match or never decide, and unused lists or purposes"),
    "audit": (
        "_audit",
        "verify, show, report on or export an audit log (file or PostgreSQL); init-db; "
        "checkpoints, proofs, witnessing",
    ),
    "keygen": ("_keygen", "make a key pair for signing audit records, or a note key"),
    "export": ("_export", "export a policy for Open Policy Agent (Rego module or bundle)"),
    "schema": ("_schema", "print the JSON Schema of the request"),
    "proxy": ("_proxy", "serve an OpenAI-compatible proxy that enforces the policy on every call"),
}


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser, importing only the chosen subcommand's module (a cold start pays
    for what it runs, not for every command); the others are listed for ``--help``."""
    import importlib

    parser = _Parser(
        prog="usepolicy",
        description="Check requested AI-model uses against declarative policies.",
    )
    parser.add_argument("--version", action="version", version=f"usepolicy {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (module, summary) in COMMANDS.items():
        if name == chosen:
            parser_for = sub.add_parser(name, help=summary)
            importlib.import_module(f".{module}", __name__).configure(parser_for)
        else:
            sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (DESIGN.md §4).

    This is the one place output is set up: stderr (errors, always one line for a
    person) and stdout (unless the command prints JSON or Rego, which must stay exact)
    go through ``_output.escaping``, so no string from a request, record or policy can
    drive the terminal.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    with escaping("stderr"):
        with escaping("stdout"):  # --help and --version
            parser = _parser(argv)
            args = parser.parse_args(argv)
        if not hasattr(args, "run"):
            parser.print_usage(sys.stderr)
            error("no command given (see --help)")
            return EXIT_ERROR
        human = getattr(args, "format", "human") == "human"
        with escaping("stdout") if human else contextlib.nullcontext():
            return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # one line, never a traceback
        if isinstance(exc, UsePolicyError) and isinstance(exc, ImportError):
            error(str(exc))  # an optional extra is missing: the message says what to install
            return EXIT_ERROR
        error(f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_ERROR
    return code


def _entry() -> NoReturn:  # pragma: no cover - console script
    sys.exit(main())
