"""``usepolicy lint POLICY...``: rules that never match or never decide, unused names."""

from __future__ import annotations

import argparse

from .._errors import PolicyError
from ..policy import load_policy
from ..testing import DEFAULT_BUDGET, lint_policy
from ._output import EXIT_ALLOWED, EXIT_ERROR, EXIT_INVALID, policy_error

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy lint`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = (
        "Check each policy (file or folder) for rules that can never match "
        "(contradictory conditions), rules that never decide (shadowed by earlier rules "
        "under first-match; under deny-overrides, allow rules every match of which is "
        "denied or decided by an earlier allow rule, unless they attach obligations), "
        "and lists or vocabulary purposes nothing uses. The rule "
        "checks cover every class of requests. Each warning is one line, "
        "`usepolicy: path:line:col: code: message`. Exit 0 without warnings, 1 with "
        "warnings, 3 when a policy is invalid."
    )
    parser.add_argument("policies", nargs="+", metavar="POLICY")
    parser.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        metavar="N",
        help=f"most classes of requests examined (default {DEFAULT_BUDGET:,})",
    )
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
        warnings = lint_policy(policy, budget=args.budget)
        for warning in warnings:
            print(f"usepolicy: {warning}")
        if not warnings:
            print(f"{path}: ok: no warnings")
        elif status == EXIT_ALLOWED:
            status = EXIT_ERROR
    return status
