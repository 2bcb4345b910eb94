"""``TreeState``: the sidecar follows the log, repairs itself, and answers in O(log n)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usepolicy.tlog import TreeError, TreeState, leaf_hash, sidecar_path
from usepolicy.tlog._hash import stored_count

from .reference import mth, path, proof


def write_log(log: Path, lines: list[bytes]) -> None:
    log.write_bytes(b"".join(line + b"\n" for line in lines))


def grow(tree: TreeState, log: Path, lines: list[bytes]) -> None:
    """Append ``lines`` to the log and tell the tree, as a sink does."""
    offset = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as handle:
        handle.write(b"".join(line + b"\n" for line in lines))
    tree.extend([line + b"\n" for line in lines], offset)


def synced(log: Path) -> TreeState:
    tree = TreeState(log)
    fd = os.open(log, os.O_RDONLY)
    try:
        tree.sync(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    return tree


def records(n: int, start: int = 0) -> list[bytes]:
    return [b'{"n":%d,"pad":"%s"}' % (i, b"x" * (i % 7)) for i in range(start, start + n)]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=8))
def test_appends_in_batches_give_the_rfc_tree(tmp_path: Path, batches: list[int]) -> None:
    log = tmp_path / f"a{len(list(tmp_path.iterdir()))}.jsonl"
    tree = TreeState(log)
    lines: list[bytes] = []
    for count in batches:
        new = records(count, len(lines))
        grow(tree, log, new)
        lines += new
        assert tree.size == len(lines) and tree.covered == log.stat().st_size
        assert tree.root() == mth(lines)
    assert sidecar_path(log).stat().st_size == 32 + 32 * stored_count(len(lines)) + 8 * len(lines)
    for size in range(1, len(lines) + 1):
        assert tree.root(size) == mth(lines[:size])
        assert list(tree.inclusion_proof(size - 1, size).hashes) == path(size - 1, lines[:size])
        if size < len(lines):
            assert list(tree.consistency_proof(size).hashes) == proof(size, lines)
    assert list(tree.leaf_hashes()) == [leaf_hash(line) for line in lines]
    tree.close()


def test_a_missing_sidecar_is_built_from_the_log(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    lines = records(50)
    write_log(log, lines)
    with open(log, "ab") as handle:
        handle.write(b'{"torn')  # a torn last line is not a record
    with synced(log) as tree:
        assert tree.size == 50 and tree.root() == mth(lines)


def test_a_sidecar_behind_the_log_catches_up(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    tree = TreeState(log)
    grow(tree, log, records(10))
    tree.close()
    with open(log, "ab") as handle:  # a writer that keeps no tree
        handle.write(b"".join(line + b"\n" for line in records(5, 10)))
    tree = TreeState(log)
    assert tree.size == 10
    grow(tree, log, records(3, 15))  # extend notices the gap and reads it from the log
    assert tree.size == 18 and tree.root() == mth(records(18))
    tree.close()


def test_a_torn_entry_is_cut_off(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with TreeState(log) as tree:
        grow(tree, log, records(7))
    side = sidecar_path(log)
    with open(side, "ab") as handle:
        handle.write(b"\x01" * 45)  # a crash in the middle of an entry
    with synced(log) as tree:
        assert tree.size == 7 and tree.root() == mth(records(7))
    assert side.stat().st_size == 32 + 32 * stored_count(7) + 8 * 7


def test_a_stale_sidecar_is_set_aside_and_rebuilt(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with TreeState(log) as tree:
        grow(tree, log, records(12))
    old_root = mth(records(12))
    other = [b'{"rewritten":%d}' % i for i in range(12)]
    write_log(log, other)  # the log replaced: the sidecar no longer matches it
    with synced(log) as tree:
        assert tree.root() == mth(other)
        assert tree.set_aside is not None and tree.set_aside.name.startswith(
            "audit.jsonl.tree.stale-"
        )
        with TreeState(log, path=tree.set_aside, writable=False) as kept:
            assert kept.root() == old_root  # kept: it names what the old log held


def test_a_shorter_log_makes_the_sidecar_stale(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with TreeState(log) as tree:
        grow(tree, log, records(9))
    write_log(log, records(6))  # truncated
    with synced(log) as tree:
        assert tree.size == 6 and tree.set_aside is not None


def test_not_a_tree_file(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    write_log(log, records(3))
    sidecar_path(log).write_bytes(b"something else entirely, not a usepolicy tree\n")
    with pytest.raises(TreeError, match="not a usepolicy tree file"):
        TreeState(log, writable=False)
    with synced(log) as tree:  # writable: set aside, rebuilt
        assert tree.size == 3 and tree.set_aside is not None


def test_two_writers_share_one_sidecar(tmp_path: Path) -> None:
    """Two processes appending to one log (here two instances, taking turns as the log's
    lock makes them): each sees the other's entries."""
    log = tmp_path / "audit.jsonl"
    first, second = TreeState(log), TreeState(log)
    lines: list[bytes] = []
    for turn in range(10):
        new = records(turn % 3 + 1, len(lines))
        grow(first if turn % 2 else second, log, new)
        lines += new
    assert first.size == len(lines) and first.root() == mth(lines)  # refreshed by its appends
    second.sync(os.open(log, os.O_RDONLY), log.stat().st_size)
    assert second.root() == mth(lines)


def test_a_sidecar_deleted_under_a_running_writer(tmp_path: Path) -> None:
    """The writer goes on in its own (unlinked) file; readers rebuild the sidecar from the
    log and stay right; another writer's append makes the first one reopen it."""
    log = tmp_path / "audit.jsonl"
    first = TreeState(log)
    grow(first, log, records(4))
    sidecar_path(log).unlink()
    grow(first, log, records(2, 4))
    assert first.size == 6 and first.root() == mth(records(6))
    with synced(log) as reader:
        assert reader.size == 6 and reader.root() == mth(records(6))
    grow(first, log, records(1, 6))
    with synced(log) as reader:  # behind by the record the first writer kept to itself
        assert reader.size == 7 and reader.root() == mth(records(7))
    second = TreeState(log)
    grow(second, log, records(1, 7))
    grow(first, log, records(1, 8))  # the log moved on: the first writer reads the sidecar
    assert first.path.stat().st_ino == os.fstat(first._fd).st_ino
    assert first.root() == mth(records(9))


def test_read_only_refuses_to_repair(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with TreeState(log) as tree:
        grow(tree, log, records(3))
    with open(log, "ab") as handle:
        handle.write(b'{"more":1}\n')
    reader = TreeState(log, writable=False)
    with pytest.raises(TreeError, match="behind the log"):
        reader.sync(os.open(log, os.O_RDONLY), log.stat().st_size)
    with pytest.raises(TreeError, match="not in a tree of 3"):
        reader.read_hashes([(2, 0)])
    with pytest.raises(TreeError, match="not 4"):
        reader.root(4)
    with pytest.raises(TreeError):
        TreeState(tmp_path / "none.jsonl", writable=False)
