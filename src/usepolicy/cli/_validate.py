"""``usepolicy validate POLICY...``: load and check policies."""

from __future__ import annotations

import argparse

from .._errors import PolicyError
from ..policy import load_policy
from ._output import EXIT_ALLOWED, EXIT_INVALID, policy_error

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy validate`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = (
        "Load each policy (file or folder) and report every problem as "
        "path:line:col: code: message. Exit 0 when all are valid, 3 otherwise."
    )
    parser.add_argument("policies", nargs="+", metavar="POLICY")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    status = EXIT_ALLOWED
    for path in args.policies:
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            policy_error(exc)
            status = EXIT_INVALID
            continue
        version = f" {policy.version}" if policy.version else ""
        rules = _count(len(policy.rules), "rule")
        invariants = _count(len(policy.invariants), "invariant")
        print(f"{path}: ok: {policy.name}{version}, {rules}, {invariants}, {policy.digest}")
    return status


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
