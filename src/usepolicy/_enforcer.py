"""``Enforcer``: evaluate, record durably, enforce — in one call, for gateway code.

The wiring of the data flow: policy -> engine -> decision record -> audit sink. No
durable record, no allow: when the record cannot be stored, the answer is deny.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

from ._errors import AuditError, RequestError, UseDenied, printable
from ._record import ENGINE_NAME, DecisionRecord, digest, record_digest, utc_timestamp
from ._request import UseRequest
from ._version import __version__
from .audit import AuditLog, Durability, Sink, redact
from .audit._redact import check_redact_paths
from .audit._sign import Signer
from .engine import Decision, Engine
from .policy import Policy, load_policy

__all__ = ["Enforcer"]

PolicySource = str | os.PathLike[str]


class Enforcer:
    """Decide each request, append its record to the audit log, and enforce the answer.

    Args:
        policy: a ``Policy``, an ``Engine``, a policy path (or several), or None for the
            reference pack.
        audit_log: a log file path (opened as an ``AuditLog``) or any ``Sink``.
        durability: for a path: ``"always"`` (default), ``"batch"`` or ``"none"``.
        signer: for a path: sign every record (``usepolicy.audit.Signer``).
        redact: request fields to store only as their digest.

    A log path that cannot be opened does not raise here: every ``check`` is then a deny
    carrying the ``audit-error`` and tries to open the log again, so a gateway fails
    closed and recovers once the log is writable.
    """

    def __init__(
        self,
        policy: Policy | Engine | PolicySource | Sequence[PolicySource] | None = None,
        *,
        audit_log: str | os.PathLike[str] | Sink,
        durability: Durability | None = None,
        signer: Signer | None = None,
        redact: Iterable[str] = (),
    ) -> None:
        if isinstance(policy, Engine):
            self.engine = policy
        else:
            self.engine = Engine(policy if isinstance(policy, Policy) else load_policy(policy))
        self._redact = check_redact_paths(redact)
        self._durability: Durability = durability or "always"
        self._signer = signer
        self._lock = threading.Lock()
        self._closed = False
        self._sink: Sink | None = None
        self._path: str | os.PathLike[str] | None = None
        if isinstance(audit_log, (str, os.PathLike)):
            self._path = audit_log
            with contextlib.suppress(AuditError):  # then each check denies and retries
                self._open()
        elif durability is not None or signer is not None:
            raise ValueError("durability and signer apply to a log path; set them on the sink")
        elif isinstance(audit_log, Sink):
            self._sink = audit_log
        else:
            raise TypeError(f"audit_log must be a path or a Sink, not {type(audit_log)}")

    def _open(self) -> Sink:
        with self._lock:
            if self._closed:
                raise AuditError("the enforcer is closed")
            if self._sink is None:
                assert self._path is not None
                self._sink = AuditLog(
                    self._path,
                    durability=self._durability,
                    signer=self._signer,
                    redact=self._redact,
                )
            return self._sink

    @property
    def policy(self) -> Policy:
        return self.engine.policy

    # -- the gateway calls -------------------------------------------------------------
    def check(self, request: Any) -> DecisionRecord:
        """Decide ``request`` and log the record; return the record as logged.

        Never raises on a deny or a bad input: an invalid request is a logged deny
        listing every bad field (code ``invalid-request``); a record that cannot be
        logged turns the answer into a deny carrying an ``audit-error`` (that record is
        returned, not stored).
        """
        return self._check(request)[0]

    def require(self, request: Any) -> DecisionRecord:
        """Like ``check``, but raise on deny.

        Returns:
            The logged record of an allowed use: fulfil its ``obligations``.

        Raises:
            UseDenied: the use is denied (``.record`` holds the record); when logging
                failed, its ``__cause__`` is the ``AuditError``.
        """
        record, failure = self._check(request)
        if not record.allowed:
            raise UseDenied(record) from failure
        return record

    def log(self, decision: Decision) -> DecisionRecord:
        """Log a decision made elsewhere (e.g. by ``Engine.explain``), failing closed."""
        return self._store(decision.record())[0]

    def _check(self, request: Any) -> tuple[DecisionRecord, AuditError | None]:
        try:
            record = self.engine.evaluate(request).record()
        except Exception as exc:  # RequestError, or anything unexpected: fail closed
            return self._store(_rejected_record(request, exc, self.policy))
        return self._store(record)

    def _store(self, record: DecisionRecord) -> tuple[DecisionRecord, AuditError | None]:
        try:
            sink = self._sink if self._sink is not None else self._open()
            if self._redact and self._path is None:  # an AuditLog of ours redacts itself
                record = redact(record, self._redact)
            return sink.append(record), None
        except Exception as exc:  # a sink that fails in any way has not stored the record
            failure = exc if isinstance(exc, AuditError) else AuditError(_describe(exc))
            if failure is not exc:
                failure.__cause__ = exc
            return _unlogged_record(record, failure), failure

    # -- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        """Close the log this enforcer opened (a sink passed in is left open).

        Later checks are denies carrying an ``audit-error``.
        """
        with self._lock:
            if self._path is not None and isinstance(self._sink, AuditLog):
                self._sink.close()
            self._sink = None
            self._closed = True

    def __enter__(self) -> Enforcer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _describe(exc: BaseException) -> str:
    # printable: the text may quote a request's value, and the record must be writable
    text = printable(str(exc))[:1000]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _raw_digest(raw: Any) -> str | None:
    """The digest of an input that failed validation, when it is JSON at all."""
    try:
        if isinstance(raw, UseRequest):
            raw = raw.model_dump(mode="json")
        elif isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        if isinstance(raw, str):
            # text that is not JSON: the digest of the text itself, as a JSON string
            with contextlib.suppress(ValueError, RecursionError):
                raw = json.loads(raw)
        return digest(raw)
    except Exception:  # not JSON-serializable (or too deep): no digest
        return None


def _finish(body: dict[str, Any]) -> DecisionRecord:
    body["record_digest"] = record_digest(body)
    return DecisionRecord.model_validate(body)


def _rejected_record(raw: Any, exc: Exception, policy: Policy) -> DecisionRecord:
    """The deny record of an input that never became a valid request."""
    if isinstance(exc, RequestError):
        errors = [{"code": exc.code, "message": str(err)} for err in exc.errors]
    else:
        errors = [{"code": "internal-error", "message": _describe(exc)}]
    return _finish(
        {
            "record_version": 1,
            "decision_id": str(uuid.uuid4()),
            "timestamp": utc_timestamp(),
            "decision": "deny",
            "determining_rule": None,
            "matched_rules": [],
            "obligations": [],
            "errors": errors,
            "request": None,
            "request_digest": _raw_digest(raw),
            "policy": {"name": policy.name, "version": policy.version, "digest": policy.digest},
            "engine": {"name": ENGINE_NAME, "version": __version__},
            "prev_digest": None,
        }
    )


def _unlogged_record(record: DecisionRecord, failure: AuditError) -> DecisionRecord:
    """The deny returned when ``record`` could not be stored (the record is not stored)."""
    body = record.to_dict()
    body.pop("signature", None)
    body.update(
        decision="deny",
        determining_rule=None,
        obligations=[],
        errors=[*body["errors"], {"code": failure.code, "message": str(failure)}],
        prev_digest=None,
    )
    return _finish(body)
