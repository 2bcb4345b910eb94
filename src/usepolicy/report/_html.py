"""The audit report page: one HTML file holding its charts, styles and script.

Everything a log says is escaped by the template engine (autoescaping): a log is
evidence, and may have been written by someone who wants the page to lie. The page's
Content Security Policy allows only its own inline script (by hash) and inline styles,
so a browser that opens it fetches nothing, whatever the log holds.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import jinja2

from .._errors import AuditError
from .._version import __version__
from ..audit import (
    KINDS,
    PROBLEMS,
    AuditSummary,
    PublicKey,
    Tally,
    VerifyResult,
    collect_stats,
)
from ._charts import charts

if TYPE_CHECKING:
    from ..audit import CheckpointVerdict, DbVerifyResult

__all__ = ["render_report", "write_report"]

_STATIC: Final = resources.files(__package__) / "_static"


@dataclass(frozen=True)
class _Line:
    text: str
    bad: bool = False


def _n(count: int) -> str:
    return f"{count:,}"


def _records(count: int) -> str:
    return f"{count:,} record{'' if count == 1 else 's'}"


def _file_integrity(result: VerifyResult, read: int) -> tuple[str, list[_Line]]:
    if result.ok:
        verdict = f"Chain verified: {_records(result.count)}, each chained to the one before"
        lines = [_Line(f"Head (last record's digest): {result.head}")]
    else:
        verdict = f"NOT VERIFIED: line {result.line}: {result.problem}"
        lines = [
            _Line(f"Line {result.line} of the log: {result.problem}: {result.message}", True),
            _Line(f"{result.problem}: {PROBLEMS.get(result.problem or '', '')}", True),
        ]
        if read:
            lines.append(_Line(_coverage(read, result.count, "line"), True))
    lines += _signature_lines(result.signatures_checked, result.signed, result.count, result.ok)
    for name in result.torn_files:
        lines.append(_Line(f"Torn tail set aside beside the log: {name}"))
    return verdict, lines


def _coverage(read: int, good: int, unit: str) -> str:
    text = f"The figures below count the {_records(read)} read before the break was found"
    if read > good:
        text += f"; {unit}s {good + 1}-{read} among them are not part of the chain"
    return text + "; nothing after it is counted."


def _db_integrity(result: DbVerifyResult) -> tuple[str, list[_Line]]:
    bad = [w for w in result.writers if not w.ok]
    writers = f"{len(result.writers)} writer{'' if len(result.writers) == 1 else 's'}"
    if not bad:
        verdict = f"Chains verified: {writers}, {_records(result.count)}"
    else:
        first = bad[0]
        verdict = f"NOT VERIFIED: writer {first.writer} seq {first.seq}: {first.problem}"
    lines = []
    for writer in result.writers:
        if writer.ok:
            lines.append(_Line(f"Writer {writer.writer}: {_records(writer.count)}, "
                               f"head {writer.head}"))  # fmt: skip
        else:
            lines.append(_Line(f"Writer {writer.writer}, seq {writer.seq}: {writer.problem}: "
                               f"{writer.message}", True))  # fmt: skip
    signed = sum(w.signed for w in result.writers)
    lines += _signature_lines(result.signatures_checked, signed, result.count, result.ok)
    return verdict, lines


def _signature_lines(checked: bool, signed: int, count: int, ok: bool) -> list[_Line]:
    if checked:
        text = "Signatures: checked with the key given"
        return [_Line(text + (f": all {_n(count)} good" if ok else f"; {_n(signed)} good"))]
    if signed:
        return [_Line(f"Signatures: {_n(signed)} of {_records(count)} signed, not checked "
                      "(give --key)")]  # fmt: skip
    return [_Line("Signatures: the records are not signed")]


def _checkpoint_verdict(checkpoint: CheckpointVerdict) -> str:
    where = f"record {checkpoint.line}: " if checkpoint.line is not None else ""
    return f"{where}{checkpoint.problem}: the log does not hold the checkpoint's records"


def _checkpoint_lines(checkpoint: CheckpointVerdict) -> list[_Line]:
    if not checkpoint.ok:
        where = f"record {checkpoint.line}: " if checkpoint.line is not None else ""
        return [_Line(f"Checkpoint: {where}{checkpoint.problem}: {checkpoint.message}", True)]
    lines = [
        _Line(f"Checkpoint: {checkpoint.origin}, {_records(checkpoint.size or 0)}, root "
              f"{checkpoint.root_hash}: signed by the log's key; the log holds those "
              "records unchanged, so none was cut off the end before it"),
    ]  # fmt: skip
    if checkpoint.witnesses:
        names = ", ".join(checkpoint.witnesses)
        lines.append(_Line(f"Cosigned by {len(checkpoint.witnesses)} witness(es): {names}"))
    return lines


def _facts(summary: AuditSummary) -> list[tuple[str, str]]:
    stats = summary.stats
    facts = [("Source", summary.source)]
    if stats.since or stats.until:
        since = stats.since.isoformat() if stats.since else "the start"
        until = stats.until.isoformat() if stats.until else "the end"
        facts.append(("Window", f"from {since} until {until} (UTC): "
                                f"{_n(stats.counted)} of {_records(stats.read)} read"))  # fmt: skip
    if stats.first and stats.last:
        span = f"{stats.first:%Y-%m-%d %H:%M:%S} to {stats.last:%Y-%m-%d %H:%M:%S} UTC"
        length = timedelta(seconds=int((stats.last - stats.first).total_seconds()))
        facts.append(("Time span", f"{span} ({length})"))
    allow, deny, invalid = stats.kinds
    facts.append(("Records", f"{_n(stats.counted)}: {_n(allow)} allowed, {_n(deny)} denied "
                             f"by policy, {_n(invalid)} invalid requests (denied)"))  # fmt: skip
    if stats.outcomes:  # a gateway's log: what happened after its allowed decisions
        said = ", ".join(f"{_n(n)} {name}" for name, n in sorted(stats.outcomes.items()))
        facts.append(("Outcomes", f"{_records(sum(stats.outcomes.values()))}: {said}"))
    if not isinstance(summary.integrity, VerifyResult):  # a PostgreSQL store's
        names = ", ".join(f"{w.writer} ({_n(w.count)})" for w in summary.integrity.writers)
        facts.append(("Writers", names or "none"))
    else:
        facts.append(("Writers", "one file log: one chain (writers are not named in a file)"))
    if stats.bad_times:
        facts.append(("Unreadable times", f"{_records(stats.bad_times)} (not in the timeline)"))
    return facts


def _named(tally: Tally, *names: str) -> list[dict[str, Any]]:
    out = []
    for key, entry in tally.top():
        values = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(names, values, strict=True))
        row.update(zip(KINDS, map(_n, entry.counts), strict=True))
        row.update(total=_n(entry.total), first=entry.first, last=entry.last)
        row["example"] = entry.example
        out.append(row)
    if tally.other.total:
        other = tally.other
        row = dict.fromkeys(names, "")
        row[names[0]] = f"(other: more than {tally.cap:,} distinct)"
        row.update(zip(KINDS, map(_n, other.counts), strict=True))
        row.update(total=_n(other.total), first=other.first, last=other.last, example=None)
        out.append(row)
    return out


def _table(summary: AuditSummary) -> dict[str, Any]:
    stats = summary.stats
    where = "line" if isinstance(summary.integrity, VerifyResult) else "writer:seq"
    rows: list[dict[str, Any]] = []
    if stats.rows is not None:
        headings = [(where, True), ("time (UTC)", False), ("decision", False),
                    ("rule or error", False), ("organisation", False),
                    ("purpose", False)]  # fmt: skip
        for line, time, kind, rule, org, purpose in stats.rows:
            cells = [(line, True), (time, False), (kind, False), (rule, False), (org, False),
                     (purpose, False)]  # fmt: skip
            rows.append({"decision": kind, "rule": rule, "org": org, "purpose": purpose,
                         "count": None, "cells": cells})  # fmt: skip
        note = f"Every record counted: {_records(len(rows))}."
        decision_column = 2
    else:
        headings = [("records", True), ("decision", False), ("rule or error", False),
                    ("organisation", False), ("purpose", False), (f"first {where}", True),
                    (f"last {where}", True)]  # fmt: skip
        for (kind, rule, org, purpose), entry in stats.groups.top():
            cells = [(_n(entry.total), True), (kind, False), (rule, False), (org, False),
                     (purpose, False), (entry.first, True), (entry.last, True)]  # fmt: skip
            rows.append({"decision": kind, "rule": rule, "org": org, "purpose": purpose,
                         "count": entry.total, "cells": cells})  # fmt: skip
        note = (
            f"{_records(stats.counted)} are too many for one row each: one row per "
            "decision, rule, organisation and purpose, with the count and the first "
            f"and last {where}. `usepolicy audit show` lists the records themselves."
        )
        if stats.groups.other.total:
            note += (
                f" {_records(stats.groups.other.total)} in groups beyond the first "
                f"{stats.groups.cap:,} are not in the table."
            )
        decision_column = 1
    filters = [
        (name, label, sorted({row[name] for row in rows}))
        for name, label in (("decision", "decision"), ("rule", "rule or error"),
                            ("org", "organisation"), ("purpose", "purpose"))
    ]  # fmt: skip
    return {"headings": headings, "rows": rows, "note": note, "filters": filters,
            "decision_column": decision_column}  # fmt: skip


def _hash(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def render_report(summary: AuditSummary, *, generated: datetime | None = None) -> str:
    """The report page for a log's summary (``collect_stats``), as HTML text."""
    if not isinstance(summary.integrity, VerifyResult):  # a PostgreSQL store's
        verdict, lines = _db_integrity(summary.integrity)
    else:
        verdict, lines = _file_integrity(summary.integrity, summary.stats.read)
    if summary.checkpoint is None:
        lines.append(_Line("End of the log: not anchored. Records cut off the end cannot be "
                           "seen from the log alone: keep a signed checkpoint (`usepolicy "
                           "audit checkpoint`) and give it with --checkpoint."))  # fmt: skip
    else:
        if summary.integrity.ok and not summary.checkpoint.ok:
            verdict = f"NOT VERIFIED: {_checkpoint_verdict(summary.checkpoint)}"
        lines += _checkpoint_lines(summary.checkpoint)
    script = (_STATIC / "report.js").read_text("utf-8")
    csp = (
        f"default-src 'none'; script-src 'sha256-{_hash(script)}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string((_STATIC / "report.html.j2").read_text("utf-8"))
    stats = summary.stats
    return template.render(
        csp=csp,
        version=__version__,
        source=summary.source,
        generated=(generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC"),
        style=(_STATIC / "report.css").read_text("utf-8"),
        script=script,
        integrity={"ok": summary.ok, "verdict": verdict, "lines": lines},
        facts=_facts(summary),
        policies=_named(stats.policies, "name", "version", "digest"),
        charts=charts(stats),
        window=bool(stats.since or stats.until),
        latency="Latency: decision records carry no timing, so there is no latency chart.",
        denies=_named(stats.denies, "rule", "reason", "reference"),
        table=_table(summary),
    )


def write_report(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    public_key: PublicKey | Sequence[PublicKey] | None = None,
    max_rows: int = 5000,
    checkpoint: CheckpointVerdict | None = None,
) -> AuditSummary:
    """Verify a log, count what it holds (one pass) and write the report page.

    Args:
        source: a log file or a PostgreSQL audit store URL.
        output: the HTML file to write (replaced whole, never left half-written).
        since, until, public_key, max_rows, checkpoint: as for ``collect_stats``.

    Returns:
        The summary the page shows; ``summary.ok`` is whether the log verified.

    Raises:
        AuditError: the log cannot be read, or the report cannot be written.
    """
    summary = collect_stats(
        source,
        since=since,
        until=until,
        public_key=public_key,
        max_rows=max_rows,
        checkpoint=checkpoint,
    )
    page = render_report(summary)
    path = Path(output)
    temp = path.with_name(f".{path.name}.partial")
    try:
        temp.write_text(page, "utf-8")
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise AuditError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return summary
