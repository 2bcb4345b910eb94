"""``usepolicy audit``: its actions, and ``verify LOG``; with a database URL for LOG,
and ``init-db URL`` and ``export URL``, the PostgreSQL store (``_audit_db``). ``show``
lists a log file or the store alike (``_audit_show``).
The transparency-log actions are in their own modules: ``checkpoint``
(``_audit_checkpoint``), ``prove`` (``_audit_prove``), ``witness`` (``_audit_witness``),
and ``verify --checkpoint`` (``_audit_receipt``); ``report`` and ``stats`` (``_report``)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._errors import AuditError
from ..audit import is_db_url, verify_log
from ..record import OUTCOMES
from . import _audit_checkpoint, _audit_prove, _audit_receipt, _audit_show, _audit_witness
from ._output import EXIT_ALLOWED, EXIT_ERROR, error, escape, records

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy audit`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = (
        "Check an audit log's chain and signatures, or list its records; sign "
        "checkpoints of its Merkle tree, prove records in it, witness checkpoints. "
        "LOG is a file, or a PostgreSQL audit store (postgresql://...)."
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", parser_class=type(parser))
    verify = actions.add_parser(
        "verify",
        help="verify the chain, digests and signatures",
        description="Check every line of the log. Exit 0 with the count of good records, "
        "or 1 naming the first bad line and what is wrong there (edited, inserted, "
        "deleted, reordered, torn tail, bad signature, truncated against an anchor). "
        "Records cut off the end cannot be seen from the file alone: keep the head "
        "digest and count elsewhere and pass them as --expect-head/--expect-count, or "
        "keep a signed checkpoint and pass it as --checkpoint.",
    )
    verify.add_argument(
        "log",
        metavar="LOG",
        help="a log file (with the files rotated out of it), a folder holding one rotated "
        "log, or a postgresql://... URL",
    )
    verify.add_argument(
        "more",
        nargs="*",
        metavar="FILE",
        help="more files of the log: LOG FILE... are its files in chain order",
    )
    verify.add_argument("--writer", metavar="ID", help="database: verify only this writer's chain")
    verify.add_argument(
        "--key",
        action="append",
        metavar="PUB",
        help="public key file: every record must be signed by it (repeatable, for rotated "
        "keys); with --checkpoint, also the log's note verifier key (VKEY or a file)",
    )
    verify.add_argument("--expect-head", metavar="DIGEST", help="a head digest kept elsewhere")
    verify.add_argument(
        "--expect-count", type=int, metavar="N", help="the record count kept with it"
    )
    _audit_receipt.add_options(verify)
    verify.add_argument("--format", choices=("human", "json"), default="human")
    verify.set_defaults(run=run_verify)

    show = actions.add_parser(
        "show",
        help="list records, filtered",
        description="List the log's records (without verifying the chain: use verify).",
    )
    show.add_argument(
        "log",
        metavar="LOG",
        help="a log file (with the files rotated out of it), a folder holding one rotated "
        "log, or a postgresql://... URL",
    )
    show.add_argument("--writer", metavar="ID", help="database: only this writer's records")
    show.add_argument("--decision", choices=("allow", "deny"))
    show.add_argument("--rule", metavar="ID", help="records that rule ID decided or matched")
    show.add_argument("--since", type=_time, metavar="TIME", help="from this ISO time on")
    show.add_argument("--until", type=_time, metavar="TIME", help="before this ISO time")
    show.add_argument(
        "--kind",
        choices=("decision", "outcome"),
        help="only decision records, or only outcome records",
    )
    show.add_argument(
        "--outcome",
        choices=tuple(OUTCOMES),
        help="only outcome records saying this",
    )
    show.add_argument(
        "--decision-id", metavar="ID", help="the decision ID and the outcome records after it"
    )
    show.add_argument("--format", choices=("human", "json"), default="human")
    show.set_defaults(run=_audit_show.run)

    init = actions.add_parser(
        "init-db",
        help="create or upgrade the PostgreSQL audit tables",
        description="Create the audit tables in the database at URL, or apply the "
        "migrations it lacks (safe to repeat). Run it as a role that may create "
        "tables; gateways should log in as a role that may only INSERT and SELECT.",
    )
    init.add_argument("url", metavar="URL", help="postgresql://user@host:port/dbname")
    init.add_argument(
        "--gateway-role",
        nargs="?",
        const="usepolicy_gateway",
        metavar="ROLE",
        help="also create ROLE (default usepolicy_gateway) with SELECT and INSERT only",
    )
    init.set_defaults(run=_db_action("run_init_db"))

    export = actions.add_parser(
        "export",
        help="write the database's chains as JSON Lines logs",
        description="Write each writer's chain, byte for byte, to a JSON Lines audit "
        "log that `usepolicy audit verify FILE` checks offline.",
    )
    export.add_argument("url", metavar="URL", help="postgresql://user@host:port/dbname")
    export.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="the log to write; with several writers and no --writer, include {writer}",
    )
    export.add_argument("--writer", metavar="ID", help="export only this writer's chain")
    export.set_defaults(run=_db_action("run_export"))
    _audit_checkpoint.configure(actions)
    _audit_prove.configure(actions)
    _audit_witness.configure(actions)
    from ._report import add_actions

    add_actions(actions, _time)
    parser.set_defaults(run=_no_action)


def _db_action(name: str) -> Any:
    """A database action, imported when it runs."""

    def run(args: argparse.Namespace) -> int:
        from . import _audit_db

        result: int = getattr(_audit_db, name)(args)
        return result

    return run


def _no_action(args: argparse.Namespace) -> int:
    error(
        "audit: give an action: verify, show, report, stats, init-db, export, checkpoint, "
        "prove or witness (see --help)"
    )
    return EXIT_ERROR


def _time(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: `{text}`") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- verify ----------------------------------------------------------------------------
def run_verify(args: argparse.Namespace) -> int:
    if args.more and (is_db_url(args.log) or args.checkpoint is not None):
        error("several files are for a rotated log file, and a checkpoint covers one file")
        return EXIT_ERROR
    checked = _audit_receipt.keys_and_receipt(args)
    if isinstance(checked, int):
        return checked
    keys, receipt = checked
    if is_db_url(args.log):
        from ._audit_db import run_verify_db

        return run_verify_db(args, keys, receipt)
    if args.writer is not None:
        error("--writer applies to a database URL, not to a log file")
        return EXIT_ERROR
    try:
        result = verify_log(
            [args.log, *args.more] if args.more else args.log,
            keys or None,
            expect_head=args.expect_head,
            expect_count=args.expect_count,
        )
    except AuditError as exc:
        error(str(exc))
        return EXIT_ERROR
    if args.format == "json":
        body = result.to_dict()
        if receipt is not None:
            body["checkpoint"] = receipt.to_dict()
        print(json.dumps(body))
    if not result.ok:
        error(str(result))
        return EXIT_ERROR
    if receipt is not None and not receipt.ok:
        error(str(receipt))
        return EXIT_ERROR
    if args.format == "human":
        print(f"{args.log}: ok: {records(result.count)}")
        if result.files:
            first, last = (
                escape(Path(name).name) for name in result.files[:: len(result.files) - 1]
            )
            print(f"  files: {len(result.files)}, in chain order, {first} .. {last}")
        print(f"  head: {result.head}")
        if result.signatures_checked:
            ids = ", ".join(key.key_id for key in keys)
            print(f"  signatures: {result.count} good (key {ids})")
        elif result.signed:
            print(f"  signatures: {result.signed} signed, not checked (give --key PUB)")
        if receipt is not None:
            _audit_receipt.report(receipt)
        elif args.expect_head is None and args.expect_count is None:
            print("  end: not anchored (records cut off the end would not show)")
        for name in result.torn_files:
            print(f"  torn tail set aside: {escape(name)}")
    return EXIT_ALLOWED
