"""The transparency log on a 1,000,000-record audit log: a signed checkpoint, one
inclusion and one consistency proof (time, and bytes read from the log and its
sidecar), against rebuilding the tree from the log and re-hashing it to verify a
checkpoint; and the cost the tree adds to appends, against the same appends without
it, in the same run.

The big log is built quickly (records from the benchmark request pool, chained with
fresh decision ids) and kept if ``--log PATH`` names it, to be reused by later runs.
Bytes read are the process's ``rchar`` (``/proc/self/io``: bytes asked of read calls,
page cache or not).

With ``--postgres``, also what the tree trigger costs each insert in a throwaway
PostgreSQL cluster (the Debian package's binaries, as the tests use).

    python benchmarks/bench_tlog.py [--records N] [--log PATH] [--appends N] [--dir PATH]
                                    [--postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _pool import request_pool

import usepolicy
from usepolicy.audit import (
    AuditLog,
    PostgresSink,
    _logtree,
    checkpoint_log,
    init_db,
    open_tree,
    prove_consistency_log,
    prove_inclusion_log,
    verify_checkpoint,
)
from usepolicy.record import Draft, seal
from usepolicy.tlog import NoteSigner, TreeState, open_checkpoint, sidecar_path


def read_bytes() -> int:
    """Bytes this process has asked of read calls so far (Linux ``rchar``)."""
    with open("/proc/self/io", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


def measured(action: Callable[[], Any]) -> tuple[float, int, Any]:
    """(seconds, bytes read, result) of one call."""
    before, t0 = read_bytes(), time.perf_counter()
    result = action()
    return time.perf_counter() - t0, read_bytes() - before, result


def templates(count: int = 500) -> list[Draft]:
    """Unsealed records of varied requests (their parts encoded once), to chain cheaply."""
    engine = usepolicy.Engine(usepolicy.load_policy())
    return [engine.evaluate(request).record_draft() for request in request_pool(count)]


def build_log(path: Path, records: int) -> None:
    """A valid chained log of ``records`` records, written in large chunks."""
    drafts = templates()
    head: str | None = None
    chunk: list[bytes] = []
    with open(path, "wb") as out:
        for i in range(records):
            draft = drafts[i % len(drafts)]
            body = {**draft.body, "decision_id": str(uuid.UUID(int=i, version=4))}
            sealed = seal(body, head, encoded=draft.encoded)
            head = sealed.digest
            chunk.append(sealed.line + b"\n")
            if len(chunk) == 10000:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))


def extend_cost(folder: Path, lines: list[bytes]) -> float:
    """Seconds per record of ``TreeState.extend`` alone (the tree's part of an append)."""
    log = folder / "lines.jsonl"
    log.write_bytes(b"".join(lines))
    sidecar_path(log).unlink(missing_ok=True)
    with TreeState(log) as tree:
        offset, t0 = 0, time.perf_counter()
        for line in lines:
            tree.extend([line], offset)
            offset += len(line)
        elapsed = time.perf_counter() - t0
    return elapsed / len(lines)


def overhead(folder: Path, count: int, rounds: int, durability: str) -> None:
    """Appends to two logs in lockstep, one keeping its tree and one not: each record
    goes to both, in alternating order, so the machine's load, which drifts, weighs on
    both alike; the ratio of their summed times is the tree's cost."""
    engine = usepolicy.Engine(usepolicy.load_policy())
    records = [engine.evaluate(r).record() for r in request_pool(count)]
    ratios: list[float] = []
    total = {True: 0.0, False: 0.0}
    for _ in range(rounds):
        logs = {}
        for tree in (True, False):
            path = Path(tempfile.mkstemp(dir=folder, suffix=".jsonl")[1])
            logs[tree] = AuditLog(path, durability=durability, tree=tree)  # type: ignore[arg-type]
        spent = {True: 0.0, False: 0.0}
        for i, record in enumerate(records):
            for tree in (True, False) if i % 2 else (False, True):
                t0 = time.perf_counter()
                logs[tree].append(record)
                spent[tree] += time.perf_counter() - t0
        for log in logs.values():
            log.close()
            log.path.unlink()
            sidecar_path(log.path).unlink(missing_ok=True)
        ratios.append(spent[False] / spent[True])
        for tree in spent:
            total[tree] += spent[tree]
    report(f"append, durability {durability}", count, rounds, total, ratios)


def waits_while_built(folder: Path, lines: list[bytes], under_lock: bool) -> tuple[float, float]:
    """(the longest an append waited, seconds to build) while ``open_tree`` builds the
    tree of a log of ``lines`` that has no sidecar and a writer appends meanwhile: as
    ``open_tree`` does it (hashing outside the log's lock, in rounds), or with
    ``under_lock``, hashing it all under the lock (as it did before)."""
    path = folder / f"built-{under_lock}.jsonl"
    path.write_bytes(b"".join(lines))
    sidecar_path(path).unlink(missing_ok=True)
    draft = templates(1)[0]
    waits: list[float] = []
    building = threading.Event()
    done = threading.Event()

    def append() -> None:
        with AuditLog(path, durability="none") as log:
            building.wait()
            while not done.is_set():
                t0 = time.perf_counter()
                log.store(draft)
                waits.append(time.perf_counter() - t0)
                time.sleep(0.001)

    writer = threading.Thread(target=append)
    writer.start()
    saved = _logtree.LOCKED_BYTES
    _logtree.LOCKED_BYTES = 1 << 62 if under_lock else saved
    try:
        building.set()
        t0 = time.perf_counter()
        with open_tree(path) as tree:
            built = time.perf_counter() - t0
            assert tree.size >= len(lines)
    finally:
        _logtree.LOCKED_BYTES = saved
        done.set()
        writer.join()
    path.unlink()
    sidecar_path(path).unlink(missing_ok=True)
    return max(waits), built


def report(
    what: str, count: int, rounds: int, total: dict[bool, float], ratios: list[float]
) -> None:
    ratios.sort()
    n = count * rounds
    print(
        f"{what}, {count} records x {rounds} rounds, in lockstep: with the tree "
        f"{n / total[True]:,.0f}/s, without {n / total[False]:,.0f}/s: "
        f"{total[False] / total[True]:.3f} of the throughput (rounds {ratios[0]:.3f}-"
        f"{ratios[-1]:.3f})"
    )


def postgres_overhead(parent: Path, count: int, rounds: int) -> None:
    """The tree trigger's cost: two databases of one throwaway cluster, one with the
    trigger switched off, one writer each, appending the same records in lockstep."""
    sys.path.insert(0, str(Path(__file__).parent.parent))
    from tests.audit.pg_server import PgServer

    engine = usepolicy.Engine(usepolicy.load_policy())
    pool = request_pool(count)
    server = PgServer(fsync=True, parent=parent)  # a folder the postgres user can enter
    try:
        urls = {}
        for tree in (True, False):
            urls[tree] = server.create_database(f"tree_{tree}".lower())
            init_db(urls[tree])
        server.psql(
            "ALTER TABLE usepolicy_decisions DISABLE TRIGGER usepolicy_decisions_tree",
            urls[False].rsplit("/", 1)[1],
        )
        ratios: list[float] = []
        total = {True: 0.0, False: 0.0}
        for number in range(rounds):
            sinks = {tree: PostgresSink(url, f"bench-{number}") for tree, url in urls.items()}
            # fresh records each round: a record digest is unique in the store
            records = [engine.evaluate(r).record() for r in pool]
            spent = {True: 0.0, False: 0.0}
            for i, record in enumerate(records):
                for tree in (True, False) if i % 2 else (False, True):
                    t0 = time.perf_counter()
                    sinks[tree].append(record)
                    spent[tree] += time.perf_counter() - t0
            for sink in sinks.values():
                sink.close()
            ratios.append(spent[False] / spent[True])
            for tree in spent:
                total[tree] += spent[tree]
        report("PostgreSQL append, 1 writer (tree trigger on/off)", count, rounds, total, ratios)
    finally:
        server.destroy()


def mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the big log")
    parser.add_argument("--log", type=Path, help="the big log (built if missing, and kept)")
    parser.add_argument("--appends", type=int, default=2000, help="appends per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each append measurement")
    parser.add_argument("--dir", type=Path, default=Path("."), help="where logs are written")
    parser.add_argument(
        "--postgres", action="store_true", help="also the tree trigger's cost in PostgreSQL"
    )
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        folder = Path(scratch)
        path = args.log or folder / "big.jsonl"
        if not path.exists():
            seconds, _, _ = measured(lambda: build_log(path, args.records))
            print(f"built a log of {args.records:,} records in {seconds:.1f} s")
        size = path.stat().st_size
        with open(path, "rb") as handle:
            n = sum(1 for _ in handle)
        signer = NoteSigner.generate("example.com/bench")

        sidecar_path(path).unlink(missing_ok=True)
        seconds, read, tree = measured(lambda: open_tree(path))
        tree.close()
        print(f"log: {n:,} records, {mb(size)}; sidecar {mb(sidecar_path(path).stat().st_size)} "
              f"({sidecar_path(path).stat().st_size / size:.1%} of the log)")  # fmt: skip
        print(f"tree built from the log (no sidecar): {seconds:.2f} s, read {mb(read)}")
        rebuild = seconds

        runs = [measured(lambda: checkpoint_log(path, signer)) for _ in range(21)]
        first = runs[0]
        median = statistics.median(r[0] for r in runs[1:])
        note = runs[-1][2]
        print(
            f"checkpoint with the sidecar: first {first[0] * 1e3:.2f} ms, median of 20 "
            f"{median * 1e3:.2f} ms, read {runs[-1][1]:,} bytes "
            f"({rebuild / median:,.0f}x faster than building the tree from the log)"
        )
        root = open_checkpoint(note, signer.verifier()).checkpoint.root_hash

        index = n * 2 // 3 + 1
        seconds, read, proof = measured(lambda: prove_inclusion_log(path, index))
        proof.verify(root)
        print(f"inclusion proof of record {index:,} in {n:,}: {seconds * 1e3:.2f} ms, read "
              f"{read:,} bytes, {len(proof.hashes)} hashes ({len(proof.to_json()):,} bytes "
              "of JSON)")  # fmt: skip
        old = n // 3
        seconds, read, consistency = measured(lambda: prove_consistency_log(path, old))
        with open_tree(path) as tree:
            consistency.verify(tree.root(old), root)
        print(f"consistency proof {old:,} -> {n:,}: {seconds * 1e3:.2f} ms, read {read:,} bytes, "
              f"{len(consistency.hashes)} hashes")  # fmt: skip

        seconds, read, verdict = measured(lambda: verify_checkpoint(path, note, signer.verifier()))
        assert verdict.ok, verdict
        print(f"verify against the checkpoint (every record hashed again): {seconds:.2f} s, "
              f"read {mb(read)}")  # fmt: skip
        if args.log is None:
            sidecar_path(path).unlink()

        with open(path, "rb") as handle:
            lines = [next(handle) for _ in range(min(n, 20000))]
        built = min(n, 200_000)
        with open(path, "rb") as handle:
            head = [next(handle) for _ in range(built)]
        for under_lock in (True, False):
            wait, seconds = waits_while_built(folder, head, under_lock)
            how = "all under the log's lock" if under_lock else "as open_tree does (rounds)"
            print(f"tree of {built:,} records built while a writer appends, {how}: "
                  f"{seconds:.2f} s, the longest append {wait * 1e3:.1f} ms")  # fmt: skip
        del head
        per = statistics.median(extend_cost(folder, lines) for _ in range(3))
        print(f"the tree's part of an append (TreeState.extend alone): {per * 1e6:.1f} µs a record")
        overhead(folder, args.appends, args.rounds, "none")
        overhead(folder, max(200, args.appends // 5), args.rounds, "always")
        if args.postgres:
            postgres_overhead(args.dir, max(200, args.appends // 4), args.rounds)


if __name__ == "__main__":
    main()
