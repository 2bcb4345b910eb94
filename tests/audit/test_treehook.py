"""A file log asked to (``tree=True``) keeps its Merkle tree as it appends (``GROW_EVERY`` records at a time, the
rest at close): threads, processes, readers in between, recovery, and a tree that fails
never fails an append."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from usepolicy import AuditError, Engine, load_policy
from usepolicy.audit import AuditLog, _treehook, open_tree, verify_log
from usepolicy.tlog import TreeError, TreeState, sidecar_path

from ..tlog.reference import mth
from .conftest import ALLOWED, MakeRecord, lines_of


def tree_of(path: Path) -> TreeState:
    """The sidecar as it stands (read-only: nothing caught up for the test)."""
    return TreeState(path, writable=False)


def records_of(path: Path) -> list[bytes]:
    return [line.rstrip(b"\n") for line in lines_of(path)]


@pytest.fixture
def every(monkeypatch: pytest.MonkeyPatch) -> int:
    """A small ``GROW_EVERY``, so that a test sees the tree grow in steps."""
    monkeypatch.setattr(_treehook, "GROW_EVERY", 4)
    return 4


@pytest.mark.parametrize("durability", ["always", "batch", "none"])
def test_the_tree_grows_every_few_records_and_at_close(
    tmp_path: Path, make_record: MakeRecord, durability: str, every: int
):
    path = tmp_path / "audit.jsonl"
    ends: list[int] = []
    with AuditLog(path, durability=durability, tree=True) as log:  # type: ignore[arg-type]
        for i in range(11):
            log.append(make_record(deny=bool(i % 3)))
            ends.append(path.stat().st_size)
            with tree_of(path) as tree:
                taken = (i + 1) // every * every  # whole steps only
                assert tree.size == taken
                assert tree.covered == (ends[taken - 1] if taken else 0)
    with tree_of(path) as tree:  # the last three came in at close
        assert tree.size == 11 and tree.root() == mth(records_of(path))


def test_a_reader_between_steps_sees_every_record_and_the_writer_adds_none_twice(
    tmp_path: Path, make_record: MakeRecord, every: int
):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, durability="none", tree=True) as log:
        for round_ in range(3):
            for _ in range(every - 1):  # one short of a step: the writer's tree waits
                log.append(make_record())
            with open_tree(path) as tree:  # catches the sidecar up under the log's lock
                assert tree.size == verify_log(path).count == (every - 1) * (round_ + 1)
                assert tree.root() == mth(records_of(path))
    with tree_of(path) as tree:
        assert tree.size == 3 * (every - 1) and tree.root() == mth(records_of(path))


def test_threads_sharing_a_log_share_its_tree(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, durability="batch", tree=True)
    record = make_record()

    def work() -> None:
        for _ in range(50):
            log.append(record)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    with tree_of(path) as tree:
        assert tree.size == 300 and tree.root() == mth(records_of(path))


_CHILD = textwrap.dedent(
    """
    import sys
    from usepolicy import DecisionRecord
    from usepolicy.audit import AuditLog

    record = DecisionRecord.from_json(sys.argv[2])
    with AuditLog(sys.argv[1], durability="none", tree=True) as log:
        sys.stdin.readline()
        for _ in range(100):
            log.append(record)
    """
)


def test_processes_appending_to_one_log_keep_one_tree(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    record = Engine(load_policy()).evaluate(ALLOWED).record().to_json()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), record], stdin=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for child in children:  # start together
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        child.communicate(timeout=120)
        assert child.returncode == 0
    assert verify_log(path).count == 400
    with tree_of(path) as tree:
        assert tree.size == 400 and tree.root() == mth(records_of(path))


def test_a_torn_tail_is_never_a_leaf(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, tree=True) as log:
        for _ in range(3):
            log.append(make_record())
    with open(path, "ab") as handle:
        handle.write(b'{"record_version":1,"decis')  # a writer killed mid-line
    with AuditLog(path, tree=True) as log:
        assert log.recovered is not None
        log.append(make_record())
    with tree_of(path) as tree:
        assert tree.size == 4 and tree.root() == mth(records_of(path))


@pytest.mark.parametrize("step", [1, 2], ids=["each-batch", "in-steps"])
def test_a_tree_that_fails_costs_a_warning_not_an_append(
    tmp_path: Path,
    make_record: MakeRecord,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    step: int,
):
    monkeypatch.setattr(_treehook, "GROW_EVERY", step)
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, tree=True)
    log.append(make_record())
    real = TreeState.extend, TreeState.sync

    def broken(self: TreeState, *args: object, **kwargs: object) -> None:
        raise TreeError(28, f"{self.path}: No space left on device")

    monkeypatch.setattr(TreeState, "extend", broken)  # a batch taken in at once
    monkeypatch.setattr(TreeState, "sync", broken)  # records taken in in steps
    with caplog.at_level(logging.WARNING, logger="usepolicy.audit"):
        for _ in range(4):
            log.append(make_record())  # durable and returned, whatever the tree
    warnings = [r.getMessage() for r in caplog.records if "No space left" in r.getMessage()]
    assert len(warnings) == 1 and "the log is unaffected" in warnings[0]
    assert verify_log(path).count == 5
    monkeypatch.setattr(TreeState, "extend", real[0])
    monkeypatch.setattr(TreeState, "sync", real[1])
    log.append(make_record())  # the tree catches up with what it missed
    log.close()
    with tree_of(path) as tree:
        assert tree.size == 6 and tree.root() == mth(records_of(path))


def test_no_tree_unless_asked(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:  # by default, whoever reads the tree makes it
        log.append(make_record())
    assert not sidecar_path(path).exists()
    with AuditLog(path, tree=True) as log:  # a log written without a tree gets one when asked
        log.append(make_record())
    with tree_of(path) as tree:
        assert tree.size == 2


def test_a_log_reopened_after_a_rename_grows_its_own_tree(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, durability="batch", tree=True) as log:
        log.append(make_record())
        path.rename(tmp_path / "rotated.jsonl")
        with pytest.raises(AuditError, match="renamed or deleted"):
            log.append(make_record())
        for _ in range(3):
            log.append(make_record())
    with tree_of(path) as tree:  # at close, the tree of the file now at the path
        assert tree.size == 3 and tree.root() == mth(records_of(path))
