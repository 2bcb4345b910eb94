"""The rotation options of commands that append to a log file (``check``, ``proxy``)."""

from __future__ import annotations

import argparse

__all__ = ["add_rotation_args", "check_rotation_args"]


def add_rotation_args(parser: argparse.ArgumentParser) -> None:
    """``--rotate-bytes N`` and ``--rotate-every SECONDS``, for ``--audit-log``."""
    parser.add_argument(
        "--rotate-bytes", type=int, metavar="N",
        help="for --audit-log: start a new file before one would pass N bytes; the chain "
        "goes on across files (`usepolicy audit verify FILE` reads them all)",
    )  # fmt: skip
    parser.add_argument(
        "--rotate-every", type=float, metavar="SECONDS",
        help="for --audit-log: a file per period (3600: per UTC hour, 86400: per UTC day)",
    )  # fmt: skip


def check_rotation_args(args: argparse.Namespace) -> None:
    """Raises ``ValueError`` for a rotation option given without ``--audit-log FILE``."""
    if args.audit_log is None and (args.rotate_bytes is not None or args.rotate_every is not None):
        raise ValueError("--rotate-bytes and --rotate-every are for --audit-log FILE")
