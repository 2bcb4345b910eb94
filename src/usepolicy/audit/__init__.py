"""Audit sinks: where decision records go.

A sink is anything with one method, ``append(record) -> record``: it stores the
record and returns it as stored (chained to the previous record, possibly signed).
"""

from ._sink import MemorySink, Sink

__all__ = ["MemorySink", "Sink"]
