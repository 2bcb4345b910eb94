"""The sink protocol, the base of this package's chained sinks, and the in-memory sink."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..record import Draft, Sealed

if TYPE_CHECKING:
    from ..record import AnyRecord, DecisionRecord

__all__ = ["ChainedSink", "MemorySink", "Sink"]


@runtime_checkable
class Sink(Protocol):
    """Stores decision records durably, in order.

    ``append`` returns the record as stored (with ``prev_digest``/``record_digest``
    set by the sink's chain) and must raise ``AuditError`` when it cannot make the
    record durable: the caller then denies the use.
    """

    def append(self, record: DecisionRecord) -> DecisionRecord: ...


class ChainedSink(ABC):
    """A sink that chains and seals record bodies itself (``AuditLog``, ``PostgresSink``,
    ``MemorySink``). An ``Enforcer`` hands it the unsealed body of each record, so a
    record is digested and encoded once, when it takes its place in the chain."""

    def append(self, record: DecisionRecord) -> DecisionRecord:
        """Chain, seal and store ``record``; return it as stored.

        Raises:
            AuditError: the record could not be made durable.
        """
        from ..record import DecisionRecord

        return DecisionRecord.from_body(self.store(Draft(record.to_dict())).body)

    @abstractmethod
    def store(self, draft: Draft) -> Sealed:
        """Chain, seal and store an unsealed record body; return it as stored.

        Raises:
            AuditError: the record could not be made durable.
        """


class MemorySink(ChainedSink):
    """A chained, in-memory sink (for tests and examples); ``records`` holds decision
    records and, after them, any outcome records a gateway stored."""

    def __init__(self) -> None:
        self.records: list[AnyRecord] = []
        self._lock = threading.Lock()

    def store(self, draft: Draft) -> Sealed:
        from ..record import parse_record

        with self._lock:
            prev = self.records[-1].record_digest if self.records else None
            sealed = draft.seal(prev)
            self.records.append(parse_record(sealed.body))
            return sealed
