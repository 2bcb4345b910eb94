"""Reading the PostgreSQL audit store out: exporting chains as file logs, and queries.

``export_db`` writes a writer's chain, row by row, as a JSON Lines audit log: the rows
hold the exact lines the file log would, so ``verify_log`` accepts the export.
``query_db`` lists records by the indexed columns, for ``usepolicy audit show``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Final

from ..._errors import AuditError
from ...record import AnyRecord
from .._filter import RecordFilter
from .._verify import _read_line
from ._schema import connect, display_url, require_psycopg, why
from ._verify import rows

__all__ = ["export_db", "query_db", "writers"]

_BATCH: Final = 2000


def writers(url: str, *, timeout: float = 60.0) -> list[str]:
    """The writer ids in the database, sorted."""
    psycopg = require_psycopg()
    with connect(url, timeout=timeout, application_name="usepolicy") as conn:
        try:
            found = conn.execute(
                "SELECT DISTINCT writer_id FROM usepolicy_decisions ORDER BY writer_id"
            ).fetchall()
        except psycopg.Error as exc:
            raise AuditError(
                f"{display_url(url)}: cannot read the audit table: {why(exc)}"
            ) from exc
    return [row[0] for row in found]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def export_db(
    url: str, output: str | os.PathLike[str], writer: str | None = None, *, timeout: float = 60.0
) -> list[tuple[str, Path, int]]:
    """Write writers' chains as JSON Lines audit logs that ``verify_log`` accepts.

    Each row's ``record`` becomes one line, in ``seq`` order: the export holds the
    stored records byte for byte, so its digests are the database's.

    Args:
        url: the database.
        output: the file to write. With several writers and no ``writer``, it must
            contain ``{writer}``, replaced by each writer id (characters other than
            letters, digits, ``.``, ``_`` and ``-`` become ``_``).
        writer: export only this writer's chain.

    Returns:
        (writer, file, records) for each file written.

    Raises:
        AuditError: the database cannot be read, or holds no such writer.
        ValueError: several writers but no ``{writer}`` in ``output``.
    """
    chosen = [writer] if writer is not None else writers(url, timeout=timeout)
    if not chosen:
        raise AuditError(f"{display_url(url)}: no records to export")
    pattern = os.fspath(output)
    if len(chosen) > 1 and "{writer}" not in pattern:
        raise ValueError(
            f"the database holds {len(chosen)} writers and each is its own chain: give "
            "a writer, or put {writer} in the output file name"
        )
    psycopg = require_psycopg()
    written: list[tuple[str, Path, int]] = []
    with connect(url, timeout=timeout, application_name="usepolicy export") as conn:
        for name in chosen:
            path = Path(pattern.replace("{writer}", _UNSAFE.sub("_", name)))
            temp = path.with_name(f".{path.name}.partial")
            count = 0
            try:
                with conn.transaction(), open(temp, "wb") as out:
                    for (text,) in rows(conn, name, "record"):
                        out.write(text.encode("utf-8") + b"\n")
                        count += 1
                    out.flush()
                    os.fsync(out.fileno())
            except psycopg.Error as exc:
                temp.unlink(missing_ok=True)
                raise AuditError(f"{display_url(url)}: cannot export: {why(exc)}") from exc
            except OSError as exc:
                temp.unlink(missing_ok=True)
                raise AuditError(f"{path}: cannot write: {exc.strerror or exc}") from exc
            if count == 0:
                temp.unlink(missing_ok=True)
                raise AuditError(f"{display_url(url)}: no records of writer `{name}`")
            os.replace(temp, path)
            written.append((name, path, count))
    return written


def query_db(
    url: str,
    *,
    decision: str | None = None,
    rule: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    writer: str | None = None,
    purpose: str | None = None,
    organization: str | None = None,
    kind: str | None = None,
    outcome: str | None = None,
    decision_id: str | None = None,
    timeout: float = 60.0,
) -> tuple[int, Iterator[tuple[str, int, AnyRecord]]]:
    """The total number of rows, and the (writer, seq, record) of the rows that match,
    in time order. Each row is read as ``audit show`` reads a log line (canonical JSON
    of a record whose digest holds); the chains are not checked: use ``verify_db``.

    The filters are a ``RecordFilter`` (the one ``audit show`` applies to a log file):
    ``rule`` matches the determining rule or any matched rule; the others use the
    indexed columns. Each row is tested again on its record.

    Raises:
        AuditError: the table cannot be read, or (while iterating) a row is not a good
            record: ``URL: writer `ID` seq N: code: message``.
    """
    chosen = RecordFilter(
        decision, rule, since, until, purpose, organization, kind, outcome, decision_id
    )
    conditions, params = chosen.sql()
    if writer is not None:
        conditions.append("writer_id = %s")
        params.append(writer)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    query = (
        f"SELECT writer_id, seq, record FROM usepolicy_decisions {where} "  # noqa: S608
        "ORDER BY ts, writer_id, seq"
    )
    psycopg = require_psycopg()
    conn = connect(url, timeout=timeout, application_name="usepolicy show")
    try:
        row = conn.execute("SELECT count(*) FROM usepolicy_decisions").fetchone()
        total = int(row[0]) if row else 0
    except psycopg.Error as exc:
        conn.close()
        raise AuditError(f"{display_url(url)}: cannot read the audit table: {why(exc)}") from exc

    def matching() -> Iterator[tuple[str, int, AnyRecord]]:
        try:
            with conn, conn.transaction(), conn.cursor(name="usepolicy_show") as cursor:
                cursor.itersize = _BATCH
                cursor.execute(query, params)
                for writer_id, seq, text in cursor:
                    record, problem, message = _read_line(text.encode("utf-8"))
                    if record is None:
                        where = f"{display_url(url)}: writer `{writer_id}` seq {seq}"
                        raise AuditError(f"{where}: {problem}: {message}")
                    if chosen.matches(record):  # the test file logs get, on the record
                        yield writer_id, seq, record
        except psycopg.Error as exc:
            raise AuditError(
                f"{display_url(url)}: cannot read the audit table: {why(exc)}"
            ) from exc

    return total, matching()
