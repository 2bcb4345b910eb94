"""``UsepolicyMiddleware`` in front of a FastAPI app, driven through httpx in process:
every answer, its record, and the outcome record after it."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from usepolicy import AuditError, Enforcement, Enforcer
from usepolicy.audit import ChainedSink, read_records, verify_log
from usepolicy.gateway import (
    GatewayMetrics,
    GatewayRejection,
    IncomingCall,
    KeyRing,
    UsepolicyMiddleware,
    usepolicy_enforcement,
)
from usepolicy.record import DecisionRecord, Draft, OutcomeRecord, Sealed

from .conftest import KEY, ORG

RING = KeyRing.of({KEY: {"organization": ORG, "country": "US"}})
ENV = {"network": "air_gapped", "classification": "secret"}
AUTH = {"authorization": f"Bearer {KEY}"}


def aio(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (the suite has no async plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def app_behind(enforcer: Enforcer, **options: Any) -> tuple[FastAPI, UsepolicyMiddleware]:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(result: Enforcement = Depends(usepolicy_enforcement)) -> dict[str, Any]:
        return {"decision_id": result.record.decision_id, "obligations": result.body["obligations"]}

    @app.post("/v1/fail")
    def fail() -> JSONResponse:
        return JSONResponse({"error": "no"}, status_code=500)

    @app.get("/open")
    def open_route() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/unguarded")
    def unguarded(result: Enforcement = Depends(usepolicy_enforcement)) -> dict[str, str]:
        return {"reached": "yes"}

    options.setdefault("keys", RING)
    options.setdefault("environment", ENV)
    middleware = UsepolicyMiddleware(app, enforcer, paths=("/v1/",), **options)
    return app, middleware


async def post(asgi: Any, path: str = "/v1/chat/completions", *, body: Any = None,
               headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.post(
            path, json=body or {}, headers=headers if headers is not None else AUTH
        )


def use(**fields: Any) -> dict[str, str]:
    return {**AUTH, "x-usepolicy-use": json.dumps(fields)}


def records(log: Path) -> list[DecisionRecord | OutcomeRecord]:
    assert verify_log(log).ok
    return [record for _, record in read_records(log)]


@aio
async def test_allowed_call_reaches_the_app_and_is_followed_by_its_outcome(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as enforcer:
        _, asgi = app_behind(enforcer)
        answer = await post(asgi, headers=use(purpose="intelligence.foreign"), body={"model": "m1",
                            "messages": [{"role": "user", "content": "secret prompt"}]})  # fmt: skip
    assert answer.status_code == 200
    decision_id = answer.headers["usepolicy-decision-id"]
    assert answer.json()["decision_id"] == decision_id
    decision, outcome = records(log)
    assert isinstance(decision, DecisionRecord) and decision.decision == "allow"
    assert decision.request is not None
    assert decision.request["requester"]["organization"] == ORG
    assert decision.request["environment"] == ENV
    assert decision.request["model"] == "m1"
    assert isinstance(outcome, OutcomeRecord)
    assert (outcome.decision_id, outcome.outcome, outcome.status) == (decision_id, "executed", 200)
    assert outcome.prompt_digest is not None and outcome.prompt is None
    assert "secret prompt" not in log.read_text()


@aio
async def test_the_prompt_is_stored_only_when_configured(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as enforcer:
        _, asgi = app_behind(enforcer, store_prompt=True)
        body = {"messages": [{"role": "user", "content": "keep me"}]}
        await post(asgi, headers=use(purpose="intelligence.foreign"), body=body)
    outcome = records(log)[1]
    assert isinstance(outcome, OutcomeRecord)
    assert outcome.prompt == body["messages"]


@aio
async def test_deny_is_403_in_the_openai_error_format(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as enforcer:
        _, asgi = app_behind(enforcer)
        answer = await post(asgi, headers=use(purpose="weapons.engagement",
                            autonomy={"level": "fully_autonomous", "lethal": True}))  # fmt: skip
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["type"] == "usepolicy_denied"
    assert error["code"] == "no-fully-autonomous-weapons"
    assert error["param"] is None
    assert "autonom" in error["message"]
    (decision,) = records(log)  # no outcome: nothing went ahead
    assert isinstance(decision, DecisionRecord)
    assert decision.decision_id == answer.headers["usepolicy-decision-id"]
    assert decision.determining_rule == "no-fully-autonomous-weapons"


@aio
async def test_invalid_use_is_400_naming_the_field_and_is_logged(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    body = {"metadata": {"purpose": "intelligence.foreign", "data.subject_count": "twelve"}}
    with Enforcer(audit_log=log) as enforcer:
        _, asgi = app_behind(enforcer)
        answer = await post(asgi, body=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "usepolicy_invalid_request"
    assert error["param"] == "data.subject_count"
    assert "data.subject_count" in error["message"]
    (decision,) = records(log)
    assert isinstance(decision, DecisionRecord) and decision.decision == "deny"
    assert decision.errors[0].code == "invalid-request"


@aio
async def test_no_key_is_401_and_nothing_is_decided(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as enforcer:
        _, asgi = app_behind(enforcer)
        answer = await post(asgi, headers={"x-usepolicy-use": '{"purpose": "general.assistant"}'})
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "usepolicy_unauthorized"
    assert "usepolicy-decision-id" not in answer.headers
    assert not log.exists() or log.read_text() == ""


@aio
async def test_an_obligation_without_handler_is_refused_and_recorded(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    mixed = use(
        purpose="intelligence.foreign", data={"subjects": "mixed", "provenance": "targeted"}
    )
    with Enforcer(audit_log=log) as enforcer:
        _, asgi = app_behind(enforcer)
        refused = await post(asgi, headers=mixed)
        enforcer.register_obligation("minimize-incidental-domestic-data")
        accepted = await post(asgi, headers=mixed)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("usepolicy_obligation_unmet", "obligation-unmet")
    assert "minimize-incidental-domestic-data" in error["message"]
    assert accepted.status_code == 200
    assert accepted.json()["obligations"][0]["id"] == "minimize-incidental-domestic-data"
    first, refusal, second, executed = records(log)
    assert isinstance(first, DecisionRecord) and first.decision == "allow"
    assert isinstance(refusal, OutcomeRecord)
    assert (refusal.decision_id, refusal.outcome) == (first.decision_id, "refused")
    assert refusal.errors[0].code == "obligation-unmet"
    assert isinstance(executed, OutcomeRecord) and executed.decision_id == second.decision_id


@aio
async def test_app_error_status_is_an_upstream_error_outcome(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as enforcer:
        _, asgi = app_behind(enforcer)
        answer = await post(asgi, "/v1/fail", headers=use(purpose="general.assistant"))
    assert answer.status_code == 500
    outcome = records(log)[1]
    assert isinstance(outcome, OutcomeRecord)
    assert (outcome.outcome, outcome.status) == ("upstream-error", 500)


class _FailingSink(ChainedSink):
    def store(self, draft: Draft) -> Sealed:
        raise AuditError("disk full")


@aio
async def test_no_durable_record_is_503() -> None:
    enforcer = Enforcer(audit_log=_FailingSink())
    metrics = GatewayMetrics()
    _, asgi = app_behind(enforcer, metrics=metrics)
    answer = await post(asgi, headers=use(purpose="general.assistant"))
    assert answer.status_code == 503
    assert answer.json()["error"]["type"] == "usepolicy_audit_unavailable"
    assert b'usepolicy_audit_failures_total{kind="decision"} 1.0' in metrics.render()


@aio
async def test_paths_outside_the_guard_pass_and_the_dependency_fails_closed(tmp_path: Path) -> None:
    with Enforcer(audit_log=tmp_path / "audit.jsonl") as enforcer:
        _, asgi = app_behind(enforcer)
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            assert (await client.get("/open")).json() == {"ok": "yes"}
            assert (await client.get("/unguarded")).status_code == 500


@aio
async def test_a_request_builder_hook_maps_the_deployers_own_headers(tmp_path: Path) -> None:
    async def from_claims(call: IncomingCall) -> dict[str, Any]:
        org = call.headers.get("x-verified-org")
        if org is None:
            raise GatewayRejection(401, "usepolicy_unauthorized", "no verified organisation")
        return {"requester": {"organization": org}, "purpose": call.headers["x-purpose"]}

    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as enforcer:
        _, asgi = app_behind(enforcer, build_request=from_claims, keys=None)
        ok = await post(asgi, headers={"x-verified-org": "Cell", "x-purpose": "general.research"})
        refused = await post(asgi, headers={})
    assert ok.status_code == 200
    assert refused.status_code == 401
    decision = records(log)[0]
    assert isinstance(decision, DecisionRecord) and decision.request is not None
    assert decision.request["requester"]["organization"] == "Cell"


@aio
async def test_metrics_count_decisions_by_decision_and_rule(tmp_path: Path) -> None:
    metrics = GatewayMetrics()
    with Enforcer(audit_log=tmp_path / "audit.jsonl") as enforcer:
        _, asgi = app_behind(enforcer, metrics=metrics)
        await post(asgi, headers=use(purpose="general.assistant"))
        await post(asgi, headers=use(purpose="general.assistant"))
    text = metrics.render().decode()
    assert 'usepolicy_decisions_total{decision="allow",rule="general-use"} 2.0' in text
    assert "usepolicy_decision_seconds_count 2.0" in text
    assert 'usepolicy_outcomes_total{outcome="executed"} 2.0' in text


def test_it_is_pure_asgi(tmp_path: Path) -> None:
    from starlette.middleware.base import BaseHTTPMiddleware

    assert not issubclass(UsepolicyMiddleware, BaseHTTPMiddleware)


@aio
async def test_a_failing_hook_is_a_clean_500_and_nothing_goes_ahead(tmp_path: Path) -> None:
    def broken(call: IncomingCall) -> dict[str, Any]:
        raise KeyError("x-missing-claim")

    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as enforcer:
        _, asgi = app_behind(enforcer, build_request=broken, keys=None)
        answer = await post(asgi, headers={})
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["type"] == "usepolicy_internal_error"
    assert "KeyError" in error["message"]
    assert not log.exists() or log.read_text() == ""


@aio
async def test_outcome_records_can_be_turned_off_for_a_decisions_only_store(
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as enforcer:
        _, asgi = app_behind(enforcer, record_outcomes=False)
        answer = await post(asgi, headers=use(purpose="general.assistant"))
    assert answer.status_code == 200
    assert [type(r).__name__ for r in records(log)] == ["DecisionRecord"]


def _scope(spec_version: str) -> dict[str, Any]:
    """An allowed call's HTTP scope, as a server of that ASGI ``spec_version`` makes it."""
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1", "method": "POST", "scheme": "http", "path": "/v1/chat",
        "raw_path": b"/v1/chat", "query_string": b"", "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in use(purpose="intelligence.foreign").items()],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8088),
    }  # fmt: skip


