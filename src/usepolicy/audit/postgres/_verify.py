"""Checking the PostgreSQL audit store.

``verify_db`` reads every writer's chain in ``seq`` order from one snapshot of the
database and checks each row as ``verify_log`` checks a line (canonical JSON, digest,
chain, signature), and more: ``seq`` runs 1, 2, 3 ... with no gap, and the query
columns agree with the record. It names the first bad row of each writer as
``(writer, seq)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from ..._errors import AuditError
from ...record import AnyRecord
from .._verify import (
    PublicKey,
    _anchor_problem,
    _read_line,
    _signature_problem,
    _verifiers,
)
from ._schema import (
    COLUMNS,
    connect,
    display_url,
    read_columns,
    require_psycopg,
    row_values,
    why,
)

__all__ = ["DbVerifyResult", "WriterResult", "verify_db"]

_BATCH: Final = 2000


@dataclass(frozen=True, slots=True)
class WriterResult:
    """The verdict on one writer's chain.

    Attributes:
        writer: the writer id.
        count: good records before the first bad row (all records when ``ok``).
        head: ``record_digest`` of the last good record (an anchor to keep elsewhere).
        signed: how many of the good records carry a signature.
        seq: the first bad row's ``seq``, None when ``ok``.
        problem: its problem code (a key of ``PROBLEMS``), None when ``ok``.
        message: what is wrong there, in words.
    """

    writer: str
    count: int = 0
    head: str | None = None
    signed: int = 0
    seq: int | None = None
    problem: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class DbVerifyResult:
    """The verdict on a database: one ``WriterResult`` per writer, by writer id."""

    url: str
    writers: tuple[WriterResult, ...] = ()
    signatures_checked: bool = False

    @property
    def ok(self) -> bool:
        return all(w.ok for w in self.writers)

    @property
    def count(self) -> int:
        return sum(w.count for w in self.writers)

    @property
    def first_bad(self) -> WriterResult | None:
        return next((w for w in self.writers if not w.ok), None)

    def __str__(self) -> str:
        bad = self.first_bad
        if bad is None:
            return f"{self.url}: ok: {len(self.writers)} writers, {self.count} records"
        return f"{self.url}: writer `{bad.writer}` seq {bad.seq}: {bad.problem}: {bad.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "count": self.count,
            "signatures_checked": self.signatures_checked,
            "writers": [{**asdict(w), "ok": w.ok} for w in self.writers],
        }


def rows(conn: Any, writer: str | None, columns: str = ", ".join(COLUMNS)) -> Iterator[Any]:
    """Rows in (writer_id, seq) order, streamed through a server-side cursor."""
    where, params = ("WHERE writer_id = %s", (writer,)) if writer is not None else ("", ())
    query = f"SELECT {columns} FROM usepolicy_decisions {where} ORDER BY writer_id, seq"  # noqa: S608
    with conn.cursor(name="usepolicy_read") as cursor:
        cursor.itersize = _BATCH
        cursor.execute(query, params)
        yield from cursor


class _Chain:
    """The state of one writer's chain while its rows stream past."""

    def __init__(self, writer: str) -> None:
        self.result = WriterResult(writer)
        self.head: str | None = None
        self.seq = 0
        self.anchor_seq: int | None = None
        self.broken = False

    def fail(self, seq: int, problem: str, message: str) -> None:
        count = self.result.count
        message = f"{message} ({count} good record{'' if count == 1 else 's'} before it)"
        self.result = replace(self.result, seq=seq, problem=problem, message=message)
        self.broken = True


def _check_row(
    chain: _Chain,
    row: tuple[Any, ...],
    verifiers: dict[str, Any],
    expect_head: str | None,
    visit: Callable[[str, int, AnyRecord], object] | None = None,
) -> AnyRecord | None:
    """Check one row and move the chain on. Returns the row's record when it does not
    chain to the row before (the caller then diagnoses); on any other problem, marks
    the chain broken."""
    writer, seq, text = row[0], row[1], row[4]
    expected = chain.seq + 1
    record, problem, message = _read_line(text.encode("utf-8"))
    if record is None:
        chain.fail(seq, problem, message)
        return None
    if seq != expected and record.prev_digest != chain.head:
        span = f"seq {expected}" if seq == expected + 1 else f"seq {expected}-{seq - 1}"
        chain.fail(expected, "deleted", f"{span} missing: records were deleted")
        return None
    if seq != expected:
        chain.fail(seq, "edited", f"seq jumps from {chain.seq} to {seq}, though the record "
                   f"chains to seq {chain.seq}: the seq column was changed")  # fmt: skip
        return None
    if record.prev_digest != chain.head:
        chain.broken = True
        return record
    derived = row_values(writer, seq, record.to_dict(), text)
    for name, stored, truth in zip(COLUMNS, row, derived, strict=True):
        if stored != truth:
            chain.fail(seq, "edited", f"column `{name}` does not match the record")
            return None
    if verifiers:
        problem, message = _signature_problem(record, verifiers)
        if problem:
            chain.fail(seq, problem, message)
            return None
    chain.head, chain.seq = record.record_digest, seq
    chain.result = replace(
        chain.result,
        count=chain.result.count + 1,
        head=record.record_digest,
        signed=chain.result.signed + (record.signature is not None),
    )
    if record.record_digest == expect_head:
        chain.anchor_seq = seq
    if visit is not None:
        visit(writer, seq, record)
    return None


