"""HTTP answers in the OpenAI error format, and what each outcome of a check answers.

| what happened | status | ``error.type`` |
|---|---|---|
| no API key, or an unknown one | 401 | ``usepolicy_unauthorized`` |
| the use is not a valid request (field named) | 400 | ``usepolicy_invalid_request`` |
| the policy denies it (``code``: the rule) | 403 | ``usepolicy_denied`` |
| allowed, but an obligation cannot be met | 403 | ``usepolicy_obligation_unmet`` |
| no durable record could be made | 503 | ``usepolicy_audit_unavailable`` |
| the upstream model cannot be reached | 502 | ``usepolicy_upstream_error`` |

Every answer to a call that was decided carries ``Usepolicy-Decision-Id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson

if TYPE_CHECKING:
    from .._enforcer import Enforcement

__all__ = ["DECISION_HEADER", "GatewayRejection", "rejection_of"]

DECISION_HEADER: Final = "usepolicy-decision-id"


class GatewayRejection(Exception):
    """A call the gateway answers itself, with an OpenAI-style error body.

    A request-builder hook raises it to refuse a call (e.g. 401 for a bad token).
    """

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decision_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.code = code
        self.param = param
        self.decision_id = decision_id

    def body(self) -> bytes:
        return orjson.dumps(
            {
                "error": {
                    "message": self.message,
                    "type": self.error_type,
                    "code": self.code,
                    "param": self.param,
                }
            }
        )

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"content-type", b"application/json")]
        if self.status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="usepolicy"'))
        if self.decision_id is not None:
            headers.append((DECISION_HEADER.encode(), self.decision_id.encode()))
        return headers


def rejection_of(
    result: Enforcement, unmet: Sequence[dict[str, str]] = ()
) -> GatewayRejection | None:
    """The answer to a checked call that must not go ahead, or None for one that may."""
    body: dict[str, Any] = result.body
    decision_id: str = body["decision_id"]
    if not result.stored:
        why = result.failure or "the decision could not be recorded"
        return GatewayRejection(
            503, "usepolicy_audit_unavailable", f"no durable record, no use: {why}",
            code="audit-error", decision_id=decision_id,
        )  # fmt: skip
    if result.request_error is not None:
        problems = result.request_error.errors
        first = problems[0] if problems else None
        message = "; ".join(str(p) for p in problems[:5]) or str(result.request_error)
        return GatewayRejection(
            400, "usepolicy_invalid_request", message, code="invalid-request",
            param=getattr(first, "path", None), decision_id=decision_id,
        )  # fmt: skip
    if not result.allowed:
        rule = body.get("determining_rule")
        reason = next((m["reason"] for m in body["matched_rules"] if m["id"] == rule), None)
        if reason is None and body.get("errors"):
            reason = f"denied: {body['errors'][-1]['message']}"
        message = reason or "denied: no rule of the policy allows this use"
        return GatewayRejection(
            403, "usepolicy_denied", message, code=rule, decision_id=decision_id
        )
    if unmet:
        return GatewayRejection(
            403, "usepolicy_obligation_unmet", "; ".join(p["message"] for p in unmet),
            code=unmet[0]["code"], decision_id=decision_id,
        )  # fmt: skip
    return None
