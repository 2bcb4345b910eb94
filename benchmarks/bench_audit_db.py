"""Decisions stored per second in the PostgreSQL audit store with 8 concurrent writers,
beside the file sink (``AuditLog``) measured in the same run, on the same disk.

Every figure is end to end for the sink: chain, canonical JSON, digest, store, commit
(fsync): the records are made before timing starts. The server is a throwaway cluster
of this machine's PostgreSQL (the Debian package's binaries, ``fsync=on``,
``synchronous_commit=on``, defaults otherwise) made under ``--dir``, unless ``--url``
names a database to use (it must be empty or hold only benchmark data).

Rows:
- PostgreSQL, 8 writers as 8 processes: a fleet's gateways, each with its own chain;
- PostgreSQL, 8 writers as 8 threads of one process (Python's GIL shares one core);
- PostgreSQL, 8 threads sharing one sink (group commit into one chain);
- PostgreSQL, 1 writer;
- the file log, 8 threads, ``batch`` and ``always``; 1 thread, ``always``.

Also bytes per record in the database (table, indexes and TOAST) and in the file, and
``verify_db`` records per second.

    python benchmarks/bench_audit_db.py [--records 4000] [--dir PATH] [--url URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# tests/audit/pg_server.py starts the throwaway server
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).parent))

from _pool import request_pool

import usepolicy
from usepolicy import AuditLog, DecisionRecord
from usepolicy.audit import PostgresSink, init_db, verify_db, verify_log

WRITERS = 8
_RECORDS: list[DecisionRecord] = []  # inherited by forked writer processes
_REQUESTS: list[dict[str, Any]] = []


def fresh() -> None:
    """New records (new ids and times) for the next measurement: a record's digest is
    unique in the store, and the same record first in two chains would be the same row."""
    engine = _engine()
    _RECORDS[:] = [engine.evaluate(request).record() for request in _REQUESTS]


_ENGINE: list[usepolicy.Engine] = []


def _engine() -> usepolicy.Engine:
    if not _ENGINE:
        _ENGINE.append(usepolicy.Engine(usepolicy.load_policy()))
    return _ENGINE[0]


def timed_threads(work: Callable[[int], None], threads: int) -> float:
    """Seconds for ``threads`` threads to each run ``work(index)``, started together."""
    start = threading.Barrier(threads + 1)

    def run(index: int) -> None:
        start.wait()
        work(index)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    t0 = time.perf_counter()
    for worker in workers:
        worker.join()
    return time.perf_counter() - t0


def _process_writer(url: str, writer: str, index: int, start: Any, ready: Any) -> None:
    with PostgresSink(url, writer) as sink:
        ready.wait()  # connected
        start.wait()
        for record in _RECORDS[index::WRITERS]:
            sink.append(record)


def pg_processes(url: str, prefix: str) -> float:
    """8 writer processes (forked: they inherit the records), each its own chain."""
    fresh()
    ctx = multiprocessing.get_context("fork")
    ready, start = ctx.Barrier(WRITERS + 1), ctx.Barrier(WRITERS + 1)
    procs = [
        ctx.Process(target=_process_writer, args=(url, f"{prefix}-{i}", i, start, ready))
        for i in range(WRITERS)
    ]
    for proc in procs:
        proc.start()
    ready.wait()
    start.wait()
    t0 = time.perf_counter()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - t0
    if any(proc.exitcode for proc in procs):
        raise SystemExit("a writer process failed")
    return len(_RECORDS) / elapsed


def pg_threads(url: str, prefix: str, writers: int, shared: bool = False) -> float:
    """``writers`` threads, each with its own sink (or all sharing one)."""
    fresh()
    sinks = [PostgresSink(url, f"{prefix}-{i}") for i in range(1 if shared else writers)]

    def work(index: int) -> None:
        sink = sinks[0 if shared else index]
        for record in _RECORDS[index::writers]:
            sink.append(record)

    elapsed = timed_threads(work, writers)
    for sink in sinks:
        sink.close()
    return len(_RECORDS) / elapsed


def file_threads(folder: Path, threads: int, durability: str) -> tuple[float, int]:
    """(appends per second, bytes) for one ``AuditLog`` shared by ``threads`` threads."""
    path = Path(tempfile.mkstemp(dir=folder, suffix=".jsonl")[1])
    log = AuditLog(path, durability=durability)  # type: ignore[arg-type]

    def work(index: int) -> None:
        for record in _RECORDS[index::threads]:
            log.append(record)

    elapsed = timed_threads(work, threads)
    log.close()
    assert verify_log(path).count == len(_RECORDS)
    size = path.stat().st_size
    path.unlink()
    return len(_RECORDS) / elapsed, size


def database_bytes(url: str) -> tuple[int, int, int]:
    """(rows, bytes of table + TOAST, bytes of indexes) after a VACUUM ANALYZE."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE usepolicy_decisions")
        row = conn.execute(
            "SELECT count(*), pg_table_size('usepolicy_decisions'), "
            "pg_indexes_size('usepolicy_decisions') FROM usepolicy_decisions"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=4000, help="records per measurement")
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="where cluster and logs go")
    parser.add_argument("--url", help="use this database instead of a throwaway cluster")
    args = parser.parse_args()
    _REQUESTS[:] = request_pool(args.records)
    fresh()

    server = None
    if args.url is None:
        from tests.audit.pg_server import PgServer

        server = PgServer(fsync=True, parent=args.dir)
        url = server.create_database("bench")
    else:
        url = args.url
    rows: list[tuple[str, float]] = []
    try:
        init_db(url)
        pg_threads(url, "warmup", 2)
        rows.append(("PostgreSQL, 8 writers (8 processes)", pg_processes(url, "proc")))
        rows.append(("PostgreSQL, 8 writers (8 threads)", pg_threads(url, "thread", WRITERS)))
        rows.append(
            ("PostgreSQL, 8 threads, 1 shared writer", pg_threads(url, "shared", 8, shared=True))
        )
        rows.append(("PostgreSQL, 1 writer", pg_threads(url, "single", 1)))
        count, table, indexes = database_bytes(url)
        t0 = time.perf_counter()
        result = verify_db(url)
        verify_rate = result.count / (time.perf_counter() - t0)
        assert result.ok, str(result)
        assert result.count == count
        with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-audit-db-") as name:
            folder = Path(name)
            file_size = 0
            for label, threads, durability in (
                ("file log, 8 threads, batch", 8, "batch"),
                ("file log, 8 threads, always", 8, "always"),
                ("file log, 1 thread, always", 1, "always"),
            ):
                rate, file_size = file_threads(folder, threads, durability)
                rows.append((label, rate))
    finally:
        if server is not None:
            server.destroy()

    print(
        f"python {sys.version.split()[0]}, usepolicy {usepolicy.__version__}, "
        f"{args.records} records per measurement, {os.cpu_count()} CPUs, in {args.dir}"
    )
    baseline = next(rate for name, rate in rows if name == "file log, 8 threads, batch")
    print(f"{'':40} {'records/s':>10} {'÷ file log, 8 threads, batch':>30}")
    for name, rate in rows:
        print(f"{name:40} {rate:10,.0f} {rate / baseline:30.2f}")
    print(f"{'verify_db':40} {verify_rate:10,.0f} records/s")
    print(
        f"bytes per record: database {(table + indexes) / count:,.0f} "
        f"(table {table / count:,.0f} + indexes {indexes / count:,.0f}), "
        f"file log {file_size / len(_RECORDS):,.0f}"
    )


if __name__ == "__main__":
    main()
