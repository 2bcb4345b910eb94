"""``usepolicy export rego|bundle POLICY``: the policy for Open Policy Agent."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._errors import PolicyError
from ..policy import load_policy
from ._output import EXIT_ALLOWED, EXIT_ERROR, EXIT_INVALID, error, policy_error

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy export`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = (
        "Export a policy for Open Policy Agent. Exit 0, 3 for an invalid "
        "policy, 1 when the output cannot be written."
    )
    kinds = parser.add_subparsers(title="formats", metavar="FORMAT", parser_class=type(parser))
    rego = kinds.add_parser(
        "rego",
        help="one Rego v1 module: package usepolicy.<name>, rule `decision`",
        description="Write one Rego v1 module whose rule `decision` gives, for input = "
        "a validated request, the native engine's decision, determining rule and "
        "matched rules (DESIGN.md §6).",
    )
    rego.add_argument("policy", metavar="POLICY", help="policy file or folder")
    rego.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    rego.set_defaults(run=run_rego, format="rego")  # not human output: printed exactly
    bundle = kinds.add_parser(
        "bundle",
        help="an OPA bundle (.tar.gz) for `opa run --server --bundle`",
        description="Write an OPA bundle: the Rego module, data.json with the named "
        "lists, and a .manifest whose revision is the policy digest.",
    )
    bundle.add_argument("policy", metavar="POLICY", help="policy file or folder")
    bundle.add_argument("-o", "--output", metavar="FILE", required=True, help="bundle.tar.gz")
    bundle.set_defaults(run=run_bundle)
    parser.set_defaults(run=_no_format(parser))


def _no_format(parser: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        parser.print_usage(sys.stderr)
        error("export needs a format: rego or bundle (see --help)")
        return EXIT_ERROR

    return run


def run_rego(args: argparse.Namespace) -> int:
    from ..backends.opa import to_rego

    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        policy_error(exc)
        return EXIT_INVALID
    text = to_rego(policy)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_ALLOWED
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        error(f"{args.output}: cannot write: {exc.strerror or exc}")
        return EXIT_ERROR
    return EXIT_ALLOWED


def run_bundle(args: argparse.Namespace) -> int:
    from ..backends.opa import write_bundle

    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        policy_error(exc)
        return EXIT_INVALID
    try:
        write_bundle(policy, args.output)
    except OSError as exc:
        error(f"{args.output}: cannot write: {exc.strerror or exc}")
        return EXIT_ERROR
    print(f"{args.output}: bundle of {policy.name} {policy.version}, revision {policy.digest}")
    return EXIT_ALLOWED
