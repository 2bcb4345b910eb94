"""Enforcer.acheck / arequire / aenforce: the same answers as check, no I/O on the loop."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from usepolicy import AuditError, DecisionRecord, Enforcer, MemorySink, UseDenied
from usepolicy.audit import verify_log

from .test_enforcer import ALLOWED, DENIED


def test_acheck_answers_as_check_does(tmp_path: Path):
    path = tmp_path / "audit.jsonl"

    async def main(guard: Enforcer) -> None:
        allowed = await guard.acheck(ALLOWED)
        assert allowed.decision == "allow"
        assert (await guard.acheck(DENIED)).decision == "deny"
        invalid = await guard.acheck({"purpose": "intelligence.foriegn"})
        assert invalid.request is None
        assert {e.code for e in invalid.errors} == {"invalid-request"}
        assert (await guard.arequire(ALLOWED)).decision == "allow"
        with pytest.raises(UseDenied) as denied:
            await guard.arequire(DENIED)
        assert denied.value.record.decision == "deny"
        result = await guard.aenforce(ALLOWED)
        assert result.allowed and result.stored and result.decision is not None

    with Enforcer(audit_log=path) as guard:
        asyncio.run(main(guard))
    result = verify_log(path)
    assert result.ok and result.count == 6


def test_the_loop_runs_while_the_record_is_being_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # the fsync waits for a task on the loop: if acheck blocked the loop on the disk,
    # that task could never run and the fsync would give up
    release = threading.Event()
    real = os.fdatasync
    gave_up: list[bool] = []

    def fsync_after_the_loop_ran(fd: int) -> None:
        gave_up.append(not release.wait(timeout=30))
        real(fd)

    async def main(guard: Enforcer) -> DecisionRecord:
        pending = asyncio.ensure_future(guard.acheck(ALLOWED))
        await asyncio.sleep(0)  # acheck queues its record and yields
        await asyncio.sleep(0)
        release.set()  # runs only if the loop is free
        return await pending

    with Enforcer(audit_log=tmp_path / "audit.jsonl") as guard:
        guard.check(ALLOWED)  # opened and warmed up outside the test's window
        release.clear()
        monkeypatch.setattr(os, "fdatasync", fsync_after_the_loop_ran)
        record = asyncio.run(main(guard))
    assert record.decision == "allow"
    assert gave_up and not any(gave_up)


def test_arequire_denies_with_the_audit_error_of_a_failing_sink():
    class FullDisk:
        def append(self, record: DecisionRecord) -> DecisionRecord:
            raise AuditError("disk full")

    async def main(guard: Enforcer) -> None:
        record = await guard.acheck(ALLOWED)
        assert record.decision == "deny" and record.errors[-1].code == "audit-error"
        with pytest.raises(UseDenied) as denied:
            await guard.arequire(ALLOWED)
        assert isinstance(denied.value.__cause__, AuditError)

    asyncio.run(main(Enforcer(audit_log=FullDisk())))


def test_acheck_on_a_log_that_cannot_be_opened_denies_then_recovers(tmp_path: Path):
    folder = tmp_path / "missing"
    guard = Enforcer(audit_log=folder / "audit.jsonl")

    async def check() -> Any:
        return await guard.aenforce(ALLOWED)

    first = asyncio.run(check())
    assert not first.allowed and first.failure is not None
    folder.mkdir()
    assert asyncio.run(check()).stored
    guard.close()


def test_acheck_on_other_sinks_and_on_none():
    sink = MemorySink()

    async def main() -> None:
        assert (await Enforcer(audit_log=sink).acheck(ALLOWED)).decision == "allow"
        result = await Enforcer(audit_log=None).aenforce(ALLOWED)
        assert result.allowed and not result.stored

    asyncio.run(main())
    assert len(sink.records) == 1


def test_a_closed_enforcer_denies_acheck(tmp_path: Path):
    guard = Enforcer(audit_log=tmp_path / "audit.jsonl")
    guard.close()
    record = asyncio.run(guard.acheck(ALLOWED))
    assert record.decision == "deny" and record.errors[-1].code == "audit-error"


def test_acheck_makes_and_redacts_the_record_in_the_writer_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """On the loop a task only decides: the record's body is made (and redacted) by the
    log's writer thread, with the time of the decision."""
    from datetime import UTC, datetime

    from usepolicy.engine import Decision

    made_in: list[str] = []
    real = Decision.record_draft

    def record_draft(self: Decision, **kwargs: Any) -> Any:
        made_in.append(threading.current_thread().name)
        return real(self, **kwargs)

    monkeypatch.setattr(Decision, "record_draft", record_draft)
    path = tmp_path / "audit.jsonl"

    async def main(guard: Enforcer) -> tuple[str, list[DecisionRecord]]:
        before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        secret = {**ALLOWED, "description": "operation name"}
        return before, list(await asyncio.gather(*(guard.acheck(secret) for _ in range(20))))

    with Enforcer(audit_log=path, redact=["description"]) as guard:
        before, records = asyncio.run(main(guard))
    assert made_in and set(made_in) == {"usepolicy-audit audit.jsonl"}
    assert all(r.redacted == ["description"] and r.timestamp >= before for r in records)
    result = verify_log(path)
    assert result.ok and result.count == 20
