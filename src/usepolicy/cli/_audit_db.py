"""The database forms of ``usepolicy audit``: ``init-db URL``, ``verify URL``,
``export URL -o FILE`` (the PostgreSQL audit store, ``usepolicy[postgres]``).

Imported by ``_audit`` only when an argument is a database URL.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from .._errors import AuditError
from ..audit import PostgresUnavailableError, display_url, export_db, init_db, verify_db
from ._output import EXIT_ALLOWED, EXIT_ERROR, error, escape, records

if TYPE_CHECKING:
    from ..audit import CheckpointVerdict, Verifier

__all__ = ["run_export", "run_init_db", "run_verify_db"]


def run_init_db(args: argparse.Namespace) -> int:
    try:
        applied = init_db(args.url, gateway_role=args.gateway_role)
    except (AuditError, PostgresUnavailableError) as exc:
        error(str(exc))
        return EXIT_ERROR
    where = display_url(args.url)
    if applied:
        print(f"{where}: schema version {applied[-1]} (applied {', '.join(map(str, applied))})")
    else:
        print(f"{where}: schema up to date")
    if args.gateway_role:
        print(f"  role {args.gateway_role}: SELECT, INSERT on usepolicy_decisions (no UPDATE,")
        print(f"  DELETE or TRUNCATE): GRANT {args.gateway_role} TO <gateway login>;")
    return EXIT_ALLOWED


def run_verify_db(
    args: argparse.Namespace, keys: list[Verifier], receipt: CheckpointVerdict | None = None
) -> int:
    try:
        result = verify_db(
            args.log,
            args.writer,
            keys or None,
            expect_head=args.expect_head,
            expect_count=args.expect_count,
        )
    except (AuditError, PostgresUnavailableError, ValueError) as exc:
        error(str(exc))
        return EXIT_ERROR
    if args.format == "json":
        body = result.to_dict()
        if receipt is not None:
            body["checkpoint"] = receipt.to_dict()
        print(json.dumps(body))
    if not result.ok:
        for writer in result.writers:
            if not writer.ok:
                error(f"{result.url}: writer `{writer.writer}` seq {writer.seq}: "
                      f"{writer.problem}: {writer.message}")  # fmt: skip
        return EXIT_ERROR
    if receipt is not None and not receipt.ok:
        error(str(receipt))
        return EXIT_ERROR
    if args.format == "human":
        count = len(result.writers)
        print(f"{result.url}: ok: {count} writer{'' if count == 1 else 's'}, "
              f"{records(result.count)}")  # fmt: skip
        for writer in result.writers:
            signed = ""
            if result.signatures_checked:
                signed = ", all signed"
            elif writer.signed:
                signed = f", {writer.signed} signed (not checked: give --key PUB)"
            name = escape(writer.writer)
            print(f"  {name}: {records(writer.count)}, head {writer.head}{signed}")
        if receipt is not None:
            from ._audit_receipt import report

            report(receipt)
        elif args.expect_head is None and args.expect_count is None:
            print("  end: not anchored (records cut off the end of a chain would not show)")
    return EXIT_ALLOWED


def run_export(args: argparse.Namespace) -> int:
    try:
        written = export_db(args.url, args.output, args.writer)
    except (AuditError, PostgresUnavailableError, ValueError) as exc:
        error(str(exc))
        return EXIT_ERROR
    for writer, path, count in written:
        print(f"{path}: {records(count)} of writer {escape(writer)}")
    return EXIT_ALLOWED
