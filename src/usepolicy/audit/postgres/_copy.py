"""A batch of records chained and stored as one ``COPY`` statement, its own transaction.

The connection is in autocommit mode, so the ``COPY`` is an implicit transaction: the
server commits it (with ``synchronous_commit`` on, after the WAL flush) before it
answers, and the answer is what ``copy_chained`` waits for. That is two round trips a
batch (the statement, then the rows and the end of the data) instead of four with an
explicit ``BEGIN`` and ``COMMIT``, and every round trip a busy gateway makes costs more
than the network: the thread that waited must win the GIL back from the threads that
are deciding (measured in ``benchmarks/bench_gateway.py``, docs/performance.md).

The rows are sealed one at a time as they are written: psycopg sends them in blocks of
32 KiB while the rest are sealed, so the server inserts the first ones (indexes, the
tree trigger) while Python chains the last ones. The batch is still one statement:
refused or failed at any row, or at its commit, none of it is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from ...record import Draft, Sealed
from ._schema import COLUMNS, row_values

if TYPE_CHECKING:
    from .._sign import Signer

__all__ = ["COPY", "copy_chained"]

#: the row triggers fire for ``COPY`` as for ``INSERT``: the tree trigger fills
#: ``usepolicy_tree`` (the column names are constants: no SQL is built from input)
COPY: Final = f"COPY usepolicy_decisions ({', '.join(COLUMNS)}) FROM STDIN"


def copy_chained(
    conn: Any,
    writer_id: str,
    seq: int,
    head: str | None,
    drafts: Sequence[Draft],
    signer: Signer | None = None,
) -> list[Sealed]:
    """Chain ``drafts`` after ``(seq, head)`` and store them as one committed ``COPY``.

    Returns the records as stored, once the server has committed them.

    Raises:
        psycopg.Error: the server refused the batch or its commit (none of it is stored).
        ValueError: the connection is not in autocommit mode (the ``COPY`` would not be
            committed when it returns), or a body has no canonical JSON form (nothing is
            stored: the ``COPY`` is abandoned).
    """
    if not conn.autocommit:
        raise ValueError("copy_chained needs an autocommit connection")
    stored: list[Sealed] = []
    with conn.cursor() as cursor, cursor.copy(COPY) as copy:
        for draft in drafts:
            sealed = draft.seal(head, signer)
            seq += 1
            head = sealed.digest
            copy.write_row(row_values(writer_id, seq, sealed.body, sealed.line.decode()))
            stored.append(sealed)
    return stored
