"""Enforcer operations: reload (atomic, validated), obligation handlers (fulfil),
outcome records in the same chain."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from usepolicy import AuditError, DecisionRecord, Enforcer, MemorySink, PolicyError, load_policy
from usepolicy.audit import read_records, verify_log
from usepolicy.record import OutcomeRecord

from .test_enforcer import ALLOWED

ALLOW_ALL = "usepolicy: 1\nname: open\nversion: '1'\ndefault: allow\nrules: []\n"
DENY_ALL = "usepolicy: 1\nname: closed\nversion: '1'\ndefault: deny\nrules: []\n"


def test_reload_swaps_the_policy_and_each_record_names_the_one_it_used(tmp_path: Path) -> None:
    first, second = tmp_path / "open.yaml", tmp_path / "closed.yaml"
    first.write_text(ALLOW_ALL)
    second.write_text(DENY_ALL)
    sink = MemorySink()
    guard = Enforcer(first, audit_log=sink)
    assert guard.check(ALLOWED).decision == "allow"
    engine = guard.reload(second)
    assert guard.engine is engine and guard.policy.name == "closed"
    assert guard.check(ALLOWED).decision == "deny"
    digests = [record.policy.digest for record in sink.records]
    assert digests == [load_policy(first).digest, load_policy(second).digest]


def test_a_bad_policy_is_not_reloaded(tmp_path: Path) -> None:
    good = tmp_path / "open.yaml"
    good.write_text(ALLOW_ALL)
    bad = tmp_path / "bad.yaml"
    bad.write_text(ALLOW_ALL.replace("default: allow", "default: maybe"))
    guard = Enforcer(good, audit_log=MemorySink())
    with pytest.raises(PolicyError, match=r"bad\.yaml:4:10: "):
        guard.reload(bad)
    assert guard.policy.name == "open"
    assert guard.check(ALLOWED).decision == "allow"


def test_reload_under_concurrent_checks_never_mixes(tmp_path: Path) -> None:
    first, second = tmp_path / "open.yaml", tmp_path / "closed.yaml"
    first.write_text(ALLOW_ALL)
    second.write_text(DENY_ALL)
    sink = MemorySink()
    guard = Enforcer(first, audit_log=sink)
    policies = [load_policy(first), load_policy(second)]
    stop = threading.Event()

    def check() -> None:
        while not stop.is_set():
            guard.check(ALLOWED)

    threads = [threading.Thread(target=check) for _ in range(4)]
    for thread in threads:
        thread.start()
    for i in range(50):
        guard.reload(policies[i % 2])
    stop.set()
    for thread in threads:
        thread.join()
    expected = {"open": ("allow", policies[0].digest), "closed": ("deny", policies[1].digest)}
    for record in sink.records:
        assert (record.decision, record.policy.digest) == expected[record.policy.name]


def test_fulfil_refuses_an_allow_with_an_unmet_obligation_and_records_it(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as guard:
        result = guard.enforce(ALLOWED)  # allowed, obligation minimize-incidental-domestic-data
        assert result.allowed
        problems = guard.fulfil(result)
        assert [p["code"] for p in problems] == ["obligation-unmet"]
        guard.register_obligation("minimize-incidental-domestic-data")
        assert guard.fulfil(guard.check(ALLOWED)) == []
    assert verify_log(log).ok
    records = [record for _, record in read_records(log)]
    assert [type(r).__name__ for r in records] == [
        "DecisionRecord",
        "OutcomeRecord",
        "DecisionRecord",
    ]
    refusal = records[1]
    assert isinstance(refusal, OutcomeRecord)
    assert (refusal.decision_id, refusal.outcome) == (result.record.decision_id, "refused")
    assert refusal.prev_digest == records[0].record_digest


def test_afulfil_awaits_async_handlers() -> None:
    sink = MemorySink()
    done: list[str] = []

    async def minimize(obligation: object, record: object) -> None:
        done.append("minimized")

    guard = Enforcer(audit_log=sink, obligations={"minimize-incidental-domestic-data": minimize})

    async def main() -> list[dict[str, str]]:
        return await guard.afulfil(await guard.aenforce(ALLOWED))

    assert asyncio.run(main()) == []
    assert done == ["minimized"]


def test_outcome_records_go_into_the_same_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as guard:
        decision = guard.check(ALLOWED)
        outcome = guard.record_outcome(decision.decision_id, "executed", status=200, prompt="hi")
        later = asyncio.run(
            guard.arecord_outcome(decision.decision_id, "upstream-error", status=502,
                                  errors=[{"code": "upstream-status", "message": "502"}])
        )  # fmt: skip
    assert outcome.prev_digest == decision.record_digest
    assert later.prev_digest == outcome.record_digest
    assert outcome.prompt is None and outcome.prompt_digest is not None
    result = verify_log(log)
    assert result.ok and result.count == 3


def test_an_outcome_that_cannot_be_stored_raises() -> None:
    class Plain:  # a Sink that is not chained: it stores decision records only
        def append(self, record: DecisionRecord) -> DecisionRecord:
            return record

    guard = Enforcer(audit_log=Plain())
    with pytest.raises(AuditError, match="stores decision records only"):
        guard.record_outcome("d", "executed")
    with pytest.raises(AuditError, match="nowhere to go"):
        Enforcer(audit_log=None).record_outcome("d", "executed")
    with pytest.raises(ValueError, match="unknown outcome `done`"):
        Enforcer(audit_log=MemorySink()).record_outcome("d", "done")


def test_a_memory_sink_holds_outcome_records_too() -> None:
    sink = MemorySink()
    guard = Enforcer(audit_log=sink)

    async def main() -> list[dict[str, str]]:
        return await guard.afulfil(await guard.aenforce(ALLOWED))

    (problem,) = asyncio.run(main())
    assert problem["code"] == "obligation-unmet"
    decision, refusal = sink.records
    assert isinstance(refusal, OutcomeRecord) and refusal.outcome == "refused"
    assert refusal.decision_id == decision.decision_id
