"""The engine now against the engine of an earlier commit, in the same process.

A change to the compiler must not make decisions slower; timings of two separate runs
on a shared machine differ by more than such a change does, so this script imports
both engines at once (the earlier one from ``git archive REV``, renamed
``usepolicy_before``) and times them on the same requests, rounds interleaved, for each
shipped pack (each version with its own copy) and the 1012-rule policy. It checks first
that both decide every request alike.

    python benchmarks/bench_against.py REV [--rounds N]
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _pool import eu_request_pool, request_pool, thousand_rule_policy_text

import usepolicy

PACKS = ("national-security-safeguards", "eu-ai-act-prohibited", "any-lawful-use")


def earlier_package(rev: str, into: Path) -> ModuleType:
    """``src/usepolicy`` of ``rev``, importable as ``usepolicy_before``."""
    archive = subprocess.run(
        ["git", "archive", rev, "src/usepolicy"],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "src" / "usepolicy").rename(into / "usepolicy_before")
    sys.path.insert(0, str(into))
    return importlib.import_module("usepolicy_before")


def engines(module: Any, packs: Path) -> dict[str, Any]:
    found = {name: module.Engine(module.load_policy(packs / f"{name}.yaml")) for name in PACKS}
    big = module.loads_policy(thousand_rule_policy_text(), base_dir=packs)
    found["1012-rule policy"] = module.Engine(big)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rev", help="the earlier commit, e.g. main")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before_module = earlier_package(args.rev, Path(tmp))
        before = engines(before_module, Path(tmp) / "usepolicy_before" / "packs")
        after = engines(usepolicy, Path(usepolicy.__file__).parent / "packs")
        pool = request_pool(1000)
        pools = {name: pool for name in before}
        pools["eu-ai-act-prohibited"] = eu_request_pool(1000)
        for name, requests in pools.items():
            for request in requests:
                a, b = before[name].evaluate(request), after[name].evaluate(request)
                assert (a.effect.value, a.determining_rule) == (b.effect.value, b.determining_rule)
                assert [m.id for m in a.matched_rules] == [m.id for m in b.matched_rules]
        clock = time.perf_counter_ns
        samples: dict[tuple[str, str], list[int]] = {}
        for i in range(args.rounds):
            sides = [("before", before), ("after", after)]
            for name, requests in pools.items():
                for side, found in sides if i % 2 == 0 else reversed(sides):
                    evaluate = found[name].evaluate
                    into = samples.setdefault((name, side), [])
                    for request in requests:
                        t0 = clock()
                        evaluate(request)
                        into.append(clock() - t0)
    print(
        f"python {sys.version.split()[0]}, {len(pool)} requests x {args.rounds} rounds, "
        f"before = {args.rev}, rounds interleaved"
    )
    print(f"{'':32} {'before µs':>10} {'after µs':>10} {'after ÷ before':>15}")
    for name in pools:
        old = statistics.median(samples[(name, "before")]) / 1000
        new = statistics.median(samples[(name, "after")]) / 1000
        print(f"{name:32} {old:10.2f} {new:10.2f} {new / old:15.3f}")


if __name__ == "__main__":
    main()
