"""``usepolicy audit report LOG -o FILE`` and ``usepolicy audit stats LOG``: a log's
integrity and figures, as a self-contained HTML page or as text/JSON.

Both verify the whole log and count its records in one pass (``collect_stats``); both
exit 0 when the log verifies and 1 when it does not (after writing the page or the
figures, which then say where the chain breaks), as ``audit verify`` does.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .._errors import AuditError
from ..audit import KINDS, AuditSummary, Tally, collect_stats, purpose_tree
from ._audit_receipt import add_options, keys_and_receipt
from ._output import EXIT_ALLOWED, EXIT_ERROR, error, escape, records

__all__ = ["add_actions"]


def add_actions(actions: Any, time: Callable[[str], datetime]) -> None:
    """Add ``report`` and ``stats`` to ``usepolicy audit`` (``time`` parses --since/--until)."""
    report = actions.add_parser(
        "report",
        help="write a self-contained HTML report: integrity, charts, denies, records",
        description="Verify the log and write one HTML file that needs nothing else to "
        "be read (no network: charts, styles and script are inside): the integrity "
        "verdict first, then charts of the decisions, every kind of deny, and a "
        "filterable table of the records. Exit 1 when the log does not verify (the "
        "report says so at the top). Needs the extra: pip install 'usepolicy[report]'.",
    )
    stats = actions.add_parser(
        "stats",
        help="the report's figures as text or JSON",
        description="Verify the log and print what it holds: decisions by outcome, over "
        "time, by rule, organisation, purpose; obligations, error codes and denies. "
        "Exit 1 when the log does not verify.",
    )
    for parser in (report, stats):
        parser.add_argument(
            "log",
            metavar="LOG",
            help="a log file (with the files rotated out of it), a folder holding one rotated "
            "log, or a postgresql://... URL",
        )
        parser.add_argument(
            "--since", type=time, metavar="TIME", help="count from this ISO time on"
        )
        parser.add_argument("--until", type=time, metavar="TIME", help="count before this ISO time")
        parser.add_argument(
            "--key",
            action="append",
            metavar="PUB",
            help="public key file: check every record's signature (repeatable); with "
            "--checkpoint, also the log's note verifier key (VKEY or a file)",
        )
        add_options(parser)
    report.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file")
    report.set_defaults(run=run_report)
    stats.add_argument("--format", choices=("human", "json"), default="human")
    stats.set_defaults(run=run_stats)


def _verdict(summary: AuditSummary) -> int:
    if summary.ok:
        return EXIT_ALLOWED
    error(str(summary.integrity if not summary.integrity.ok else summary.checkpoint))
    return EXIT_ERROR


def run_report(args: argparse.Namespace) -> int:
    checked = keys_and_receipt(args)
    if isinstance(checked, int):
        return checked
    keys, receipt = checked
    try:
        from ..report import write_report
    except ImportError as exc:
        error(str(exc))
        return EXIT_ERROR
    try:
        summary = write_report(
            args.log,
            args.output,
            since=args.since,
            until=args.until,
            public_key=keys or None,
            checkpoint=receipt,
        )
    except (AuditError, ValueError, ImportError) as exc:
        error(str(exc))
        return EXIT_ERROR
    state = "verified" if summary.ok else "NOT VERIFIED"
    print(f"{args.output}: report on {records(summary.stats.counted, grouped=True)}, chain {state}")
    return _verdict(summary)


def run_stats(args: argparse.Namespace) -> int:
    checked = keys_and_receipt(args)
    if isinstance(checked, int):
        return checked
    keys, receipt = checked
    try:
        summary = collect_stats(
            args.log,
            since=args.since,
            until=args.until,
            public_key=keys or None,
            checkpoint=receipt,
        )
    except (AuditError, ValueError, ImportError) as exc:
        error(str(exc))
        return EXIT_ERROR
    if args.format == "json":
        print(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
    else:
        for line in _text(summary):
            print(line)
    return _verdict(summary)


def _text(summary: AuditSummary) -> list[str]:
    stats = summary.stats
    integrity = summary.integrity
    head = f"{summary.source}: chain verified" if summary.ok else str(integrity)
    lines = [head if not summary.ok else f"{head}: {records(integrity.count, grouped=True)}"]
    if stats.signed or integrity.signatures_checked:
        checked = "checked" if integrity.signatures_checked else "not checked (give --key)"
        lines.append(f"  signatures: {stats.signed:,} signed, {checked}")
    if summary.checkpoint is not None:
        held = summary.checkpoint
        lines.append(f"  checkpoint: {held.origin}, {held.size} records, holds" if held.ok
                     else f"  checkpoint: NOT HELD: {held}")  # fmt: skip
    if stats.since or stats.until:
        lines.append(f"window: {stats.counted:,} of {records(stats.read, grouped=True)}")
    if stats.first and stats.last:
        lines.append(f"time span: {stats.first:%Y-%m-%dT%H:%M:%SZ} .. "
                     f"{stats.last:%Y-%m-%dT%H:%M:%SZ}")  # fmt: skip
    allow, deny, invalid = stats.kinds
    lines.append(f"decisions: {allow:,} allow, {deny:,} deny, {invalid:,} invalid")
    if stats.outcomes:
        told = ", ".join(f"{count:,} {name}" for name, count in sorted(stats.outcomes.items()))
        lines.append(f"outcomes: {told}")
    sections: list[tuple[str, Tally]] = [
        ("determining rules", stats.rules),
        ("organisations", stats.organizations),
        ("obligations", stats.obligations),
        ("error codes", stats.errors),
        ("writers", stats.writers),
    ]
    for title, tally in sections:
        rows = [(str(key), entry.counts) for key, entry in tally.top()]
        if tally.other.total:
            rows.append(("(other)", tally.other.counts))
        lines += _section(title, rows)
    tree = [("  " * depth + name, e.counts) for name, depth, e in purpose_tree(stats.purposes)]
    lines += _section("purposes", tree)
    denies = [(key[0], e.counts) for key, e in stats.denies.top()]
    explained = _section("denies (rule or error code, then its reason; reference)", denies)
    lines += explained[:1]
    for line, (key, _) in zip(explained[1:], stats.denies.top(), strict=True):
        lines.append(line)
        lines.append(f"      {escape(key[1])}" + (f"; {escape(key[2])}" if key[2] else ""))
    return lines


def _section(title: str, rows: list[tuple[str, list[int]]]) -> list[str]:
    """A titled list of labels and counts; labels escaped, line feeds too (a value from
    the log must not start a line of its own)."""
    if not rows:
        return []
    rows = [(escape(label), counts) for label, counts in rows]
    width = min(max(len(label) for label, _ in rows), 60)
    out = [f"{title}:"]
    for label, counts in rows:
        parts = [f"{count:,} {kind}" for kind, count in zip(KINDS, counts, strict=True) if count]
        out.append(f"  {label.ljust(width)}  {', '.join(parts)}")
    return out
