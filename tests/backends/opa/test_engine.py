"""``OpaEngine`` against a loopback stand-in for OPA's REST API (``_fake_opa``), which
evaluates the exported Rego with regopy: the same decisions as the native engine,
records that name OPA, and every failure on the way a deny, never an exception."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from usepolicy import Engine, RequestError, load_policy, loads_policy
from usepolicy.backends.opa import OpaEngine, write_bundle

from ...conftest import REPO
from ...strategies import NAME_VARIANTS
from ._harness import fake_opa, generated_requests, set_fault

ORG = {"organization": "Army Intelligence Center"}
POLICY = load_policy()
ALLOW_ALL = load_policy(REPO / "policies" / "any-lawful-use.yaml")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with fake_opa() as url:
        yield url


def summary(decision: Any) -> tuple[Any, ...]:
    return (
        decision.effect.value,
        decision.determining_rule,
        [m.id for m in decision.matched_rules],
        [o.to_dict() for o in decision.obligations],
        [e.code for e in decision.errors],
    )


def test_uploads_the_policy_and_decides_as_the_native_engine(server: str) -> None:
    native = Engine(POLICY)
    with OpaEngine(server, POLICY, timeout=5) as opa:
        for payload in generated_requests(POLICY, 300, seed=11):
            assert summary(opa.evaluate(payload)) == summary(native.evaluate(payload))
        decision = opa.evaluate({"requester": ORG, "purpose": "intelligence.foreign"})
    record = decision.record()
    assert record.decision == "allow"
    assert record.engine.name == "opa"
    assert record.engine.version == "0.0.0-fake"  # from OPA's provenance
    assert record.engine.revision is None  # uploaded through the API: no bundle
    assert record.policy.digest == POLICY.digest
    assert record.computed_digest() == record.record_digest


def test_a_bundle_served_by_opa_is_used_and_its_revision_recorded(tmp_path: Path) -> None:
    write_bundle(POLICY, tmp_path / "bundle.tar.gz")
    native = Engine(POLICY)
    with fake_opa("--bundle", str(tmp_path / "bundle.tar.gz"), "--decision-ids") as url:
        with OpaEngine(url, POLICY, upload=False, timeout=5) as opa:
            for payload in generated_requests(POLICY, 100, seed=12):
                assert summary(opa.evaluate(payload)) == summary(native.evaluate(payload))
            decision = opa.evaluate({"requester": ORG, "purpose": "weapons.targeting"})
        # without a local copy: the rules and purposes come from OPA
        with OpaEngine(url, policy_name=POLICY.name, timeout=5) as remote:
            assert remote.policy.digest == POLICY.digest
            assert [r.id for r in remote.policy.rules] == [r.id for r in POLICY.rules]
            same = remote.evaluate({"requester": ORG, "purpose": "weapons.targeting"})
            assert summary(same) == summary(decision)
    assert decision.record().computed_digest() == decision.record().record_digest
    record = decision.record().to_dict()
    assert record["engine"] == {"name": "opa", "version": "0.0.0-fake", "revision": POLICY.digest}
    # OPA logs decisions (--decision-ids): the record takes OPA's decision id
    assert record["decision_id"].startswith("00000000-0000-0000-0000-")


def test_the_decision_id_is_opas_only_when_opa_logs_decisions(server: str) -> None:
    with OpaEngine(server, POLICY, timeout=5) as opa:
        record = opa.evaluate({"requester": ORG, "purpose": "cyber.defense"}).record()
    assert not record.decision_id.startswith("00000000-")  # a fresh UUID of our own
    assert record.record_digest == record.computed_digest()


def test_another_policy_in_opa_is_a_deny_never_its_answer(tmp_path: Path) -> None:
    # same name, another version: OPA's answer carries the other digest
    other = loads_policy(
        (REPO / "policies" / "any-lawful-use.yaml").read_text().replace("2026-02-26", "2099-01-01"),
        base_dir=REPO / "policies",
    )
    write_bundle(other, tmp_path / "other.tar.gz")
    request = {"requester": ORG, "purpose": "general.assistant"}
    with fake_opa("--bundle", str(tmp_path / "other.tar.gz")) as url:
        with OpaEngine(url, ALLOW_ALL, upload=False, timeout=5) as opa:
            decision = opa.evaluate(request)
        assert summary(decision)[0] == "deny"
        assert [e.code for e in decision.errors] == ["opa-policy-mismatch"]
        # and the bundle owns the path, so an upload is refused: still a deny
        with OpaEngine(url, ALLOW_ALL, upload=True, timeout=5) as opa:
            decision = opa.evaluate(request)
        assert [e.code for e in decision.errors] == ["opa-upload-failed"]


def test_nothing_loaded_and_no_upload_is_a_deny() -> None:
    with fake_opa() as url, OpaEngine(url, ALLOW_ALL, upload=False, timeout=5) as opa:
        decision = opa.evaluate({"requester": ORG, "purpose": "general.assistant"})
    assert not decision.allowed
    assert [e.code for e in decision.errors] == ["opa-undefined"]


# -- faults: each one a deny with the error recorded, never an exception --------------
ALLOWED = {"requester": ORG, "purpose": "general.assistant"}  # allowed natively

FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "http 500": ({"status": 500, "raw": '{"code": "internal_error"}'}, "opa-http-error"),
    "http 503": ({"status": 503, "raw": "busy"}, "opa-http-error"),
    "garbage body": ({"status": 200, "raw": "<html>not json"}, "opa-bad-answer"),
    "not an object": ({"status": 200, "raw": '["allow"]'}, "opa-bad-answer"),
    "bare allow": ({"status": 200, "raw": '{"result": "allow"}'}, "opa-bad-answer"),
    "undefined": ({"status": 200, "raw": "{}"}, "opa-undefined"),
    "missing fields": (
        {"status": 200, "raw": json.dumps({"result": {"decision": "allow", "policy": {}}})},
        "opa-policy-mismatch",
    ),
}


def forged(**answer: Any) -> dict[str, Any]:
    """A 200 answer with the right policy digest and the given decision parts."""
    body = {
        "decision": "allow",
        "determining_rule": "any-lawful-use",
        "matched_rules": ["any-lawful-use"],
        "obligations": [],
        "errors": [],
        "policy": {
            "name": ALLOW_ALL.name,
            "version": ALLOW_ALL.version,
            "digest": ALLOW_ALL.digest,
        },
    }
    body.update(answer)
    return {"status": 200, "raw": json.dumps({"result": body})}


FORGED: dict[str, dict[str, Any]] = {
    "unknown rule": forged(determining_rule="root", matched_rules=["root"]),
    "allow by a deny rule": forged(
        determining_rule="denied-entity", matched_rules=["denied-entity"]
    ),
    "allow with an error": forged(errors=[{"code": "x", "message": "y"}]),
    "deny with no rule": forged(decision="deny", determining_rule=None),
    "deny by an allow rule": forged(decision="deny"),
    "decision is yes": forged(decision="yes"),
    "obligation of no rule": forged(obligations=[{"id": "o", "with": {}, "rule": "denied-entity"}]),
    "matched is a string": forged(matched_rules="any-lawful-use"),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_server_faults_are_denies(name: str) -> None:
    fault, code = FAULTS[name]
    with fake_opa() as url, OpaEngine(url, ALLOW_ALL, timeout=5) as opa:
        assert opa.evaluate(ALLOWED).allowed  # uploads, answers
        set_fault(url, **fault)
        decision = opa.evaluate(ALLOWED)
    assert not decision.allowed
    assert decision.determining_rule is None
    assert [e.code for e in decision.errors] == [code]
    assert decision.record().errors[0].code == code


@pytest.mark.parametrize("name", sorted(FORGED))
def test_answers_this_policy_cannot_give_are_denies(name: str) -> None:
    with fake_opa() as url, OpaEngine(url, ALLOW_ALL, upload=False, timeout=5) as opa:
        set_fault(url, **FORGED[name])
        decision = opa.evaluate(ALLOWED)
    assert not decision.allowed
    assert [e.code for e in decision.errors] == ["opa-bad-answer"], decision.errors


def test_a_slow_server_times_out_into_a_deny() -> None:
    with fake_opa() as url, OpaEngine(url, ALLOW_ALL, timeout=0.3) as opa:
        assert opa.evaluate(ALLOWED).allowed
        set_fault(url, delay=3)
        start = time.monotonic()
        decision = opa.evaluate(ALLOWED)
        elapsed = time.monotonic() - start
    assert not decision.allowed
    assert [e.code for e in decision.errors] == ["opa-timeout"]
    assert elapsed < 2


def test_a_refused_connection_is_a_deny() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with OpaEngine(f"http://127.0.0.1:{port}", ALLOW_ALL, timeout=1) as opa:
        decision = opa.evaluate(ALLOWED)
        record = decision.record()
    assert not decision.allowed
    assert [e.code for e in decision.errors] == ["opa-unreachable"]
    assert record.engine.name == "opa"
    assert record.request is not None  # the validated request is still recorded


def test_an_upload_opa_rejects_is_a_deny() -> None:
    with fake_opa() as url, OpaEngine(url, ALLOW_ALL, timeout=5) as opa:
        rejected = '{"code": "invalid_parameter", "message": "no"}'
        set_fault(url, status=400, raw=rejected, only="PUT")
        decision = opa.evaluate(ALLOWED)
    assert [e.code for e in decision.errors] == ["opa-upload-failed"]


def test_invalid_requests_raise_as_natively(server: str) -> None:
    with OpaEngine(server, POLICY, timeout=5) as opa, pytest.raises(RequestError):
        opa.evaluate({"requester": ORG, "purpose": "weaponsmith"})


def test_threads_share_one_engine(server: str) -> None:
    native = Engine(POLICY)
    payloads = generated_requests(POLICY, 40, seed=5)
    results: list[bool] = []
    with OpaEngine(server, POLICY, timeout=10) as opa:

        def work(chunk: list[dict[str, Any]]) -> None:
            results.extend(summary(opa.evaluate(p)) == summary(native.evaluate(p)) for p in chunk)

        threads = [threading.Thread(target=work, args=(payloads[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [True] * len(payloads)


def test_configuration_errors_raise_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="URL"):
        OpaEngine("localhost:8181", POLICY)
    with pytest.raises(ValueError, match="no path"):
        OpaEngine("http://localhost:8181/v1/data", POLICY)
    with pytest.raises(ValueError, match="name"):
        OpaEngine("http://localhost:8181")
    monkeypatch.setitem(sys.modules, "opa_client", None)
    with pytest.raises(ImportError, match=r"usepolicy\[opa\]"):
        OpaEngine("http://localhost:8181", POLICY)


def test_opa_decisions_go_into_the_audit_log_and_verify(server: str, tmp_path: Path) -> None:
    from usepolicy import Enforcer
    from usepolicy.audit import verify_log

    log = tmp_path / "audit.jsonl"
    with OpaEngine(server, POLICY, timeout=5) as opa, Enforcer(POLICY, audit_log=log) as guard:
        for purpose in ("intelligence.foreign", "weapons.engagement"):
            guard.log(opa.evaluate({"requester": ORG, "purpose": purpose}))
    result = verify_log(log)
    assert result.ok, result.message
    assert result.count == 2
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["engine"]["name"] for line in lines] == ["opa", "opa"]


def test_variants_of_listed_names_are_denied_through_opa(tmp_path: Path) -> None:
    """OpaEngine computes the name keys the module reads, also when it knows the policy
    only from OPA (``policy_name``)."""
    write_bundle(ALLOW_ALL, tmp_path / "bundle.tar.gz")
    names = [variant("SZ DJI Technology Co., Ltd.") for variant in NAME_VARIANTS.values()]
    with (
        fake_opa("--bundle", str(tmp_path / "bundle.tar.gz")) as url,
        OpaEngine(url, ALLOW_ALL, upload=False, timeout=5) as local,
        OpaEngine(url, policy_name=ALLOW_ALL.name, timeout=5) as remote,
    ):
        for opa in (local, remote):
            for name in names:
                for field in ("organization", "entity_id"):
                    requester = {**ORG, field: name}
                    decision = opa.evaluate({"requester": requester, "purpose": "cyber.defense"})
                    assert decision.determining_rule == "denied-entity", (field, name)
                    assert decision.record().request["requester"][field] == name
            allowed = opa.evaluate({"requester": ORG, "purpose": "cyber.defense"})
            assert allowed.allowed


def test_an_enforcer_decides_with_opa(server: str, tmp_path: Path) -> None:
    """The Enforcer takes OPA as its decider: one path, the same records and guarantees."""
    from usepolicy import Enforcer
    from usepolicy.audit import verify_log

    log = tmp_path / "audit.jsonl"
    with OpaEngine(server, POLICY, timeout=5) as opa, Enforcer(opa, audit_log=log) as guard:
        allowed = guard.enforce({"requester": ORG, "purpose": "intelligence.foreign"})
        denied = guard.check({"requester": ORG, "purpose": "weapons.engagement",
                              "autonomy": {"level": "fully_autonomous"}})  # fmt: skip
        invalid = guard.enforce({"requester": ORG, "purpose": "nope"})
    assert allowed.allowed and allowed.stored and allowed.record.engine.name == "opa"
    assert denied.determining_rule == "no-fully-autonomous-weapons"
    assert invalid.request_error is not None and invalid.record.request is None
    assert verify_log(log).count == 3
    with OpaEngine("http://127.0.0.1:9", POLICY, timeout=1) as down:
        result = Enforcer(down, audit_log=None).enforce(
            {"requester": ORG, "purpose": "cyber.defense"}
        )
    assert not result.allowed and result.record.errors[0].code == "opa-unreachable"


def test_dryrun_rules_come_back_from_opa_as_natively(server: str) -> None:
    policy = loads_policy(
        "usepolicy: 1\nname: shadow\nversion: '1'\ndefault: deny\ncombine: deny-overrides\n"
        "rules:\n"
        "  - {id: trial, effect: deny, reason: r, enforcement: dryrun,"
        " when: {data.subjects: domestic}}\n"
        "  - {id: typed, effect: deny, reason: r, enforcement: dryrun,"
        " when: {attributes.tier: {gt: 2}}}\n"
        "  - {id: any, effect: allow, reason: r}\n"
    )
    native = Engine(policy)
    payloads = [
        {"requester": ORG, "purpose": "general.assistant", **fields}
        for fields in ({}, {"data": {"subjects": "domestic"}}, {"attributes": {"tier": "x"}})
    ]
    with OpaEngine(server, policy, timeout=5) as opa:
        for payload in payloads:
            mine, theirs = native.evaluate(payload), opa.evaluate(payload)
            assert summary(theirs) == summary(mine)
            assert [(d.id, d.error and d.error.code) for d in theirs.dryrun] == [
                (d.id, d.error and d.error.code) for d in mine.dryrun
            ]
        record = opa.evaluate(payloads[1]).record()
    assert record.allowed and [d.id for d in record.dryrun or ()] == ["trial"]
    # read back from OPA alone, the policy knows which rules are dry runs
    with OpaEngine(server, policy_name="shadow", upload=False, timeout=5) as remote:
        assert [r.id for r in remote.policy.rules if r.dryrun] == ["trial", "typed"]
        assert [d.id for d in remote.evaluate(payloads[1]).dryrun] == ["trial"]
