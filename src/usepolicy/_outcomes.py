"""What happens after a decision: the obligations of an allow fulfilled (or the call
refused), and the outcome record of each call (``usepolicy.record.outcome_draft``),
stored in the same chain as the decisions. A part of ``Enforcer``, kept apart so that
the decide-and-store path in ``_enforcer`` stays short."""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import AuditError, printable
from ._obligations import ObligationRegistry
from .record import Draft, outcome_draft

if TYPE_CHECKING:
    from .audit import Sink
    from .record import DecisionRecord, OutcomeRecord, Sealed

__all__ = ["OutcomeMixin"]


class Checked(Protocol):
    """An ``Enforcement``: what ``Enforcer.enforce`` returns (its record's ``body``)."""

    @property
    def body(self) -> dict[str, Any]: ...


class OutcomeMixin:
    """``fulfil``/``afulfil`` and ``record_outcome``/``arecord_outcome`` of ``Enforcer``."""

    obligations: ObligationRegistry
    _sink: Sink | None
    _store: Callable[[Draft], Sealed] | None
    _path: str | os.PathLike[str] | None
    _closed: bool
    _lock: threading.Lock

    def _open(self) -> Sink:
        raise NotImplementedError  # Enforcer's

    def fulfil(self, result: Checked | DecisionRecord) -> list[dict[str, str]]:
        """Fulfil the obligations of an allow: run each one's handler.

        Returns:
            The problems (``code``, ``message``) of the unmet obligations: empty when all
            were fulfilled. An allow with an unmet obligation must be refused (an
            obligation without a handler is unmet: fail closed); its ``refused`` outcome
            record has then been stored (or could not be: an ``audit-error`` is added).
        """
        body = _body_of(result)
        problems = self.obligations.unmet(body)
        if problems:
            problems += self._refusal_failure(
                lambda: self.record_outcome(body["decision_id"], "refused", errors=problems)
            )
        return problems

    async def afulfil(self, result: Checked | DecisionRecord) -> list[dict[str, str]]:
        """``fulfil`` for asyncio code: async handlers are awaited, the refusal stored
        without blocking the loop."""
        body = _body_of(result)
        problems = await self.obligations.aunmet(body)
        if problems:
            try:
                await self.arecord_outcome(body["decision_id"], "refused", errors=problems)
            except AuditError as exc:
                problems.append({"code": exc.code, "message": printable(str(exc))})
        return problems

    @staticmethod
    def _refusal_failure(store: Callable[[], object]) -> list[dict[str, str]]:
        try:
            store()
        except AuditError as exc:
            return [{"code": exc.code, "message": printable(str(exc))}]
        return []

    def record_outcome(
        self,
        decision_id: str,
        outcome: str,
        *,
        status: int | None = None,
        errors: Sequence[Mapping[str, str]] = (),
        prompt: Any = None,
        store_prompt: bool = False,
    ) -> OutcomeRecord:
        """Store what happened after the decision ``decision_id`` (``usepolicy.record.
        outcome_draft``: ``executed``, ``upstream-error``, ``refused``) in the same chain.

        Raises:
            AuditError: the record could not be stored (or the sink stores decision
                records only: outcome records need a chained sink, such as a log file or
                the PostgreSQL store).
            ValueError: an unknown ``outcome``.
        """
        draft = outcome_draft(
            decision_id, outcome, status=status, errors=errors, prompt=prompt,
            store_prompt=store_prompt,
        )  # fmt: skip
        sink = self._sink
        if sink is None and (self._path is not None or self._closed):
            sink = self._open()
        return _outcome_model().from_body(self._store_outcome(sink, draft))

    async def arecord_outcome(
        self,
        decision_id: str,
        outcome: str,
        *,
        status: int | None = None,
        errors: Sequence[Mapping[str, str]] = (),
        prompt: Any = None,
        store_prompt: bool = False,
    ) -> OutcomeRecord:
        """``record_outcome`` for asyncio code: the I/O is done off the loop."""
        draft = outcome_draft(
            decision_id, outcome, status=status, errors=errors, prompt=prompt,
            store_prompt=store_prompt,
        )  # fmt: skip
        sink = self._sink
        if sink is None and (self._path is not None or self._closed):
            sink = await asyncio.to_thread(self._open)
        astore = getattr(sink, "astore", None)
        if astore is None:
            body = await asyncio.to_thread(self._store_outcome, sink, draft)
        else:
            try:
                body = (await astore(draft)).body
            except AuditError:
                raise
            except Exception as exc:  # a sink that fails in any way has not stored it
                raise AuditError(_describe(exc)) from exc
        return _outcome_model().from_body(body)

    def _store_outcome(self, sink: Sink | None, draft: Draft) -> dict[str, Any]:
        if sink is None:
            raise AuditError("no audit log: an outcome record has nowhere to go")
        store = self._store if sink is self._sink else None
        if store is None:
            raise AuditError(
                f"{type(sink).__name__} stores decision records only: outcome records "
                "need a chained sink (a log file, the PostgreSQL store, MemorySink)"
            )
        try:
            return store(draft).body
        except AuditError:
            raise
        except Exception as exc:  # a sink that fails in any way has not stored it
            raise AuditError(_describe(exc)) from exc


def _body_of(result: Checked | DecisionRecord) -> dict[str, Any]:
    from .record import DecisionRecord

    if isinstance(result, DecisionRecord):
        return result.to_dict()
    return result.body  # an Enforcement's, without making the model


def _describe(exc: BaseException) -> str:
    text = printable(str(exc))[:1000]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@functools.cache
def _outcome_model() -> type[OutcomeRecord]:
    from .record import OutcomeRecord

    return OutcomeRecord
