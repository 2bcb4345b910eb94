"""Appends per second to an ``AuditLog`` for each durability mode, with 1 and 8 threads,
as ratios to ``durability="none"`` measured in the same run (same records, same disk).

Also the cost of signing and of verifying. The log goes in a temporary folder under
``--dir`` (default: the current folder, so on a real disk rather than a RAM-backed
``/tmp``): fsync costs what that disk's fsync costs.

    python benchmarks/bench_audit.py [--records N] [--dir PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _pool import request_pool

import usepolicy
from usepolicy import AuditLog, DecisionRecord
from usepolicy.audit import verify_log


def appends_per_second(
    folder: Path, records: list[DecisionRecord], threads: int, **options: Any
) -> float:
    """Append every record once, spread over ``threads`` threads; records per second."""
    path = Path(tempfile.mkstemp(dir=folder, suffix=".jsonl")[1])
    log = AuditLog(path, **options)
    share = [records[i::threads] for i in range(threads)]
    start = threading.Barrier(threads + 1)

    def work(mine: list[DecisionRecord]) -> None:
        start.wait()
        for record in mine:
            log.append(record)

    workers = [threading.Thread(target=work, args=(mine,)) for mine in share]
    for worker in workers:
        worker.start()
    start.wait()
    t0 = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - t0
    log.close()
    assert verify_log(path).count == len(records)
    path.unlink()
    return len(records) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=2000, help="appends per measurement")
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="where the logs go")
    args = parser.parse_args()
    engine = usepolicy.Engine(usepolicy.load_policy())
    records = [engine.evaluate(r).record() for r in request_pool(args.records)]
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-audit-") as name:
        folder = Path(name)
        appends_per_second(folder, records[:200], 1, durability="none")  # warm up
        for threads in (1, 8):
            for durability in ("none", "batch", "always"):
                rate = appends_per_second(folder, records, threads, durability=durability)
                rows.append((f"{durability}, {threads} thread{'s' if threads > 1 else ''}", rate))
        try:
            from usepolicy.audit import Signer

            signer = Signer.generate()
            rate = appends_per_second(folder, records, 1, durability="none", signer=signer)
            rows.append(("none, 1 thread, signed (Ed25519)", rate))
        except ImportError:
            print("(signing not measured: pip install 'usepolicy[sign]')")
        path = folder / "verify.jsonl"
        with AuditLog(path, durability="none") as log:
            for record in records:
                log.append(record)
        t0 = time.perf_counter()
        verify_log(path)
        verify_rate = len(records) / (time.perf_counter() - t0)

    print(
        f"python {sys.version.split()[0]}, usepolicy {usepolicy.__version__}, "
        f"{args.records} records per measurement, logs in {args.dir}"
    )
    print(f"{'':36} {'appends/s':>10} {'÷ none (same threads)':>22}")
    baseline = {1: rows[0][1], 8: rows[3][1]}
    for name, rate in rows:
        threads = 8 if "8 threads" in name else 1
        print(f"{name:36} {rate:10,.0f} {rate / baseline[threads]:22.2f}")
    print(f"{'verify_log':36} {verify_rate:10,.0f} records/s")


if __name__ == "__main__":
    main()
