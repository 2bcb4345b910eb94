"""The audited decision now against the audited decision of an earlier commit.

``bench_gateway.py`` prints ratios measured in one run, and one run's ratios move by a
third on a shared machine. A change to the record pipeline is judged here instead: the
earlier commit's package (``git archive REV``) and this tree's are each measured in a
process of their own (the audit log, its writer thread and its file locks do not mix
two copies of the package in one process), the two processes one after the other,
``--pairs`` times. Each process prints ``Enforcer.check`` (durability ``none``) over
``Engine.evaluate`` on the request of ``bench_gateway.py``, medians of its rounds, and
with ``--threads`` also the throughput of that many threads calling ``check`` with
``batch`` against one thread with ``none``.

    python benchmarks/bench_gateway_against.py REV [--pairs N] [--rounds N] [--calls N]
        [--threads N]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def measure(args: argparse.Namespace) -> None:
    """In the child: this process's ``usepolicy`` (whichever PYTHONPATH gave it)."""
    sys.path.insert(0, str(HERE))
    from bench_gateway import REQUEST, single, threaded, throughput

    import usepolicy

    given = os.environ.get("PYTHONPATH", "")
    assert usepolicy.__file__.startswith(given), f"measuring {usepolicy.__file__}, not {given}"
    engine = usepolicy.Engine(usepolicy.load_policy())

    def per_call(fn: Any, calls: int) -> float:
        start = time.process_time()
        for _ in range(calls):
            fn(REQUEST)
        return (time.process_time() - start) / calls * 1e6

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        with usepolicy.Enforcer(engine, audit_log=f"{folder}/a.jsonl", durability="none") as g:
            per_call(g.check, args.calls // 2)
            per_call(engine.evaluate, args.calls // 2)
            evaluate, check = [], []
            for _ in range(args.rounds):
                evaluate.append(per_call(engine.evaluate, args.calls))
                check.append(per_call(g.check, args.calls))
        ratio = statistics.median(check) / statistics.median(evaluate)
        line = f"check/evaluate {ratio:5.2f}x ({statistics.median(check):.1f} µs)"
        if args.threads:
            with usepolicy.Enforcer(engine, audit_log=f"{folder}/n.jsonl", durability="none") as g:
                single(g, 100)
                alone = throughput(lambda: single(g, args.calls))
            with usepolicy.Enforcer(engine, audit_log=f"{folder}/b.jsonl", durability="batch") as g:
                each = max(1, args.calls // args.threads)
                shared = throughput(lambda: threaded(g, args.threads, each))
            line += f"; batch, {args.threads} threads / none, 1 thread {shared / alone:.2f}"
    print(line)


def earlier_tree(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", rev, "src/usepolicy"],
        capture_output=True,
        check=True,
        cwd=HERE.parent,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rev", nargs="?", help="the earlier commit (e.g. main)")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000, help="calls per round and function")
    parser.add_argument("--threads", type=int, default=0, help="also the batch throughput")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="folder for the logs")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args)
        return
    if args.rev is None:
        parser.error("give the earlier commit (REV)")
    child = [
        "--measure",
        f"--rounds={args.rounds}",
        f"--calls={args.calls}",
        f"--threads={args.threads}",
        f"--dir={args.dir}",
    ]
    with tempfile.TemporaryDirectory() as folder:
        trees = {args.rev: earlier_tree(args.rev, Path(folder)), "now": HERE.parent / "src"}
        print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for n in range(args.pairs):
            for name, src in trees.items():
                env = {**os.environ, "PYTHONPATH": str(src)}
                out = subprocess.run(
                    [sys.executable, __file__, *child], env=env, capture_output=True, text=True
                )
                if out.returncode:
                    sys.exit(f"{name}: {out.stderr.strip()}")
                print(f"pair {n + 1}, {name:>10}: {out.stdout.strip()}")
        print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
