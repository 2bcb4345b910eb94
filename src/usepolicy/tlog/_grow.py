"""``Growth``: the sidecar entries a tree gains from a log's new lines, hashed apart from
writing them.

Hashing is most of what a tree costs, and needs nothing but the tree's frontier and the
log's lines, both of which are fixed once read: a log's complete lines below a size
read under its lock are never written again. So whoever catches a tree up can hash
while appends go on, and take the log's lock only to write the entries
(``TreeState.ahead`` and ``TreeState.take``).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from typing import Final

from ._hash import leaf_hash, node_hash

__all__ = ["CHUNK", "OFFSET", "Growth", "pread"]

#: the log offset where a leaf's line ends, after the leaf's hash in the sidecar
OFFSET: Final = struct.Struct(">Q")
#: how much of the log is read at a time
CHUNK: Final = 1 << 20


def pread(fd: int, size: int, offset: int) -> bytes:
    """``size`` bytes at ``offset``, fewer only at the end of the file."""
    data = os.pread(fd, size, offset)
    while len(data) < size:
        more = os.pread(fd, size - len(data), offset + len(data))
        if not more:
            break
        data += more
    return data


class Growth:
    """What a tree of ``n`` leaves covering ``covered`` bytes of its log, with the
    complete subtrees ``frontier`` (left to right), becomes as lines are added: its
    size, coverage and frontier, and ``data``, the entries to append to its sidecar.

    Args:
        base: what the sidecar was when the growth started (compared before it is
            written: entries grown from another state are not this sidecar's).
    """

    __slots__ = ("base", "covered", "data", "frontier", "n")

    def __init__(
        self, n: int, covered: int, frontier: Iterable[bytes], base: object = None
    ) -> None:
        self.base = base
        self.n = n
        self.covered = covered
        self.frontier = list(frontier)
        self.data = bytearray()

    def add(self, leaves: Iterable[bytes]) -> None:
        """Add the lines (without their newline) that follow the last leaf in the log."""
        out, frontier, n, end = self.data, self.frontier, self.n, self.covered
        for line in leaves:
            end += len(line) + 1
            h = leaf_hash(line)
            out += h
            out += OFFSET.pack(end)
            m = n
            while m & 1:  # each completed subtree: its hash, then its parent's
                h = node_hash(frontier.pop(), h)
                out += h
                m >>= 1
            frontier.append(h)
            n += 1
        self.n, self.covered = n, end

    def read(self, log_fd: int, end: int, most: int | None = None) -> int:
        """Add the complete lines of the log from ``covered`` up to byte ``end``; with
        ``most``, stop reading once that many bytes are taken (after one line at least,
        however long). Returns how many lines were added."""
        start = pos = self.covered
        rest, added = b"", 0
        while pos < end and (most is None or added == 0 or pos - start < most):
            chunk = pread(log_fd, min(CHUNK, end - pos), pos)
            if not chunk:
                break
            data = rest + chunk
            pos += len(chunk)
            cut = data.rfind(b"\n") + 1
            if cut:
                lines = data[:cut].split(b"\n")
                lines.pop()  # what follows the last newline: nothing
                self.add(lines)
                added += len(lines)
            rest = data[cut:]
        return added
