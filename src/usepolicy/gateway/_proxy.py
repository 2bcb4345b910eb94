"""``Gateway``: an OpenAI-compatible reverse proxy that enforces every call.

``/healthz`` and ``/metrics`` are the gateway's own; every other path goes through
``UsepolicyMiddleware`` and, when allowed, to the upstream with httpx, the answer
streamed back chunk by chunk (server-sent events pass through as they come). The
client's API key identifies the requester and is never sent upstream; the upstream's
own key, if any, is the gateway's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .._errors import PolicyError
from ._http import GatewayRejection
from ._metrics import CONTENT_TYPE, GatewayMetrics
from ._middleware import Receive, Scope, Send, UsepolicyMiddleware

if TYPE_CHECKING:
    from .._enforcer import Enforcer
    from ._build import RequestHook
    from ._config import KeyRing

__all__ = ["Gateway"]

_log = logging.getLogger("usepolicy.gateway")
#: hop-by-hop headers (RFC 9110 §7.6.1) and those the gateway sets itself
_DROP_REQUEST: Final = frozenset(
    {
        "host", "connection", "keep-alive", "proxy-connection", "te", "trailer",
        "transfer-encoding", "upgrade", "content-length", "authorization", "x-usepolicy-use",
    }
)  # fmt: skip
_DROP_RESPONSE: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
     "upgrade"}
)  # fmt: skip


class Gateway:
    """The enforcing proxy, an ASGI app (serve it with uvicorn).

    Args:
        upstream: the OpenAI-compatible base URL calls are forwarded to
            (``http://127.0.0.1:8000`` forwards ``/v1/chat/completions`` to
            ``http://127.0.0.1:8000/v1/chat/completions``).
        enforcer: decides and records; its obligation handlers say what this
            deployment fulfils.
        keys, environment, build_request, store_prompt, record_outcomes: as
            ``UsepolicyMiddleware``.
        upstream_key: the API key sent upstream (``Authorization: Bearer``), if any.
        policy: where the policy comes from, for ``reload`` (and ``SIGHUP``).
        timeout: seconds to wait for the upstream to connect and to send each chunk.
    """

    def __init__(
        self,
        upstream: str,
        enforcer: Enforcer,
        *,
        keys: KeyRing | None = None,
        environment: Mapping[str, Any] | None = None,
        build_request: RequestHook | None = None,
        store_prompt: bool = False,
        record_outcomes: bool = True,
        upstream_key: str | None = None,
        policy: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        timeout: float = 600.0,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.enforcer = enforcer
        self.metrics = metrics or GatewayMetrics()
        self.policy_source = policy
        self._upstream_key = upstream_key
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self.guarded = UsepolicyMiddleware(
            self._forward, enforcer, keys=keys, environment=environment,
            build_request=build_request, store_prompt=store_prompt,
            record_outcomes=record_outcomes, metrics=self.metrics,
        )  # fmt: skip

    # -- ASGI --------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/healthz":
            await Response(b"ok\n", media_type="text/plain")(scope, receive, send)
        elif path == "/metrics":
            await Response(self.metrics.render(), media_type=CONTENT_TYPE)(scope, receive, send)
        else:
            await self.guarded(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._client_now()
                self._on_sighup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _client_now(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 30.0)),
                # an idle connection is dropped before a server's usual keep-alive
                # (uvicorn: 5 s) closes it, so a call is rarely sent on a dying one
                limits=httpx.Limits(
                    max_connections=None, max_keepalive_connections=100, keepalive_expiry=2.0
                ),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- reload ------------------------------------------------------------------------
    def _on_sighup(self) -> None:
        if not hasattr(signal, "SIGHUP"):
            return
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            _log.warning("usepolicy: SIGHUP cannot reload the policy in this process")

    def reload(self) -> bool:
        """Load the policy again from where it came from and decide with it from now on.

        A policy that does not load is not used: the last good one stays, and each
        problem is printed on stderr as ``usepolicy: path:line:col: code: message``.
        """
        try:
            engine = self.enforcer.reload(self.policy_source)
        except PolicyError as exc:
            self.metrics.reloads.labels("failed").inc()
            for diagnostic in exc.diagnostics:
                print(f"usepolicy: {diagnostic}", file=sys.stderr, flush=True)
            print("usepolicy: reload failed: keeping the last good policy", file=sys.stderr,
                  flush=True)  # fmt: skip
            return False
        except OSError as exc:
            self.metrics.reloads.labels("failed").inc()
            print(f"usepolicy: reload failed: {exc}: keeping the last good policy",
                  file=sys.stderr, flush=True)  # fmt: skip
            return False
        self.metrics.reloads.labels("ok").inc()
        policy = engine.policy
        print(f"usepolicy: reloaded {policy.name} {policy.version} {policy.digest}",
              file=sys.stderr, flush=True)  # fmt: skip
        return True

    # -- forwarding --------------------------------------------------------------------
    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        url = self.upstream + scope["path"]
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [(k, v) for k, v in request.headers.items() if k not in _DROP_REQUEST]
        if self._upstream_key:
            headers.append(("authorization", f"Bearer {self._upstream_key}"))
        client = self._client_now()
        state: dict[str, Any] = scope["state"]
        try:
            upstream = await client.send(
                client.build_request(request.method, url, headers=headers, content=body),
                stream=True,
            )
        except httpx.HTTPError as exc:
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            state["usepolicy_outcome"] = {
                "outcome": "upstream-error",
                "status": None,
                "errors": [{"code": "upstream-unreachable", "message": why[:1000]}],
            }
            rejection = GatewayRejection(
                502, "usepolicy_upstream_error", f"the upstream model cannot be reached: {why}"
            )
            await Response(rejection.body(), status_code=502, media_type="application/json")(
                scope, receive, send
            )
            return
        if upstream.status_code >= 400:
            state["usepolicy_outcome"] = {
                "outcome": "upstream-error",
                "status": upstream.status_code,
                "errors": [
                    {
                        "code": "upstream-status",
                        "message": f"upstream answered {upstream.status_code}",
                    }
                ],
            }
        else:
            state["usepolicy_outcome"] = {"outcome": "executed", "status": upstream.status_code}
        response = StreamingResponse(
            _chunks(upstream, state),
            status_code=upstream.status_code,
            headers={k: v for k, v in upstream.headers.items() if k not in _DROP_RESPONSE},
        )
        try:
            await response(scope, receive, send)
        finally:  # also when the client went away mid-stream (a background task is skipped)
            await upstream.aclose()


async def _chunks(upstream: httpx.Response, state: dict[str, Any]) -> Any:
    """The upstream's bytes as they come; a stream cut short is an upstream error."""
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        state["usepolicy_outcome"] = {
            "outcome": "upstream-error",
            "status": upstream.status_code,
            "errors": [{"code": "upstream-broken", "message": f"{type(exc).__name__}: {exc}"}],
        }
        raise
