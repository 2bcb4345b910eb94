"""``usepolicy audit show LOG|URL``: list the records of a log file or of the
PostgreSQL store, filtered by one ``RecordFilter`` and printed by one table."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator

from .._errors import AuditError
from ..audit import PostgresUnavailableError, RecordFilter, is_db_url, log_files, read_log
from ..record import AnyRecord, OutcomeRecord
from ._output import EXIT_ALLOWED, EXIT_ERROR, error, print_table, records

__all__ = ["run"]

_COLUMNS = ["time (UTC)", "decision", "rule", "purpose", "requester"]


def _row(record: AnyRecord) -> list[str]:
    if isinstance(record, OutcomeRecord):
        # what happened after the decision it names: its columns say so
        status = "" if record.status is None else f" {record.status}"
        why = f": {record.errors[-1].code}" if record.errors else ""
        return [
            record.timestamp[:19] + "Z",
            "outcome",
            f"{record.outcome}{status}{why}",
            f"of {record.decision_id}",
            "-",
        ]
    request = record.request or {}
    if record.errors:
        rule = "error: " + record.errors[-1].code
    else:
        rule = record.determining_rule or "(default)"
    if record.dryrun:  # shadow mode: what the dry-run rules would have denied
        rule += f" [dry run: {', '.join(d.id for d in record.dryrun)}]"
    requester = request.get("requester")
    return [
        record.timestamp[:19] + "Z",
        record.decision,
        rule,
        str(request.get("purpose", "-")),
        str(requester.get("organization", "-")) if isinstance(requester, dict) else "-",
    ]


def _from_file(
    args: argparse.Namespace, chosen: RecordFilter, seen: list[int]
) -> Iterator[tuple[list[str], AnyRecord]]:
    several = len(log_files(args.log)) > 1  # a rotated log: name each line's file
    for path, number, record in read_log(args.log):
        seen[0] += 1
        if chosen.matches(record):
            yield [f"{path.name}:{number}" if several else str(number)], record


def run(args: argparse.Namespace) -> int:
    chosen = RecordFilter(
        args.decision,
        args.rule,
        args.since,
        args.until,
        kind=args.kind,
        outcome=args.outcome,
        decision_id=args.decision_id,
    )
    database = is_db_url(args.log)
    if args.writer is not None and not database:
        error("--writer applies to a database URL, not to a log file")
        return EXIT_ERROR
    seen = [0]  # records read, for "N of M records"
    found: Iterable[tuple[list[str], AnyRecord]]
    try:
        if database:
            from ..audit import query_db

            total, matching = query_db(
                args.log,
                decision=chosen.decision,
                rule=chosen.rule,
                since=chosen.since,
                until=chosen.until,
                writer=args.writer,
                kind=chosen.kind,
                outcome=chosen.outcome,
                decision_id=chosen.decision_id,
            )
            seen[0] = total
            found = (([writer, str(seq)], record) for writer, seq, record in matching)
            header = ["writer", "seq", *_COLUMNS]
        else:
            found = _from_file(args, chosen, seen)
            header = ["line", *_COLUMNS]
        return _print(args, header, found, seen)
    except (AuditError, PostgresUnavailableError) as exc:
        error(str(exc))
        return EXIT_ERROR


def _print(
    args: argparse.Namespace,
    header: list[str],
    found: Iterable[tuple[list[str], AnyRecord]],
    seen: list[int],
) -> int:
    rows: list[list[str]] = []
    status = EXIT_ALLOWED
    try:
        for where, record in found:
            if args.format == "json":
                print(record.to_json())
            else:
                rows.append([*where, *_row(record)])
    except AuditError as exc:  # a bad line: what came before it is still listed
        error(str(exc))
        status = EXIT_ERROR
    if args.format == "human":
        print_table(header, rows)
        print(f"{len(rows)} of {records(seen[0])}")
    return status
