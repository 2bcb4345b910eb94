"""Where record bodies are made: the record of a decision, of an input that never
became a request, and the deny a record becomes when it cannot be stored.

A body is JSON-ready builtins in DESIGN.md §3 field order, unsealed: ``seal`` chains,
digests and signs it. The clock and the ids come from the caller; the current time and
``new_decision_id`` are the defaults, kept here so that the engine never reads a clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import orjson

from .._version import __version__
from ._canonical import canonical_json, digest, encode_fast, mixed_planes
from ._seal import DigestSigner, Sealed, seal
from ._template import Template, template_for

__all__ = [
    "ENGINE_NAME",
    "Draft",
    "PolicyRef",
    "decision_draft",
    "denied_body",
    "new_decision_id",
    "raw_digest",
    "rejected_draft",
    "utc_timestamp",
    "utc_timestamp_now",
]

ENGINE_NAME: Final = "usepolicy"
RECORD_VERSION: Final = 1


class PolicyRef(Protocol):
    """What a record says of the policy that decided (``Policy`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def digest(self) -> str: ...


@dataclass(slots=True)  # not frozen: a frozen dataclass costs a microsecond to make
class Draft:
    """A record body before ``seal``, with ``encoded``: the canonical JSON of some of its
    members, made already (the request's, to digest it; the matched rules' that the
    engine made once), so that sealing need not make them again; and ``template``: what
    the body shares with every record of its outcome, made once (``Template``).

    A draft is not changed once made (nor its body in place): whatever changes it
    (redaction) makes a new draft, without the template of the old body."""

    body: dict[str, Any]
    encoded: Mapping[str, bytes] = field(default_factory=dict)
    template: Template | None = None

    def seal(self, prev: str | None, signer: DigestSigner | None = None) -> Sealed:
        """``seal`` this body with what the draft holds made already."""
        return seal(self.body, prev, signer, encoded=self.encoded, template=self.template)


# Random bytes for ids are read from the system (``os.urandom``) for _POOL ids at a
# time, not once per id: a system call per decision costs more than formatting its id.
# The pool is formatted whole, a column of hex digits at a time (a slice assignment in
# C for each of the 32), which costs a third of slicing and joining each id by itself.
_POOL: Final = 256
# RFC 9562 version (0100) and variant (10) bits, where ``uuid.UUID(version=4)`` sets them
_KEEP: Final = int.from_bytes(bytes.fromhex("ffffffffffff0fff3fffffffffffffff") * _POOL)
_SET: Final = int.from_bytes(bytes.fromhex("00000000000040008000000000000000") * _POOL)
_LINES: Final = b"00000000-0000-0000-0000-000000000000\n" * _POOL
# (digit of an id's 32 hex digits, its place in the id's line of _LINES)
_COLUMNS: Final = tuple((q, q + (q >= 8) + (q >= 12) + (q >= 16) + (q >= 20)) for q in range(32))


def _formatted(data: bytes) -> list[str]:
    """The ids of ``16 * _POOL`` random bytes, 16 to an id in order, each as
    ``str(uuid.UUID(bytes=..., version=4))`` writes it."""
    digits = (int.from_bytes(data) & _KEEP | _SET).to_bytes(16 * _POOL).hex().encode()
    lines = bytearray(_LINES)
    for digit, place in _COLUMNS:
        lines[place::37] = digits[digit::32]
    return lines.decode().split()


_ids: Iterator[str] = iter(())  # the pool's ids not handed out yet: replaced whole


def _refill() -> None:
    global _ids
    _ids = iter(_formatted(os.urandom(16 * _POOL)))


# A forked child must not hand out the ids its parent will: it reads its own bytes.
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_refill)


def new_decision_id() -> str:
    """The default decision id: a fresh random UUID (version 4), as ``str(uuid.uuid4())``
    writes it: 122 random bits from ``os.urandom``, formatted directly (``uuid4()``
    costs several times as much, and a record is made for every decision).

    Thread-safe: ``next`` on a list iterator is atomic under the GIL, so each id of a
    pool is handed out once; threads that find the pool used up at once each read a
    new one, and only the ids of all but one of those are never used."""
    while (made := next(_ids, None)) is None:
        _refill()
    return made


def utc_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (a naive ``moment`` is local time)."""
    m = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T"
        f"{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond:06d}Z"
    )


# the first microsecond of the last second formatted, and its format: replaced whole
_second: tuple[int, str] = (-1, "")


def utc_timestamp_now() -> str:
    """``utc_timestamp`` of the current time, formatting the date and time once a second."""
    global _second
    micros = time.time_ns() // 1000
    start, form = _second
    if not 0 <= micros - start < 1_000_000:
        start = micros - micros % 1_000_000
        # the microseconds are left to one %-format (cheaper than an f-string's parts)
        form = time.strftime("%Y-%m-%dT%H:%M:%S.%%06dZ", time.gmtime(start // 1_000_000))
        _second = (start, form)
    return form % (micros - start)


_OPTIONS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _validated_request_json(request: dict[str, Any]) -> bytes:
    """``canonical_json`` of a request the engine validated, where floats can only be
    attribute values and every other value has an exact JSON type: only the attributes
    need the search for floats that ``canonical_json`` makes everywhere."""
    attributes = request.get("attributes")
    # ``in`` over ``map`` searches in C: a comprehension would run a frame of its own
    if attributes and float in map(type, attributes.values()):
        fast = encode_fast(attributes)
        if fast is None:
            return canonical_json(request)
        written = {**request, "attributes": orjson.Fragment(fast[1])}
    else:
        written = request
    try:
        out = orjson.dumps(written, option=_OPTIONS)
    except TypeError:  # beyond what validation lets through: the reference decides
        return canonical_json(request)
    if not out.isascii() and mixed_planes(out):
        return canonical_json(request)
    return out


def _engine(engine: Mapping[str, str | None] | None) -> dict[str, str]:
    if not engine:
        return {"name": ENGINE_NAME, "version": __version__}
    return {k: v for k, v in engine.items() if v is not None}  # absent, not null


def _fresh(items: Sequence[Any]) -> list[Any]:
    """``items`` as the list a body holds: a list given is taken as it is."""
    return items if type(items) is list else list(items)


def _policy(policy: PolicyRef) -> dict[str, str]:
    return {"name": policy.name, "version": policy.version, "digest": policy.digest}


def decision_draft(
    *,
    decision: str,
    determining_rule: str | None,
    matched_rules: Sequence[Mapping[str, Any]],
    obligations: Sequence[Mapping[str, Any]],
    errors: Sequence[Mapping[str, Any]],
    request: Mapping[str, Any] | None,
    policy: PolicyRef,
    dryrun: Sequence[Mapping[str, Any]] = (),
    engine: Mapping[str, str | None] | None = None,
    now: datetime | None = None,
    decision_id: str | None = None,
    encoded: Mapping[str, bytes] | None = None,
    validated: bool = False,
) -> Draft:
    """The record of a decision, unsealed. The mappings and lists given become part of
    the body, and ``encoded`` the draft's (they are not copied): give fresh ones.

    Args:
        request: the validated request with its defaults; a request without
            ``request_id`` gets the decision id as its id.
        engine: the engine that decided (``name``, ``version``, optional ``revision``);
            None for this package's engine.
        now: when the decision was made (default: the current time).
        decision_id: the record's id (default: ``new_decision_id()``).
        encoded: the canonical JSON of some of the members above, by body key
            (``matched_rules``, ``obligations``, ``errors``, ``dryrun``), made already.
            With the first two (and ``dryrun``, when there is any), a ``validated``
            request and no ``errors``, the draft gets its outcome's ``Template``.
        validated: ``request`` is one the engine's validator made (``Decision.request``):
            floats only among its attribute values, all else of exact JSON types.
        dryrun: the dry-run rules that would have denied; the body has ``dryrun`` only
            when there are any.
    """
    decision_id = decision_id or new_decision_id()
    parts = encoded if type(encoded) is dict else dict(encoded or ())
    request_digest: str | None = None
    body_request: dict[str, Any] | None = None
    if request is not None:
        body_request = request if type(request) is dict else dict(request)
        if body_request.get("request_id") is None:
            body_request["request_id"] = decision_id
        parts["request"] = (
            _validated_request_json(body_request) if validated else canonical_json(body_request)
        )
        request_digest = "sha256:" + hashlib.sha256(parts["request"]).hexdigest()
    body: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "decision_id": decision_id,
        "timestamp": utc_timestamp_now() if now is None else utc_timestamp(now),
        "decision": decision,
        "determining_rule": determining_rule,
        "matched_rules": _fresh(matched_rules),
        "obligations": _fresh(obligations),
        "errors": _fresh(errors),
        "request": body_request,
        "request_digest": request_digest,
        "policy": _policy(policy),
        "engine": _engine(engine),
        "prev_digest": None,
    }
    if dryrun:
        body["dryrun"] = _fresh(dryrun)
    template = None
    if validated and request_digest is not None and not errors:
        # the members every record of this outcome shares, as the key of its template
        matched, obliged, tried = (
            parts.get("matched_rules"),
            parts.get("obligations"),
            parts.get("dryrun"),
        )
        if matched is not None and obliged is not None and (tried is not None or not dryrun):
            policy_ref = body["policy"]
            key = (
                decision,
                determining_rule,
                matched,
                obliged,
                tried,
                policy_ref["name"],
                policy_ref["version"],
                policy_ref["digest"],
                None if engine is None else tuple(body["engine"].items()),
            )
            template = template_for(key, body)
    return Draft(body, parts, template)


def raw_digest(raw: Any) -> str | None:
    """The digest of an input that failed validation, when it is JSON at all: JSON text
    is digested as the value it holds, other text as a JSON string; None for input that
    is not JSON-serializable (or not even text)."""
    try:
        if hasattr(raw, "model_dump"):  # a pydantic model such as UseRequest
            raw = raw.model_dump(mode="json")
        elif isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        if isinstance(raw, str):
            with contextlib.suppress(ValueError, RecursionError):
                raw = json.loads(raw)
        return digest(raw)
    except Exception:  # not JSON-serializable, or too deep: no digest
        return None


def rejected_draft(
    raw: Any,
    errors: Sequence[Mapping[str, str]],
    policy: PolicyRef,
    *,
    now: datetime | None = None,
    decision_id: str | None = None,
) -> Draft:
    """The deny record of an input that never became a valid request: no request, its
    ``errors`` (each ``code`` and ``message``), and the digest of the raw input."""
    body: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "decision_id": decision_id or new_decision_id(),
        "timestamp": utc_timestamp_now() if now is None else utc_timestamp(now),
        "decision": "deny",
        "determining_rule": None,
        "matched_rules": [],
        "obligations": [],
        "errors": list(errors),
        "request": None,
        "request_digest": raw_digest(raw),
        "policy": _policy(policy),
        "engine": _engine(None),
        "prev_digest": None,
    }
    return Draft(body)


def denied_body(body: Mapping[str, Any], code: str, message: str) -> dict[str, Any]:
    """The deny a record becomes when it cannot be stored: no determining rule, no
    obligations, the error (``audit-error``) last in ``errors``, outside any chain.
    Unsealed: its digest and signature are dropped."""
    denied = {k: v for k, v in body.items() if k not in ("record_digest", "signature")}
    denied.update(
        decision="deny",
        determining_rule=None,
        obligations=[],
        errors=[*body["errors"], {"code": code, "message": message}],
        prev_digest=None,
    )
    return denied
