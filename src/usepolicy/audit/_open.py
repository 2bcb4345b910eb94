"""``open_sink``: one way to open the audit sink a target names, a log file or a
PostgreSQL database."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING

from .._errors import AuditError
from ._dburl import is_db_url
from ._filelog import AuditLog, Durability

if TYPE_CHECKING:
    from ._sign import Signer
    from .postgres import PostgresSink

__all__ = ["open_sink"]


def open_sink(
    target: str | os.PathLike[str],
    *,
    durability: Durability | None = None,
    signer: Signer | None = None,
    writer_id: str | None = None,
    spool: str | os.PathLike[str] | None = None,
    timeout: float = 10.0,
    rotate_bytes: int | None = None,
    rotate_every: timedelta | float | None = None,
) -> AuditLog | PostgresSink:
    """Open the audit sink at ``target``: a ``postgresql://`` (or ``postgres://``) URL
    is a ``PostgresSink``, anything else the path of an ``AuditLog``.

    Args:
        target: a log file, or a database URL.
        durability: for a log file (default ``"always"``); a database commit is always
            durable.
        signer: sign every record (``Signer``, extra ``[sign]``).
        writer_id: for a database: this writer's chain (required there).
        spool: for a database: where deny records wait while it is down.
        timeout: for a database: seconds for a connection or a statement.
        rotate_bytes, rotate_every: for a log file: start a new file by size or by
            time, the chain carried across files (``AuditLog``).

    Raises:
        AuditError: the log cannot be opened, or the database cannot be reached and
            there is no spool to keep the records of its denies meanwhile.
        ValueError: an option that does not apply to this kind of target, or a
            database without ``writer_id``.
        PostgresUnavailableError: a database URL, but psycopg is not installed.
    """
    if isinstance(target, str) and is_db_url(target):
        if durability not in (None, "always"):
            raise ValueError("durability applies to a log file: a database commit is durable")
        if rotate_bytes is not None or rotate_every is not None:
            raise ValueError("rotate_bytes and rotate_every apply to a log file")
        if not writer_id:
            raise ValueError(
                "a database sink needs a writer_id: the name of this writer's chain, "
                "unique to one running gateway (e.g. gw-eu-3)"
            )
        from .postgres import PostgresSink

        sink = PostgresSink(target, writer_id, spool=spool, signer=signer, timeout=timeout)
        if not sink.online and spool is None:
            # no durable record, no allow: without a spool nothing could be decided
            sink.close()
            raise AuditError(sink.last_error)
        return sink
    if writer_id is not None or spool is not None:
        raise ValueError("writer_id and spool apply to a database URL (postgresql://...)")
    return AuditLog(
        target,
        durability=durability or "always",
        signer=signer,
        rotate_bytes=rotate_bytes,
        rotate_every=rotate_every,
    )
