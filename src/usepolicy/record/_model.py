"""``DecisionRecord`` and its parts: a record as a typed, frozen pydantic model.

Imported only where a record is read or handed out as an object: building, sealing and
storing records works on plain bodies, so a decision that is only printed or stored
never imports pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._canonical import canonical_json
from ._seal import Sealed, record_digest, seal

__all__ = [
    "AnyRecord",
    "DecisionRecord",
    "OutcomeRecord",
    "RecordDryRun",
    "RecordEngine",
    "RecordObligation",
    "RecordPolicy",
    "RecordProblem",
    "RecordRule",
    "RecordSignature",
    "parse_record",
    "record_of",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RecordRule(_Frozen):
    """A rule that matched: ``id``, ``effect``, ``reason``, ``reference``."""

    id: str
    effect: Literal["allow", "deny"]
    reason: str
    reference: str | None = None


class RecordObligation(_Frozen):
    """An obligation as recorded, the same shape as the decision's ``Obligation``:
    ``id``, ``params`` (the rule's ``with:`` mapping, stored as ``with``) and ``rule``
    (the allow rule that attached it)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str
    params: dict[str, Any] = Field(default_factory=dict, alias="with")
    rule: str | None = None

    @property
    def with_(self) -> dict[str, Any]:
        """``params`` under its former name."""
        return self.params


class RecordProblem(_Frozen):
    """An error met while deciding (or storing): ``code`` and ``message``."""

    code: str
    message: str


class RecordDryRun(RecordRule):
    """A dry-run rule that would have denied: the rule, and the ``error`` its
    evaluation met, if that is why (an error denies)."""

    error: RecordProblem | None = None


class RecordPolicy(_Frozen):
    """The policy that decided: ``name``, ``version``, ``digest``."""

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
    errors: list[RecordProblem]
    #: the dry-run rules (``enforcement: dryrun``) that would have denied, when any
    dryrun: list[RecordDryRun] | None = None
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

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> DecisionRecord:
        """The record of a body (``to_dict()`` form, as ``seal`` returns it)."""
        # A body the record builders made holds exact types only, and strict validation
        # of it costs half of lax validation (it runs for every audited decision); lax
        # is the same model wherever strict accepts, and decides everything else.
        try:
            return cls.model_validate(body, strict=True)
        except ValidationError:
            return cls.model_validate(body)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready builtins, in DESIGN.md field order.

        ``dryrun``, ``redacted`` and ``signature`` appear only when set, so a plain
        record has exactly the fields of DESIGN.md §3.
        """
        body = self.model_dump(mode="json", by_alias=True)
        for optional in ("dryrun", "redacted", "signature"):
            if body[optional] is None:
                del body[optional]
        for entry in body.get("dryrun", ()):
            if entry["error"] is None:
                del entry["error"]
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
        """A copy linked to the previous record of a log, with a fresh digest (and no
        signature: sign the copy again)."""
        return DecisionRecord.model_validate(seal(self.to_dict(), prev_digest).body)


class OutcomeRecord(_Frozen):
    """What happened after a decision (``record_kind: outcome``; see ``outcome_draft``),
    linked to its decision record by ``decision_id``, in the same chain.

    ``prompt`` is present only when the gateway was configured to store it; the digest
    of the prompt always is (null when there was none).
    """

    record_version: Literal[1] = 1
    record_kind: Literal["outcome"] = "outcome"
    decision_id: str
    timestamp: str
    outcome: Literal["executed", "upstream-error", "refused"]
    status: int | None = None
    errors: list[RecordProblem]
    prompt_digest: str | None = None
    prompt: Any = None
    engine: RecordEngine
    prev_digest: str | None = None
    record_digest: str
    signature: RecordSignature | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> OutcomeRecord:
        return cls.model_validate(body)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready builtins; ``prompt`` and ``signature`` only when set."""
        body = self.model_dump(mode="json", by_alias=True)
        for optional in ("prompt", "signature"):
            if body[optional] is None:
                del body[optional]
        if body["engine"]["revision"] is None:
            del body["engine"]["revision"]
        return body

    def to_json(self) -> str:
        return canonical_json(self.to_dict()).decode("utf-8")

    def computed_digest(self) -> str:
        return record_digest(self.to_dict())


#: a record of either kind, as a log holds them
AnyRecord = DecisionRecord | OutcomeRecord

# The members of a DecisionRecord that every record of one template shares, in the
# order ``record_of`` unpacks them.
_SHARED = (
    "record_version",
    "decision",
    "determining_rule",
    "matched_rules",
    "obligations",
    "errors",
    "dryrun",
    "policy",
    "engine",
)


def record_of(sealed: Sealed) -> DecisionRecord:
    """The ``DecisionRecord`` of a sealed decision body.

    For a body sealed with a template (``Sealed.template``), the parts every record of
    its outcome shares (rules, obligations, policy, engine) are validated once, for the
    first record; each record is then assembled from them and its own members, which
    sealing made (ids, times, digests: strings) or validated (the request), and equals
    the record ``DecisionRecord.from_body`` makes (``tests/record/test_template.py``).
    """
    body, template = sealed.body, sealed.template
    if template is None:
        return DecisionRecord.from_body(body)
    parts = template.parts
    if parts is None:
        first = DecisionRecord.from_body(body)
        shared = tuple(getattr(first, key) for key in _SHARED)
        parts = template.parts = shared, frozenset(first.model_fields_set - {"signature"})
    (version, decision, rule, matched, obligations, errors, dryrun, policy, engine), members = parts
    values = {
        "record_version": version,
        "decision_id": body["decision_id"],
        "timestamp": body["timestamp"],
        "decision": decision,
        "determining_rule": rule,
        # fresh lists of the shared (frozen) models: a record's list is its own
        "matched_rules": list(matched),
        "obligations": list(obligations),
        "errors": list(errors),
        "dryrun": None if dryrun is None else list(dryrun),
        "request": dict(body["request"]),
        "request_digest": body["request_digest"],
        "policy": policy,
        "engine": engine,
        "prev_digest": body["prev_digest"],
        "redacted": None,
        "record_digest": body["record_digest"],
        "signature": None,
    }
    signature = body.get("signature")
    if signature is None:
        return _assembled(values, set(members))
    values["signature"] = RecordSignature.model_validate(signature, strict=True)
    return _assembled(values, {*members, "signature"})


# A record's slots, set through their descriptors: ``object.__setattr__`` (what
# ``model_construct`` calls) would search the class for each, every time.
_new = DecisionRecord.__new__
_set_values = vars(BaseModel)["__dict__"].__set__
_set_fields_set = vars(BaseModel)["__pydantic_fields_set__"].__set__
_set_extra = vars(BaseModel)["__pydantic_extra__"].__set__
_set_private = vars(BaseModel)["__pydantic_private__"].__set__


def _assembled(values: dict[str, Any], fields_set: set[str]) -> DecisionRecord:
    """A record of ``values`` (every field, in field order) validated already, made as
    ``model_construct`` makes it, without its search for defaults and aliases;
    ``fields_set``: the fields the body held."""
    record: DecisionRecord = _new(DecisionRecord)
    _set_values(record, values)
    _set_fields_set(record, fields_set)
    _set_extra(record, None)
    _set_private(record, None)
    return record


def parse_record(obj: Any) -> AnyRecord:
    """The record a parsed log line holds: an ``OutcomeRecord`` when it says
    ``"record_kind": "outcome"``, else a ``DecisionRecord`` (every record before outcome
    records existed has no ``record_kind``).

    Raises:
        pydantic.ValidationError: it is not a record of that kind.
    """
    if isinstance(obj, dict) and "record_kind" in obj:
        return OutcomeRecord.model_validate(obj)
    return DecisionRecord.model_validate(obj)
