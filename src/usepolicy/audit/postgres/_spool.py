"""The local spool of a database sink: where decisions go while the database is down.

While the database cannot be written, every use is denied (no durable record, no
allow), and the deny record of each decision is appended to the spool, an ordinary
``AuditLog`` (fsynced, hash-chained, verifiable with ``usepolicy audit verify``); an
outcome record, of a call that already went ahead, is kept there as it is. When the
database is back, the sink replays the spool into its chain, in order, before any new
record, and only then moves the spool aside to ``<spool>.replayed-<UTC time>``.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._errors import AuditError
from ...record import Draft, Sealed, denied_body
from .._filelog import AuditLog
from .._logset import verify_log
from .._verify import read_records

if TYPE_CHECKING:
    from ...record import AnyRecord
    from .._sign import Signer

__all__ = ["Spool"]

_log = logging.getLogger("usepolicy.audit")


class Spool:
    """An ``AuditLog`` of records waiting for the database, opened only when needed."""

    def __init__(self, path: str | os.PathLike[str], *, signer: Signer | None = None) -> None:
        self.path = Path(path)
        self._signer = signer
        self._log: AuditLog | None = None
        try:
            self.pending = self.path.stat().st_size > 0
        except FileNotFoundError:
            self.pending = False
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot use the spool: {exc.strerror}") from exc
        if self.pending:
            self._open()  # sets a torn tail aside now, and fails now if it is not a log

    def _open(self) -> AuditLog:
        if self._log is None:
            # no Merkle tree: a spool is moved aside once replayed, its records then
            # live in the database chain (and its tree)
            self._log = AuditLog(self.path, signer=self._signer, tree=False)
        return self._log

    def add(self, body: dict[str, Any], message: str) -> Sealed:
        """Append the deny ``body`` (an unsealed record) becomes when the database cannot
        store it, with ``message`` as its ``audit-error`` (fsynced before returning).

        An outcome record is appended as it is: it tells what happened to a call that
        went ahead, which the database being down does not change."""
        if "record_kind" in body:
            kept = {k: v for k, v in body.items() if k not in ("record_digest", "signature")}
            stored = self._open().store(Draft({**kept, "prev_digest": None}))
        else:
            stored = self._open().store(Draft(denied_body(body, AuditError.code, message)))
        self.pending = True
        return stored

    def records(self) -> list[AnyRecord]:
        """The spooled records, in order, once the spool verifies.

        Raises:
            AuditError: the spool does not verify (then it is not replayed: a person
                should look at it).
        """
        self._open()
        result = verify_log(self.path)
        if not result.ok:
            raise AuditError(
                f"{result}; the spool is not replayed until it is repaired or moved aside"
            )
        return [record for _, record in read_records(self.path)]

    def rotate(self) -> Path | None:
        """Move the replayed spool aside (kept, never deleted); None if that failed."""
        if self._log is not None:
            self._log.close()
            self._log = None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self.path.with_name(f"{self.path.name}.replayed-{stamp}")
        try:
            os.replace(self.path, target)
        except OSError as exc:
            # replaying it again skips what is already stored, so this loses nothing
            _log.warning("%s: replayed, but cannot move it aside: %s", self.path, exc.strerror)
            return None
        self.pending = False
        _log.info("%s: replayed into the database and moved to %s", self.path, target.name)
        return target

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
