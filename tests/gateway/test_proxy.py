"""``Gateway`` served by uvicorn on 127.0.0.1 in front of a fake upstream, driven by
the real ``openai`` client (plain and streaming) and by httpx under concurrency."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from usepolicy import Enforcer
from usepolicy.audit import open_sink, read_records, verify_log
from usepolicy.gateway import Gateway, GatewayMetrics, KeyRing
from usepolicy.record import DecisionRecord, OutcomeRecord

from .conftest import KEY, ORG
from .upstream import GATE, serve

RING = KeyRing.of({KEY: {"organization": ORG, "country": "US"}})
ENV = {"network": "air_gapped", "classification": "secret"}
FOREIGN = {"purpose": "intelligence.foreign", "data": {"subjects": "foreign"}}
DENIED = {"purpose": "weapons.engagement", "autonomy": {"level": "fully_autonomous"}}


class Proxy:
    def __init__(self, url: str, log: Path, metrics: GatewayMetrics) -> None:
        self.url, self.log, self.metrics = url, log, metrics

    def client(self, use: dict[str, Any] | None = FOREIGN, key: str = KEY) -> openai.OpenAI:
        headers = {"X-Usepolicy-Use": json.dumps(use)} if use is not None else {}
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=key, default_headers=headers, max_retries=0
        )

    def records(self, count: int) -> list[DecisionRecord | OutcomeRecord]:
        """The log's records once it holds ``count`` of them. An outcome record is stored
        after the answer has gone out (a stream's outcome is known only at its end), so
        a client may read the log before it is there: wait for it, within a bound."""
        deadline = time.monotonic() + 60
        while True:
            result = verify_log(self.log)
            assert result.ok, str(result)
            if result.count >= count or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        records = [record for _, record in read_records(self.log)]
        assert len(records) == count, [type(r).__name__ for r in records]
        return records


@pytest.fixture
def proxy(tmp_path: Path, upstream: str) -> Iterator[Proxy]:
    log = tmp_path / "audit.jsonl"
    metrics = GatewayMetrics()
    sink = open_sink(log, durability="batch")
    sink.batch_observers.append(metrics.batch_size.observe)  # type: ignore[union-attr]
    enforcer = Enforcer(audit_log=sink, obligations=["minimize-incidental-domestic-data"])
    gateway = Gateway(
        upstream, enforcer, keys=RING, environment=ENV, upstream_key="sk-upstream",
        metrics=metrics,
    )  # fmt: skip
    try:
        with serve(gateway) as url:
            yield Proxy(url, log, metrics)
    finally:
        sink.close()


def test_openai_client_plain_call_is_allowed_forwarded_and_recorded(
    proxy: Proxy, seen: list[Any]
) -> None:
    raw = proxy.client().chat.completions.with_raw_response.create(
        model="m1", messages=[{"role": "user", "content": "hello"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "fake answer"
    decision_id = raw.headers["usepolicy-decision-id"]
    headers, body = seen[-1]
    assert headers["authorization"] == "Bearer sk-upstream"  # never the client's key
    assert "x-usepolicy-use" not in headers
    assert body["messages"] == [{"role": "user", "content": "hello"}]
    decision, outcome = proxy.records(2)
    assert isinstance(decision, DecisionRecord) and decision.decision_id == decision_id
    assert decision.decision == "allow" and decision.determining_rule == "intelligence"
    assert isinstance(outcome, OutcomeRecord)
    assert (outcome.decision_id, outcome.outcome, outcome.status) == (decision_id, "executed", 200)


def test_openai_client_metadata_strings_are_typed(proxy: Proxy, seen: list[Any]) -> None:
    proxy.client(use=None).chat.completions.create(
        model="m1",
        messages=[{"role": "user", "content": "hi"}],
        metadata={"purpose": "intelligence.foreign", "data.subjects": "foreign",
                  "data.subject_count": "12"},
    )  # fmt: skip
    decision = proxy.records(2)[0]
    assert isinstance(decision, DecisionRecord) and decision.request is not None
    assert decision.request["data"]["subject_count"] == 12


def test_openai_client_streaming_passes_chunk_by_chunk(proxy: Proxy) -> None:
    GATE.clear()
    stream = proxy.client().chat.completions.create(
        model="gated", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    parts = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
            # the upstream holds the rest until the first chunk is here: had the proxy
            # buffered the answer, the first chunk would come only after the gate timed out
            GATE.set()
    assert parts == ["first ", "after-gate "]
    outcome = proxy.records(2)[-1]
    assert isinstance(outcome, OutcomeRecord) and outcome.outcome == "executed"


def test_a_client_that_leaves_mid_stream_is_recorded_as_gone(proxy: Proxy) -> None:
    GATE.clear()  # the upstream sends its first chunk, then waits
    headers = {"authorization": f"Bearer {KEY}", "x-usepolicy-use": json.dumps(FOREIGN)}
    body = {"model": "gated", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    try:
        with (
            httpx.Client(base_url=proxy.url, timeout=30) as client,
            client.stream("POST", "/v1/chat/completions", headers=headers, json=body) as answer,
        ):
            assert answer.status_code == 200
            assert b"first" in next(answer.iter_raw())
        # the connection is closed with the answer unread: the client has gone
        decision, outcome = proxy.records(2)
    finally:
        GATE.set()
    assert isinstance(outcome, OutcomeRecord) and outcome.decision_id == decision.decision_id
    assert (outcome.outcome, outcome.status) == ("executed", 200)
    assert [error.code for error in outcome.errors] == ["client-gone"]


def test_an_upstream_stream_that_breaks_is_an_upstream_error(proxy: Proxy) -> None:
    headers = {"authorization": f"Bearer {KEY}", "x-usepolicy-use": json.dumps(FOREIGN)}
    body = {"model": "snapped", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with (
        httpx.Client(base_url=proxy.url, timeout=30) as client,
        client.stream("POST", "/v1/chat/completions", headers=headers, json=body) as answer,
    ):
        assert answer.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):  # cut short here too
            answer.read()
    decision, outcome = proxy.records(2)
    assert isinstance(outcome, OutcomeRecord) and outcome.decision_id == decision.decision_id
    assert (outcome.outcome, outcome.status) == ("upstream-error", 200)
    assert [error.code for error in outcome.errors] == ["upstream-broken"]


def test_openai_client_sees_denies_as_openai_errors(proxy: Proxy) -> None:
    with pytest.raises(openai.PermissionDeniedError) as denied:
        proxy.client(use=DENIED).chat.completions.create(model="m1", messages=[])
    assert denied.value.status_code == 403
    body: Any = denied.value.body
    assert body["type"] == "usepolicy_denied"
    assert body["code"] == "no-fully-autonomous-weapons"
    with pytest.raises(openai.AuthenticationError):
        proxy.client(key="sk-wrong").chat.completions.create(model="m1", messages=[])
    with pytest.raises(openai.BadRequestError) as invalid:
        proxy.client(use={"purpose": "intelligence.foriegn"}).chat.completions.create(
            model="m1", messages=[]
        )
    assert "purpose" in str(invalid.value)


def test_an_upstream_failure_is_recorded_with_its_status(proxy: Proxy) -> None:
    with pytest.raises(openai.InternalServerError):
        proxy.client().chat.completions.create(model="broken", messages=[])
    decision, outcome = proxy.records(2)
    assert isinstance(outcome, OutcomeRecord)
    assert (outcome.decision_id, outcome.outcome, outcome.status) == (
        decision.decision_id, "upstream-error", 500,
    )  # fmt: skip


def test_metrics_and_health(proxy: Proxy) -> None:
    proxy.client().chat.completions.create(model="m1", messages=[])
    assert httpx.get(f"{proxy.url}/healthz").text == "ok\n"
    text = httpx.get(f"{proxy.url}/metrics").text
    assert 'usepolicy_decisions_total{decision="allow",rule="intelligence"} 1.0' in text
    assert "usepolicy_decision_seconds_bucket" in text
    assert "usepolicy_audit_batch_size_count" in text
    assert 'usepolicy_audit_failures_total{kind="decision"}' not in text  # no failure yet


def test_concurrent_calls_every_status_right_and_every_200_in_the_log(proxy: Proxy) -> None:
    kinds = [
        ("allow", {**FOREIGN}, 200),
        ("deny", DENIED, 403),
        ("invalid", {"purpose": "no.such.purpose"}, 400),
        ("allow", {"purpose": "general.assistant"}, 200),
        ("stream", {"purpose": "general.research"}, 200),
    ]
    total = 250

    async def one(
        client: httpx.AsyncClient, gate: asyncio.Semaphore, i: int
    ) -> tuple[int, int, str | None, bytes]:
        name, use, _ = kinds[i % len(kinds)]
        body = {"model": "m1", "messages": [{"role": "user", "content": f"call {i}"}],
                "stream": name == "stream"}  # fmt: skip
        async with gate:
            answer = await client.post(
                "/v1/chat/completions", json=body,
                headers={"authorization": f"Bearer {KEY}", "x-usepolicy-use": json.dumps(use)},
            )  # fmt: skip
        return i, answer.status_code, answer.headers.get("usepolicy-decision-id"), answer.content

    async def main() -> list[tuple[int, int, str | None, bytes]]:
        gate = asyncio.Semaphore(50)
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=proxy.url, limits=limits, timeout=120) as client:
            return await asyncio.gather(*(one(client, gate, i) for i in range(total)))

    answers = asyncio.run(main())
    for i, status, decision_id, content in answers:
        assert status == kinds[i % len(kinds)][2], (i, status, content[:200])
        assert decision_id is not None
        if kinds[i % len(kinds)][0] == "stream":
            assert content.endswith(b"data: [DONE]\n\n")
    records = proxy.records(total + 150)  # every decision, the 150 allowed's outcomes
    decisions = {r.decision_id: r for r in records if isinstance(r, DecisionRecord)}
    executed = {
        r.decision_id for r in records if isinstance(r, OutcomeRecord) and r.outcome == "executed"
    }
    assert len(decisions) == total
    allowed = [d for _, status, d, _ in answers if status == 200]
    assert len(allowed) == 150
    for decision_id in allowed:
        assert decisions[decision_id].decision == "allow"
        assert decision_id in executed
