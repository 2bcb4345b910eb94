"""``open_tree`` hashes what the tree lacks while appends go on: the log's lock is held
only to read how far the log goes, to write the hashes and for the last few records."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from usepolicy.audit import AuditLog, _logtree, open_tree
from usepolicy.tlog import Growth, TreeState

from ..tlog.reference import mth
from .conftest import MakeRecord, lines_of


def records_of(path: Path) -> list[bytes]:
    return [line.rstrip(b"\n") for line in lines_of(path)]


def append(path: Path, make_record: MakeRecord, count: int, **options: Any) -> None:
    with AuditLog(path, durability="none", **options) as log:
        for _ in range(count):
            log.append(make_record())


@pytest.fixture
def small_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rounds of about two records, the last record alone under the lock."""
    monkeypatch.setattr(_logtree, "LOCKED_BYTES", 1)
    monkeypatch.setattr(_logtree, "ROUND_BYTES", 1)


def during_hashing(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> list[int]:
    """Run ``action`` on another thread the first time the tree hashes outside the lock,
    and wait for it (a lock held meanwhile would keep it waiting: the test then fails
    rather than hangs). Returns how many hashing rounds ran."""
    read = Growth.read
    rounds: list[int] = []

    def reading(self: Growth, log_fd: int, end: int, most: int | None = None) -> int:
        rounds.append(end)
        if len(rounds) == 1:  # the action's own hashing, if any, is a later round
            done = threading.Thread(target=action, daemon=True)
            done.start()
            done.join(timeout=30)
            assert not done.is_alive(), "the action waited for the log's lock"
        return read(self, log_fd, end, most)

    monkeypatch.setattr(Growth, "read", reading)
    return rounds


def test_appends_go_on_while_the_tree_is_hashed(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch, small_rounds: None
):
    path = tmp_path / "audit.jsonl"
    append(path, make_record, 6)
    rounds = during_hashing(monkeypatch, lambda: append(path, make_record, 3))
    with open_tree(path) as tree:
        assert tree.size == 9 and tree.root() == mth(records_of(path))
    assert len(rounds) > 1  # in rounds, each up to the size read under the lock


def test_a_sidecar_moved_on_meanwhile_is_not_written_twice(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch, small_rounds: None
):
    path = tmp_path / "audit.jsonl"
    append(path, make_record, 5)
    # meanwhile, another writer that keeps the tree catches the sidecar up and grows it
    during_hashing(monkeypatch, lambda: append(path, make_record, 1, tree=True))
    with open_tree(path) as tree:
        assert tree.size == 6 and tree.root() == mth(records_of(path))
    with TreeState(path, writable=False) as stored:  # each entry once: 6 leaves' worth
        assert stored.size == 6 and stored.root() == mth(records_of(path))


def test_a_log_rotated_meanwhile_is_followed(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch, small_rounds: None
):
    path = tmp_path / "audit.jsonl"
    append(path, make_record, 4)
    archive = tmp_path / "archive.jsonl"

    def rotate() -> None:
        append(path, make_record, 2, rotate_bytes=1)  # a new file at the path, twice
        path.rename(archive)  # and that one moved too: the path is a third file
        append(path, make_record, 3)

    during_hashing(monkeypatch, rotate)
    with open_tree(path) as tree:  # the tree of the file at the path now
        assert tree.size == 3 and tree.root() == mth(records_of(path))
