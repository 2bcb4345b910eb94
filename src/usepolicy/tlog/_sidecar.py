"""``TreeState``: the Merkle tree of a JSON Lines log, kept in a sidecar file beside it.

``LOG.tree`` holds the hash of every complete subtree of the log's tree, in the order
they are completed (see ``_hash``), after a 32-byte header. A leaf's entry also holds
the log offset where its line ends, so the sidecar knows how much of the log it covers.
A tree of ``n`` leaves is ``32 + 32 * stored_count(n) + 8 * n`` bytes: about 72 bytes a
record, against some 1,500 for the record itself.

The sidecar is derived data, never the truth: it is not fsynced, and every use checks
it against the log first. Opening (``sync``) reads the last leaf's line from the log
and compares its hash; a sidecar that is behind the log catches up by hashing the
lines it lacks; one that does not match (the log was replaced or rewritten, or the
sidecar is damaged) is set aside as ``LOG.tree.stale-<UTC time>`` (kept: if it matches
a checkpoint, it names the first record that changed) and rebuilt from the log. A
torn entry at the end (a crash mid-write) is cut off.

Appends (``extend``) must be made in log order by whoever holds the log's lock, after
the lines are written; several processes may append to one log, each with its own
``TreeState``: each notices the others' entries by the sidecar's size.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from .._errors import UsePolicyError
from ._grow import CHUNK, OFFSET, Growth, pread
from ._hash import HASH_SIZE, Node, leaf_hash, range_nodes, stored_count, stored_index
from ._proof import ConsistencyProof, InclusionProof, prove_consistency, prove_inclusion, tree_hash

__all__ = ["SUFFIX", "TreeError", "TreeState", "sidecar_path"]

_log = logging.getLogger("usepolicy.tlog")

SUFFIX: Final = ".tree"
_HEADER: Final = b"usepolicy merkle tree hashes v1\n"
_LEAF: Final = HASH_SIZE + OFFSET.size
_MODE: Final = 0o640
assert len(_HEADER) == HASH_SIZE


class TreeError(UsePolicyError, OSError):
    """The sidecar cannot be read or written, or does not cover what was asked."""

    code = "tree-error"


def sidecar_path(log: str | os.PathLike[str]) -> Path:
    """``LOG.tree``, where a log's tree hashes live."""
    path = Path(log)
    return path.with_name(path.name + SUFFIX)


def _size_of(n: int) -> int:
    """The sidecar's size for a tree of ``n`` leaves."""
    return HASH_SIZE + HASH_SIZE * stored_count(n) + OFFSET.size * n


def _position(level: int, k: int) -> int:
    """Where node ``(level, k)`` starts in the sidecar: its place in completion order,
    plus the 8-byte offsets of the leaves completed before it."""
    leaves_before = k if level == 0 else (k + 1) << level
    return HASH_SIZE + HASH_SIZE * stored_index(level, k) + OFFSET.size * leaves_before


