"""``Enforcer``: decide, record durably, enforce, in one call, for gateway code and the CLI.

The wiring of the data flow: decider -> decision record -> audit sink. No durable
record, no allow: when the record cannot be stored, the answer is deny.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._async import AsyncMixin
from ._enforcement import Enforcement, describe, record_model, stored
from ._errors import AuditError, RequestError, printable
from ._obligations import ObligationHandler, ObligationRegistry
from ._outcomes import OutcomeMixin
from .engine import Decider, Decision, Engine
from .policy import Policy, load_policy
from .record import (
    Draft,
    Sealed,
    UseDenied,
    check_redact_paths,
    denied_body,
    redact_draft,
    rejected_draft,
    seal,
)

if TYPE_CHECKING:
    from .audit import Durability, Signer, Sink
    from .engine import Explanation
    from .record import DecisionRecord

__all__ = ["Enforcement", "Enforcer"]

PolicySource = str | os.PathLike[str]


class Enforcer(AsyncMixin, OutcomeMixin):
    """Decide each request, append its record to the audit log, and enforce the answer.

    Args:
        policy: what decides: a ``Policy``, an ``Engine`` or any other decider (such as
            ``usepolicy.backends.opa.OpaEngine``), a policy path (or several), or None
            for the reference pack.
        audit_log: a log file path (opened with ``usepolicy.audit.open_sink``), any
            ``Sink``, or None to store nothing (``stored`` is then false: for tools
            such as the CLI without ``--audit-log``, never for a gateway, whose
            decisions nothing would then prove).
        durability: for a path: ``"always"`` (default), ``"batch"`` or ``"none"``.
        signer: for a path: sign every record (``usepolicy.audit.Signer``).
        rotate_bytes, rotate_every: for a path: start a new file by size or by time
            (a ``timedelta`` or seconds), the chain carried across files (``AuditLog``).
        redact: request fields to store only as their digest.
        obligations: the obligation handlers (``register_obligation``): a mapping of
            obligation id to handler, or ids the deployment fulfils by itself.

    A log path that cannot be opened does not raise here: every ``check`` is then a deny
    carrying the ``audit-error`` and tries to open the log again, so a gateway fails
    closed and recovers once the log is writable.
    """

    def __init__(
        self,
        policy: Policy | Decider | PolicySource | Sequence[PolicySource] | None = None,
        *,
        audit_log: str | os.PathLike[str] | Sink | None,
        durability: Durability | None = None,
        signer: Signer | None = None,
        redact: Iterable[str] = (),
        obligations: Mapping[str, ObligationHandler] | Iterable[str] = (),
        rotate_bytes: int | None = None,
        rotate_every: timedelta | float | None = None,
    ) -> None:
        self.engine: Decider = _decider(policy)
        self.obligations = ObligationRegistry(obligations)
        self._redact = check_redact_paths(redact)
        # what opening a log path takes (``open_sink``), all None for a sink passed in
        self._options: dict[str, Any] = {
            "durability": durability,
            "signer": signer,
            "rotate_bytes": rotate_bytes,
            "rotate_every": rotate_every,
        }
        self._lock = threading.Lock()
        self._closed = False
        self._sink: Sink | None = None
        # the sink's ``store`` when it seals unsealed bodies itself (a ChainedSink)
        self._store: Callable[[Draft], Sealed] | None = None
        self._path: str | os.PathLike[str] | None = None
        if isinstance(audit_log, (str, os.PathLike)):
            self._path = audit_log
            with contextlib.suppress(AuditError):  # then each check denies and retries
                self._open()
        elif any(value is not None for value in self._options.values()):
            raise ValueError(
                "durability, signer and rotation apply to a log path; set them on the sink"
            )
        elif audit_log is not None:
            from .audit import Sink

            if not isinstance(audit_log, Sink):
                raise TypeError(f"audit_log must be a path or a Sink, not {type(audit_log)}")
            self._use(audit_log)

    def _use(self, sink: Sink) -> None:
        from .audit import ChainedSink

        self._store = sink.store if isinstance(sink, ChainedSink) else None
        self._sink = sink

    def _open(self) -> Sink:
        with self._lock:
            if self._closed:
                raise AuditError("the enforcer is closed")
            if self._sink is None:
                assert self._path is not None
                from .audit import open_sink

                self._use(open_sink(self._path, **self._options))
            assert self._sink is not None
            return self._sink

    @property
    def policy(self) -> Policy:
        return self.engine.policy

    # -- operations: reload, obligations (fulfil and the outcome records: OutcomeMixin) --
    def reload(
        self, policy: Policy | Decider | PolicySource | Sequence[PolicySource] | None
    ) -> Decider:
        """Decide with ``policy`` from now on: loaded and compiled first, then swapped in
        whole, so each decision is made by the old engine or the new one, never a mix,
        and its record names the digest of the policy that made it.

        Raises:
            PolicyError: the policy cannot be loaded; the enforcer keeps the one it had.
        """
        engine = _decider(policy)
        self.engine = engine  # one assignment: atomic for every thread reading it
        return engine

    def register_obligation(
        self, obligation_id: str, handler: ObligationHandler | None = None
    ) -> None:
        """Fulfil ``obligation_id`` with ``handler(obligation, record_body)``, which raises
        when it cannot; without a handler, the deployment declares it fulfils the
        obligation by itself (e.g. ``retain-record``, which the audit log does)."""
        if handler is None:
            self.obligations.register(obligation_id)
        else:
            self.obligations.register(obligation_id, handler)

    # -- the gateway calls (for an event loop, AsyncMixin's acheck, arequire, aenforce) -
    def check(self, request: Any) -> DecisionRecord:
        """Decide ``request`` and log the record; return the record as logged.

        Never raises on a deny or a bad input: an invalid request is a logged deny
        listing every bad field (code ``invalid-request``); a record that cannot be
        logged turns the answer into a deny carrying an ``audit-error`` (that record is
        returned, not stored).
        """
        return self.enforce(request).record

    def require(self, request: Any) -> DecisionRecord:
        """Like ``check``, but raise on deny.

        Returns:
            The logged record of an allowed use: fulfil its ``obligations``.

        Raises:
            UseDenied: the use is denied (``.record`` holds the record); when logging
                failed, its ``__cause__`` is the ``AuditError``.
        """
        result = self.enforce(request)
        if not result.allowed:
            raise UseDenied(result.record) from result.failure
        return result.record

    def enforce(self, request: Any, *, explain: bool = False) -> Enforcement:
        """Decide ``request``, store its record, and say all that happened.

        Never raises on a deny or a bad input, like ``check``; the result says whether
        the record was stored, why not, and whether the input was a valid request.

        Args:
            explain: also trace every rule (``Engine.explain``; the decider must have
                ``explain``).

        Raises:
            TypeError: ``explain`` with a decider that cannot explain.
        """
        explanation: Explanation | None = None
        if explain and not hasattr(self.engine, "explain"):
            raise TypeError(f"{type(self.engine).__name__} cannot explain its decisions")
        try:
            if explain:
                explanation = self.engine.explain(request)  # type: ignore[attr-defined]
                decision: Decision = explanation.decision
            else:
                decision = self.engine.evaluate(request)
        except RequestError as exc:
            errors = [{"code": exc.code, "message": str(err)} for err in exc.errors]
            return self._finish(
                lambda: rejected_draft(request, errors, self.policy), request, None, exc, None
            )
        except Exception as exc:  # anything unexpected: fail closed
            errors = [{"code": "internal-error", "message": describe(exc)}]
            return self._finish(
                lambda: rejected_draft(request, errors, self.policy), request, None, None, None
            )
        return self._finish(decision.record_draft, request, decision, None, explanation)

    def log(self, decision: Decision) -> DecisionRecord:
        """Log a decision made elsewhere (e.g. by ``Engine.explain``), failing closed."""
        return self._finish(decision.record_draft, decision.request, decision, None, None).record

    # -- the one way every record leaves here ------------------------------------------
    def _finish(
        self,
        make: Callable[[], Draft],
        raw: Any,
        decision: Decision | None,
        request_error: RequestError | None,
        explanation: Explanation | None,
    ) -> Enforcement:
        """Make, redact, store and wrap a record.

        A record that cannot be made is replaced by the deny of a rejected input naming
        why (``internal-error``), and stored; one that cannot be stored is a deny that
        is returned, not stored.
        """
        draft = self._make(make, raw)
        try:
            if self._redact:
                draft = redact_draft(draft, self._redact)
            sink = self._sink
            if sink is None and (self._path is not None or self._closed):
                sink = self._open()
            if sink is None:
                return self._unsinked(draft, decision, request_error, explanation)
            kept = self._store_in(sink, draft)
        except Exception as exc:  # a sink that fails in any way has not stored the record
            return self._not_stored(draft, exc, decision, request_error, explanation)
        return stored(kept, decision, request_error, explanation)

    def _make(self, make: Callable[[], Draft], raw: Any) -> Draft:
        try:
            return make()
        except Exception as exc:  # the record cannot be made: record why, as a deny
            errors = [{"code": "internal-error", "message": describe(exc)}]
            return rejected_draft(raw, errors, self.policy)

    def _store_in(self, sink: Sink, draft: Draft) -> Sealed | DecisionRecord:
        """``draft`` stored: as a chained sink sealed it, or as another sink appended it."""
        if self._store is not None and sink is self._sink:
            return self._store(draft)
        return sink.append(record_model().from_body(draft.seal(None).body))

    @staticmethod
    def _unsinked(
        draft: Draft,
        decision: Decision | None,
        request_error: RequestError | None,
        explanation: Explanation | None,
    ) -> Enforcement:
        sealed = draft.seal(None)
        return Enforcement(
            sealed.body,
            decision=decision,
            stored=False,
            request_error=request_error,
            explanation=explanation,
            sealed=sealed,
        )

    @staticmethod
    def _not_stored(
        draft: Draft,
        exc: Exception,
        decision: Decision | None,
        request_error: RequestError | None,
        explanation: Explanation | None,
    ) -> Enforcement:
        failure = exc if isinstance(exc, AuditError) else AuditError(describe(exc))
        if failure is not exc:
            failure.__cause__ = exc
        return Enforcement(
            _unstored(draft, failure),
            decision=decision,
            stored=False,
            failure=failure,
            request_error=request_error,
            explanation=explanation,
        )

    # -- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        """Close the log this enforcer opened (a sink passed in is left open).

        Later checks are denies carrying an ``audit-error``.
        """
        with self._lock:
            if self._path is not None and self._sink is not None:
                self._sink.close()  # type: ignore[attr-defined]
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


def _decider(policy: Policy | Decider | PolicySource | Sequence[PolicySource] | None) -> Decider:
    if isinstance(policy, Decider):
        return policy
    return Engine(policy if isinstance(policy, Policy) else load_policy(policy))


def _unstored(draft: Draft, failure: AuditError) -> dict[str, Any]:
    """The deny returned when ``draft`` could not be stored (it is not stored either)."""
    body = denied_body(draft.body, failure.code, printable(str(failure)))
    try:
        return seal(body, None).body
    except ValueError:
        # the record has no canonical form (that may be why it was not stored): the
        # deny keeps no request, and its texts are written out where they cannot be
        body["request"] = None
        return seal(_printable(body), None).body


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(k)): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value
