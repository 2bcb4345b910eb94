"""Each writer chain of the PostgreSQL store as a transparency log.

The tree hashes are in ``usepolicy_tree``, kept by a trigger in the transaction that
inserts each record (schema migration 2), rather than computed when read: a checkpoint
of a chain of a million records then reads ``popcount(n)`` rows instead of the whole
chain, a proof ``O(log n)`` rows, and any insert path (the sink's, a future bulk COPY,
a replayed spool) keeps the tree without help from Python. Leaf ``i`` is the record at
``seq i + 1``. Everything reads one ``REPEATABLE READ`` snapshot, so a checkpoint's
size and root agree while gateways go on appending.

``verify_checkpoint_db`` re-hashes every record of the chain up to the checkpoint's
size; the tree table only names the first changed record, and only if it reproduces
the signed root.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from ..._errors import AuditError
from ...tlog import (
    Checkpoint,
    ConsistencyProof,
    InclusionProof,
    Node,
    Note,
    NoteSigner,
    NoteVerifier,
    ProofError,
    compare_leaves,
    leaf_hash,
    prove_consistency,
    prove_inclusion,
    tree_hash,
)
from .._logtree import CheckpointVerdict, open_or_verdict, with_mismatch
from ._read import writers
from ._schema import connect, display_url, require_psycopg, why

__all__ = [
    "DbTree",
    "checkpoint_db",
    "find_decision_db",
    "prove_consistency_db",
    "prove_inclusion_db",
    "verify_checkpoint_db",
]

_BATCH: Final = 5000


class DbTree:
    """One writer's tree hashes in ``usepolicy_tree`` (a ``HashReader``), in a snapshot."""

    name = "the database's usepolicy_tree table"

    def __init__(self, conn: Any, writer: str) -> None:
        self._conn = conn
        self.writer = writer
        row = conn.execute(
            "SELECT coalesce(max(idx) + 1, 0) FROM usepolicy_tree WHERE writer_id = %s "
            "AND level = 0",
            (writer,),
        ).fetchone()
        self.size = int(row[0])

    def read_hashes(self, nodes: Sequence[Node]) -> list[bytes]:
        if not nodes:
            return []
        found = {
            (int(level), int(idx)): bytes(value)
            for level, idx, value in self._conn.execute(
                "SELECT t.level, t.idx, t.hash FROM usepolicy_tree t "
                "JOIN unnest(%s::smallint[], %s::bigint[]) AS n(level, idx) "
                "ON t.level = n.level AND t.idx = n.idx WHERE t.writer_id = %s",
                ([level for level, _ in nodes], [k for _, k in nodes], self.writer),
            )
        }
        missing = [node for node in nodes if node not in found]
        if missing:
            raise AuditError(
                f"writer `{self.writer}`: the tree lacks node {missing[0]}: "
                "was the chain written with the tree trigger switched off?"
            )
        return [found[node] for node in nodes]

    def leaf_hashes(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        stop = self.size if stop is None else stop
        with self._conn.cursor(name="usepolicy_tree_leaves") as cursor:
            cursor.itersize = _BATCH
            cursor.execute(
                "SELECT hash FROM usepolicy_tree WHERE writer_id = %s AND level = 0 "
                "AND idx >= %s AND idx < %s ORDER BY idx",
                (self.writer, start, stop),
            )
            for (value,) in cursor:
                yield bytes(value)


@contextmanager
def _snapshot(url: str, name: str) -> Iterator[Any]:
    """A read-only REPEATABLE READ transaction; database errors become ``AuditError``."""
    psycopg = require_psycopg()
    with connect(url, timeout=60.0, application_name=f"usepolicy {name}") as conn:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield conn
        except psycopg.Error as exc:
            where = display_url(url)
            raise AuditError(f"{where}: cannot read the audit tables: {why(exc)}") from exc


def _writer(url: str, writer: str | None) -> str:
    if writer is not None:
        return writer
    found = writers(url)
    if len(found) != 1:
        raise AuditError(
            f"{display_url(url)}: each writer's chain is its own log, and there are "
            f"{len(found)}: give the writer (--writer ID)"
        )
    return found[0]


def _size(conn: Any, url: str, writer: str) -> int:
    row = conn.execute(
        "SELECT coalesce(max(seq), 0) FROM usepolicy_decisions WHERE writer_id = %s", (writer,)
    ).fetchone()
    if not row or not row[0]:
        raise AuditError(f"{display_url(url)}: no records of writer `{writer}`")
    return int(row[0])


def checkpoint_db(
    url: str, writer: str | None, signer: NoteSigner, origin: str | None = None
) -> Note:
    """A signed checkpoint of one writer's chain.

    ``origin`` defaults to ``<key name>/<writer>``: each chain is its own log.

    Raises:
        AuditError: the database cannot be read, or the writer has no records.
    """
    writer = _writer(url, writer)
    with _snapshot(url, "checkpoint") as conn:
        size = _size(conn, url, writer)
        root = tree_hash(size, DbTree(conn, writer))
    return Checkpoint(origin or f"{signer.name}/{writer}", size, root).sign(signer)


def find_decision_db(url: str, writer: str | None, decision_id: str) -> list[tuple[str, int]]:
    """The (writer, 0-based index) of each decision record with this ``decision_id``
    (its outcome records share the id, but the decision is what is asked for)."""
    query = (
        "SELECT writer_id, seq FROM usepolicy_decisions WHERE decision_id = %s AND outcome IS NULL"
    )
    params: tuple[Any, ...] = (decision_id,)
    if writer is not None:
        query, params = query + " AND writer_id = %s", (decision_id, writer)
    with _snapshot(url, "prove") as conn:
        rows = conn.execute(query + " ORDER BY writer_id, seq", params).fetchall()
    return [(str(w), int(seq) - 1) for w, seq in rows]


def prove_inclusion_db(
    url: str, writer: str | None, index: int, size: int | None = None
) -> InclusionProof:
    """The proof that record ``index`` (seq ``index + 1``) is in the writer's tree of
    ``size`` records (default: the whole chain)."""
    writer = _writer(url, writer)
    with _snapshot(url, "prove") as conn:
        size = _size(conn, url, writer) if size is None else size
        try:
            return prove_inclusion(index, size, DbTree(conn, writer))
        except ProofError as exc:
            raise AuditError(f"{display_url(url)}: writer `{writer}`: {exc}") from None


def prove_consistency_db(
    url: str, writer: str | None, old: int, new: int | None = None
) -> ConsistencyProof:
    """The proof that the writer's first ``old`` records are a prefix of its first ``new``."""
    writer = _writer(url, writer)
    with _snapshot(url, "prove") as conn:
        size = _size(conn, url, writer)
        new = size if new is None else new
        if new > size:
            raise AuditError(f"{display_url(url)}: writer `{writer}` has {size} records, not {new}")
        try:
            return prove_consistency(old, new, DbTree(conn, writer))
        except ProofError as exc:
            raise AuditError(f"{display_url(url)}: writer `{writer}`: {exc}") from None


def verify_checkpoint_db(
    url: str,
    writer: str | None,
    note: Note | bytes | str,
    log_key: NoteVerifier | Sequence[NoteVerifier],
    witnesses: Sequence[NoteVerifier] = (),
    *,
    min_witnesses: int = 0,
) -> CheckpointVerdict:
    """Check that a writer's chain holds, unchanged, the records a checkpoint covers
    (as ``verify_checkpoint`` does for a file; ``line`` is the record's seq)."""
    writer = _writer(url, writer)
    where = f"{display_url(url)} writer `{writer}`"
    checkpoint, verdict = open_or_verdict(where, note, log_key, witnesses, min_witnesses)
    if checkpoint is None:
        return verdict
    with _snapshot(url, "verify") as conn:

        def leaves() -> Iterator[bytes]:
            with conn.cursor(name="usepolicy_verify_leaves") as cursor:
                cursor.itersize = _BATCH
                cursor.execute(
                    "SELECT record FROM usepolicy_decisions WHERE writer_id = %s "
                    "ORDER BY seq LIMIT %s",
                    (writer, checkpoint.size),
                )
                for (text,) in cursor:
                    yield leaf_hash(text.encode("utf-8"))

        mismatch = compare_leaves(leaves, checkpoint, [DbTree(conn, writer)], what="seq")
    return with_mismatch(verdict, mismatch)
