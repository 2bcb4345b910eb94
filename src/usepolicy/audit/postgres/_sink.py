"""``PostgresSink``: audit records in PostgreSQL, one hash chain per writer.

A chain holds decision records and the outcome records that follow them (what
happened after an allow), as a file log does.

Each gateway instance is a *writer* with its own chain, so writers never wait for one
another on a global chain head: appending is one INSERT at ``(writer_id, head + 1)``,
committed before ``append`` returns. Concurrent appends to one sink (threads of one
gateway) share a transaction and its commit (group commit): chained in order and sent
as one ``COPY``.

When the database cannot be reached or a commit fails, ``append`` raises
``AuditError``, so the caller denies the use. With a spool, the deny record of that
decision is first made durable in a local file; the spool is replayed into the chain,
in order and without duplicates, before the first record stored once the database is
back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from ..._errors import AuditError
from ...record import Draft, Sealed, canonical_json
from .._sink import ChainedSink
from .._writer import DraftSource, GroupWriter, Outcome, fork_generation
from ._copy import copy_chained
from ._schema import (
    COLUMNS,
    connect,
    display_url,
    require_psycopg,
    row_values,
    schema_version,
    why,
)
from ._spool import Spool

if TYPE_CHECKING:
    from .._sign import Signer

__all__ = ["PostgresSink", "body_key"]

_log = logging.getLogger("usepolicy.audit")
_INSERT: Final = (  # the column names are constants: no SQL is built from input
    f"INSERT INTO usepolicy_decisions ({', '.join(COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))})"
)
_HEAD: Final = (
    "SELECT seq, record_digest FROM usepolicy_decisions WHERE writer_id = %s "
    "ORDER BY seq DESC LIMIT 1"
)
_CONFLICT_RETRIES: Final = 5


def _held() -> Any:
    lock = threading.Lock()
    lock.acquire()
    return lock


def _outcome(ticket: _Ticket, display: str) -> Outcome:
    if ticket.error is not None:
        return ticket.error
    return ticket.stored or AuditError(f"{display}: the append failed")


def body_key(body: dict[str, Any]) -> str:
    """What identifies a record apart from its place in a chain: the digest of its body
    without ``prev_digest``, ``record_digest`` and ``signature``. A spooled record and
    its replayed copy share it."""
    rest = {k: v for k, v in body.items() if k not in ("prev_digest", "record_digest", "signature")}
    return hashlib.sha256(canonical_json(rest)).hexdigest()


@dataclass(slots=True)
class _Ticket:
    """One ``append`` waiting for the group commit that stores it."""

    draft: Draft
    stored: Sealed | None = None
    error: AuditError | None = None
    done: bool = False
    #: held until the thread may go on: its record is stored, or it is handed ``lead``
    wake: Any = field(default_factory=_held)
    #: the batch this thread is to store, when the turn is handed to it
    lead: list[_Ticket] | None = None


class PostgresSink(ChainedSink):
    """A sink storing each record in PostgreSQL, in this writer's own hash chain.

    Args:
        url: the database, ``postgresql://user@host:port/dbname`` (libpq URL; any
            libpq parameter may be given in its query string). Create the tables first
            with ``usepolicy audit init-db URL``.
        writer_id: this writer's name, unique to one running gateway instance (for
            example ``gw-eu-3``): its records form one chain.
        spool: a local file that keeps the deny records of decisions made while the
            database is down, replayed into the chain when it is back. Without one,
            those records exist only in the caller's hands.
        signer: sign each record (``usepolicy.audit.Signer``, extra ``[sign]``).
        timeout: seconds after which a connection attempt or a statement fails.
        retry_interval: after a failed connection, seconds during which appends fail
            at once (and spool) instead of trying again.

    The sink connects when built; if the database is down then, it is not an error:
    every append denies (and spools) until a connection succeeds.

    Raises:
        PostgresUnavailableError: psycopg is not installed (``usepolicy[postgres]``).
        ValueError: an empty or over-long ``writer_id``.
        AuditError: the spool exists but is not an audit log.
    """

    def __init__(
        self,
        url: str,
        writer_id: str,
        *,
        spool: str | os.PathLike[str] | None = None,
        signer: Signer | None = None,
        timeout: float = 10.0,
        retry_interval: float = 1.0,
    ) -> None:
        require_psycopg()
        if not isinstance(writer_id, str) or not 0 < len(writer_id) <= 200:
            raise ValueError("writer_id must be a string of 1 to 200 characters")
        if not writer_id.isprintable():
            raise ValueError(f"writer_id must be printable, not {writer_id!r}")
        self.url = url
        self.writer_id = writer_id
        self.display = display_url(url)
        self._signer = signer
        self._timeout = timeout
        self._retry_interval = retry_interval
        self._spool = None if spool is None else Spool(spool, signer=signer)
        # The sink's turn (``_busy``): one batch at a time is chained and stored. Threads
        # in ``store`` wait on their ticket's own lock, so that a commit wakes only its
        # batch and the next leader, not every thread of a busy gateway (each wake is a
        # context switch and a turn at the GIL taken from the threads that are deciding);
        # the writer thread, ``replay`` and ``close`` wait on ``_cond`` and go first.
        self._cond = threading.Condition()
        self._queue: list[_Ticket] = []
        self._busy = False
        self._turn_waiters = 0
        self._closed = False
        self._conn: Any = None
        self._generation = fork_generation()
        self._seq = 0
        self._head: str | None = None
        self._next_try = 0.0
        self._down = ""
        # asyncio callers (``astore``) queue on a writer thread, whose batches take the
        # same turn as a thread's group commit: a thousand tasks, one COPY
        self._writer = GroupWriter(self._commit, f"usepolicy-audit {writer_id}")
        try:
            self.replay()
        except AuditError as exc:
            _log.warning("%s", exc)

    # -- state ------------------------------------------------------------------------
    @property
    def head(self) -> str | None:
        """The ``record_digest`` of this writer's last record, as this sink knows it."""
        return self._head

    @property
    def seq(self) -> int:
        """The ``seq`` of this writer's last record (0 before the first)."""
        return self._seq

    @property
    def online(self) -> bool:
        """Whether the sink holds an open connection (the last call to the database worked)."""
        return self._conn is not None and not self._conn.closed

    @property
    def last_error(self) -> str:
        """Why the last connection attempt failed ("" if none did)."""
        return self._down

    @property
    def spooled(self) -> bool:
        """Whether records wait in the spool for the database."""
        return self._spool is not None and self._spool.pending

    def __repr__(self) -> str:
        return f"PostgresSink({self.display!r}, writer_id={self.writer_id!r})"

    # -- appending ----------------------------------------------------------------------
    def store(self, draft: Draft) -> Sealed:
        """Chain, sign and store an unsealed record body in the database; return it as
        stored. ``append`` does the same for a ``DecisionRecord``.

        Returns only once the transaction holding it has committed.

        Raises:
            AuditError: the record is not in the database (the caller must deny). With
                a spool, the deny record of this decision is in the spool (the error
                says so), and will be replayed into the chain; an outcome record is
                kept in the spool as it is.
        """
        ticket = _Ticket(draft)
        with self._cond:
            if self._closed:
                raise AuditError(f"{self.display}: the audit sink is closed")
            self._queue.append(ticket)
            if not self._busy:  # lead: store every append queued so far, ours among them
                self._busy = True
                ticket.lead, self._queue = self._queue, []
        if ticket.lead is None:
            ticket.wake.acquire()  # stored by a leader, or handed the lead
        if ticket.lead is not None:
            self._lead(ticket, ticket.lead)
        if ticket.error is not None:
            raise ticket.error
        assert ticket.stored is not None
        return ticket.stored

    def _lead(self, own: _Ticket, batch: list[_Ticket]) -> None:
        """Store ``batch`` in the sink's turn, pass the turn on, wake the batch's threads."""
        try:
            self._store(batch)
        finally:
            with self._cond:
                for queued in batch:
                    if not queued.done:  # only after an unexpected exception
                        queued.error = AuditError(f"{self.display}: the append failed")
                        queued.done = True
                self._pass_turn()
            for queued in batch:
                if queued is not own:
                    queued.wake.release()

    def _take_turn(self) -> bool:
        """Wait for the sink's turn (holding ``_cond``), before the threads queued;
        False, and no turn, once the sink is closed."""
        self._turn_waiters += 1
        try:
            while self._busy and not self._closed:
                self._cond.wait()
        finally:
            self._turn_waiters -= 1
        if self._closed:
            return False
        self._busy = True
        return True

    def _pass_turn(self) -> None:
        """End this turn (holding ``_cond``): to whoever waits in ``_take_turn``, else
        to the first thread queued in ``store``, with everything queued."""
        if self._turn_waiters:
            self._busy = False  # a ``store`` may come first: it hands the turn on too
            self._cond.notify_all()
        elif self._queue:
            batch, self._queue = self._queue, []
            batch[0].lead = batch
            batch[0].wake.release()
        else:
            self._busy = False

    async def astore(self, draft: DraftSource) -> Sealed:
        """``store`` for an event loop: the sink's writer thread chains the records of
        all waiting tasks, sends them as one COPY and commits, and the loop awaits.

        ``draft`` may also be a function that makes the body (in the writer thread).

        Raises:
            AuditError: as ``store``; also when ``draft`` is a function that raised.
        """
        return await self._writer.submit_async(draft)

    def _commit(self, drafts: Sequence[Draft]) -> list[Outcome]:
        """The writer thread's batch, stored in its turn like a thread's group commit."""
        batch = [_Ticket(draft, wake=None) for draft in drafts]
        with self._cond:
            if not self._take_turn():
                return [AuditError(f"{self.display}: the audit sink is closed")] * len(batch)
        try:
            self._store(batch)
        finally:
            with self._cond:
                self._pass_turn()
        return [_outcome(ticket, self.display) for ticket in batch]

    def _store(self, batch: list[_Ticket]) -> None:
        """Store a group of appends in one transaction (called by the group's leader)."""
        if self._closed:  # closed while these appends waited
            for ticket in batch:
                ticket.error = AuditError(f"{self.display}: the audit sink is closed")
                ticket.done = True
            return
        try:
            conn = self._connection()
            self._replay(conn)
            stored = self._insert(conn, [ticket.draft for ticket in batch])
        except AuditError as failure:
            self._spool_batch(batch, failure)
            return
        for ticket, record in zip(batch, stored, strict=True):
            ticket.stored = record
            ticket.done = True

    def _spool_batch(self, batch: list[_Ticket], failure: AuditError) -> None:
        for ticket in batch:
            error = AuditError(str(failure))  # one each: threads raise them concurrently
            if self._spool is not None:
                kind = "outcome" if "record_kind" in ticket.draft.body else "deny"
                message = f"{failure}; the {kind} record is kept in the spool {self._spool.path}"
                try:
                    self._spool.add(ticket.draft.body, message)
                    error = AuditError(message)
                except AuditError as also:
                    error = AuditError(f"{failure}; and the spool failed too: {also}")
            error.__cause__ = failure.__cause__
            ticket.error = error
            ticket.done = True

    # -- the connection and the chain head -------------------------------------------------
    def _connection(self) -> Any:
        """The open connection, connecting (and reading the chain head) if needed."""
        if fork_generation() != self._generation:  # a forked child: not the parent's socket
            self._conn, self._generation = None, fork_generation()
        if self._conn is not None and not self._conn.closed:
            return self._conn
        self._conn = None
        if time.monotonic() < self._next_try:
            raise AuditError(self._down)
        try:
            conn = connect(self.url, timeout=self._timeout, application_name=self._app_name())
        except AuditError as exc:
            self._next_try = time.monotonic() + self._retry_interval
            self._down = f"{exc} (the database is unreachable)"
            raise AuditError(self._down) from exc.__cause__
        try:
            schema_version(conn, self.url)
            # a commit must be on disk before append returns, whatever the server's default
            conn.execute(
                "SELECT set_config('synchronous_commit', 'on', false) "
                "WHERE current_setting('synchronous_commit') = 'off'"
            )
            self._read_head(conn)
        except Exception as exc:
            conn.close()
            self._next_try = time.monotonic() + self._retry_interval
            self._down = str(exc) if isinstance(exc, AuditError) else f"{self.display}: {why(exc)}"
            raise AuditError(self._down) from exc
        self._conn, self._down = conn, ""
        return conn

    def _app_name(self) -> str:
        return f"usepolicy {self.writer_id}"[:63]

    def _read_head(self, conn: Any) -> None:
        row = conn.execute(_HEAD, (self.writer_id,)).fetchone()
        self._seq, self._head = (0, None) if row is None else (int(row[0]), str(row[1]))

    def _lost(self, exc: Exception) -> AuditError:
        """Forget the connection after a database error (the head is re-read on reconnect)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: closing is best effort
                conn.close()
        return AuditError(f"{self.display}: cannot store the record: {why(exc)}")

    # -- inserting ----------------------------------------------------------------------
    def _chain(self, drafts: list[Draft]) -> tuple[list[tuple[Any, ...]], list[Sealed]]:
        """Rows and stored records for ``drafts``, chained after the current head."""
        seq, head = self._seq, self._head
        rows: list[tuple[Any, ...]] = []
        stored: list[Sealed] = []
        for draft in drafts:
            sealed = draft.seal(head, self._signer)
            seq += 1
            head = sealed.digest
            rows.append(row_values(self.writer_id, seq, sealed.body, sealed.line.decode()))
            stored.append(sealed)
        return rows, stored

    def _insert(self, conn: Any, drafts: list[Draft]) -> list[Sealed]:
        """Insert ``drafts`` at the head of this writer's chain, in one transaction.

        Another sink with the same writer id (a second process of one gateway) may have
        moved the head: the primary key then refuses the rows, and they are chained
        again after the new head.
        """
        psycopg = require_psycopg()
        for _attempt in range(_CONFLICT_RETRIES):
            try:
                if len(drafts) == 1:  # autocommit: the statement is the transaction
                    rows, stored = self._chain(drafts)
                    conn.execute(_INSERT, rows[0])
                else:  # one COPY, its own transaction: stored whole or not at all
                    stored = copy_chained(
                        conn, self.writer_id, self._seq, self._head, drafts, self._signer
                    )
            except psycopg.errors.UniqueViolation as exc:
                if exc.diag.constraint_name != "usepolicy_decisions_pkey":
                    raise self._lost(exc) from exc
                try:
                    self._read_head(conn)
                except psycopg.Error as again:
                    raise self._lost(again) from again
                continue
            except psycopg.Error as exc:
                raise self._lost(exc) from exc
            self._seq += len(stored)
            self._head = stored[-1].digest if stored else self._head
            return stored
        raise AuditError(
            f"{self.display}: writer `{self.writer_id}`: the chain head kept moving: is "
            "another busy gateway using the same writer id?"
        )

    # -- the spool -----------------------------------------------------------------------
    def replay(self) -> int:
        """Replay the spool into the database now (appends also do it, first thing).

        Returns:
            How many spooled records were stored (records already stored are skipped).

        Raises:
            AuditError: the database is still unreachable, or the spool does not verify.
        """
        with self._cond:
            if not self._take_turn():
                raise AuditError(f"{self.display}: the audit sink is closed")
        try:
            self._next_try = 0.0
            return self._replay(self._connection())
        finally:
            with self._cond:
                self._pass_turn()

    def _replay(self, conn: Any) -> int:
        spool = self._spool
        if spool is None or not spool.pending:
            return 0
        records = spool.records()
        psycopg = require_psycopg()
        try:
            stored = conn.execute(
                "SELECT record FROM usepolicy_decisions WHERE writer_id = %s "
                "AND decision_id = ANY(%s)",
                (self.writer_id, [record.decision_id for record in records]),
            ).fetchall()
        except psycopg.Error as exc:
            raise self._lost(exc) from exc
        present = {body_key(json.loads(row[0])) for row in stored}
        missing = []
        for record in records:
            body = record.to_dict()
            key = body_key(body)
            if key not in present:
                missing.append(Draft(body))
                present.add(key)
        if missing:
            self._insert(conn, missing)
        spool.rotate()
        _log.info(
            "%s: writer %s: replayed %d spooled records (%d were already stored)",
            self.display,
            self.writer_id,
            len(missing),
            len(records) - len(missing),
        )
        return len(missing)

    # -- lifetime -----------------------------------------------------------------------
    def close(self) -> None:
        """Store what the writer thread holds, then close the connection and the spool;
        later appends raise ``AuditError``."""
        self._writer.close()
        queued: list[_Ticket] = []
        with self._cond:
            # the batch under way ends first; the turn is then kept for good
            if self._take_turn():
                self._closed = True
                queued, self._queue = self._queue, []
                self._cond.notify_all()  # a ``replay`` waiting for the turn gives up
        for ticket in queued:  # queued behind the last batch: nobody will lead them now
            ticket.error = AuditError(f"{self.display}: the audit sink is closed")
            ticket.done = True
            ticket.wake.release()
        if self._conn is not None and fork_generation() == self._generation:
            self._conn.close()
        self._conn = None
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> PostgresSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
