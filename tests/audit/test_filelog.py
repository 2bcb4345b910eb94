"""AuditLog: the chain, concurrency (threads, processes, fork), durability, crash recovery."""

from __future__ import annotations

import errno
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from usepolicy import AuditError, AuditLog, Engine, load_policy
from usepolicy.audit import Durability, read_records, verify_log

from .conftest import ALLOWED, MakeRecord, WriteLog, lines_of


def digests(path: Path) -> list[str]:
    return [record.record_digest for _, record in read_records(path)]


# -- the chain -------------------------------------------------------------------------
def test_records_are_chained_one_canonical_line_each(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        stored = [log.append(make_record(deny=bool(i % 2))) for i in range(4)]
    assert stored[0].prev_digest is None
    for before, after in itertools.pairwise(stored):
        assert after.prev_digest == before.record_digest
    assert all(s.computed_digest() == s.record_digest for s in stored)
    assert lines_of(path) == [(s.to_json() + "\n").encode() for s in stored]
    assert verify_log(path).count == 4


def test_reopening_continues_the_chain(write_log: WriteLog, make_record: MakeRecord):
    path = write_log(3)
    head = digests(path)[-1]
    with AuditLog(path) as log:
        assert log.head == head
        stored = log.append(make_record())
    assert stored.prev_digest == head
    result = verify_log(path)
    assert (result.ok, result.count, result.head) == (True, 4, stored.record_digest)


def test_two_writers_on_one_file_see_each_others_appends(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as first, AuditLog(path) as second:
        for i in range(10):
            (first if i % 3 else second).append(make_record())
    assert verify_log(path).count == 10


def test_the_stored_record_is_returned_and_the_input_untouched(
    tmp_path: Path, make_record: MakeRecord
):
    record = make_record()
    with AuditLog(tmp_path / "a.jsonl") as log:
        log.append(make_record())
        stored = log.append(record)
    assert record.prev_digest is None
    assert stored.prev_digest is not None
    assert stored.decision_id == record.decision_id
    assert stored.request == record.request


def test_bad_options_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="durability"):
        AuditLog(tmp_path / "a.jsonl", durability="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="redaction path"):
        AuditLog(tmp_path / "a.jsonl", redact=["nonsense.field"])


def test_append_after_close_raises(tmp_path: Path, make_record: MakeRecord):
    log = AuditLog(tmp_path / "a.jsonl")
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.append(make_record())


# -- concurrency -----------------------------------------------------------------------
@pytest.mark.parametrize("durability", ["always", "batch", "none"])
def test_eight_threads_append_200_records_each(
    tmp_path: Path, make_record: MakeRecord, durability: Any
):
    path = tmp_path / "audit.jsonl"
    record = make_record()
    log = AuditLog(path, durability=durability)
    returned: list[str] = []

    def work() -> None:
        for _ in range(200):
            returned.append(log.append(record).record_digest)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    result = verify_log(path)
    assert result.ok, result
    assert result.count == 1600
    assert sorted(returned) == sorted(digests(path))


# A child that appends through its own AuditLog, with short, slow writes: if two
# processes ever wrote at once, their lines would interleave and the chain would break.
# "fast": N appends after a go signal (no fsync: the locking is under test); "loop":
# append until killed; "hang": N appends, then stop half-way through the next line.
_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from usepolicy import DecisionRecord
    from usepolicy.audit import AuditLog
    from usepolicy.audit._filelog import AuditLog as _Log

    path, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    appended = 0

    def short_writes(fd, data):
        view = memoryview(data)
        while view:
            if mode == "hang" and appended == count and len(view) < len(data) // 2:
                print("TORN", flush=True)
                time.sleep(600)
            view = view[os.write(fd, view[:97]):]
            time.sleep(0.0002 if mode != "fast" else 0)

    _Log._write_all = staticmethod(short_writes)
    record = DecisionRecord.from_json(sys.argv[4])
    log = AuditLog(path, durability="none" if mode == "fast" else "always")
    print("ready", flush=True)
    if mode == "fast":
        sys.stdin.readline()
    while mode != "fast" or appended < count:
        stored = log.append(record)
        appended += 1
        print(stored.record_digest, flush=True)
    """
)


Spawn = Callable[[Path, int, str], "subprocess.Popen[str]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start appending children; any still running at the end of the test are killed."""
    record = Engine(load_policy()).evaluate(ALLOWED).record().to_json()
    started: list[subprocess.Popen[str]] = []

    def start(path: Path, count: int, mode: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), str(count), mode, record],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _lines_until(proc: subprocess.Popen[str], stop: str | int) -> list[str]:
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line.strip())
        if seen[-1] == stop or (isinstance(stop, int) and len(seen) > stop):
            return seen
    raise AssertionError(f"child ended early: {seen[-3:]}")