async def _stream_and_leave(tmp_path: Path, spec_version: str) -> OutcomeRecord:
    """An app streaming three parts behind the middleware, driven by hand over ASGI: the
    client takes the first part and leaves, as a server says it per ASGI ``spec_version``
    (2.0: an ``http.disconnect`` to receive; 2.4: a send that fails with ``OSError``)."""
    from starlette.requests import ClientDisconnect
    from starlette.responses import StreamingResponse

    first_out = asyncio.Event()

    async def parts() -> Any:
        yield b"data: part1\n\n"
        await first_out.wait()
        await asyncio.sleep(0.05)  # the client is gone by now
        yield b"data: part2\n\n"
        yield b"data: [DONE]\n\n"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await StreamingResponse(parts(), media_type="text/event-stream")(scope, receive, send)

    log = tmp_path / "audit.jsonl"
    body = json.dumps({"model": "m1", "stream": True}).encode()
    scope = _scope(spec_version)
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await first_out.wait()
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if spec_version == "2.4" and first_out.is_set():
            raise OSError("the client went away")
        sent.append(message)
        if message.get("body", b"").startswith(b"data: part1"):
            first_out.set()

    with Enforcer(audit_log=log) as enforcer:
        middleware = UsepolicyMiddleware(app, enforcer, keys=RING, environment=ENV)
        try:
            await middleware(scope, receive, send)
        except ClientDisconnect:  # how Starlette says the send failed: passed on as it is
            assert spec_version == "2.4"
    assert sent[0]["status"] == 200 and b"part2" not in b"".join(m.get("body", b"") for m in sent)
    decision, outcome = records(log)
    assert isinstance(outcome, OutcomeRecord) and outcome.decision_id == decision.decision_id
    return outcome


