"""Rotation of a file log: by size and by time, the chain carried across files, writers
that follow another's rotation, the set verified as one log, a tree per file."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from usepolicy import AuditError, DecisionRecord
from usepolicy.audit import (
    AuditLog,
    checkpoint_log,
    log_files,
    open_sink,
    verify_checkpoint,
    verify_log,
)
from usepolicy.tlog import NoteSigner

from .conftest import MakeRecord


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _chain(files: list[Path]) -> list[dict[str, Any]]:
    return [record for path in files for record in _lines(path)]


def _at(record: DecisionRecord, timestamp: str) -> DecisionRecord:
    return DecisionRecord.model_validate({**record.to_dict(), "timestamp": timestamp})


def test_rotation_by_size_carries_the_chain_across_files(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    size = len(make_record().to_json()) + 200  # a record's line, with room for digests
    with AuditLog(path, rotate_bytes=3 * size) as log:
        stored = [log.append(make_record(deny=n % 2 == 1)) for n in range(10)]
    files = log_files(path)
    assert files[-1] == path and len(files) > 2 and files[:-1] == log.archived
    assert all(0 < f.stat().st_size <= 3 * size for f in files)
    records = _chain(files)
    assert [r["record_digest"] for r in records] == [s.record_digest for s in stored]
    assert records[0]["prev_digest"] is None
    for before, after in itertools.pairwise(records):  # one chain, no restart
        assert after["prev_digest"] == before["record_digest"]
    for target in (path, tmp_path, files):  # the log, its folder, its files in order
        result = verify_log(target)
        assert (result.ok, result.count, result.head) == (True, 10, stored[-1].record_digest)
        assert result.files == tuple(str(f) for f in files)
    assert str(verify_log(path)).endswith(
        f"ok: 10 records in {len(files)} files, head {stored[-1].record_digest}"
    )


def test_a_batch_larger_than_the_limit_gets_a_file_of_its_own(
    tmp_path: Path, make_record: MakeRecord
):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, rotate_bytes=10) as log:
        for _ in range(3):
            log.append(make_record())
    assert [len(_lines(f)) for f in log_files(path)] == [1, 1, 1]
    assert verify_log(path).count == 3


def test_threads_share_batches_and_a_batch_is_never_split(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    record = make_record()
    size = len(record.to_json()) + 200
    log = AuditLog(path, durability="batch", rotate_bytes=5 * size)
    batches: list[int] = []
    commit = log._commit

    def spy(drafts: Any) -> Any:
        batches.append(len(drafts))
        return commit(drafts)

    log._writer._commit = spy
    threads = [
        threading.Thread(target=lambda: [log.append(record) for _ in range(50)]) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    files = log_files(path)
    assert len(files) > 2 and verify_log(path).count == 300
    # each batch went whole into one file: a file's count is a sum of whole batches
    counts = iter(batches)
    for file in files:
        left = len(_lines(file))
        while left > 0:
            left -= next(counts)
        assert left == 0


def test_rotation_by_time_gives_a_file_per_period(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    times = [
        "2026-11-28T09:10:00.000000Z",
        "2026-11-28T09:59:59.999999Z",
        "2026-11-28T10:00:00.000000Z",
        "2026-11-28T12:30:00.000000Z",
        "2026-11-28T12:31:00.000000Z",
    ]
    with AuditLog(path, rotate_every=timedelta(hours=1)) as log:
        for moment in times:
            log.append(_at(make_record(), moment))
    files = log_files(path)
    assert [[r["timestamp"][11:13] for r in _lines(f)] for f in files] == [
        ["09", "09"],
        ["10"],
        ["12", "12"],
    ]
    assert verify_log(tmp_path).count == 5
    # reopening goes on with the current file's period, read from its first record
    with AuditLog(path, rotate_every=3600) as log:
        log.append(_at(make_record(), "2026-11-28T12:45:00.000000Z"))
        log.append(_at(make_record(), "2026-11-29T00:00:00.000000Z"))
    assert [len(_lines(f)) for f in log_files(path)] == [2, 1, 3, 1]


def test_bad_rotation_options_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="rotate_bytes"):
        AuditLog(tmp_path / "a.jsonl", rotate_bytes=0)
    with pytest.raises(ValueError, match="rotate_every"):
        AuditLog(tmp_path / "a.jsonl", rotate_every=0.5)


def test_a_writer_follows_a_rotation_made_by_another(tmp_path: Path, make_record: MakeRecord):
    # two instances on one file exclude each other as two processes do (each its own
    # open file, and so its own flock); the second must follow, not deny
    path = tmp_path / "audit.jsonl"
    rotating = AuditLog(path, rotate_bytes=1)
    other = AuditLog(path)
    first = other.append(make_record())
    second = rotating.append(make_record())  # rotates: the file held a record
    third = other.append(make_record())  # its file is an archive now: it follows
    fourth = rotating.append(make_record())
    rotating.close()
    other.close()
    assert [third.prev_digest, fourth.prev_digest] == [
        second.record_digest,
        third.record_digest,
    ]
    assert first.record_digest == second.prev_digest
    result = verify_log(path)
    assert result.ok and result.count == 4 and len(result.files) == 3


def test_a_log_renamed_by_hand_is_still_refused(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, rotate_bytes=1 << 20) as log:
        log.append(make_record())
        path.rename(tmp_path / "old.jsonl")  # not one of its archives: not a rotation
        with pytest.raises(AuditError, match="renamed or deleted"):
            log.append(make_record())


_CHILD = textwrap.dedent(
    """
    import sys
    from usepolicy import DecisionRecord
    from usepolicy.audit import AuditLog

    path, count, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    record = DecisionRecord.from_json(sys.stdin.readline())
    with AuditLog(path, durability="none", rotate_bytes=limit) as log:
        for _ in range(count):
            print(log.append(record).record_digest, flush=True)
    """
)


def test_four_processes_rotate_one_log_together(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    record = make_record().to_json()
    limit = 20 * (len(record) + 200)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), "100", str(limit)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    written: list[str] = []
    for child in children:
        out, _ = child.communicate(record + "\n", timeout=300)
        assert child.returncode == 0  # no append was refused: rotations were followed
        written += out.split()
    files = log_files(path)
    result = verify_log(path)
    assert result.ok, result
    assert result.count == 400 and len(files) >= 10
    assert sorted(written) == sorted(r["record_digest"] for r in _chain(files))
    assert all(f.stat().st_size <= limit for f in files)


def test_a_failed_rotation_keeps_appending_to_the_full_file(
    tmp_path: Path,
    make_record: MakeRecord,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    path = tmp_path / "audit.jsonl"

    def refuse(*args: Any) -> None:
        raise OSError(1, "Operation not permitted")

    with AuditLog(path, rotate_bytes=1) as log:
        log.append(make_record())
        monkeypatch.setattr(os, "link", refuse)
        with caplog.at_level(logging.WARNING, "usepolicy.audit"):
            log.append(make_record())  # stored all the same: a full file is no reason to deny
        monkeypatch.undo()
        log.append(make_record())
    assert "cannot rotate" in caplog.text
    assert [len(_lines(f)) for f in log_files(path)] == [2, 1]
    assert sorted(os.listdir(tmp_path)) == sorted(
        p.name for p in log_files(path)
    )  # no temporary file left behind
    assert verify_log(path).count == 3


@pytest.mark.parametrize("keep", [True, False], ids=["writer-keeps-the-tree", "no-tree"])
def test_each_file_keeps_its_own_tree_and_checkpoints(
    tmp_path: Path, make_record: MakeRecord, keep: bool
):
    path = tmp_path / "audit.jsonl"
    signer = NoteSigner.generate("example.com/audit")
    with AuditLog(path, rotate_bytes=1, tree=keep) as log:
        log.append(make_record())
        checkpoint_log(path, signer)  # the first file's tree, made now if not kept
        for _ in range(2):
            log.append(make_record())
    first = log_files(path)[0]
    assert first != path and Path(f"{first}.tree").exists()  # went along with its file
    verifier = signer.verifier()
    for file in log_files(path):
        assert Path(f"{file}.tree").exists() == (keep or file == first)
        note = checkpoint_log(file, signer, origin=f"example.com/audit/{file.name}")
        verdict = verify_checkpoint(file, note, verifier)
        assert verdict.ok and verdict.size == 1, verdict


@pytest.fixture
def rotated(tmp_path: Path, make_record: MakeRecord) -> list[Path]:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, rotate_bytes=1) as log:  # a file per record
        for n in range(4):
            log.append(make_record(deny=n % 2 == 1))
    return log_files(path)


def test_a_folder_with_several_logs_is_refused(tmp_path: Path, rotated: list[Path]):
    (tmp_path / "other.jsonl.20261128T000000.000000Z").write_bytes(b"")
    with pytest.raises(AuditError, match=re.escape("several logs (audit.jsonl, other.jsonl)")):
        log_files(tmp_path)


def test_open_sink_rotates(tmp_path: Path, make_record: MakeRecord):
    sink = open_sink(tmp_path / "audit.jsonl", rotate_bytes=1)
    assert isinstance(sink, AuditLog)
    with sink:
        sink.append(make_record())
        sink.append(make_record())
    assert len(log_files(tmp_path / "audit.jsonl")) == 2
    with pytest.raises(ValueError, match="rotate"):
        open_sink("postgresql://localhost/x", writer_id="w", rotate_bytes=1)


def test_a_rotation_cut_short_between_link_and_rename_is_finished(
    tmp_path: Path, make_record: MakeRecord
):
    # a writer killed after linking the full file to its archive name, before renaming
    # the new file over the path: the file has two names; it is read once, and the next
    # rotation reuses the archive name instead of linking again
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.append(make_record())
    half = path.with_name(path.name + ".20261128T000000.000000Z")
    os.link(path, half)
    assert log_files(path) == [path] and verify_log(path).count == 1
    with AuditLog(path) as log:  # no rotation yet: appends go to the (twice named) file
        log.append(make_record())
    with AuditLog(path, rotate_bytes=1) as log:
        log.append(make_record())
    assert log_files(path) == [half, path] and log.archived == [half]
    assert [len(_lines(f)) for f in log_files(path)] == [2, 1]
    assert verify_log(path).count == 3


def test_awaiting_tasks_share_batches_across_rotations(tmp_path: Path):
    import asyncio

    import usepolicy

    path = tmp_path / "audit.jsonl"
    request = {"requester": {"organization": "Cyber Command"}, "purpose": "cyber.defense"}
    log = AuditLog(path, rotate_bytes=1)  # every batch but the first in a file of its own

    async def main() -> list[DecisionRecord]:
        with log, usepolicy.Enforcer(audit_log=log) as guard:
            return list(await asyncio.gather(*(guard.acheck(request) for _ in range(200))))

    stored = asyncio.run(main())
    assert all(r.allowed for r in stored)  # acknowledged: each is in a file of the set
    result = verify_log(path)
    assert result.ok and result.count == 200
    assert len(log_files(path)) == log._writer.batches  # batches shared, never split
    assert {r.record_digest for r in stored} == {
        r["record_digest"] for r in _chain(log_files(path))
    }
