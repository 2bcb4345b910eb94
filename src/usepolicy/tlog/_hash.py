"""RFC 9162 §2.1 Merkle tree hashing, and where each complete subtree's hash is stored.

A tree of ``n`` leaves has a hash for every *complete* subtree: ``(level, k)`` covers
leaves ``[k * 2**level, (k + 1) * 2**level)``. Every other hash a root or a proof needs
(a subtree whose right edge is the tree's edge) is folded from at most ``log2(n)`` of
them, so complete subtrees are all a log has to store: ``2n`` hashes, each written once,
when its last leaf arrives.

They are stored in the order they are completed (the order of
``golang.org/x/mod/sumdb/tlog``'s ``StoredHashIndex``): leaf ``m``, then the parents it
completes. ``stored_index`` maps a node to its place in that order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Final, Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "HashReader",
    "Node",
    "fold",
    "leaf_hash",
    "node_hash",
    "range_nodes",
    "split",
    "stored_count",
    "stored_index",
]

HASH_SIZE: Final = 32
#: the root of the empty tree: SHA-256 of nothing (RFC 9162 §2.1.1)
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, k): leaves [k << level, (k + 1) << level)


class HashReader(Protocol):
    """Where complete-subtree hashes come from: a sidecar file, a table, memory."""

    def read_hashes(self, nodes: Sequence[Node]) -> list[bytes]:
        """The hash of each ``(level, k)`` node, in the order asked."""
        ...


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one leaf (a record's line, no newline)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where RFC 9162 splits."""
    return 1 << ((n - 1).bit_length() - 1)


def stored_index(level: int, k: int) -> int:
    """The place of node ``(level, k)`` in completion order (0-based)."""
    # A level-L node is completed right after the leaf 2**L * (k + 1) - 1; count the
    # nodes completed before that leaf (n + n/2 + n/4 ... for leaf n) and add its L
    # parents-so-far.
    n = ((k + 1) << level) - 1
    index = 0
    while n:
        index += n
        n >>= 1
    return index + level


def stored_count(n: int) -> int:
    """How many complete-subtree hashes a tree of ``n`` leaves has."""
    if n == 0:
        return 0
    last = n - 1
    count = stored_index(0, last) + 1
    while last & 1:
        count += 1
        last >>= 1
    return count


def range_nodes(lo: int, hi: int) -> list[Node]:
    """The complete subtrees that make up leaves ``[lo, hi)``, left to right.

    ``lo`` is aligned as every subtree of an RFC 9162 tree is (a multiple of the
    largest power of two not above ``hi - lo``).
    """
    nodes: list[Node] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        while lo & ((1 << level) - 1):
            level -= 1
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a subtree from its complete subtrees (``range_nodes`` order).

    RFC 9162 splits a subtree at its largest power of two, so the right part nests:
    ``MTH = node(h1, node(h2, h3))``.
    """
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def frontier_nodes(n: int) -> Iterator[Node]:
    """The complete subtrees covering ``[0, n)``: what appending the next leaf needs."""
    yield from range_nodes(0, n)