def test_four_processes_append_200_records_each(tmp_path: Path, spawn: Spawn):
    path = tmp_path / "audit.jsonl"
    children = [spawn(path, 200, "fast") for _ in range(4)]
    for child in children:
        _lines_until(child, "ready")
    for child in children:  # start together
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    written: list[list[str]] = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        written.append(out.split())
    result = verify_log(path)
    assert result.ok, result
    assert result.count == 800
    stored = digests(path)
    for mine in written:  # each process's records are all there, in its order
        assert len(mine) == 200
        positions = [stored.index(d) for d in mine]
        assert positions == sorted(positions)


@pytest.mark.parametrize("durability", ["none", "batch"])
def test_a_forked_child_gets_its_own_lock(
    tmp_path: Path, make_record: MakeRecord, durability: Durability
):
    # flock belongs to the open file: a child sharing the parent's would not be excluded;
    # with batch, the parent's writer thread is not in the child either
    path = tmp_path / "audit.jsonl"
    record = make_record()
    log = AuditLog(path, durability=durability)
    log.append(record)
    pid = os.fork()
    if pid == 0:  # the child: append, then leave without running any cleanup of pytest's
        code = 1
        try:
            for _ in range(300):
                log.append(record)
            code = 0
        finally:
            os._exit(code)
    for _ in range(300):
        log.append(record)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    log.close()
    result = verify_log(path)
    assert (result.ok, result.count) == (True, 601), result


# -- durability ------------------------------------------------------------------------
def test_batch_appends_share_fsyncs_and_return_only_once_durable(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, durability="batch")
    durable = [0]  # bytes known durable: the size when the last fsync began
    calls = [0]
    real = os.fdatasync

    def slow_fdatasync(fd: int) -> None:
        size = os.fstat(fd).st_size
        time.sleep(0.003)
        real(fd)
        calls[0] += 1
        durable[0] = max(durable[0], size)

    monkeypatch.setattr(os, "fdatasync", slow_fdatasync)
    record = make_record()
    late: list[str] = []

    def work() -> None:
        for _ in range(25):
            stored = log.append(record)
            end = path.read_bytes().index(stored.record_digest.encode()) + 1
            if durable[0] < end:
                late.append(stored.record_digest)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    assert late == []
    assert verify_log(path).count == 200
    assert calls[0] < 200 / 2, calls  # group commit: far fewer fsyncs than records


def test_always_fsyncs_every_record(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch
):
    calls: list[int] = []
    monkeypatch.setattr(os, "fdatasync", lambda fd: calls.append(os.fstat(fd).st_size))
    with AuditLog(tmp_path / "a.jsonl") as log:
        for _ in range(3):
            log.append(make_record())
    sizes = [len(b"".join(lines_of(tmp_path / "a.jsonl")[: i + 1])) for i in range(3)]
    assert calls == sizes


def test_durability_none_never_fsyncs(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch
):
    def boom(fd: int) -> None:
        raise AssertionError("fsync")

    monkeypatch.setattr(os, "fdatasync", boom)
    monkeypatch.setattr(os, "fsync", boom)
    with AuditLog(tmp_path / "a.jsonl", durability="none") as log:
        log.append(make_record())


# -- failures: fail closed, leave no partial line --------------------------------------
def test_a_full_disk_raises_audit_error(make_record: MakeRecord):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with AuditLog("/dev/full") as log, pytest.raises(AuditError, match="No space left"):
        log.append(make_record())


def test_an_unopenable_path_raises_audit_error(tmp_path: Path):
    (tmp_path / "file").write_text("")
    with pytest.raises(AuditError, match="cannot open"):
        AuditLog(tmp_path / "file" / "audit.jsonl")


