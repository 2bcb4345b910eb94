"""A LiteLLM guardrail that enforces the policy on every call (extra ``[litellm]``).

In LiteLLM's proxy ``config.yaml``::

    guardrails:
      - guardrail_name: usepolicy
        litellm_params:
          guardrail: usepolicy.gateway.litellm.UsepolicyGuardrail
          mode: pre_call
          default_on: true
          keys: /etc/usepolicy/keys.yaml          # API key digests -> requester
          audit_log: /var/log/usepolicy/audit.jsonl
          environment: /etc/usepolicy/env.yaml    # optional
          policy: /etc/usepolicy/policy.yaml      # optional: the reference pack
          accept_obligations: [retain-record]      # optional

``async_pre_call_hook`` builds the request as the proxy does (``RequestBuilder``:
requester from the caller's key, which LiteLLM holds as its sha256 digest, as KEYS.yaml
does; the rest from the ``X-Usepolicy-Use`` header or the body's ``metadata``),
decides and records it, and blocks what must not go ahead with LiteLLM's own
``GuardrailRaisedException`` (status 400, 401, 403 or 503, as the proxy answers).
After the model answers or fails, the success and failure hooks store the outcome
record, linked by ``decision_id``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

try:
    from litellm.exceptions import GuardrailRaisedException
    from litellm.integrations.custom_guardrail import CustomGuardrail
except ImportError as _exc:  # the guard: say what to install
    from . import GatewayUnavailableError

    raise GatewayUnavailableError(
        "usepolicy.gateway.litellm needs the extra [litellm]: pip install 'usepolicy[litellm]'"
    ) from _exc

from .._enforcer import Enforcer
from .._errors import AuditError
from ._build import USE_HEADER, IncomingCall, RequestBuilder
from ._config import KeyRing, load_environment, load_keys
from ._http import GatewayRejection, rejection_of
from ._middleware import prompt_of

__all__ = ["UsepolicyGuardrail"]

_HEX_DIGEST: Final = re.compile(r"^[0-9a-f]{64}$")
_DECISION_KEY: Final = "usepolicy_decision_id"
_log = logging.getLogger("usepolicy.gateway")


class _DigestRing(KeyRing):
    """LiteLLM hands the guardrail the caller's key as its sha256 digest (or, for the
    master key, the key itself): look either up."""

    def requester(self, key: str) -> dict[str, str] | None:
        if _HEX_DIGEST.match(key) and key in self.requesters:
            return dict(self.requesters[key])
        return super().requester(key)


class UsepolicyGuardrail(CustomGuardrail):
    """Enforce a usepolicy policy in LiteLLM's proxy, before each call.

    Args:
        keys: KEYS.yaml (path), or a ``KeyRing``.
        audit_log: the audit log path (or a chained sink); required unless ``enforcer``.
        policy: policy path(s) (default: the reference pack).
        environment: ENV.yaml (path) or a mapping.
        accept_obligations: obligations this deployment fulfils.
        store_prompt: keep the prompt in outcome records (default: its digest only).
        enforcer: an ``Enforcer`` to use instead of ``policy``/``audit_log``.
        **kwargs: LiteLLM's own (``guardrail_name``, ``event_hook``, ``default_on``).
    """

    def __init__(
        self,
        *,
        keys: str | os.PathLike[str] | KeyRing,
        audit_log: Any = None,
        policy: Any = None,
        environment: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        accept_obligations: Iterable[str] = (),
        store_prompt: bool = False,
        enforcer: Enforcer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        ring = keys if isinstance(keys, KeyRing) else load_keys(keys)
        if isinstance(environment, (str, os.PathLike)):
            environment = load_environment(environment)
        if enforcer is None:
            if audit_log is None:
                raise ValueError("UsepolicyGuardrail needs `audit_log` (or an `enforcer`)")
            enforcer = Enforcer(policy, audit_log=audit_log)
        for obligation in accept_obligations:
            enforcer.register_obligation(obligation)
        self.enforcer = enforcer
        self.store_prompt = store_prompt
        self.builder = RequestBuilder(
            _DigestRing(ring.requesters), environment, lambda: enforcer.policy
        )

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        """Decide and record the call; raise ``GuardrailRaisedException`` to block it."""
        try:
            request = self.builder(_call_of(user_api_key_dict, data))
            result = await self.enforcer.aenforce(request)
            rejection = rejection_of(result)
            if rejection is None:
                rejection = rejection_of(result, await self.enforcer.afulfil(result))
        except GatewayRejection as exc:
            rejection = exc
        if rejection is not None:
            raise GuardrailRaisedException(
                guardrail_name=self.guardrail_name,
                message=rejection.message,
                should_wrap_with_default_message=False,
                status_code=rejection.status,
                blocked_content=rejection.status == 403,
            )
        metadata = data.setdefault("metadata", {})
        metadata[_DECISION_KEY] = result.body["decision_id"]
        return data

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        await self._outcome(data, "executed", 200, [])
        return response

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> None:
        status = getattr(original_exception, "status_code", None)
        message = f"{type(original_exception).__name__}: {original_exception}"[:1000]
        error = {"code": "upstream-error", "message": message}
        await self._outcome(request_data, "upstream-error", status, [error])

    async def _outcome(
        self, data: Mapping[str, Any], outcome: str, status: Any, errors: list[dict[str, str]]
    ) -> None:
        metadata = data.get("metadata")
        decision_id = metadata.get(_DECISION_KEY) if isinstance(metadata, Mapping) else None
        if not isinstance(decision_id, str):
            return  # not a call this guardrail let through (a block fails here too)
        try:
            await self.enforcer.arecord_outcome(
                decision_id, outcome, status=status if isinstance(status, int) else None,
                errors=errors, prompt=prompt_of(data), store_prompt=self.store_prompt,
            )  # fmt: skip
        except (AuditError, ValueError) as exc:
            _log.error("usepolicy: outcome of %s not recorded: %s", decision_id, exc)


def _call_of(user_api_key_dict: Any, data: Mapping[str, Any]) -> IncomingCall:
    """The call as ``RequestBuilder`` reads it: the caller's key as a bearer token, the
    ``X-Usepolicy-Use`` header LiteLLM kept, the body with its ``metadata``."""
    headers: dict[str, str] = {}
    key = getattr(user_api_key_dict, "api_key", None) or getattr(user_api_key_dict, "token", None)
    if isinstance(key, str) and key:
        headers["authorization"] = f"Bearer {key}"
    for source in (
        (data.get("proxy_server_request") or {}).get("headers"),
        (data.get("metadata") or {}).get("headers"),
    ):
        if isinstance(source, Mapping):
            for name, value in source.items():
                if isinstance(name, str) and name.lower() == USE_HEADER and isinstance(value, str):
                    headers[USE_HEADER] = value
    body = {
        "model": data.get("model"),
        "metadata": _client_metadata(data),
    }
    return IncomingCall("POST", "/litellm", headers, json.dumps(body, default=str).encode())


def _client_metadata(data: Mapping[str, Any]) -> dict[str, Any]:
    # LiteLLM merges its own keys (user_api_key_*, headers, ...) into ``metadata``: only
    # the request's dotted keys are read from it (``convert_metadata`` skips the others)
    metadata = data.get("metadata")
    return dict(metadata) if isinstance(metadata, Mapping) else {}
