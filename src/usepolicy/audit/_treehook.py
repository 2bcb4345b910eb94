"""The Merkle tree beside a file sink that keeps it (``AuditLog(..., tree=True)``; by
default, whoever reads the tree catches it up: ``open_tree``): opened with the log,
grown as records are written, carried along when the file rotates.

The tree (``usepolicy.tlog.TreeState``, the ``LOG.tree`` sidecar) is an index of the
log, not part of it: a record is durable once its line is, whatever happens to the
tree. So a sidecar that cannot be opened or written costs a warning, never an append:
the next append (or the next ``TreeState`` opened on the log) catches up from the log.

That is also why the tree may lag: hashing and writing its entries for every record
cost a non-durable append about a tenth of its time, so small batches are taken in
``GROW_EVERY`` records at a time (read back from the log then), and at close. Whoever
reads the tree (``open_tree``: checkpoints, proofs) catches it up under the log's lock
first, as it always has for a writer that keeps no tree.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ..tlog import TreeError, TreeState, sidecar_path
from ._fileops import current_size, locked

__all__ = ["GROW_EVERY", "TreeHook", "carry_sidecar"]

_log = logging.getLogger("usepolicy.audit")

#: records a batch may hold and still wait for the next ones before the tree takes it
#: in; a larger batch (a busy durable log) goes in at once
GROW_EVERY = 256


class TreeHook:
    """A sink's handle on its log's tree; every method but ``close_at`` is called with the
    log's lock held.

    Args:
        log: the log file.
        fd: the sink's descriptor of it (read to catch up).
        end: the end of the log's last complete line.
    """

    def __init__(self, log: Path, fd: int, end: int) -> None:
        self._fd = fd
        self._failing = False
        self._every = GROW_EVERY  # read when made: a test may set a smaller step
        self._waiting = 0  # records written since the tree last grew
        self.tree: TreeState | None = None
        try:
            self.tree = TreeState(log)
            self.tree.sync(fd, end)
        except TreeError as exc:
            self._warn(exc)

    def grow(self, lines: Sequence[bytes], offset: int) -> None:
        """``lines`` were just written to the log at ``offset`` (and made durable)."""
        if self.tree is None:
            return
        if self._waiting or len(lines) < self._every:
            self._waiting += len(lines)
            if self._waiting >= self._every:
                self.catch_up(offset + sum(len(line) for line in lines))
            return
        try:  # in step: the lines at hand go in as they are
            self.tree.extend(lines, offset, self._fd)
        except TreeError as exc:
            self._warn(exc)
        else:
            self._failing = False

    def catch_up(self, end: int) -> None:
        """Take in the records written since the tree last grew, reading them back from
        the log up to its end ``end`` (with whatever other processes wrote between)."""
        if self.tree is None or not self._waiting:
            return
        try:
            self.tree.sync(self._fd, end, quiet=True)
        except TreeError as exc:
            self._warn(exc)
        else:
            self._failing = False
            self._waiting = 0

    def _warn(self, exc: TreeError) -> None:
        if not self._failing:  # once per run of failures, not once per record
            _log.warning("%s (the log is unaffected; the tree catches up later)", exc)
        self._failing = True

    def close(self) -> None:
        if self.tree is not None:
            self.tree.close()

    def close_at(self, log: Path, fd: int) -> None:
        """Take in the records the tree has not yet, while the sink's file ``fd`` is still
        the log (not renamed or replaced: its sidecar would then be another file's), and
        close it. Takes the log's lock."""
        if fd >= 0 and self._waiting:  # nothing waiting: no lock, no stat
            with contextlib.suppress(OSError), locked(fd):
                end = current_size(log, fd)
                if end is not None:
                    self.catch_up(end)
        self.close()

    def rotated(self, log: Path, archive: Path, end: int, fd: int, size: int) -> TreeHook:
        """The log's file (``end`` bytes of records) is now ``archive``: its tree goes
        along, and the new file ``fd`` at ``log`` (``size`` bytes) gets its own."""
        self.catch_up(end)
        self.close()
        carry_sidecar(log, archive)
        return TreeHook(log, fd, size)


def carry_sidecar(log: Path, archive: Path) -> None:
    """The log's file is now ``archive``: its tree, if it has one, goes along."""
    with contextlib.suppress(OSError):
        os.rename(sidecar_path(log), sidecar_path(archive))