def test_a_failed_write_leaves_no_partial_line(
    write_log: WriteLog, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch
):
    path = write_log(2)
    before = path.read_bytes()
    log = AuditLog(path)

    def half_then_enospc(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(AuditLog, "_write_all", staticmethod(half_then_enospc))
    with pytest.raises(AuditError, match="No space left"):
        log.append(make_record())
    assert path.read_bytes() == before
    monkeypatch.undo()
    log.append(make_record())  # the disk has room again: the chain goes on
    log.close()
    assert verify_log(path).count == 3


@pytest.mark.parametrize("durability", ["always", "batch"])
def test_a_failed_fsync_raises_and_the_log_refuses_more(
    write_log: WriteLog, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch, durability: Any
):
    path = write_log(2)
    log = AuditLog(path, durability=durability)

    def eio(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", eio)
    with pytest.raises(AuditError, match="durable"):
        log.append(make_record())
    monkeypatch.undo()
    with pytest.raises(AuditError, match="reopen"):
        log.append(make_record())
    log.close()
    with AuditLog(path) as again:
        again.append(make_record())
    assert verify_log(path).ok


# -- torn tails and crash recovery -----------------------------------------------------
def _side_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".torn-*"))


@pytest.mark.parametrize(
    "tail",
    [b'{"decision":"al', b"\x00" * 300, b'{"not": "a record"}\n', b'{"decision":"al\n'],
    ids=["cut-line", "nul-block", "complete-non-record", "cut-line-with-newline"],
)
def test_a_torn_tail_is_set_aside_and_the_chain_goes_on(
    write_log: WriteLog, make_record: MakeRecord, tail: bytes
):
    path = write_log(3)
    good = path.read_bytes()
    path.write_bytes(good + tail)
    assert not verify_log(path).ok
    with AuditLog(path) as log:
        assert log.recovered is not None
        assert log.recovered.read_bytes() == tail
        stored = log.append(make_record())
    assert path.read_bytes().startswith(good)
    assert stored.prev_digest == digests(path)[2]
    result = verify_log(path)
    assert (result.ok, result.count) == (True, 4)
    assert result.torn_files == (log.recovered.name,)


def test_a_log_that_is_one_torn_line_is_set_aside_whole(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"decis')
    with AuditLog(path) as log:
        assert log.recovered is not None
        assert log.recovered.read_bytes() == b'{"decis'
        assert log.append(make_record()).prev_digest is None


def test_a_file_that_is_not_a_log_is_left_alone(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    text = b"usepolicy: 1\nname: x\nrules: []\n"
    path.write_bytes(text)
    with pytest.raises(AuditError, match="not an audit log"):
        AuditLog(path)
    assert path.read_bytes() == text
    assert _side_files(path) == []


def test_a_torn_tail_left_by_a_killed_writer(tmp_path: Path, spawn: Spawn):
    path = tmp_path / "audit.jsonl"
    child = spawn(path, 5, "hang")  # writes 5 records, then hangs half-way through one
    seen = _lines_until(child, "TORN")
    child.send_signal(signal.SIGKILL)
    child.wait()
    returned = [s for s in seen if s.startswith("sha256:")]
    assert len(returned) == 5
    torn = path.read_bytes().rsplit(b"\n", 1)[1]
    assert torn  # the log ends in half a line
    assert verify_log(path).problem == "torn-tail"
    with AuditLog(path) as log:
        assert log.recovered is not None
        assert log.recovered.read_bytes() == torn
    assert digests(path) == returned
    assert verify_log(path).ok


def test_every_append_that_returned_survives_a_sigkill(tmp_path: Path, spawn: Spawn):
    path = tmp_path / "audit.jsonl"
    tails = 0
    for _ in range(3):
        child = spawn(path, 0, "loop")  # appends until killed, printing after each
        seen = _lines_until(child, 25)
        child.send_signal(signal.SIGKILL)
        assert child.stdout is not None
        seen += child.stdout.read().split()
        child.wait()
        returned = [s for s in seen if s.startswith("sha256:")]
        tails += not path.read_bytes().endswith(b"\n")
        with AuditLog(path):  # recovers a torn tail, if any
            pass
        stored = digests(path)
        for digest in returned:
            assert digest in stored
        assert verify_log(path).ok
    assert verify_log(path).count >= 75
    assert len(_side_files(path)) == tails