def _diagnose(conn: Any, chain: _Chain, seq: int, record: AnyRecord) -> None:
    """Say how the chain broke at ``seq`` (the row does not chain to the one before)."""
    digests: dict[str, int] = {}  # record_digest -> seq
    prevs: dict[int, str | None] = {}
    heads: dict[int, str] = {}
    for row in rows(conn, chain.result.writer, "seq, prev_digest, record_digest"):
        digests.setdefault(row[2], row[0])
        prevs[row[0]] = row[1]
        heads[row[0]] = row[2]
    before = "the start of the chain" if seq == 1 else f"seq {seq - 1}"
    target = 0 if record.prev_digest is None else digests.get(record.prev_digest)
    if target is not None and target > seq:
        chain.fail(seq, "reordered", f"this record chains to seq {target}, which comes after it")
        return
    resumes = next((k for k, p in sorted(prevs.items()) if k > seq and p == chain.head), None)
    if resumes is not None:
        span = f"seq {seq}" if resumes == seq + 1 else f"seq {seq}-{resumes - 1}"
        chain.fail(seq, "inserted", f"{span} not in the chain: seq {resumes} follows {before}")
        return
    if target is not None and target < seq - 1:
        span = f"seq {target + 1}" if target + 1 == seq - 1 else f"seq {target + 1}-{seq - 1}"
        follows = f"seq {target}" if target else "the start of the chain"
        chain.result = replace(chain.result, count=target, head=heads.get(target))
        chain.fail(target + 1, "inserted", f"{span} not in the chain: seq {seq} follows {follows}")
        return
    if seq == 1:
        chain.fail(1, "deleted", "the first record chains to a record not in the database: "
                   "records were deleted from the start")  # fmt: skip
        return
    chain.fail(seq, "deleted", f"the record before it is missing: a record after {before} was "
               f"deleted (or {before} was edited and its digest recomputed)")  # fmt: skip


def verify_db(
    url: str,
    writer: str | None = None,
    public_key: PublicKey | Sequence[PublicKey] | None = None,
    *,
    expect_head: str | None = None,
    expect_count: int | None = None,
    timeout: float = 60.0,
    visit: Callable[[str, int, AnyRecord], object] | None = None,
) -> DbVerifyResult:
    """Check every writer's chain in the database (or one writer's).

    Args:
        url: the database.
        writer: check only this writer's chain.
        public_key: a ``Verifier`` or public key file (or several): every record must
            carry a good signature by one of them.
        expect_head, expect_count: an anchor kept elsewhere (with ``writer`` only): as
            for ``verify_log``.
        visit: called with (writer, seq, record) for each row that passed its checks,
            as the rows stream past (as for ``verify_log``).

    Returns:
        The verdict, naming each writer's first bad row.

    Raises:
        AuditError: the database cannot be read, or ``writer`` has no records.
        ValueError: an anchor without ``writer``.
    """
    if (expect_head is not None or expect_count is not None) and writer is None:
        raise ValueError("an anchor (expected head or count) is one writer's: give the writer")
    psycopg = require_psycopg()
    verifiers = _verifiers(public_key)
    chains: list[_Chain] = []
    with connect(url, timeout=timeout, application_name="usepolicy verify") as conn:
        try:
            with conn.transaction():
                # one consistent snapshot of every chain, however long the read takes
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                breaks: list[tuple[_Chain, int, AnyRecord]] = []
                for row in rows(conn, writer, read_columns(conn)):
                    if not chains or row[0] != chains[-1].result.writer:
                        chains.append(_Chain(row[0]))
                    chain = chains[-1]
                    if chain.broken:
                        continue
                    record = _check_row(chain, row, verifiers, expect_head, visit)
                    if record is not None:
                        breaks.append((chain, row[1], record))
                for chain, seq, record in breaks:
                    _diagnose(conn, chain, seq, record)
        except psycopg.Error as exc:
            raise AuditError(
                f"{display_url(url)}: cannot read the audit table: {why(exc)}"
            ) from exc
    if writer is not None and not chains:
        raise AuditError(f"{display_url(url)}: no records of writer `{writer}`")
    return DbVerifyResult(
        display_url(url),
        tuple(_finish(chain, expect_head, expect_count) for chain in chains),
        signatures_checked=bool(verifiers),
    )


def _finish(chain: _Chain, expect_head: str | None, expect_count: int | None) -> WriterResult:
    if not chain.broken:
        problem, message = _anchor_problem(
            chain.result.count, chain.anchor_seq, expect_head, expect_count
        )
        if problem:
            message = message.replace("the log", "the chain").replace("is record ", "is seq ")
            message = message.replace("not record ", "not seq ")
            return replace(chain.result, seq=chain.seq + 1, problem=problem, message=message)
    return chain.result
