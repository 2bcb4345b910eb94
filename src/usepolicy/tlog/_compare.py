"""Does a log still hold what a checkpoint covered? And if not, which record changed?

The root alone cannot say which record changed: it commits to all of them at once.
Tree hashes can, when they are authenticated by the checkpoint: any set of hashes
(the sidecar beside the log, a stale one set aside, the database's tree table, a copy
kept elsewhere) whose root at the checkpoint's size is the signed root holds the
checkpointed leaves themselves, whoever stored them. Comparing the log's leaves with
those names the first record that differs; without such hashes, the verdict can only
say that some record among the first ``size`` differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from .._errors import UsePolicyError
from ._checkpoint import Checkpoint
from ._hash import Node, fold, node_hash
from ._proof import tree_hash

__all__ = ["HashSource", "Mismatch", "compare_leaves"]


class HashSource(Protocol):
    """Stored tree hashes that may name a changed record: a ``TreeState``, a table."""

    name: str

    @property
    def size(self) -> int: ...

    def read_hashes(self, nodes: Sequence[Node]) -> list[bytes]: ...

    def leaf_hashes(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class Mismatch:
    """How a log fails a checkpoint.

    Attributes:
        problem: ``truncated`` (fewer leaves than the checkpoint's size), ``rewritten``
            (leaf ``index`` differs from the checkpointed one), or ``checkpoint-mismatch``
            (the first ``size`` leaves do not hash to the root; which one differs
            cannot be told: ``index`` is None).
        index: the first leaf (0-based) that differs or is missing, when known.
        count: how many leaves the log has (up to the checkpoint's size).
        message: in words.
    """

    problem: str
    index: int | None
    count: int
    message: str


def _root_of(leaves: Iterable[bytes], size: int) -> tuple[bytes, int]:
    """The root of the first ``size`` leaves (and how many there were), in O(log n) memory."""
    frontier: list[bytes] = []
    count = 0
    for h in leaves:
        if count == size:
            break
        m = count
        while m & 1:
            h = node_hash(frontier.pop(), h)
            m >>= 1
        frontier.append(h)
        count += 1
    return fold(frontier), count


def _authentic(sources: Iterable[HashSource], checkpoint: Checkpoint) -> HashSource | None:
    for source in sources:
        try:
            if source.size >= checkpoint.size and (
                tree_hash(checkpoint.size, source) == checkpoint.root_hash
            ):
                return source
        except (OSError, UsePolicyError):  # unreadable or damaged: it just names nothing
            continue
    return None


def compare_leaves(
    leaves: Callable[[], Iterable[bytes]],
    checkpoint: Checkpoint,
    sources: Iterable[HashSource] = (),
    *,
    what: str = "record",
) -> Mismatch | None:
    """Check that a log's first ``checkpoint.size`` leaf hashes hash to its root.

    Args:
        leaves: makes an iterator over the log's leaf hashes, in order (called a second
            time, to name the changed record, only when the root does not match).
        checkpoint: the checkpoint (whose signature was checked).
        sources: stored tree hashes to name the changed record with; each is used only
            if it reproduces the checkpoint's root.
        what: how messages name the record at a 1-based position (``record``, ``seq``).

    Returns:
        None if the log holds the checkpointed records (it may have more), else how not.
    """
    size = checkpoint.size
    root, count = _root_of(leaves(), size)
    if count == size and root == checkpoint.root_hash:
        return None
    source = _authentic(sources, checkpoint)
    if source is not None:
        stored = source.leaf_hashes(0, size)
        for index, (ours, theirs) in enumerate(zip(leaves(), stored, strict=False)):
            if index >= count:
                break
            if ours != theirs:
                return Mismatch(
                    "rewritten",
                    index,
                    count,
                    f"{what} {index + 1} is not the record the checkpoint covers (found "
                    f"with the tree hashes in {source.name}, which match the checkpoint)",
                )
    if count < size:
        unknown = "" if source else "; whether earlier records changed too cannot be told"
        return Mismatch(
            "truncated",
            count,
            count,
            f"the checkpoint covers {size} records, there are {count}: records were "
            f"removed from the end{unknown}",
        )
    return Mismatch(
        "checkpoint-mismatch",
        None,
        count,
        f"the first {size} records do not hash to the checkpoint's root: one or more of "
        "them changed (no tree hashes at hand match the checkpoint, to name the first)",
    )