@aio
async def test_a_client_gone_mid_stream_is_in_the_outcome_asgi_2_0(tmp_path: Path) -> None:
    outcome = await _stream_and_leave(tmp_path, "2.0")
    assert (outcome.outcome, outcome.status) == ("executed", 200)
    assert [error.code for error in outcome.errors] == ["client-gone"]


@aio
async def test_a_client_gone_mid_stream_is_in_the_outcome_asgi_2_4(tmp_path: Path) -> None:
    outcome = await _stream_and_leave(tmp_path, "2.4")
    assert (outcome.outcome, outcome.status) == ("executed", 200)
    assert [error.code for error in outcome.errors] == ["client-gone"]


@aio
async def test_an_app_that_fails_after_a_whole_answer_is_an_app_error(tmp_path: Path) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        # a server says the client has gone once the answer is complete, too
        assert (await receive())["type"] == "http.disconnect"
        raise RuntimeError("broke after the answer")

    messages = [{"type": "http.request", "body": b"{}", "more_body": False},
                {"type": "http.disconnect"}]  # fmt: skip

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        pass

    log = tmp_path / "audit.jsonl"
    with Enforcer(audit_log=log) as enforcer:
        middleware = UsepolicyMiddleware(app, enforcer, keys=RING, environment=ENV)
        try:
            await middleware(_scope("2.0"), receive, send)
        except RuntimeError as exc:
            assert str(exc) == "broke after the answer"  # passed on to the server
    outcome = records(log)[1]
    assert isinstance(outcome, OutcomeRecord)
    assert (outcome.outcome, outcome.status) == ("upstream-error", 500)
    assert [error.code for error in outcome.errors] == ["app-error"]  # not client-gone
