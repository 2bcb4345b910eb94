"""The sink protocol and the in-memory sink used by tests."""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

from .._record import DecisionRecord

__all__ = ["MemorySink", "Sink"]


@runtime_checkable
class Sink(Protocol):
    """Stores decision records durably, in order.

    ``append`` returns the record as stored (with ``prev_digest``/``record_digest``
    set by the sink's chain) and must raise ``AuditError`` when it cannot make the
    record durable: the caller then denies the use.
    """

    def append(self, record: DecisionRecord) -> DecisionRecord: ...


class MemorySink:
    """A chained, in-memory sink (for tests and examples)."""

    def __init__(self) -> None:
        self.records: list[DecisionRecord] = []
        self._lock = threading.Lock()

    def append(self, record: DecisionRecord) -> DecisionRecord:
        with self._lock:
            prev = self.records[-1].record_digest if self.records else None
            stored = record.chained(prev)
            self.records.append(stored)
            return stored
