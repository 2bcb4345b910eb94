"""The Merkle tree beside a file sink: opened with the log, grown after each write.

The tree (``usepolicy.tlog.TreeState``, the ``LOG.tree`` sidecar) is an index of the
log, not part of it: a record is durable once its line is, whatever happens to the
tree. So a sidecar that cannot be opened or written costs a warning, never an append:
the next append (or the next ``TreeState`` opened on the log) catches up from the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ..tlog import TreeError, TreeState

__all__ = ["TreeHook"]

_log = logging.getLogger("usepolicy.audit")


class TreeHook:
    """A sink's handle on its log's tree; every method is called with the log's lock held.

    Args:
        log: the log file.
        fd: the sink's descriptor of it (read to catch up).
        end: the end of the log's last complete line.
    """

    def __init__(self, log: Path, fd: int, end: int) -> None:
        self._fd = fd
        self._failing = False
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
        try:
            self.tree.extend(lines, offset, self._fd)
        except TreeError as exc:
            self._warn(exc)
        else:
            self._failing = False

    def _warn(self, exc: TreeError) -> None:
        if not self._failing:  # once per run of failures, not once per record
            _log.warning("%s (the log is unaffected; the tree catches up later)", exc)
        self._failing = True

    def close(self) -> None:
        if self.tree is not None:
            self.tree.close()
