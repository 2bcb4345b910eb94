"""A sample audit log with every kind of record the report shows, over nine days.

Built with the public API (``Engine``, ``Enforcer``, ``AuditLog``): each record gets a
chosen timestamp before ``AuditLog`` chains it, so the log is a real, verifiable chain
with a known shape: allows with and without obligations, denies by rule and by the
default, invalid requests of several kinds, five organisations, and a dozen purposes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import usepolicy
from usepolicy import DecisionRecord
from usepolicy.audit import AuditLog, MemorySink

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STEP = timedelta(minutes=47)

ORGS = ["Army Intelligence Center", "Joint Analysis Cell", "Cyber Command",
        "Federal Investigations Unit", "Logistics Agency"]  # fmt: skip

# (request or raw invalid input, expected kind); cycled through
CASES: list[tuple[Any, str]] = [
    ({"requester": {"organization": ORGS[0]}, "purpose": "intelligence.foreign",
      "data": {"subjects": "mixed", "provenance": "targeted"}}, "allow"),
    ({"requester": {"organization": ORGS[1]}, "purpose": "intelligence.analysis",
      "data": {"subjects": "domestic", "provenance": "commercial"}}, "deny"),
    ({"requester": {"organization": ORGS[2]}, "purpose": "cyber.defense"}, "allow"),
    ({"requester": {"organization": ORGS[3]}, "purpose": "law_enforcement.investigation",
      "data": {"subjects": "domestic", "provenance": "targeted", "legal_authority": "warrant"}},
     "allow"),
    ({"requester": {"organization": ORGS[3]}, "purpose": "surveillance.domestic",
      "data": {"subjects": "domestic", "provenance": "targeted"}}, "deny"),
    ({"requester": {"organization": ORGS[4]}, "purpose": "military.logistics"}, "allow"),
    ({"requester": {"organization": ORGS[0]}, "purpose": "weapons.engagement",
      "autonomy": {"level": "fully_autonomous", "lethal": True}}, "deny"),
    ({"requester": {"organization": ORGS[2]}, "purpose": "cyber.operations",
      "environment": {"network": "internet", "classification": "secret"}}, "deny"),
    ({"requester": {"organization": ORGS[4]}, "purpose": "law_enforcement.investigation"},
     "deny"),  # no rule matches: the default
    ({"purpose": "intelligence.foriegn"}, "invalid"),
    ({"requester": {"organization": ORGS[1]}, "purpose": "general.assistant", "colour": "red"},
     "invalid"),
    ({"requester": {"organization": ORGS[1]}, "purpose": "general.research"}, "allow"),
]  # fmt: skip


def records(count: int) -> list[DecisionRecord]:
    """``count`` unchained records, one every 47 minutes from ``START``."""
    engine = usepolicy.Engine(usepolicy.load_policy())
    rejecter = usepolicy.Enforcer(engine, audit_log=MemorySink())
    made = []
    for i in range(count):
        request, kind = CASES[i % len(CASES)]
        record = rejecter.check(request) if kind == "invalid" else engine.evaluate(request).record()
        stamp = (START + i * STEP).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        made.append(record.model_copy(update={"timestamp": stamp}))
    return made


def write_sample(path: Path, count: int = 276, **options: Any) -> Path:
    """A chained log of ``count`` records (276: nine days)."""
    with AuditLog(path, durability="none", **options) as log:
        for record in records(count):
            log.append(record)
    return path


def kind(case: int) -> str:
    return CASES[case % len(CASES)][1]


#: what a gateway recorded after each of its allowed decisions: (outcome, status, errors)
GATEWAY_OUTCOMES: list[tuple[str, int | None, list[dict[str, str]]]] = [
    ("executed", 200, []),
    ("executed", 200, [{"code": "client-gone", "message": "left mid-stream"}]),
    ("upstream-error", 502, [{"code": "upstream-status", "message": "answered 502"}]),
    ("executed", 200, []),
    ("refused", None, [{"code": "obligation-unmet", "message": "no handler"}]),
]


def write_gateway_sample(path: Path) -> Path:
    """A gateway's log: for each allowed case of ``CASES``, in turn, the decision and the
    outcome record of ``GATEWAY_OUTCOMES`` after it (a deny has none)."""
    with usepolicy.Enforcer(audit_log=path) as guard:
        allowed = [case for case, expected in CASES if expected == "allow"]
        for request, (outcome, status, errors) in zip(allowed, GATEWAY_OUTCOMES, strict=True):
            decision = guard.check(request)
            guard.record_outcome(decision.decision_id, outcome, status=status, errors=errors)
        guard.check(CASES[1][0])  # and a deny, with no outcome
    return path
