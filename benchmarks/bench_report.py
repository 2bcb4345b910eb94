"""The audit report on a large log: time and peak memory of ``audit stats`` and
``audit report``, against ``verify_log`` alone on the same log, in the same run.

Writes a log of ``--records`` records (default 1,000,000) spread over 30 days: a pool
of real decision records (the reference pack on varied requests, and invalid requests)
given fresh ids and times and chained line by line with ``usepolicy.record.seal`` (what
every sink seals with), written in large buffered writes rather than one append at a
time. Each measurement runs in a fresh process, so its peak resident
memory (``VmHWM``) is its own; ``--small`` (default a tenth) repeats them on a
prefix of the log to show that memory does not grow with the log. Last, headless
Chromium (Debian's ``chromium``) loads the report, timed against an empty page.

    python benchmarks/bench_report.py [--records N] [--small N] [--dir PATH] [--keep]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _pool import request_pool

import usepolicy
from usepolicy.audit import MemorySink
from usepolicy.record import seal

START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=30)
INVALID = [
    {"purpose": "intelligence.foriegn"},
    {"requester": {"organization": "Organisation 3"}, "purpose": "general.assistant", "x": 1},
    {"requester": {"organization": "Organisation 9"}, "purpose": "cyber.defense",
     "data": {"subjects": "everyone"}},
]  # fmt: skip


def templates() -> list[dict[str, Any]]:
    """Record bodies to repeat: 1,000 decisions of the reference pack, 3 invalid requests."""
    engine = usepolicy.Engine(usepolicy.load_policy())
    bodies = [engine.evaluate(request).record().to_dict() for request in request_pool(1000)]
    guard = usepolicy.Enforcer(engine, audit_log=MemorySink())
    invalid = [guard.check(raw).to_dict() for raw in INVALID]
    return bodies + invalid * 20  # about one record in 17 is an invalid request


def write_log(path: Path, count: int) -> float:
    """Write a chained log of ``count`` records; the seconds it took."""
    started = time.perf_counter()
    bodies = templates()
    step = SPAN / count
    prev: str | None = None
    with open(path, "wb", buffering=1 << 20) as out:
        for i in range(count):
            body = dict(bodies[(i * 7919) % len(bodies)])  # a prime stride mixes templates
            body["decision_id"] = f"00000000-0000-4000-8000-{i:012d}"
            body["timestamp"] = (START + i * step).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            sealed = seal(body, prev)
            prev = sealed.digest
            out.write(sealed.line + b"\n")
    return time.perf_counter() - started


_CHILD = """
import json, resource, sys, time
started = time.perf_counter()
kind, log, out = sys.argv[1:4]
if kind == "verify":
    from usepolicy.audit import verify_log
    result = verify_log(log); ok, count = result.ok, result.count
elif kind == "stats":
    from usepolicy.audit import collect_stats
    summary = collect_stats(log); ok, count = summary.ok, summary.stats.counted
else:
    from usepolicy.report import write_report
    summary = write_report(log, out); ok, count = summary.ok, summary.stats.counted
seconds = time.perf_counter() - started
try:  # this process's own peak: ru_maxrss would include the parent's, inherited at fork
    with open("/proc/self/status") as status:
        peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024, "ok": ok, "count": count}))
"""


def measure(kind: str, log: Path, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(log), str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def counting_cost(log: Path, count: int = 20_000) -> tuple[float, float]:
    """(µs per record to verify, µs per record to count) over the first ``count`` records,
    in this process: the cost ``collect_stats`` adds to verification, without the noise
    of two separate runs on a shared machine."""
    from usepolicy.audit import AuditStats, read_records, verify_log

    head = log.with_name("head.jsonl")
    with open(log, "rb") as src, open(head, "wb") as dst:
        for _, line in zip(range(count), src, strict=False):
            dst.write(line)
    started = time.perf_counter()
    assert verify_log(head).ok
    verify = time.perf_counter() - started
    records = [record for _, record in read_records(head)]
    stats = AuditStats()
    started = time.perf_counter()
    for number, record in enumerate(records, 1):
        stats.add(str(number), record)
    counting = time.perf_counter() - started
    head.unlink()
    return verify / count * 1e6, counting / count * 1e6


def browser_load(page: Path) -> float | None:
    """Seconds for headless Chromium to load ``page``, run its script and dump the DOM."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", page.as_uri(),
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        seconds = time.perf_counter() - started
    if "records shown" not in done.stdout and "<html" not in done.stdout:
        raise RuntimeError(f"chromium did not render {page}: {done.stderr[-500:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, help="the smaller run (default: records / 10)")
    parser.add_argument("--dir", default=".", help="where to write the log (default: here)")
    parser.add_argument("--keep", action="store_true", help="keep the log and the report")
    args = parser.parse_args()
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress shows when redirected to a file
    folder = Path(tempfile.mkdtemp(prefix="bench-report-", dir=args.dir))
    small = args.small or max(args.records // 10, 1)
    try:
        log = folder / "audit.jsonl"
        seconds = write_log(log, args.records)
        size = log.stat().st_size
        print(f"log: {args.records:,} records, {size / 2**20:,.0f} MiB, written in {seconds:.0f} s")
        print(f"load: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        prefix = folder / "small.jsonl"
        with open(log, "rb") as src, open(prefix, "wb") as dst:
            for _, line in zip(range(small), src, strict=False):
                dst.write(line)
        print(f"{'records':>10} {'step':<22} {'seconds':>8} {'x verify':>8} {'peak MiB':>9}")
        for count, path in ((small, prefix), (args.records, log)):
            base = measure("verify", path, folder / "unused.html")
            print(f"{count:>10,} {'verify_log (baseline)':<22} {base['seconds']:>8.1f} "
                  f"{1.0:>8.2f} {base['peak_mib']:>9.0f}")  # fmt: skip
            for kind in ("stats", "report"):
                got = measure(kind, path, folder / f"report-{count}.html")
                assert got["ok"], got
                assert got["count"] == count, got
                ratio = got["seconds"] / base["seconds"]
                print(f"{count:>10,} {'audit ' + kind:<22} {got['seconds']:>8.1f} "
                      f"{ratio:>8.2f} {got['peak_mib']:>9.0f}")  # fmt: skip
        page = folder / f"report-{args.records}.html"
        print(f"report: {page.stat().st_size / 2**20:.2f} MiB")
        empty = folder / "empty.html"
        empty.write_text("<!doctype html><title>empty</title><p>empty</p>")
        blank, loaded = browser_load(empty), browser_load(page)
        if blank is None or loaded is None:
            print("chromium: not installed (apt-get install chromium): browser load not measured")
        else:
            print(f"chromium --headless --dump-dom: empty page {blank:.2f} s, report "
                  f"{loaded:.2f} s ({loaded / blank:.2f}x)")  # fmt: skip
        verify_us, count_us = counting_cost(log)  # last: it holds records in this process
        print(f"in one process, per record: verify {verify_us:.0f} µs, count {count_us:.1f} µs "
              f"({count_us / verify_us:.3f}x)")  # fmt: skip
        if args.keep:
            print(f"kept: {folder}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