def _leaves_in(size: int) -> int:
    """The most leaves whose entries fit in ``size`` bytes."""
    lo, hi = 0, max(0, (size - HASH_SIZE) // _LEAF) + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _size_of(mid) <= size:
            lo = mid
        else:
            hi = mid
    return lo


class TreeState:
    """The tree of one log: leaves appended in log order, roots and proofs in
    ``O(log n)`` reads of the sidecar.

    Args:
        log: the log file whose lines are the leaves.
        path: the sidecar (default ``LOG.tree``).
        writable: create, repair and append to the sidecar; otherwise only read it
            (``sync`` then raises ``TreeError`` where it would have to write).

    Raises:
        TreeError: the sidecar cannot be opened (or, read-only, is not a tree file).
    """

    def __init__(
        self,
        log: str | os.PathLike[str],
        *,
        path: str | os.PathLike[str] | None = None,
        writable: bool = True,
    ) -> None:
        self.log_path = Path(log)
        self.path = sidecar_path(log) if path is None else Path(path)
        self.writable = writable
        self.name = self.path.name
        self.set_aside: Path | None = None
        self._lock = threading.Lock()
        self._fd = -1
        self._ino = -1
        self._bytes = 0  # the sidecar's size as this instance knows it
        self._n = 0
        self._covered = 0  # log bytes covered by the leaves
        self._frontier: list[bytes] = []  # the complete subtrees covering [0, n)
        self._reopen()

    def __repr__(self) -> str:
        return f"TreeState({str(self.log_path)!r}, size={self._n})"

    @property
    def size(self) -> int:
        """How many leaves (records) the tree holds."""
        return self._n

    @property
    def covered(self) -> int:
        """How many bytes of the log the leaves cover (the end of the last line)."""
        return self._covered

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> TreeState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening and loading -----------------------------------------------------------
    def _reopen(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        mode = os.O_RDWR | os.O_APPEND | os.O_CREAT if self.writable else os.O_RDONLY
        try:
            self._fd = os.open(self.path, mode | os.O_CLOEXEC, _MODE)
            info = os.fstat(self._fd)
            if info.st_size == 0 and self.writable:
                os.write(self._fd, _HEADER)
            elif pread(self._fd, HASH_SIZE, 0) != _HEADER:
                if not self.writable:
                    raise TreeError(errno.EINVAL, f"{self.path}: not a usepolicy tree file")
                self._set_aside("it is not a usepolicy tree file")
                return
        except OSError as exc:
            if isinstance(exc, TreeError):
                raise
            raise TreeError(exc.errno, f"{self.path}: cannot open: {exc.strerror}") from exc
        self._ino = info.st_ino
        self._bytes = -1
        self._load()

    def _load(self) -> None:
        """Read the sidecar's size, cut a torn entry, and load the frontier."""
        size = os.fstat(self._fd).st_size
        if size == self._bytes:
            return
        n = _leaves_in(size)
        if size > _size_of(n) and self.writable:
            _log.warning("%s: cut a torn entry of %d bytes", self.path, size - _size_of(n))
            os.ftruncate(self._fd, _size_of(n))
        self._n, self._bytes = n, _size_of(n)
        self._frontier = self._read(list(range_nodes(0, n))) if n else []
        self._covered = self._leaf_entry(n - 1)[1] if n else 0

    def _refresh(self) -> None:
        """Notice another process's appends, or the sidecar replaced under us."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            info = None
        if info is None or info.st_ino != self._ino:
            if not self.writable and info is None:
                raise TreeError(errno.ENOENT, f"{self.path}: the tree file is gone")
            self._reopen()
        elif info.st_size != self._bytes:
            self._load()

    def _set_aside(self, why: str) -> None:
        """Move the sidecar out of the way (kept for inspection) and start afresh."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        aside = self.path.with_name(f"{self.path.name}.stale-{stamp}")
        os.rename(self.path, aside)
        _log.warning("%s: %s: moved to %s, rebuilding from the log", self.path, why, aside.name)
        self.set_aside = aside
        self._reopen()

    # -- reading -----------------------------------------------------------------------
    def _read(self, nodes: Sequence[Node]) -> list[bytes]:
        positions = [_position(level, k) for level, k in nodes]
        if not positions:
            return []
        lo, hi = min(positions), max(positions) + HASH_SIZE
        if hi - lo <= 64 * 1024:  # near each other: one read
            data = pread(self._fd, hi - lo, lo)
            found = [data[p - lo : p - lo + HASH_SIZE] for p in positions]
        else:
            found = [pread(self._fd, HASH_SIZE, p) for p in positions]
        if any(len(h) != HASH_SIZE for h in found):
            raise TreeError(errno.EIO, f"{self.path}: shorter than its size said")
        return found

    def _leaf_entry(self, index: int) -> tuple[bytes, int]:
        data = pread(self._fd, _LEAF, _position(0, index))
        if len(data) != _LEAF:
            raise TreeError(errno.EIO, f"{self.path}: shorter than its size said")
        return data[:HASH_SIZE], OFFSET.unpack(data[HASH_SIZE:])[0]

    def read_hashes(self, nodes: Sequence[Node]) -> list[bytes]:
        """The hash of each complete subtree ``(level, k)`` (the ``HashReader`` protocol).

        Raises:
            TreeError: a node is not (yet) a complete subtree of this tree.
        """
        for level, k in nodes:
            if level < 0 or k < 0 or (k + 1) << level > self._n:
                raise TreeError(errno.EINVAL, f"node ({level}, {k}) is not in a tree of {self._n}")
        return self._read(nodes)

    def leaf_hashes(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The leaf hashes of leaves ``[start, stop)``, read in large chunks."""
        stop = self._n if stop is None else min(stop, self._n)
        index = start
        while index < stop:
            last = min(stop, index + 8192)
            lo, hi = _position(0, index), _position(0, last - 1) + _LEAF
            data = pread(self._fd, hi - lo, lo)
            for i in range(index, last):
                at = _position(0, i) - lo
                yield data[at : at + HASH_SIZE]
            index = last

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the first ``size`` leaves (default: all)."""
        size = self._n if size is None else size
        if not 0 <= size <= self._n:
            raise TreeError(errno.EINVAL, f"the tree has {self._n} leaves, not {size}")
        return tree_hash(size, self)

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """The proof that leaf ``index`` (line ``index + 1``) is in the tree of ``size``."""
        size = self._n if size is None else size
        if size > self._n:
            raise TreeError(errno.EINVAL, f"the tree has {self._n} leaves, not {size}")
        return prove_inclusion(index, size, self)

    def consistency_proof(self, old: int, new: int | None = None) -> ConsistencyProof:
        """The proof that the tree of ``old`` leaves is a prefix of the tree of ``new``."""
        new = self._n if new is None else new
        if new > self._n:
            raise TreeError(errno.EINVAL, f"the tree has {self._n} leaves, not {new}")
        return prove_consistency(old, new, self)

    # -- following the log -------------------------------------------------------------
    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        """This instance to one thread at a time; any failure of the files a
        ``TreeError``."""
        with self._lock:
            try:
                yield
            except OSError as exc:
                if isinstance(exc, TreeError):
                    raise
                raise TreeError(exc.errno, f"{self.path}: {exc.strerror or exc}") from exc

    def sync(self, log_fd: int, end: int, *, quiet: bool = False) -> None:
        """Make the tree cover the log's complete lines up to byte ``end``: check the
        last leaf against the log, set a stale sidecar aside, hash the missing lines.

        The caller holds the log's lock (nothing may append meanwhile). ``quiet``: a
        writer catching up on purpose (it grows the tree in steps): no log message for
        the lines hashed.

        Raises:
            TreeError: the sidecar cannot be written or read, or (read-only) it does
                not match the log.
        """
        with self._guarded():
            self._sync(log_fd, end, quiet=quiet)

    def ahead(self, log_fd: int, end: int) -> Growth | None:
        """What to hash, without the log's lock, for the tree to cover the log up to
        byte ``end`` (``Growth.read``; then ``take`` it): the tree as it stands, checked
        against the log first as ``sync`` checks it. None when nothing is missing, or
        the tree is read-only.

        Call it with the log's lock held, with ``end`` a size read under that lock: the
        lines below it are then complete records, which no writer changes.

        Raises:
            TreeError: as ``sync``.
        """
        with self._guarded():
            self._check(log_fd, end)
            if self._covered >= end or not self.writable:
                return None
            return Growth(self._n, self._covered, self._frontier, (self._ino, self._bytes))

    def take(self, growth: Growth) -> bool:
        """Append the entries ``growth`` hashed, if the sidecar is still the one it grew
        from (otherwise another process moved it on meanwhile: they are not written,
        and the next ``sync`` hashes what is still missing). With the log's lock held.

        Raises:
            TreeError: the sidecar cannot be written.
        """
        with self._guarded():
            self._refresh()
            if growth.base != (self._ino, self._bytes):
                return False
            self._write(growth)
            return True

    def _check(self, log_fd: int, end: int) -> None:
        """Take in other processes' entries; set a sidecar that does not match the log
        aside."""
        self._refresh()
        if self._n and not self._matches(log_fd, end):
            if not self.writable:
                raise TreeError(errno.EINVAL, f"{self.path}: does not match the log")
            self._set_aside("it does not match the log")

    def _sync(self, log_fd: int, end: int, *, quiet: bool = False) -> None:
        self._check(log_fd, end)
        if self._covered < end:
            if not self.writable:
                raise TreeError(errno.EINVAL, f"{self.path}: is behind the log")
            self._catch_up(log_fd, end, quiet=quiet)

    def _matches(self, log_fd: int, end: int) -> bool:
        """Whether the last leaf is the line the sidecar says ends at ``covered``."""
        if self._covered > end:
            return False
        start = self._leaf_entry(self._n - 2)[1] if self._n > 1 else 0
        line = pread(log_fd, self._covered - start, start)
        last = self._leaf_entry(self._n - 1)[0]
        return line.endswith(b"\n") and leaf_hash(line[:-1]) == last

    def _catch_up(self, log_fd: int, end: int, *, quiet: bool = False) -> None:
        growth = Growth(self._n, self._covered, self._frontier)
        added = 0
        while growth.covered < end:
            taken = growth.read(log_fd, end, most=CHUNK)  # written a chunk at a time
            if not taken:
                break
            added += taken
            self._write(growth)
        if added and not quiet:
            _log.info("%s: hashed %d records the tree lacked", self.path, added)

    def extend(self, lines: Sequence[bytes], offset: int, log_fd: int | None = None) -> None:
        """The hook for sinks: ``lines`` (each ending in ``\\n``) were written to the
        log at ``offset``, in order. Call it with the log's lock held, once they are
        written (and durable, if the sink makes them durable under that lock).

        Lines the tree lacks before ``offset`` (written by another process, or by a
        writer that keeps no tree) are read from the log first (``log_fd``, or the log
        opened by name), after taking in the entries other processes appended.

        Raises:
            TreeError: the sidecar cannot be written (the log itself is unaffected: the
                next call catches up).
        """
        with self._guarded():
            # In step with the log (no one else appended since our last call), the
            # sidecar is as we left it: only a writer that appends to the log also
            # appends to the tree. So the common case costs no stat.
            if self._covered != offset:
                self._sync_from(log_fd, offset)
            growth = Growth(self._n, offset, self._frontier)
            growth.add([line[:-1] for line in lines])
            self._write(growth)

    def _sync_from(self, log_fd: int | None, offset: int) -> None:
        if log_fd is not None:
            self._sync(log_fd, offset)
            return
        try:
            fd = os.open(self.log_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise TreeError(exc.errno, f"{self.log_path}: cannot read: {exc.strerror}") from exc
        try:
            self._sync(fd, offset)
        finally:
            os.close(fd)

    def _write(self, growth: Growth) -> None:
        """Append the entries ``growth`` holds; the tree is then what it grew to."""
        data = growth.data
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            self._bytes = -1  # unknown now: reload (and cut the torn entry) next time
            self._load()
            raise
        self._n, self._covered = growth.n, growth.covered
        self._frontier = list(growth.frontier)
        self._bytes += len(data)
        growth.data = bytearray()
