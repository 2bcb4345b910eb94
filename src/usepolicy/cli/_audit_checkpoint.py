"""``usepolicy audit checkpoint LOG|URL --sign-key KEY``: print a signed checkpoint of
the log (C2SP tlog-checkpoint as a signed note)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._errors import AuditError
from ._notekeys import KeyArgError, note_signer
from ._output import EXIT_ALLOWED, EXIT_ERROR, error

__all__ = ["configure"]


def configure(actions: Any) -> None:
    """Add ``audit checkpoint`` to the ``audit`` actions."""
    parser = actions.add_parser(
        "checkpoint",
        help="print a signed checkpoint (size and Merkle root) of the log",
        description="Print the log's checkpoint: its origin, size and RFC 9162 Merkle "
        "root, signed with the log's note key (C2SP tlog-checkpoint). Whoever keeps it "
        "can later check that the log still holds these records (`audit verify "
        "--checkpoint`), and witnesses can cosign it (`audit witness`). For a database, "
        "each writer's chain is its own log (--writer).",
    )
    parser.add_argument("log", metavar="LOG", help="a log file or postgresql://... URL")
    parser.add_argument(
        "--sign-key",
        required=True,
        metavar="KEYFILE",
        help="the log's note key (usepolicy keygen --note NAME -o KEYFILE)",
    )
    parser.add_argument(
        "--origin",
        metavar="ORIGIN",
        help="the log's name in the checkpoint (default: the key's name; for a "
        "database writer, NAME/WRITER)",
    )
    parser.add_argument("--writer", metavar="ID", help="database: the writer's chain")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..audit import PostgresUnavailableError, checkpoint_db, checkpoint_log, is_db_url

    try:
        signer = note_signer(args.sign_key)
        if is_db_url(args.log):
            note = checkpoint_db(args.log, args.writer, signer, args.origin)
        elif args.writer is not None:
            error("--writer applies to a database URL, not to a log file")
            return EXIT_ERROR
        else:
            note = checkpoint_log(args.log, signer, args.origin)
    except (KeyArgError, AuditError, PostgresUnavailableError, ImportError) as exc:
        error(str(exc))
        return EXIT_ERROR
    sys.stdout.write(note.format())
    return EXIT_ALLOWED
