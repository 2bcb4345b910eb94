"""The audited decision as a gateway calls it: ``Enforcer.check`` beside
``Engine.evaluate`` on the same request, measured in the same run.

``check`` appends to an ``AuditLog`` with ``durability="none"`` (written, not fsynced),
so the figure is the cost of the record pipeline (record, canonical JSON, digests,
chaining, one write) rather than of the disk. Each round times ``--calls`` calls of each
in turn; the figures are medians over ``--rounds`` rounds, printed with the machine's
load. Times are this process's CPU time (``time.process_time``, garbage collection
included): on a shared machine, wall-clock time also counts the turns other processes
take on the CPU, and moves with them (``--wall`` measures it anyway).

    python benchmarks/bench_gateway.py [--rounds N] [--calls N] [--dir PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import usepolicy
from usepolicy.audit import verify_log

#: the request of DESIGN.md section 1
REQUEST: dict[str, Any] = {
    "requester": {"organization": "Army Intelligence Center", "country": "US"},
    "model": "claude-gov",
    "purpose": "intelligence.foreign",
    "description": "free text, recorded, never evaluated",
    "data": {
        "subjects": "foreign",
        "provenance": "targeted",
        "subject_count": 12,
        "categories": ["communications"],
        "legal_authority": "none",
    },
    "autonomy": {"level": "none", "lethal": False},
    "environment": {"network": "air_gapped", "classification": "secret"},
    "attributes": {"program": "ALPHA", "tier": 2},
}


def per_call_us(
    fn: Callable[[Any], Any], request: Any, calls: int, clock: Callable[[], float]
) -> float:
    """Mean microseconds per call over ``calls`` back-to-back calls."""
    t0 = clock()
    for _ in range(calls):
        fn(request)
    return (clock() - t0) / calls * 1e6


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000, help="calls per round and function")
    parser.add_argument("--dir", default=".", help="folder for the temporary audit log")
    parser.add_argument("--wall", action="store_true", help="wall-clock time, not CPU time")
    args = parser.parse_args()
    clock = time.perf_counter if args.wall else time.process_time
    engine = usepolicy.Engine(usepolicy.load_policy())
    load_before = load()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "audit.jsonl"
        with usepolicy.Enforcer(engine, audit_log=path, durability="none") as guard:
            assert guard.check(REQUEST).allowed == engine.evaluate(REQUEST).allowed
            for fn in (engine.evaluate, guard.check):  # warm up
                per_call_us(fn, REQUEST, args.calls // 4, clock)
            evaluate: list[float] = []
            check: list[float] = []
            for _ in range(args.rounds):
                evaluate.append(per_call_us(engine.evaluate, REQUEST, args.calls, clock))
                check.append(per_call_us(guard.check, REQUEST, args.calls, clock))
        written = verify_log(path)
        assert written.ok, written
    ratios = [c / e for c, e in zip(check, evaluate, strict=True)]
    e_med, c_med = statistics.median(evaluate), statistics.median(check)
    print(
        f"python {sys.version.split()[0]}, usepolicy {usepolicy.__version__}, "
        f"{args.rounds} rounds x {args.calls} calls, {'wall-clock' if args.wall else 'CPU'} "
        f"time; load average before {load_before}, after {load()}"
    )
    print(f"{'':40} {'median µs':>10} {'min':>8} {'max':>8}")
    for name, values in (
        ("Engine.evaluate", evaluate),
        ('Enforcer.check, durability "none"', check),
    ):
        print(f"{name:40} {statistics.median(values):10.2f} {min(values):8.2f} {max(values):8.2f}")
    print(
        f"check / evaluate: {c_med / e_med:.1f}x (median of per-round ratios "
        f"{statistics.median(ratios):.1f}x, range {min(ratios):.1f}-{max(ratios):.1f}x); "
        f"{written.count} records verified"
    )


if __name__ == "__main__":
    main()
