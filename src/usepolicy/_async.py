"""The asyncio side of ``Enforcer``: ``acheck``, ``arequire`` and ``aenforce``. A part of
``Enforcer``, kept apart as ``_outcomes`` is: the decision is made on the event loop,
the record's making and storing is handed to the sink's writer thread (or a worker
thread), so that the loop never waits on file or database I/O."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ._enforcement import Enforcement, describe, stored
from ._errors import RequestError
from .record import Draft, UseDenied, redact_draft, rejected_draft

if TYPE_CHECKING:
    from .audit import Sink
    from .engine import Decider, Decision, Explanation
    from .record import DecisionRecord, Sealed

__all__ = ["AsyncMixin"]


class AsyncMixin:
    """``acheck``, ``arequire`` and ``aenforce`` of ``Enforcer``."""

    engine: Decider
    _sink: Sink | None
    _store: Callable[[Draft], Sealed] | None
    _path: str | os.PathLike[str] | None
    _closed: bool
    _redact: tuple[str, ...]
    # Enforcer's methods, which its calls for a thread use too
    _open: Callable[[], Sink]
    _make: Callable[[Callable[[], Draft], Any], Draft]
    _store_in: Callable[[Sink, Draft], Sealed | DecisionRecord]
    _unsinked: Callable[
        [Draft, Decision | None, RequestError | None, Explanation | None], Enforcement
    ]
    _not_stored: Callable[
        [Draft, Exception, Decision | None, RequestError | None, Explanation | None],
        Enforcement,
    ]

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
            errors = [{"code": "internal-error", "message": describe(exc)}]
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
            drafted = _Once(self, make, raw)
            try:
                kept: Sealed | DecisionRecord = await astore(drafted)
            except Exception as exc:  # not stored: its deny keeps the id the sink saw
                try:
                    draft = drafted()
                except Exception:  # the body could not be made or redacted at all
                    draft = self._make(make, raw)
                return self._not_stored(draft, exc, decision, request_error, None)
            return stored(kept, decision, request_error)
        draft = self._make(make, raw)
        try:
            if self._redact:
                draft = redact_draft(draft, self._redact)
            if sink is None and (self._path is not None or self._closed):
                sink = await asyncio.to_thread(self._open)  # opening reads the log's tail
            if sink is None:
                return self._unsinked(draft, decision, request_error, None)
            astore = getattr(sink, "astore", None)
            if astore is not None:
                kept = await astore(draft)
            else:  # a sink without a writer thread: its I/O runs in a worker thread
                kept = await asyncio.to_thread(self._store_in, sink, draft)
        except Exception as exc:  # a sink that fails in any way has not stored the record
            return self._not_stored(draft, exc, decision, request_error, None)
        return stored(kept, decision, request_error)

    def _drafted(self, make: Callable[[], Draft], raw: Any) -> Draft:
        """The record's body, redacted: what ``_finish`` stores, made where it is called."""
        draft = self._make(make, raw)
        return redact_draft(draft, self._redact) if self._redact else draft


class _Once:
    """A record body made on first call, then kept: the deny of a record the sink could
    not store (a spooled one, say) is that record's. The writer thread calls it first;
    the loop only after the sink has answered, so the two never call it at once."""

    __slots__ = ("_draft", "_enforcer", "_make", "_raw")

    def __init__(self, enforcer: AsyncMixin, make: Callable[[], Draft], raw: Any) -> None:
        # what ``_drafted`` needs, held here rather than in a partial: one object fewer
        # for each of a thousand tasks awaiting its record
        self._enforcer, self._make, self._raw = enforcer, make, raw
        self._draft: Draft | None = None

    def __call__(self) -> Draft:
        if self._draft is None:
            self._draft = self._enforcer._drafted(self._make, self._raw)
        return self._draft
