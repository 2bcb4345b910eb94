"""``UsepolicyMiddleware``: a pure ASGI middleware that enforces every call before the
app sees it, and records what happened after.

Pure ASGI, not Starlette's ``BaseHTTPMiddleware`` (which runs the app in another task
and so breaks context variables and streaming). For each HTTP call on the paths it
guards, in this order:

1. read the body (bounded) and build the use request (``RequestBuilder`` or a hook);
2. decide and store the record (``Enforcer.aenforce``); fulfil the obligations of an
   allow (``Enforcer.afulfil``); answer 400/401/403/503 itself when the call must not
   go ahead (``_http``);
3. else call the app with the body replayed, ``scope["state"]["usepolicy"]`` holding the
   ``Enforcement`` (``request.state.usepolicy`` in Starlette and FastAPI), and the
   header ``Usepolicy-Decision-Id`` added to the answer;
4. when the app has answered, store the outcome record: ``executed``, or
   ``upstream-error`` with the status the app answered (>= 400) or raised. An app that
   knows better (a proxy that could not reach its upstream) puts the outcome in
   ``scope["state"]["usepolicy_outcome"]`` (``outcome``, ``status``, ``errors``).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Final

from .._errors import AuditError, printable
from ._build import IncomingCall, RequestBuilder, RequestHook
from ._http import DECISION_HEADER, GatewayRejection, rejection_of

if TYPE_CHECKING:
    from .._enforcer import Enforcement, Enforcer
    from ._config import KeyRing
    from ._metrics import GatewayMetrics

__all__ = ["MAX_BODY_BYTES", "UsepolicyMiddleware", "prompt_of"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

MAX_BODY_BYTES: Final = 8 * 1024 * 1024
_log = logging.getLogger("usepolicy.gateway")


def prompt_of(body: Any) -> Any:
    """The prompt of an OpenAI-style body (``messages``, ``prompt`` or ``input``)."""
    if isinstance(body, dict):
        for key in ("messages", "prompt", "input"):
            if key in body:
                return body[key]
    return None


class UsepolicyMiddleware:
    """Enforce a policy on every HTTP call to the guarded paths of an ASGI app.

    Args:
        app: the ASGI app behind it.
        enforcer: decides, records and knows the obligation handlers.
        keys, environment: for the default ``RequestBuilder`` (KEYS.yaml, ENV.yaml).
        build_request: a hook instead of the default builder (see ``RequestBuilder``).
        paths: the path prefixes guarded (default: every path); others pass through.
        store_prompt: keep the prompt in outcome records (default: only its digest).
        record_outcomes: store an outcome record after each call that went ahead (off
            for a sink that takes decision records only: a ``Sink`` with only ``append``).
        metrics: count decisions and outcomes there.
        max_body: the largest body read (413 past it).
    """

    def __init__(
        self,
        app: ASGIApp,
        enforcer: Enforcer,
        *,
        keys: KeyRing | None = None,
        environment: Mapping[str, Any] | None = None,
        build_request: RequestHook | None = None,
        paths: Iterable[str] = ("/",),
        store_prompt: bool = False,
        record_outcomes: bool = True,
        metrics: GatewayMetrics | None = None,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        if build_request is None:
            if keys is None:
                raise ValueError("give `keys` (KEYS.yaml) or a `build_request` hook")
            build_request = RequestBuilder(keys, environment, lambda: enforcer.policy)
        self.app = app
        self.enforcer = enforcer
        self.build_request = build_request
        self.paths = tuple(paths)
        self.store_prompt = store_prompt
        self.record_outcomes = record_outcomes
        self.metrics = metrics
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.paths):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive, self.max_body)
            call = IncomingCall(
                scope.get("method", "GET"),
                scope["path"],
                {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
                body,
            )
            result = await self._check(call)
        except GatewayRejection as rejection:
            await _answer(send, rejection)
            return
        await self._forward(scope, receive, send, call, result)

    async def _build(self, call: IncomingCall) -> Any:
        try:
            built = self.build_request(call)
            return await built if inspect.isawaitable(built) else built
        except GatewayRejection:
            raise
        except Exception as exc:  # a hook that fails: nothing goes ahead, and it says why
            _log.exception("usepolicy: the request builder failed")
            why = printable(f"{type(exc).__name__}: {exc}")[:500]
            raise GatewayRejection(
                500, "usepolicy_internal_error", f"the request builder failed: {why}"
            ) from exc

    async def _check(self, call: IncomingCall) -> Enforcement:
        use = await self._build(call)
        started = time.perf_counter()
        result = await self.enforcer.aenforce(use)
        body = result.body
        if self.metrics is not None:
            self.metrics.latency.observe(time.perf_counter() - started)
            rule = body["determining_rule"] or ("(invalid)" if result.request_error else "(none)")
            self.metrics.decisions.labels(body["decision"], rule).inc()
            if not result.stored:
                self.metrics.audit_failures.labels("decision").inc()
        rejection = rejection_of(result)
        if rejection is None:
            unmet = await self.enforcer.afulfil(result)
            rejection = rejection_of(result, unmet)
            if unmet and self.metrics is not None:
                self.metrics.outcomes.labels("refused").inc()
        if rejection is not None:
            raise rejection
        return result

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, call: IncomingCall, result: Enforcement
    ) -> None:
        decision_id: str = result.body["decision_id"]
        state: dict[str, Any] = dict(scope.get("state") or {})
        state["usepolicy"] = result
        inner = {**scope, "state": state}
        replayed = False
        gone = False  # the client went away (as the server told the app, or failed a send)

        async def replay() -> Message:
            nonlocal replayed, gone
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": call.body, "more_body": False}
            message: Message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        status: list[int] = []
        finished = False  # the answer's last part went out

        async def send_with_id(message: Message) -> None:
            nonlocal finished, gone
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = list(message.get("headers") or ())
                headers.append((DECISION_HEADER.encode(), decision_id.encode()))
                message = {**message, "headers": headers}
            try:
                await send(message)
            except OSError:  # ASGI 2.4: the server says so by failing the send
                gone = True
                raise
            if message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True

        failure: Exception | None = None
        try:
            await self.app(inner, replay, send_with_id)
        except Exception as exc:
            failure = exc
        # A server says the client has gone after a complete answer too: only an answer
        # that did not reach its end was cut short
        cut_short = bool(status) and not finished
        told = state.get("usepolicy_outcome")
        if isinstance(told, Mapping):
            outcome, answered = told.get("outcome", "upstream-error"), told.get("status")
            errors = list(told.get("errors") or ())
        elif failure is not None and not (gone and cut_short):  # the app's own failure
            outcome, answered = "upstream-error", 500
            why = printable(f"{type(failure).__name__}: {failure}")
            errors = [{"code": "app-error", "message": why}]
        else:
            answered = status[0] if status else None
            if answered is not None and answered < 400:
                outcome, errors = "executed", []
            else:
                outcome = "upstream-error"
                errors = [{"code": "upstream-status", "message": f"answered {answered}"}]
        if cut_short and (gone or not errors):
            # The record must not say more was delivered than was: an answer cut short
            # says so (unless an error already says why, as a broken upstream's does)
            errors.append(_cut_short(gone))
        await self._outcome(decision_id, outcome, answered, errors, call)
        if failure is not None:
            raise failure

    async def _outcome(
        self,
        decision_id: str,
        outcome: str,
        status: int | None,
        errors: Iterable[Mapping[str, str]],
        call: IncomingCall,
    ) -> None:
        if self.metrics is not None:
            self.metrics.outcomes.labels(outcome).inc()
        if not self.record_outcomes:
            return
        try:
            await self.enforcer.arecord_outcome(
                decision_id, outcome, status=status, errors=list(errors),
                prompt=prompt_of(call.json()), store_prompt=self.store_prompt,
            )  # fmt: skip
        except (AuditError, ValueError) as exc:
            # the answer has gone out: all that is left is to say so loudly
            if self.metrics is not None:
                self.metrics.audit_failures.labels("outcome").inc()
            _log.error("usepolicy: outcome of %s not recorded: %s", decision_id, exc)


def _cut_short(gone: bool) -> dict[str, str]:
    """The error an outcome record carries for an answer that did not reach its end."""
    if gone:
        return {"code": "client-gone", "message": "the client went away before the answer ended"}
    return {"code": "answer-incomplete", "message": "the answer stopped before its last part"}


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayRejection(499, "usepolicy_client_gone", "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise GatewayRejection(
                413, "usepolicy_invalid_request", f"the body is over {limit} bytes",
                code="too-large",
            )  # fmt: skip
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, rejection: GatewayRejection) -> None:
    body = rejection.body()
    headers = [*rejection.headers(), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": rejection.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
