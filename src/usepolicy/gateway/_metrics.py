"""The gateway's Prometheus metrics (prometheus-client), in a registry of its own so
that two gateways in one process (tests, a FastAPI app with two routes) never mix."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
#: a decision with its durable record takes tens of microseconds to tens of milliseconds
_LATENCY_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
_BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class GatewayMetrics:
    """Counters and histograms of one gateway."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "usepolicy_decisions",
            "Decisions made, by decision and determining rule",
            ("decision", "rule"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "usepolicy_decision_seconds",
            "Time to decide and durably record one call",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "usepolicy_audit_batch_size",
            "Records committed per audit batch (one write and fsync each)",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.audit_failures = Counter(
            "usepolicy_audit_failures",
            "Records (decisions or outcomes) that could not be stored",
            ("kind",),
            registry=self.registry,
        )
        self.outcomes = Counter(
            "usepolicy_outcomes",
            "What happened after allowed calls",
            ("outcome",),
            registry=self.registry,
        )
        self.reloads = Counter(
            "usepolicy_policy_reloads",
            "Policy reloads, by result",
            ("result",),
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format, what ``GET /metrics`` answers."""
        return generate_latest(self.registry)
