"""What rotation costs an ``AuditLog``: appends per second with the log rotated every
``--every`` records' worth of bytes, as a ratio to the same log never rotated, measured
in the same run (same records, same disk, same threads; the two alternate for
``--rounds`` rounds and the median of each is shown, since an fsync's cost on a shared
disk varies from one second to the next); and ``verify_log`` over the rotated files
against one file holding the same records.

    python benchmarks/bench_rotate.py [--records N] [--every N] [--rounds N] [--dir PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _pool import request_pool
from bench_audit import appends_per_second

import usepolicy
from usepolicy import AuditLog
from usepolicy.audit import log_files, verify_log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=4000, help="appends per measurement")
    parser.add_argument("--every", type=int, default=200, help="records per file, about")
    parser.add_argument("--rounds", type=int, default=5, help="alternating measurements")
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="where the logs go")
    args = parser.parse_args()
    engine = usepolicy.Engine(usepolicy.load_policy())
    records = [engine.evaluate(r).record() for r in request_pool(args.records)]
    line = sum(len(r.to_json()) + 200 for r in records) // len(records)
    limit = line * args.every
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-rotate-") as name:
        folder = Path(name)
        appends_per_second(folder, records[:200], 1, durability="none")  # warm up
        for threads, durability in ((1, "none"), (1, "always"), (8, "batch")):
            plains, rotateds = [], []
            for _ in range(args.rounds):
                plains.append(appends_per_second(folder, records, threads, durability=durability))
                rotateds.append(
                    appends_per_second(
                        folder, records, threads, durability=durability, rotate_bytes=limit
                    )
                )
            plain, rotated = statistics.median(plains), statistics.median(rotateds)
            rows.append((f"{durability}, {threads} thread{'s' * (threads > 1)}", plain, rotated))
        one, many = folder / "one" / "audit.jsonl", folder / "many" / "audit.jsonl"
        for path, options in ((one, {}), (many, {"rotate_bytes": limit})):
            path.parent.mkdir()
            with AuditLog(path, durability="none", **options) as log:
                for record in records:
                    log.append(record)
        timings = []
        for path in (one, many):
            t0 = time.perf_counter()
            assert verify_log(path).count == len(records)
            timings.append(time.perf_counter() - t0)
        files = len(log_files(many))
    print(
        f"python {sys.version.split()[0]}, usepolicy {usepolicy.__version__}, "
        f"{args.records} records per measurement, a new file every ~{args.every} records "
        f"({limit:,} bytes), logs in {args.dir}"
    )
    print(f"{'':20} {'never rotated/s':>16} {'rotated/s':>10} {'÷ never rotated':>16}")
    for label, plain, rotated in rows:
        print(f"{label:20} {plain:16,.0f} {rotated:10,.0f} {rotated / plain:16.2f}")
    print(
        f"verify_log: {files} files {len(records) / timings[1]:,.0f} records/s, one file "
        f"{len(records) / timings[0]:,.0f} records/s ({timings[0] / timings[1]:.2f}x)"
    )


if __name__ == "__main__":
    main()
