"""``Enforcer``: decide, record durably, enforce, in one call, for gateway code and the CLI.

The wiring of the data flow: decider -> decision record -> audit sink. No durable
record, no allow: when the record cannot be stored, the answer is deny.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

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


class Enforcement:
    """What ``Enforcer.enforce`` did with one request.

    Attributes:
        allowed: the answer to enforce: the decision allowed the use and its record
            was stored (with no sink, the decision alone).
        record: the ``DecisionRecord`` as stored; when it could not be stored, the
            deny returned instead (not stored), its last error the ``audit-error``.
        decision: the decider's ``Decision``; None for an input that never became a
            valid request.
        stored: whether the record is in the sink (durable as the sink promises).
        failure: why the record could not be stored (an ``AuditError``), else None.
        request_error: the ``RequestError`` of an input that is not a valid request
            (its record is a deny listing every bad field), else None.
        explanation: every rule's trace, when asked for (``explain=True``).
    """

    __slots__ = (
        "_body",
        "_record",
        "decision",
        "explanation",
        "failure",
        "request_error",
        "stored",
    )

    def __init__(
        self,
        body: dict[str, Any],
        *,
        decision: Decision | None,
        stored: bool,
        failure: AuditError | None = None,
        request_error: RequestError | None = None,
        explanation: Explanation | None = None,
        record: DecisionRecord | None = None,
    ) -> None:
        self._body = body
        self._record = record
        self.decision = decision
        self.stored = stored
        self.failure = failure
        self.request_error = request_error
        self.explanation = explanation

    @property
    def allowed(self) -> bool:
        return bool(self._body["decision"] == "allow")

    @property
    def body(self) -> dict[str, Any]:
        """The record as JSON-ready builtins (``record.to_dict()``, without making the
        model): for code that only reads a few fields, such as a gateway."""
        return self._body

    @property
    def record(self) -> DecisionRecord:
        # made on first use: a caller that only needs the answer never pays for it
        if self._record is None:
            self._record = _record_model().from_body(self._body)
        return self._record

    def __repr__(self) -> str:
        state = "stored" if self.stored else f"not stored ({self.failure})"
        return f"Enforcement({self._body['decision']}, {state})"


class Enforcer(OutcomeMixin):
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
    ) -> None:
        self.engine: Decider = _decider(policy)
        self.obligations = ObligationRegistry(obligations)
        self._redact = check_redact_paths(redact)
        self._durability = durability
        self._signer = signer
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
        elif durability is not None or signer is not None:
            raise ValueError("durability and signer apply to a log path; set them on the sink")
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

                self._use(open_sink(self._path, durability=self._durability, signer=self._signer))
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

    # -- the gateway calls -------------------------------------------------------------
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
            errors = [{"code": "internal-error", "message": _describe(exc)}]
            return self._finish(
                lambda: rejected_draft(request, errors, self.policy), request, None, None, None
            )
        return self._finish(decision.record_draft, request, decision, None, explanation)

    def log(self, decision: Decision) -> DecisionRecord:
        """Log a decision made elsewhere (e.g. by ``Engine.explain``), failing closed."""
        return self._finish(decision.record_draft, decision.request, decision, None, None).record

    # -- async: the same calls for an event loop --------------------------------------
    async def acheck(self, request: Any) -> DecisionRecord:
        """``check`` for asyncio code: the decision is made on the loop, but the file
        or database I/O, the fsync and the lock waits are done by the sink's writer
        thread (or a worker thread), so the loop never blocks on them."""
        return (await self.aenforce(request)).record

    async def arequire(self, request: Any) -> DecisionRecord:
        """``require`` for asyncio code (see ``acheck``).

        Raises:
            UseDenied: the use is denied, as ``require``.
        """
        result = await self.aenforce(request)
        if not result.allowed:
            raise UseDenied(result.record) from result.failure
        return result.record

    async def aenforce(self, request: Any) -> Enforcement:
        """``enforce`` for asyncio code (see ``acheck``)."""
        # The record is made later, in the sink's writer thread: it says when the
        # decision was made, and which policy made it (a reload may come in between).
        now = datetime.now(UTC)
        engine = self.engine
        try:
            decision = engine.evaluate(request)
        except RequestError as exc:
            errors = [{"code": exc.code, "message": str(err)} for err in exc.errors]
            policy = engine.policy
            return await self._afinish(
                lambda: rejected_draft(request, errors, policy, now=now), request, None, exc
            )
        except Exception as exc:  # anything unexpected: fail closed
            errors = [{"code": "internal-error", "message": _describe(exc)}]
            policy = engine.policy
            return await self._afinish(
                lambda: rejected_draft(request, errors, policy, now=now), request, None, None
            )
        return await self._afinish(
            functools.partial(decision.record_draft, now=now), request, decision, None
        )

    async def _afinish(
        self,
        make: Callable[[], Draft],
        raw: Any,
        decision: Decision | None,
        request_error: RequestError | None,
    ) -> Enforcement:
        sink = self._sink
        astore = getattr(sink, "astore", None)
        if astore is not None and self._store is not None:
            # The sink's writer thread makes (and redacts) the body: on the loop, a
            # task only decides and queues. A thousand tasks woken by one batch then
            # cost the loop their decisions, not their records. (Only this package's
            # chained sinks take a function for a body.)
            drafted = _Once(functools.partial(self._drafted, make, raw))
            try:
                body = (await astore(drafted)).body
            except Exception as exc:  # not stored: its deny keeps the id the sink saw
                try:
                    draft = drafted()
                except Exception:  # the body could not be made or redacted at all
                    draft = self._make(make, raw)
                return self._not_stored(draft, exc, decision, request_error, None)
            return Enforcement(body, decision=decision, stored=True, request_error=request_error)
        draft = self._make(make, raw)
        try:
            if self._redact:
                draft = redact_draft(draft, self._redact)
            if sink is None and (self._path is not None or self._closed):
                sink = await asyncio.to_thread(self._open)  # opening reads the log's tail
            if sink is None:
                return self._unsinked(draft, decision, request_error, None)
            astore = getattr(sink, "astore", None)
            record: DecisionRecord | None = None
            if astore is not None:
                body = (await astore(draft)).body
            else:  # a sink without a writer thread: its I/O runs in a worker thread
                body, record = await asyncio.to_thread(self._store_in, sink, draft)
        except Exception as exc:  # a sink that fails in any way has not stored the record
            return self._not_stored(draft, exc, decision, request_error, None)
        return Enforcement(
            body, decision=decision, stored=True, request_error=request_error, record=record
        )

    def _drafted(self, make: Callable[[], Draft], raw: Any) -> Draft:
        """The record's body, redacted: what ``_finish`` stores, made where it is called."""
        draft = self._make(make, raw)
        return redact_draft(draft, self._redact) if self._redact else draft

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
            body, record = self._store_in(sink, draft)
        except Exception as exc:  # a sink that fails in any way has not stored the record
            return self._not_stored(draft, exc, decision, request_error, explanation)
        return Enforcement(
            body,
            decision=decision,
            stored=True,
            request_error=request_error,
            explanation=explanation,
            record=record,
        )

    def _make(self, make: Callable[[], Draft], raw: Any) -> Draft:
        try:
            return make()
        except Exception as exc:  # the record cannot be made: record why, as a deny
            errors = [{"code": "internal-error", "message": _describe(exc)}]
            return rejected_draft(raw, errors, self.policy)

    def _store_in(self, sink: Sink, draft: Draft) -> tuple[dict[str, Any], DecisionRecord | None]:
        if self._store is not None and sink is self._sink:
            return self._store(draft).body, None
        unchained = seal(draft.body, None, encoded=draft.encoded).body
        record = sink.append(_record_model().from_body(unchained))
        return record.to_dict(), record

    @staticmethod
    def _unsinked(
        draft: Draft,
        decision: Decision | None,
        request_error: RequestError | None,
        explanation: Explanation | None,
    ) -> Enforcement:
        body = seal(draft.body, None, encoded=draft.encoded).body
        return Enforcement(
            body,
            decision=decision,
            stored=False,
            request_error=request_error,
            explanation=explanation,
        )

    @staticmethod
    def _not_stored(
        draft: Draft,
        exc: Exception,
        decision: Decision | None,
        request_error: RequestError | None,
        explanation: Explanation | None,
    ) -> Enforcement:
        failure = exc if isinstance(exc, AuditError) else AuditError(_describe(exc))
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


class _Once:
    """A record body made on first call, then kept: the deny of a record the sink could
    not store (a spooled one, say) is that record's. The writer thread calls it first;
    the loop only after the sink has answered, so the two never call it at once."""

    __slots__ = ("_draft", "_make")

    def __init__(self, make: Callable[[], Draft]) -> None:
        self._make = make
        self._draft: Draft | None = None

    def __call__(self) -> Draft:
        if self._draft is None:
            self._draft = self._make()
        return self._draft


@functools.cache
def _record_model() -> type[DecisionRecord]:
    # imported on first use: the record models bring pydantic, which a CLI check that
    # prints a verdict never needs
    from .record import DecisionRecord

    return DecisionRecord


def _describe(exc: BaseException) -> str:
    # printable: the text may quote a request's value, and the record must be writable
    text = printable(str(exc))[:1000]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
