"""The ``-p/--policy`` option shared by commands that evaluate."""

from __future__ import annotations

import argparse

from ..policy import Policy, load_policy

__all__ = ["add_policy_args", "load_from_args"]


def add_policy_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--policy",
        action="append",
        metavar="PATH",
        help="policy file or folder (repeatable; default: the reference pack "
        "national-security-safeguards shipped with usepolicy)",
    )


def load_from_args(args: argparse.Namespace) -> Policy:
    return load_policy(args.policy or None)
