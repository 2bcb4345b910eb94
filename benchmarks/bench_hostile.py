"""Hostile requests (issue 12, item 3): ``usepolicy check`` on requests full of unknown
keys (8,000 keys in 64 KB, and 1 MiB), beside ``check`` on a valid request in the same
run (fresh processes, interleaved, medians of wall time); then the same texts through
``Engine.evaluate`` and ``Enforcer.check`` in this process (errors kept, record size).

    python benchmarks/bench_hostile.py [--runs 5]

Before the one-pass locator, the 64 KB request took 85-171 s in ``check`` and the 1 MiB
one did not finish in 300 s (measured on the machine of docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_cli import REQUEST, usepolicy_command, wall

import usepolicy

MINIMAL = {"requester": {"organization": "a"}, "purpose": "general.assistant"}


def unknown_keys(count: int | None = None, size: int | None = None) -> str:
    """Request JSON with ``count`` unknown keys, or as many as fit in ``size`` bytes."""
    parts = [json.dumps(MINIMAL, separators=(",", ":"))[:-1]]
    length, i = len(parts[0]) + 1, 0
    while (count is None or i < count) and (size is None or length + 12 < size):
        parts.append(f',"{i:x}":1')
        length += len(parts[-1])
        i += 1
    return "".join(parts) + "}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cases = {"8,000 unknown keys": unknown_keys(count=8000), "1 MiB": unknown_keys(size=2**20)}
    with tempfile.TemporaryDirectory() as tmp:
        files = {REQUEST.name: (str(REQUEST), 0)}
        for name, text in cases.items():
            path = Path(tmp) / f"{len(text)}.json"
            path.write_text(text)
            files[name] = (str(path), 3)
        times: dict[str, list[float]] = {name: [] for name in files}
        for _ in range(args.runs):
            for name, (path, expect) in files.items():
                times[name].append(wall([*usepolicy_command(), "check", path], expect)[0])
    base = statistics.median(times[REQUEST.name])
    print(f"usepolicy check, wall, median of {args.runs} (same run):")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"  {name:<22} {median:7.2f} s  {median / base:6.1f}x a valid request")
    engine = usepolicy.Engine(usepolicy.load_policy())
    guard = usepolicy.Enforcer(engine, audit_log=usepolicy.MemorySink())
    print("in process:")
    for name, text in cases.items():
        t0 = time.perf_counter()
        try:
            engine.evaluate(text)
        except usepolicy.RequestError as exc:
            errors, size = len(exc.errors), len(str(exc))
        evaluate = time.perf_counter() - t0
        t0 = time.perf_counter()
        record = guard.check(text)
        check = time.perf_counter() - t0
        print(
            f"  {name:<22} evaluate {evaluate:.2f} s ({errors} errors, {size:,} characters);"
            f" Enforcer.check {check:.2f} s (record {len(record.to_json()):,} bytes)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
