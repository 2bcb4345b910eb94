"""The obligation handlers of an ``Enforcer``: who fulfils each obligation a policy
attaches to an allow.

An allow carries obligations (DESIGN.md §2) that the gateway must fulfil. A handler
is registered per obligation id; an obligation with no handler, or whose handler
fails, is unmet, and an allow with an unmet obligation is refused: fail closed, since
the policy allowed the use only on those terms.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._errors import printable

__all__ = ["ObligationHandler", "ObligationRegistry", "accept"]

#: called with the obligation (``id``, ``with``, ``rule``, as the record holds it) and
#: the whole record body; it fulfils the obligation or raises (maybe asynchronously)
ObligationHandler = Callable[[Mapping[str, Any], Mapping[str, Any]], object]


def accept(obligation: Mapping[str, Any], record: Mapping[str, Any]) -> None:
    """The handler of an obligation the deployment fulfils by itself (for instance
    ``retain-record``, which the audit log does): nothing to do per call."""


class ObligationRegistry:
    """Obligation ids and their handlers; safe to change while requests are served."""

    def __init__(self, handlers: Mapping[str, ObligationHandler] | Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, ObligationHandler] = {}
        if isinstance(handlers, Mapping):
            for name, handler in handlers.items():
                self.register(name, handler)
        else:
            for name in handlers:
                self.register(name)

    def register(self, obligation_id: str, handler: ObligationHandler = accept) -> None:
        """Fulfil ``obligation_id`` with ``handler`` (default: ``accept``)."""
        if not isinstance(obligation_id, str) or not obligation_id:
            raise ValueError("an obligation id is a non-empty string")
        if not callable(handler):
            raise TypeError(f"the handler of `{obligation_id}` is not callable")
        with self._lock:
            self._handlers = {**self._handlers, obligation_id: handler}

    def unregister(self, obligation_id: str) -> None:
        with self._lock:
            self._handlers = {k: v for k, v in self._handlers.items() if k != obligation_id}

    def __contains__(self, obligation_id: object) -> bool:
        return obligation_id in self._handlers

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def unmet(self, record: Mapping[str, Any]) -> list[dict[str, str]]:
        """Run the handler of every obligation of ``record`` (a record body); return the
        problems (``code``, ``message``) of those unmet: empty when all are fulfilled.

        A handler that returns an awaitable is not awaited here (use ``aunmet``): that
        obligation is unmet, as its handler did not run to the end.
        """
        problems: list[dict[str, str]] = []
        for obligation, handler in self._pairs(record, problems):
            try:
                result = handler(obligation, record)
                if inspect.isawaitable(result):
                    _close(result)
                    problems.append(_failed(obligation, "its handler is async: use `afulfil`"))
            except Exception as exc:  # a handler that fails has not fulfilled it
                problems.append(_failed(obligation, _text(exc)))
        return problems

    async def aunmet(self, record: Mapping[str, Any]) -> list[dict[str, str]]:
        """``unmet`` for asyncio code: an async handler is awaited."""
        problems: list[dict[str, str]] = []
        for obligation, handler in self._pairs(record, problems):
            try:
                result = handler(obligation, record)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # a handler that fails has not fulfilled it
                problems.append(_failed(obligation, _text(exc)))
        return problems

    def _pairs(
        self, record: Mapping[str, Any], problems: list[dict[str, str]]
    ) -> list[tuple[Mapping[str, Any], ObligationHandler]]:
        handlers = self._handlers  # one snapshot for the whole record
        pairs = []
        for obligation in record.get("obligations") or ():
            handler = handlers.get(obligation.get("id"))
            if handler is None:
                rule = obligation.get("rule")
                of_rule = f" (of rule `{rule}`)" if rule else ""
                problems.append(
                    {
                        "code": "obligation-unmet",
                        "message": printable(
                            f"obligation `{obligation.get('id')}`{of_rule} has no handler: "
                            "this gateway cannot fulfil it"
                        ),
                    }
                )
            else:
                pairs.append((obligation, handler))
        return pairs


def _failed(obligation: Mapping[str, Any], why: str) -> dict[str, str]:
    return {
        "code": "obligation-failed",
        "message": printable(f"obligation `{obligation.get('id')}` was not fulfilled: {why}")[
            :1000
        ],
    }


def _text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _close(result: object) -> None:
    close = getattr(result, "close", None)  # a coroutine never awaited warns otherwise
    if callable(close):
        close()
