"""The audited decision as a gateway calls it: ``Enforcer.check`` beside
``Engine.evaluate`` on the same request, measured in the same run.

``check`` appends to an ``AuditLog`` with ``durability="none"`` (written, not fsynced),
so the figure is the cost of the record pipeline (record, canonical JSON, digests,
chaining, one write) rather than of the disk. Each round times ``--calls`` calls of each
in turn; the figures are medians over ``--rounds`` rounds, printed with the machine's
load. Times are this process's CPU time (``time.process_time``, garbage collection
included): on a shared machine, wall-clock time also counts the turns other processes
take on the CPU, and moves with them (``--wall`` measures it anyway).

Then the durable paths, as throughput (records per wall-clock second, since waiting for
the disk is the point), each against the non-durable single-thread throughput of the
same round: ``batch`` with 32 threads, and ``acheck`` with 1,000 concurrent asyncio
tasks and ``always``, while a 1 ms ticker on the same loop records how late it wakes
(its p99 lag says whether the loop was ever blocked on the disk).

With ``--postgres``, in a throwaway PostgreSQL cluster (fsync on, synchronous commit):
``--threads`` threads calling ``check``, then ``--tasks`` asyncio tasks calling
``acheck``, on one ``PostgresSink``, each against a plain COPY of the same rows (read
back from the sink's chain) in batches of 128, one transaction per batch, into a second
database of the same cluster, measured right after it. The same COPY in batches of 32
(into a third database) is printed beside it, as a reference and not as the baseline: 32
threads put at most 32 records in a commit, so it shows what a commit every 32 rows costs
the plain COPY itself. Each row also says how much CPU a record cost this process and
the server backend that stored it (read from ``/proc``), medians of the rounds: on a
machine whose cores are busy, throughput follows the sum.

    python benchmarks/bench_gateway.py [--rounds N] [--calls N] [--dir PATH]
        [--durable-rounds N] [--threads N] [--tasks N] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
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


def throughput(run: Callable[[], int]) -> float:
    """Records per wall-clock second of ``run`` (which returns how many it stored)."""
    t0 = time.perf_counter()
    count = run()
    return count / (time.perf_counter() - t0)


def single(guard: usepolicy.Enforcer, calls: int) -> int:
    for _ in range(calls):
        guard.check(REQUEST)
    return calls


def threaded(guard: usepolicy.Enforcer, threads: int, calls: int) -> int:
    def work() -> None:
        for _ in range(calls):
            assert guard.check(REQUEST).decision == "allow"

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return threads * calls


def concurrent_tasks(guard: usepolicy.Enforcer, tasks: int, calls: int, lags: list[float]) -> int:
    async def task() -> None:
        for _ in range(calls):
            assert (await guard.acheck(REQUEST)).decision == "allow"

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - t0 - 0.001)

    async def main() -> None:
        stop = asyncio.Event()
        tick = asyncio.create_task(ticker(stop))
        await asyncio.gather(*(task() for _ in range(tasks)))
        stop.set()
        await tick

    asyncio.run(main())
    return tasks * calls


def fsync_bound(path: Path, records: int, line: bytes, times: int = 20) -> float:
    """The most records per second ``records`` threads can store with ``batch`` on this
    disk: each waits for its own record to be durable, so a commit holds at most one
    record of each, and takes a write and an ``fdatasync`` (the median of ``times``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        spent = []
        for _ in range(times):
            t0 = time.perf_counter()
            os.write(fd, line * records)
            os.fdatasync(fd)
            spent.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    return records / statistics.median(spent)


def durable(args: argparse.Namespace, engine: usepolicy.Engine, folder: Path) -> None:
    """The durable figures: throughputs against the non-durable single thread."""
    rows: dict[str, list[float]] = {"none1": [], "batch": [], "bound": [], "async": []}
    lags: list[float] = []
    for round_ in range(args.durable_rounds):
        logs = {name: folder / f"{name}-{round_}.jsonl" for name in ("none1", "batch", "async")}
        with usepolicy.Enforcer(engine, audit_log=logs["none1"], durability="none") as g:
            single(g, 100)  # warm up
            rows["none1"].append(throughput(lambda g=g: single(g, args.calls)))
        with usepolicy.Enforcer(engine, audit_log=logs["batch"], durability="batch") as g:
            each = max(1, args.calls // args.threads)
            rows["batch"].append(
                throughput(lambda g=g, n=each: threaded(g, args.threads, n))  # type: ignore[misc]
            )
        line = logs["batch"].read_bytes().split(b"\n", 1)[0] + b"\n"
        rows["bound"].append(fsync_bound(folder / "fsync.bin", args.threads, line))
        with usepolicy.Enforcer(engine, audit_log=logs["async"], durability="always") as g:
            each = max(1, args.calls // args.tasks)
            rows["async"].append(
                throughput(lambda g=g, n=each: concurrent_tasks(g, args.tasks, n, lags))  # type: ignore[misc]
            )
        for path in logs.values():
            assert verify_log(path).ok
    base = rows["none1"]
    print(f"\n{'records/s (wall clock)':40} {'median':>10} {'min':>8} {'max':>8} {'ratio':>6}")
    names = {
        "none1": 'check, "none", 1 thread',
        "batch": f'check, "batch", {args.threads} threads',
        "bound": f"  (the disk's bound for {args.threads})",
        "async": f'acheck, "always", {args.tasks} tasks',
    }
    for key, values in rows.items():
        ratios = [v / b for v, b in zip(values, base, strict=True)]
        print(
            f"{names[key]:40} {statistics.median(values):10.0f} {min(values):8.0f} "
            f"{max(values):8.0f} {statistics.median(ratios):6.2f}"
        )
    lags_ms = sorted(lag * 1000 for lag in lags)
    p99 = lags_ms[min(len(lags_ms) - 1, int(len(lags_ms) * 0.99))]
    print(
        f"1 ms ticker on the acheck loop: {len(lags_ms)} ticks, lag median "
        f"{statistics.median(lags_ms):.2f} ms, p99 {p99:.2f} ms, max {lags_ms[-1]:.2f} ms "
        "(ratio: median of per-round ratios to the first row). The disk's bound: "
        f"{args.threads} records written and fdatasync'd at once, as often as the disk "
        "can (medians of 20), since each thread waits for its own record to be durable"
    )


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of process ``pid`` so far: a server backend's, here
    (the throwaway cluster runs on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres(args: argparse.Namespace, engine: usepolicy.Engine, parent: Path) -> None:
    """Threads sharing one PostgreSQL sink against a plain COPY of the same rows; each
    also as CPU per record, of this process and of the server backend that stored it."""
    import psycopg

    from usepolicy.audit import PostgresSink, init_db, verify_db
    from usepolicy.audit.postgres._schema import COLUMNS

    sys.path.insert(0, str(Path(__file__).parent.parent))
    from tests.audit.pg_server import PgServer

    columns = ", ".join(COLUMNS)
    statement = f"COPY usepolicy_decisions ({columns}) FROM STDIN"
    server = PgServer(fsync=True, parent=parent)  # a folder the postgres user can enter
    # (records/s, this process's CPU µs a record, the backend's CPU µs a record)
    found: dict[str, list[tuple[float, float, float]]] = {
        f"{what} {kind}": [] for what in ("sink", "copy", "copy32") for kind in ("threads", "tasks")
    }

    def measured(run: Callable[[], int], backend: Callable[[], float]) -> tuple[float, ...]:
        wall, cpu, pg = time.perf_counter(), time.process_time(), backend()
        count = run()
        wall, cpu, pg = time.perf_counter() - wall, time.process_time() - cpu, backend() - pg
        return count / wall, cpu / count * 1e6, pg / count * 1e6

    try:
        sink_url, copy_url = server.create_database("sink"), server.create_database("copy")
        copy32_url = server.create_database("copy32")
        for url in (sink_url, copy_url, copy32_url):
            init_db(url)
        # with ``--durable-rounds 0`` (the file log's durable figures skipped), as many
        # rounds as ``--rounds``
        for round_ in range(args.durable_rounds or args.rounds):
            for kind in ("threads", "tasks"):
                writer = f"gw-{kind}-{round_}"
                with (
                    PostgresSink(sink_url, writer) as sink,
                    usepolicy.Enforcer(engine, audit_log=sink) as guard,
                    psycopg.connect(sink_url, autocommit=True) as conn,
                ):
                    threaded(guard, 1, 20)  # connected and warmed up
                    row = conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                        (f"usepolicy {writer}",),
                    ).fetchone()
                    backend = functools.partial(cpu_seconds, row[0] if row else 0)
                    if kind == "threads":
                        each = max(1, args.calls // args.threads)
                        run = functools.partial(threaded, guard, args.threads, each)
                    else:
                        each = max(1, args.calls // args.tasks)
                        run = functools.partial(concurrent_tasks, guard, args.tasks, each, [])
                    found[f"sink {kind}"].append(measured(run, backend))
                    rows = conn.execute(
                        f"SELECT {columns} FROM usepolicy_decisions "
                        "WHERE writer_id = %s ORDER BY seq",  # the chain whole: the tree needs it
                        (writer,),
                    ).fetchall()
                copy_cpu: list[float] = []

                def plain_copy(
                    rows: list[Any] = rows,
                    url: str = copy_url,
                    size: int = 128,
                    cpu: list[float] = copy_cpu,
                ) -> int:
                    with psycopg.connect(url, autocommit=True) as conn:
                        before = cpu_seconds(conn.info.backend_pid)
                        for start in range(0, len(rows), size):
                            with (
                                conn.transaction(),
                                conn.cursor() as cur,
                                cur.copy(statement) as cp,
                            ):
                                for row in rows[start : start + size]:
                                    cp.write_row(row)
                        cpu.append(cpu_seconds(conn.info.backend_pid) - before)
                    return len(rows)

                def copied(cpu: list[float] = copy_cpu) -> float:  # the last plain_copy's
                    return cpu.pop() if cpu else 0.0

                found[f"copy {kind}"].append(measured(plain_copy, copied))
                by32 = functools.partial(plain_copy, url=copy32_url, size=32)
                found[f"copy32 {kind}"].append(measured(by32, copied))
        result = verify_db(sink_url)
        assert result.ok, str(result)
    finally:
        server.destroy()
    head = f"{'median':>10} {'min':>8} {'max':>8} {'ratio':>6} {'CPU µs/record: ours, server':>28}"
    print(f"\n{'PostgreSQL, records/s (wall clock)':40} {head}")
    for name, kind in (
        (f"check, {args.threads} threads, one sink", "threads"),
        (f"acheck, {args.tasks} tasks, one sink", "tasks"),
    ):
        base = [rate for rate, _, _ in found[f"copy {kind}"]]
        for label, key in (
            ("  plain COPY of its rows, batches of 128", "copy"),
            ("  (the same, batches of 32)", "copy32"),
            (name, "sink"),
        ):
            rates, ours, theirs = zip(*found[f"{key} {kind}"], strict=True)
            ratios = [r / c for r, c in zip(rates, base, strict=True)]
            print(
                f"{label:40} {statistics.median(rates):10.0f} {min(rates):8.0f} "
                f"{max(rates):8.0f} {statistics.median(ratios):6.2f} "
                f"{statistics.median(ours):19.0f} {statistics.median(theirs):8.0f}"
            )


_BLOCK = 500  # calls of a stage timed at once in the breakdown


def _no_system_calls_log() -> type:
    from usepolicy.audit import AuditLog

    class NoSystemCalls(AuditLog):
        """A file log whose appends make no system call: the stat of the path answers
        from memory and the write only counts (the flock: ``_no_flock``). For the
        breakdown only: what the four calls of a record cost the Python around them."""

        def _check_file(self) -> int | None:
            return self._size

        @staticmethod
        def _write_all(fd: int, data: bytes) -> None:
            return None

    return NoSystemCalls


@contextlib.contextmanager
def _no_flock() -> Iterator[None]:
    from usepolicy.audit import _filelog

    real = _filelog._flock
    _filelog._flock = lambda fd, op: None
    try:
        yield
    finally:
        _filelog._flock = real


def breakdown(args: argparse.Namespace, engine: usepolicy.Engine, folder: Path) -> None:
    """Each stage of a ``check`` with ``none`` timed alone (CPU time, medians of the
    rounds), so that the shares of the audited path can be read off; in brackets, what
    a stage costs without the outcome's template (``usepolicy.record._template``), as a
    record whose decision met an error is still sealed and read."""
    from usepolicy.audit import AuditLog
    from usepolicy.record import DecisionRecord, record_of, seal

    _NoSystemCalls = _no_system_calls_log()
    decision = engine.evaluate(REQUEST)
    draft = decision.record_draft()
    assert draft.template is not None
    sealed = draft.seal(None)
    logs = {tree: AuditLog(folder / f"stages-{tree}.jsonl", durability="none", tree=tree)
            for tree in (True, False)}  # fmt: skip
    stages: dict[str, Callable[[Any], Any]] = {
        "Engine.evaluate (validate, decide)": engine.evaluate,
        "Decision.record_draft (the body)": lambda _: decision.record_draft(),
        "seal, from the template (1 digest)": lambda _: draft.seal(None),
        "  (seal of the whole body, no template)": lambda _: seal(
            draft.body, None, encoded=draft.encoded
        ),
        "record_of (the DecisionRecord, template)": lambda _: record_of(sealed),
        "  (DecisionRecord.from_body, pydantic)": lambda _: DecisionRecord.from_body(sealed.body),
        "AuditLog.store, no tree (seal + append)": lambda _: logs[False].store(draft),
        "AuditLog.store with its tree": lambda _: logs[True].store(draft),
    }
    kept = AuditLog(folder / "kept.jsonl", durability="none", tree=True)
    stubbed = _NoSystemCalls(folder / "stubbed.jsonl", durability="none")
    with usepolicy.Enforcer(engine, audit_log=folder / "stages.jsonl", durability="none") as g:
        stages["Enforcer.check, all of it"] = g.check
        stages["  (check, a log keeping its tree)"] = usepolicy.Enforcer(
            engine, audit_log=kept
        ).check
        stages["  (check, no lock, stat or write)"] = usepolicy.Enforcer(
            engine, audit_log=stubbed
        ).check
        # Blocks of _BLOCK calls, every stage in turn: on a shared machine, stages timed
        # in long blocks one after the other differ by what the machine did meanwhile.
        times: dict[str, list[float]] = {name: [] for name in stages}
        for _ in range(max(1, args.rounds * args.calls // _BLOCK)):
            for name, fn in stages.items():
                stub = name.endswith("no lock, stat or write)")
                with _no_flock() if stub else contextlib.nullcontext():
                    times[name].append(per_call_us(fn, REQUEST, _BLOCK, time.process_time))
    for log in (*logs.values(), kept, stubbed):
        log.close()
    median = {name: statistics.median(values) for name, values in times.items()}
    whole = median["Enforcer.check, all of it"]
    print(f"\n{'stage, timed alone (CPU µs)':40} {'median':>10} {'of check':>8}")
    for name, value in median.items():
        print(f"{name:40} {value:10.2f} {value / whole:8.0%}")
    evaluate = median["Engine.evaluate (validate, decide)"]
    tree = median["  (check, a log keeping its tree)"] / evaluate
    no_calls = median["  (check, no lock, stat or write)"] / evaluate
    print(
        f"check / evaluate in these blocks: {whole / evaluate:.1f}x; with a log that keeps "
        f"its tree (tree=True) {tree:.1f}x; and with the lock, the stat of the path and "
        f"the write replaced by no-ops (what the four system calls of a record cost) "
        f"{no_calls:.1f}x"
    )


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000, help="calls per round and function")
    parser.add_argument("--dir", default=".", help="folder for the temporary audit log")
    parser.add_argument("--wall", action="store_true", help="wall-clock time, not CPU time")
    parser.add_argument("--durable-rounds", type=int, default=5, help="0: skip durable figures")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true", help="also a PostgreSQL sink")
    parser.add_argument("--breakdown", action="store_true", help="also each stage of check alone")
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
    if args.breakdown:
        with tempfile.TemporaryDirectory(dir=args.dir) as folder:
            breakdown(args, engine, Path(folder))
    if args.durable_rounds:
        with tempfile.TemporaryDirectory(dir=args.dir) as folder:
            durable(args, engine, Path(folder))
    if args.postgres:
        postgres(args, engine, Path(args.dir))
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
