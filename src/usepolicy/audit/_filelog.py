"""``AuditLog``: the append-only, hash-chained, crash-safe decision log (JSON Lines).

Each line is the canonical JSON of one stored record, ``\\n``-terminated. Every record
carries ``prev_digest`` (the ``record_digest`` of the line before it, null on the first
line), so the file is one chain that ``verify_log`` can check line by line.

Writers, in threads of one process or in several processes, take an exclusive
``flock`` on the log for each append, and under it re-read the chain head if the file
changed size since their last append (another writer appended). A writer killed in
the middle of a line leaves a torn tail; the next writer to lock the log moves those
bytes to ``<log>.torn-<UTC time>`` and truncates the log back to its last complete
record, so the chain goes on and nothing is silently deleted.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal, get_args

from .._errors import AuditError
from ..record import Draft, Sealed, check_redact_paths, redact_draft
from ._fileops import MODE, flush, locked, sync_dir, why, write_all
from ._rotate import Rotation, start_next, was_rotated
from ._sink import ChainedSink
from ._tail import read_tail
from ._treehook import TreeHook, carry_sidecar
from ._writer import DraftSource, GroupWriter, Outcome, fork_generation

if sys.platform != "win32":
    import fcntl

    _flock, _LOCK_EX, _LOCK_UN = fcntl.flock, fcntl.LOCK_EX, fcntl.LOCK_UN

if TYPE_CHECKING:
    from ._sign import Signer

__all__ = ["AuditLog", "Durability"]

Durability = Literal["always", "batch", "none"]

_log = logging.getLogger("usepolicy.audit")


def _redacted(make: Callable[[], Draft], fields: tuple[str, ...]) -> Draft:
    return redact_draft(make(), fields)


class AuditLog(ChainedSink):
    """An append-only, hash-chained decision log in one JSON Lines file.

    Opening an existing log continues its chain. Safe for many threads and for several
    processes appending to the same file (``flock``; POSIX only).

    Args:
        path: the log file (created if missing).
        durability: ``"always"`` — fsync each record before ``append`` returns;
            ``"batch"`` — group commit: concurrent appends share one fsync, and each
            still returns only once its record is durable; ``"none"`` — no fsync (the
            record survives a crash of the process, not of the machine).
        signer: sign each record (``Signer`` from ``usepolicy.audit``, extra ``[sign]``).
        redact: request fields to store only as their digest (``"description"``,
            ``"attributes.case_notes"``).
        tree: keep the log's Merkle tree in ``LOG.tree`` (``usepolicy.tlog``) as
            records are written. Off by default: whoever reads the tree (``open_tree``:
            checkpoints, proofs) hashes what it lacks, while appends go on, so that the
            records' path does not pay for hashing them again (about a tenth of a
            non-durable append).
        rotate_bytes: start a new file before a batch would take the current one past
            this size; the old file becomes ``LOG.<UTC time>`` and the chain goes on
            across files (``usepolicy.audit._rotate``).
        rotate_every: start a new file when a record falls in a later period than the
            current file's first record (a ``timedelta`` or seconds; periods aligned
            on the UTC epoch: an hour, a day).

    Raises:
        AuditError: the log cannot be opened, or its tail is not a decision log.
        ValueError: a bad ``durability`` or redaction path.

    Attributes:
        recovered: the side file a torn tail was moved to by this instance, if any.
        archived: the files this instance rotated out, oldest first.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: Durability = "always",
        signer: Signer | None = None,
        redact: Iterable[str] = (),
        tree: bool = False,
        rotate_bytes: int | None = None,
        rotate_every: timedelta | float | None = None,
    ) -> None:
        if durability not in get_args(Durability):
            raise ValueError(f"durability must be always, batch or none, not `{durability}`")
        self._rotation = Rotation(rotate_bytes, rotate_every)
        self.archived: list[Path] = []
        self.path = Path(path)
        self.durability: Durability = durability
        self.recovered: Path | None = None
        self._signer = signer
        self._redact = check_redact_paths(redact)
        self._fd = -1
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of ``_fd``
        self._keep_tree = tree
        self._tree: TreeHook | None = None
        #: called with the size of each batch committed (one write and fsync), on the
        #: writer thread: what a gateway's metrics observe
        self.batch_observers: list[Callable[[int], object]] = []
        self._open()

    # -- opening, forking, closing -----------------------------------------------------
    def _open(self) -> None:
        # a forked child reopens the file (``_after_fork``): it needs its own lock
        self._generation = fork_generation()
        self._write_lock = threading.Lock()
        self._writer = GroupWriter(
            self._commit, f"usepolicy-audit {self.path.name}", self.batch_observers
        )
        self._stale = False
        self._broken: str | None = None
        self._size = -1
        self._head: str | None = None
        self._identity = None
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, MODE)
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot open the audit log: {why(exc)}") from exc
        try:
            with locked(self._fd):
                self._catch_up()
                if self._keep_tree:
                    self._tree = TreeHook(self.path, self._fd, self._size)
            if self.durability != "none":
                sync_dir(self.path)
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            raise

    def _after_fork(self) -> None:
        # A forked child shares the parent's open file description, and so its flock:
        # it needs its own, or the two would not exclude each other.
        if self._fd >= 0:
            os.close(self._fd)
        if self._tree is not None:
            self._tree.close()
        self._open()

    def close(self) -> None:
        """Store what is pending, then close the file. Appends after this raise
        ``AuditError``."""
        self._writer.close()
        with self._write_lock:
            if self._tree is not None:
                self._tree.close_at(self.path, self._fd)
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r}, durability={self.durability!r})"

    @property
    def head(self) -> str | None:
        """The ``record_digest`` of the last record this instance knows of."""
        return self._head

    # -- the chain head and torn tails (called with the flock held) --------------------
    def _catch_up(self) -> None:
        size = os.fstat(self._fd).st_size
        if size != self._size:
            self._head, self._size = self._read_tail(size)

    def _read_tail(self, size: int) -> tuple[str | None, int]:
        head, end, side = read_tail(self._fd, self.path, size)
        if side is not None:
            self.recovered = side
        return head, end

    #: the one way a record batch is written (a test makes its writes short, or fail)
    _write_all = staticmethod(write_all)

    # -- appending ---------------------------------------------------------------------
    def store(self, draft: Draft) -> Sealed:
        """Chain, sign and store an unsealed record body; return it as stored.

        Returns only once the record is durable (per ``durability``). ``append`` does
        the same for a ``DecisionRecord``. With ``always`` and ``batch`` the record goes
        through the log's writer thread, which writes and fsyncs every record pending
        at once (group commit); with ``none`` the calling thread writes it.

        Raises:
            AuditError: the record could not be written or made durable. The log then
                holds no partial line of it; after a failed fsync, or once the log was
                truncated under this writer, this instance refuses further appends.
        """
        if self._generation != fork_generation():
            self._after_fork()
        if self._redact:
            draft = redact_draft(draft, self._redact)
        if self.durability != "none":
            return self._writer.submit(draft)
        outcome = self._commit([draft])[0]
        if isinstance(outcome, AuditError):
            raise outcome
        return outcome

    async def astore(self, draft: DraftSource) -> Sealed:
        """``store`` for an event loop: the writer thread does the I/O, the loop awaits.

        ``draft`` may also be a function that makes the body: the writer thread then
        makes it (and redacts it), so that the loop does not.

        Raises:
            AuditError: as ``store``; also when ``draft`` is a function that raised.
        """
        if self._generation != fork_generation():
            self._after_fork()
        if self._redact:
            fields = self._redact
            if isinstance(draft, Draft):
                draft = redact_draft(draft, fields)
            else:
                draft = functools.partial(_redacted, draft, fields)
        return await self._writer.submit_async(draft)

    def _commit(self, drafts: Sequence[Draft]) -> list[Outcome]:
        """Chain, write and (unless ``none``) fsync ``drafts`` as one batch, in order.

        One ``write`` and one ``fdatasync`` for the whole batch, under one ``flock``.
        A draft that cannot be sealed fails alone; a failed write or fsync fails all.
        """
        with self._write_lock:
            if self._broken is not None:
                return [AuditError(f"{self.path}: {self._broken}")] * len(drafts)
            try:
                if self._fd < 0:
                    raise AuditError(f"{self.path}: the audit log is closed")
                if self._stale:
                    self._reopen()
                return self._commit_locked(drafts)
            except AuditError as exc:
                return [exc] * len(drafts)
            except OSError as exc:  # flock, fstat or reading the tail
                return [AuditError(f"{self.path}: cannot append: {why(exc)}")] * len(drafts)

    def _commit_locked(self, drafts: Sequence[Draft]) -> list[Outcome]:
        size = self._lock_current()
        fd = self._fd
        retired = -1
        try:
            if size != self._size:  # another process appended (or we lost count)
                self._head, self._size = self._read_tail(size)
            head = self._head
            outcomes: list[Outcome] = []
            lines: list[bytes] = []
            for draft in drafts:
                try:
                    sealed = draft.seal(head, self._signer)
                except Exception as exc:  # this record has no stored form; the rest do
                    outcomes.append(AuditError(f"{self.path}: cannot seal the record: {exc}"))
                    continue
                head = sealed.digest
                outcomes.append(sealed)
                lines.append(sealed.line + b"\n")
            if not lines:
                return outcomes
            data = b"".join(lines)
            if self._rotation.full(
                self._fd, self._size, len(data), drafts[0].body.get("timestamp")
            ):
                retired = self._rotate(data)
            if retired < 0:
                self._write_line(data)
                if self.durability != "none":
                    self._fsync()
                if self._tree is not None:  # the Merkle tree grows once per batch
                    self._tree.grow(lines, self._size)
        finally:
            _flock(fd, _LOCK_UN)
            if retired >= 0:  # the new file, locked since it was made
                os.close(retired)
                _flock(self._fd, _LOCK_UN)
        self._size = len(data) if retired >= 0 else self._size + len(data)
        self._head = head
        return outcomes

    def _lock_current(self) -> int:
        """Lock the file at the log's path and return its size, following rotations
        made by other writers (or other instances) since this one last wrote."""
        while True:
            fd = self._fd
            _flock(fd, _LOCK_EX)
            try:
                size = self._check_file()
            except BaseException:
                _flock(fd, _LOCK_UN)
                raise
            if size is not None:
                return size
            _flock(fd, _LOCK_UN)  # the rotated file is done with: nothing more goes there
            self._reopen()

    # -- rotation (flock held) ---------------------------------------------------------
    def _rotate(self, data: bytes) -> int:
        """Write the batch to a new file at the log's path; return the old descriptor,
        or -1 when the rotation failed (the batch then goes to the old file: a full
        file is a nuisance, a lost record is not)."""
        try:
            fd, archive = start_next(self.path, self._fd, data, self.durability != "none")
        except OSError as exc:
            _log.warning("%s: cannot rotate, appending to it meanwhile: %s", self.path, why(exc))
            return -1
        if self.durability != "none":
            sync_dir(self.path)  # the new file's name is what makes its records durable
        old, self._fd, self._identity = self._fd, fd, None
        self.archived.append(archive)
        _log.info("%s: rotated; the full file is now %s", self.path, archive.name)
        if self._tree is not None:  # each file keeps its own tree, so it goes along
            self._tree = self._tree.rotated(self.path, archive, self._size, fd, len(data))
        else:  # made by whoever read it (a checkpoint): it is the archive's now
            carry_sidecar(self.path, archive)
        return old

    def _check_file(self) -> int | None:
        """The log's size; None when the file was rotated (it is now an archive of the
        log); deny when it was renamed, deleted, replaced or truncated.

        A moved or replaced file is reopened at its path before the next batch; a log
        truncated in place has lost records this writer acknowledged (its chain head is
        gone), so this instance refuses to append until an operator acts.
        """
        if self._identity is None:  # the file open as ``_fd``: one fstat per file
            mine = os.fstat(self._fd)
            self._identity = (mine.st_dev, mine.st_ino)
        try:
            there = os.stat(self.path)  # one system call per batch: the file at the path
        except FileNotFoundError:
            there = None
        if there is None or (there.st_dev, there.st_ino) != self._identity:
            if there is not None and was_rotated(self.path, self._fd):
                return None  # another writer rotated it: follow, nothing is lost
            self._stale = True
            what = "renamed or deleted" if there is None else "replaced"
            raise AuditError(
                f"{self.path}: the audit log was {what} under the running writer; "
                "this record is not stored, and the log is reopened at its path"
            )
        # the same file: its size is the size of the file open as ``_fd``
        if 0 <= there.st_size < self._size:
            self._broken = (
                f"the audit log was truncated under the running writer ({self._size} bytes "
                f"written, {there.st_size} left; chain head {self._head} is gone): refusing "
                "to append until an operator restores or moves the log and opens it again"
            )
            raise AuditError(f"{self.path}: {self._broken}")
        return there.st_size

    def _reopen(self) -> None:
        """Open the log at its path again, after it was renamed, deleted or replaced."""
        old = self._fd
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, MODE)
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot reopen the audit log: {why(exc)}") from exc
        self._fd, self._identity = fd, None
        os.close(old)
        self._stale = False
        self._size = -1  # the new file's tail is read under its lock
        with locked(fd):
            self._catch_up()
            if self._tree is not None:  # the sidecar of the file now at the path
                self._tree.close()
                self._tree = TreeHook(self.path, fd, self._size)
        if self.durability != "none":
            sync_dir(self.path)

    def _write_line(self, line: bytes) -> None:
        try:
            self._write_all(self._fd, line)
        except OSError as exc:
            self._undo()
            raise AuditError(f"{self.path}: cannot write the record: {why(exc)}") from exc

    def _fsync(self) -> None:
        try:
            flush(self._fd)
        except OSError as exc:
            self._undo()
            self._broken = f"fsync failed earlier ({why(exc)}); reopen the log"
            raise AuditError(f"{self.path}: cannot make the record durable: {why(exc)}") from exc

    def _undo(self) -> None:
        """Cut a partly written batch off again (best effort, flock held)."""
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            self._size = -1  # unknown: the next append re-reads the tail (and sets it aside)
