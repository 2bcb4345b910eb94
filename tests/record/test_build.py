"""Where record bodies are made: decisions (with the clock and ids passed in), inputs
that never became requests, denies of records that could not be stored; the default
ids and timestamps."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import usepolicy
from usepolicy.record import (
    DecisionRecord,
    decision_draft,
    denied_body,
    new_decision_id,
    raw_digest,
    rejected_draft,
    seal,
    utc_timestamp,
    utc_timestamp_now,
)
from usepolicy.record._build import _POOL, _formatted

from .conftest import ALLOWED

ENGINE = usepolicy.Engine(usepolicy.load_policy())
MOMENT = datetime(2026, 11, 22, 18, 37, 31, 123456, tzinfo=UTC)


def test_a_record_is_determined_by_the_decision_the_clock_and_the_id():
    decision = ENGINE.evaluate(ALLOWED)
    one = decision.record(now=MOMENT, decision_id="d-1")
    again = ENGINE.evaluate(ALLOWED).record(now=MOMENT, decision_id="d-1")
    assert one == again and one.record_digest == again.record_digest
    assert (one.timestamp, one.decision_id) == ("2026-11-22T18:37:31.123456Z", "d-1")
    assert one.request is not None and one.request["request_id"] == "d-1"  # none was given
    assert decision.record(now=MOMENT, decision_id="d-2").record_digest != one.record_digest
    assert decision.record() is decision.record()  # without arguments: made once


def test_a_request_id_given_is_kept():
    record = ENGINE.evaluate({**ALLOWED, "request_id": "ticket-4711"}).record(decision_id="d")
    assert record.request is not None and record.request["request_id"] == "ticket-4711"


def test_default_ids_are_random_version_4_uuids():
    ids = {new_decision_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text


def test_a_pool_of_ids_is_its_bytes_as_version_4_uuids():
    """The pool formatted whole is what ``uuid`` makes of each 16 bytes by itself: the
    same version and variant bits, the same digits in the same places."""
    size = 16 * _POOL
    pools = [bytes(size), b"\xff" * size, bytes(range(256)) * (size // 256)]
    pools += [os.urandom(size) for _ in range(20)]
    for data in pools:
        expected = [str(uuid.UUID(bytes=data[k : k + 16], version=4)) for k in range(0, size, 16)]
        assert _formatted(data) == expected


def test_ids_are_unique_across_threads_and_a_forked_child():
    """Ids come from a pool of random bytes read once per many ids: threads take each
    id once, and a forked child reads its own bytes rather than repeat its parent's."""
    import threading

    taken: list[list[str]] = [[] for _ in range(8)]

    def take(into: list[str]) -> None:
        into.extend(new_decision_id() for _ in range(1000))  # several pools each

    threads = [threading.Thread(target=take, args=(into,)) for into in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for into in taken for i in into]
    assert len(set(every)) == len(every) == 8000

    new_decision_id()  # the parent's pool is in use when it forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, "\n".join(new_decision_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split("\n"))
    os.waitpid(pid, 0)
    parent = {new_decision_id() for _ in range(10)}
    assert len(child) == 10 and not child & parent


def test_timestamps_are_utc_microseconds():
    assert utc_timestamp(MOMENT) == "2026-11-22T18:37:31.123456Z"
    east = MOMENT.astimezone(timezone(timedelta(hours=2)))
    assert utc_timestamp(east) == "2026-11-22T18:37:31.123456Z"
    now = utc_timestamp_now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", now)
    parsed = datetime.strptime(now, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(parsed - datetime.now(UTC)) < timedelta(seconds=5)


def test_the_current_timestamp_is_formatted_as_any_other(monkeypatch):
    """The date is formatted once a second: the clock moving on within a second, into
    the next one, and back (set back by hand or by NTP), each time reads right."""
    import usepolicy.record._build as build

    start = int(MOMENT.timestamp()) * 10**9
    second, day = 10**9, 86_400 * 10**9
    steps = [0, 5_000, second - 1, second, second + 1000, second - 1000, -1, 7, day]
    for step in steps:
        now = start + step
        monkeypatch.setattr(build.time, "time_ns", lambda now=now: now)
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=now // 1000)
        assert utc_timestamp_now() == utc_timestamp(moment), step


def test_a_draft_from_parts_seals_into_a_valid_record():
    draft = decision_draft(
        decision="deny",
        determining_rule=None,
        matched_rules=[],
        obligations=[],
        errors=[{"code": "evaluation-error", "message": "x"}],
        request=None,
        policy=ENGINE.policy,
        engine={"name": "opa", "version": "1.0", "revision": None},
        now=MOMENT,
        decision_id="d",
    )
    record = DecisionRecord.from_body(seal(draft.body, None).body)
    assert record.engine.name == "opa" and record.engine.revision is None
    assert "revision" not in draft.body["engine"]  # absent, not null
    assert record.computed_digest() == record.record_digest


def test_a_rejected_input_is_digested_when_it_is_json():
    draft = rejected_draft(b'{"purpose": 1}', [{"code": "c", "message": "m"}], ENGINE.policy)
    assert draft.body["request"] is None and draft.body["decision"] == "deny"
    assert draft.body["request_digest"] == raw_digest({"purpose": 1})
    assert raw_digest(usepolicy.UseRequest.model_validate(ALLOWED)) is not None
    assert raw_digest(b"\xff") is None


def test_a_record_that_could_not_be_stored_becomes_an_unchained_deny():
    body = seal(ENGINE.evaluate(ALLOWED).record_draft().body, "sha256:prev").body
    denied = denied_body(body, "audit-error", "disk full")
    assert denied["decision"] == "deny" and denied["determining_rule"] is None
    assert denied["obligations"] == [] and denied["prev_digest"] is None
    assert denied["errors"][-1] == {"code": "audit-error", "message": "disk full"}
    assert "record_digest" not in denied and body["decision"] == "allow"
