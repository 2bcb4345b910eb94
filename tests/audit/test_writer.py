"""The group-commit writer of AuditLog: batches, fsync order, a log moved or cut under it."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from usepolicy import AuditError, AuditLog, Enforcer
from usepolicy.audit import read_records, verify_log
from usepolicy.audit._writer import _WAKE_SLICE, GroupWriter, Outcome
from usepolicy.record import Draft, Sealed

from .conftest import ALLOWED, MakeRecord, WriteLog


def _digests(path: Path) -> list[str]:
    return [record.record_digest for _, record in read_records(path)]


@pytest.mark.parametrize("durability", ["always", "batch"])
def test_threads_share_batches_and_every_acknowledged_record_is_in_the_chain(
    tmp_path: Path, make_record: MakeRecord, durability: str
):
    path = tmp_path / "audit.jsonl"
    stored: list[str] = []
    lock = threading.Lock()
    with AuditLog(path, durability=durability) as log:  # type: ignore[arg-type]

        def work() -> None:
            for _ in range(25):
                digest = log.append(make_record()).record_digest
                with lock:
                    stored.append(digest)

        threads = [threading.Thread(target=work) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        batches = log._writer.batches
    result = verify_log(path)
    assert result.ok and result.count == 400
    assert sorted(_digests(path)) == sorted(stored)
    assert batches <= 400  # never more fsyncs than records; usually far fewer


def test_nothing_returns_before_its_fdatasync(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch
):
    events: list[tuple[str, int]] = []
    real = os.fdatasync

    def recording(fd: int) -> None:
        real(fd)
        events.append(("fdatasync", os.fstat(fd).st_size))

    monkeypatch.setattr(os, "fdatasync", recording)
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, durability="always") as log:
        for _ in range(3):
            log.append(make_record())
            events.append(("returned", path.stat().st_size))
    # each return comes after an fdatasync that covered the whole file as it then was
    for index, (kind, size) in enumerate(events):
        if kind == "returned":
            synced = [s for k, s in events[:index] if k == "fdatasync"]
            assert synced and synced[-1] == size


def test_a_failed_fdatasync_fails_the_whole_batch_and_later_appends(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch
):
    def boom(fd: int) -> None:
        raise OSError(5, "Input/output error")

    path = tmp_path / "audit.jsonl"
    with AuditLog(path, durability="batch") as log:
        log.append(make_record())
        monkeypatch.setattr(os, "fdatasync", boom)
        with pytest.raises(AuditError, match="cannot make the record durable"):
            log.append(make_record())
        monkeypatch.undo()
        with pytest.raises(AuditError, match="fsync failed earlier"):
            log.append(make_record())
    assert verify_log(path).count == 1


@pytest.mark.parametrize("durability", ["always", "none"])
def test_a_renamed_log_is_detected_denied_and_reopened_at_its_path(
    tmp_path: Path, make_record: MakeRecord, durability: str
):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, durability=durability) as log:  # type: ignore[arg-type]
        log.append(make_record())
        path.rename(tmp_path / "rotated.jsonl")
        with pytest.raises(AuditError, match="renamed or deleted under the running writer"):
            log.append(make_record())
        stored = log.append(make_record())  # a new log at the path
    assert stored.prev_digest is None
    assert verify_log(path).count == 1
    assert verify_log(tmp_path / "rotated.jsonl").count == 1


def test_a_deleted_log_is_detected_then_recreated(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.append(make_record())
        path.unlink()
        with pytest.raises(AuditError, match="renamed or deleted under the running writer"):
            log.append(make_record())
        log.append(make_record())
    assert verify_log(path).count == 1


def test_a_replaced_log_is_detected_and_its_chain_continued(
    tmp_path: Path, write_log: WriteLog, make_record: MakeRecord
):
    path = tmp_path / "audit.jsonl"
    other = write_log(3, name="other.jsonl")
    with AuditLog(path) as log:
        log.append(make_record())
        os.replace(other, path)
        with pytest.raises(AuditError, match="was replaced under the running writer"):
            log.append(make_record())
        stored = log.append(make_record())
    assert stored.prev_digest == _digests(path)[-2]
    assert verify_log(path).count == 4


def test_a_log_truncated_in_place_is_refused_until_an_operator_acts(
    tmp_path: Path, make_record: MakeRecord
):
    # issue 12 item 8: the writer knew its head, so it must not start a new chain
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        for _ in range(3):
            log.append(make_record())
        head = log.head
        os.truncate(path, 0)
        for _ in range(2):
            with pytest.raises(AuditError, match="truncated under the running writer") as err:
                log.append(make_record())
            assert err.value.code == "audit-error"
            assert str(head) in str(err.value)
    assert path.stat().st_size == 0  # nothing was appended to the cut log
    with AuditLog(path) as reopened:  # the operator's act: open the log again
        assert reopened.append(make_record()).prev_digest is None


def test_an_enforcer_denies_on_a_truncated_log_naming_the_truncation(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=path) as guard:
        assert guard.enforce(ALLOWED).stored
        os.truncate(path, 10)
        result = guard.enforce(ALLOWED)
        assert not result.allowed and not result.stored
        assert result.record.errors[-1].code == "audit-error"
        assert "truncated" in result.record.errors[-1].message


def test_async_tasks_share_batches_and_every_acknowledged_record_is_in_the_chain(
    tmp_path: Path,
):
    path = tmp_path / "audit.jsonl"

    async def main(guard: Enforcer) -> list[str]:
        records = await asyncio.gather(*(guard.acheck(ALLOWED) for _ in range(300)))
        assert all(r.decision == "allow" for r in records)
        return [r.record_digest for r in records]

    with Enforcer(audit_log=path, durability="always") as guard:
        acknowledged = asyncio.run(main(guard))
    result = verify_log(path)
    assert result.ok and result.count == 300
    assert sorted(_digests(path)) == sorted(acknowledged)


def test_closing_stores_what_is_pending(tmp_path: Path, make_record: MakeRecord):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, durability="batch")
    log.append(make_record())
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.append(make_record())
    assert verify_log(path).count == 1


def test_a_body_given_as_a_function_is_made_in_the_writer_thread_and_fails_alone(
    tmp_path: Path, make_record: MakeRecord
):
    """``astore`` of a function: the writer thread calls it, not the loop; one that raises
    leaves its record unstored and the rest of the batch stored."""
    path = tmp_path / "audit.jsonl"
    made_in: list[str] = []

    def maker(fail: bool) -> Any:
        def make() -> Draft:
            made_in.append(threading.current_thread().name)
            if fail:
                raise ValueError("no body")
            return Draft(make_record().to_dict())

        return make

    async def main(log: AuditLog) -> list[Any]:
        return await asyncio.gather(
            *(log.astore(maker(i == 3)) for i in range(8)), return_exceptions=True
        )

    with AuditLog(path, durability="always", redact=["description"]) as log:
        outcomes = asyncio.run(main(log))
    assert isinstance(outcomes[3], AuditError) and "no body" in str(outcomes[3])
    stored = [o for i, o in enumerate(outcomes) if i != 3]
    assert all(isinstance(o, Sealed) and o.body["redacted"] == ["description"] for o in stored)
    assert set(made_in) == {f"usepolicy-audit {path.name}"}
    result = verify_log(path)
    assert result.ok and result.count == 7


def test_a_big_batch_wakes_its_tasks_a_slice_per_loop_iteration(tmp_path: Path):
    """1,000 tasks acknowledged by one batch do not all run in one loop iteration: a
    callback that reschedules itself every iteration runs between every slice of them."""
    path = tmp_path / "audit.jsonl"
    events: list[str] = []

    async def main(guard: Enforcer) -> None:
        loop = asyncio.get_running_loop()
        stop = False

        def iteration() -> None:
            events.append("|")
            if not stop:
                loop.call_soon(iteration)

        async def task() -> None:
            await guard.acheck(ALLOWED)
            events.append("t")

        tasks = [asyncio.ensure_future(task()) for _ in range(1000)]
        iteration()
        await asyncio.gather(*tasks)
        stop = True

    with Enforcer(audit_log=path, durability="always") as guard:
        asyncio.run(main(guard))
    runs = "".join(events).split("|")
    assert sum(len(run) for run in runs) == 1000
    assert max(len(run) for run in runs) <= _WAKE_SLICE
    assert verify_log(path).count == 1000


def test_the_writer_offers_the_gil_while_it_makes_a_batch_of_bodies(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch
):
    """Making a thousand bodies is tens of milliseconds of Python: the writer thread
    offers the GIL every few bodies (``time.sleep(0)``), so that the event loop does not
    wait out the switch interval each time it wants it back."""
    from usepolicy.audit import _writer

    offered: list[float] = []
    monkeypatch.setattr(_writer.time, "sleep", lambda seconds: offered.append(seconds))
    body = make_record().to_dict()

    async def main(log: AuditLog) -> None:
        await asyncio.gather(*(log.astore(lambda: Draft(dict(body))) for _ in range(200)))

    with AuditLog(tmp_path / "audit.jsonl", durability="always") as log:
        asyncio.run(main(log))
        made = 200 - log._writer.batches  # at least: the first body of each batch offers none
    assert offered and set(offered) == {0}
    assert len(offered) >= made // _writer._YIELD_EVERY - log._writer.batches


def test_a_batch_wakes_its_threads_one_after_the_other_skipping_one_that_left(
    monkeypatch: pytest.MonkeyPatch,
):
    """Each woken thread wakes the next of its batch; a thread that stopped waiting
    (interrupted after queueing its record) is passed over, not waited for."""
    count, leaving = 8, 3
    all_queued = threading.Event()

    def commit(drafts: Sequence[Draft]) -> list[Outcome]:
        return [Sealed(dict(draft.body), b"{}") for draft in drafts]

    writer = GroupWriter(commit, "test-writer")
    enqueue, run = GroupWriter._enqueue, writer._run

    def enqueue_then_leave(self: GroupWriter, ticket: Any) -> None:
        enqueue(self, ticket)
        if ticket.draft.body["n"] == leaving:
            raise KeyboardInterrupt  # as a signal would, while the thread waits

    def run_once_all_queued() -> None:
        all_queued.wait()  # so that the eight records make one batch
        run()

    monkeypatch.setattr(GroupWriter, "_enqueue", enqueue_then_leave)
    monkeypatch.setattr(writer, "_run", run_once_all_queued)
    woken: list[int] = []
    left: list[int] = []

    def submit(n: int) -> None:
        try:
            writer.submit(Draft({"n": n}))
            woken.append(n)
        except KeyboardInterrupt:
            left.append(n)

    threads = [threading.Thread(target=submit, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    while len(writer._pending) < count:
        time.sleep(0.001)
    all_queued.set()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads), "a thread was never woken"
    writer.close()
    assert left == [leaving] and sorted(woken) == [n for n in range(count) if n != leaving]
    assert writer.batches == 1


def test_two_batches_committed_in_one_loop_iteration_still_wake_a_slice_at_a_time():
    """The slice is per loop, not per batch: records of two batches committed while the
    loop was busy are resolved ``_WAKE_SLICE`` at a time all the same."""

    def commit(drafts: Sequence[Draft]) -> list[Outcome]:
        return [Sealed(dict(draft.body), b"{}") for draft in drafts]

    writer = GroupWriter(commit, "test-writer")

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        iterations = [0]
        woken_in: list[int] = []

        def iteration() -> None:
            iterations[0] += 1
            loop.call_soon(iteration)

        futures: list[asyncio.Future[Sealed]] = []
        for _ in range(2):  # the loop is busy meanwhile: each batch is committed
            futures += [writer.submit_async(Draft({"n": n})) for n in range(20)]
            while writer.batches < len(futures) // 20:
                time.sleep(0.001)
        iteration()
        for future in futures:
            future.add_done_callback(lambda _: woken_in.append(iterations[0]))
        await asyncio.gather(*futures)
        return woken_in

    woken_in = asyncio.run(main())
    writer.close()
    assert writer.batches == 2 and len(woken_in) == 40
    assert max(woken_in.count(n) for n in set(woken_in)) <= _WAKE_SLICE
