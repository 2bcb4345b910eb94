"""Decision records (DESIGN.md §3): canonical JSON, digests, lossless round trips."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import rfc8785
from pydantic import BaseModel, ConfigDict, Field

from ._version import __version__

if TYPE_CHECKING:
    from .engine._decision import Decision

__all__ = [
    "DecisionRecord",
    "RecordSignature",
    "canonical_json",
    "digest",
    "make_record",
    "record_digest",
]

ENGINE_NAME = "usepolicy"


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) bytes of a JSON-ready value."""
    return rfc8785.dumps(value)


def digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RecordRule(_Frozen):
    id: str
    effect: Literal["allow", "deny"]
    reason: str
    reference: str | None = None


class RecordObligation(_Frozen):
    id: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    rule: str | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class RecordError(_Frozen):
    code: str
    message: str


class RecordPolicy(_Frozen):
    name: str
    version: str
    digest: str


class RecordEngine(_Frozen):
    """The engine that decided. ``revision``: the policy bundle revision an external
    engine (Open Policy Agent) reported; absent for the native engine."""

    name: str
    version: str
    revision: str | None = None


class RecordSignature(_Frozen):
    """An Ed25519 signature over the UTF-8 bytes of ``record_digest``."""

    alg: Literal["ed25519"] = "ed25519"
    key_id: str
    value: str  # base64


class DecisionRecord(_Frozen):
    """One decision as recorded (DESIGN.md §3).

    ``record_digest`` is the digest of the canonical JSON of the record without
    ``record_digest`` (and without ``signature``, which signs that digest). Optional
    fields that are unset are absent from the JSON, not null.
    """

    record_version: Literal[1] = 1
    decision_id: str
    timestamp: str
    decision: Literal["allow", "deny"]
    determining_rule: str | None
    matched_rules: list[RecordRule]
    obligations: list[RecordObligation]
    errors: list[RecordError]
    request: dict[str, Any] | None
    request_digest: str | None
    policy: RecordPolicy
    engine: RecordEngine
    prev_digest: str | None = None
    #: request fields stored only as their digest (see the audit log's redaction)
    redacted: list[str] | None = None
    record_digest: str
    signature: RecordSignature | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready builtins, in DESIGN.md field order.

        ``redacted`` and ``signature`` appear only when set, so a plain record has
        exactly the fields of DESIGN.md §3.
        """
        body = self.model_dump(mode="json", by_alias=True)
        for optional in ("redacted", "signature"):
            if body[optional] is None:
                del body[optional]
        if body["engine"]["revision"] is None:
            del body["engine"]["revision"]
        return body

    def to_json(self) -> str:
        """One line of canonical JSON (what a log line holds)."""
        return canonical_json(self.to_dict()).decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> DecisionRecord:
        return cls.model_validate_json(text)

    def computed_digest(self) -> str:
        """The digest this record's content implies (compare with ``record_digest``)."""
        return record_digest(self.to_dict())

    def chained(self, prev_digest: str | None) -> DecisionRecord:
        """A copy linked to the previous record of a log, with a fresh digest."""
        body = self.to_dict()
        body["prev_digest"] = prev_digest
        body["record_digest"] = record_digest(body)
        return DecisionRecord.model_validate(body)


def record_digest(body: dict[str, Any]) -> str:
    return digest({k: v for k, v in body.items() if k not in ("record_digest", "signature")})


def utc_timestamp(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_record(
    decision: Decision,
    *,
    now: datetime | None = None,
    decision_id: str | None = None,
    engine: Mapping[str, str | None] | None = None,
) -> DecisionRecord:
    """Build the record of a decision (unchained).

    ``engine`` replaces ``{"name": "usepolicy", "version": ...}`` for decisions made by
    another engine (``name``, ``version`` and optionally ``revision``).
    """
    request = decision.request
    if request is not None and request.get("request_id") is None:
        request["request_id"] = str(uuid.uuid4())
    policy = decision.policy
    body: dict[str, Any] = {
        "record_version": 1,
        "decision_id": decision_id or str(uuid.uuid4()),
        "timestamp": utc_timestamp(now),
        "decision": decision.effect.value,
        "determining_rule": decision.determining_rule,
        "matched_rules": [m.to_dict() for m in decision.matched_rules],
        "obligations": [o.to_dict() for o in decision.obligations],
        "errors": [e.to_dict() for e in decision.errors],
        "request": request,
        "request_digest": None if request is None else digest(request),
        "policy": {"name": policy.name, "version": policy.version, "digest": policy.digest},
        "engine": (
            {k: v for k, v in engine.items() if v is not None}  # absent, not null
            if engine
            else {"name": ENGINE_NAME, "version": __version__}
        ),
        "prev_digest": None,
    }
    body["record_digest"] = record_digest(body)
    return DecisionRecord.model_validate(body)
