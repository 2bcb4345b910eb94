"""usepolicy against Cedar and OPA/Rego on the same policy, in one run.

The reference pack (national-security-safeguards) and a 1012-rule policy (the pack plus
1,000 per-organisation allow rules) are evaluated by:

- usepolicy: ``Engine.evaluate(dict)`` (validation included), ``Engine.evaluate_many``;
- Cedar: the hand translation in ``peers/national-security-safeguards.cedar``, with
  ``cedarpy`` (``is_authorized``, ``is_authorized_batch``, and ``is_authorized`` with the
  schema so that Cedar validates the request too);
- Rego: ``usepolicy export rego`` output (``to_rego``) and the hand translation
  ``peers/national-security-safeguards.rego``, in-process with ``regopy`` (rego-cpp)
  through a prepared bundle;
- baselines: a hand-written Python ``if`` chain on the raw dict (the floor, no
  validation) and pydantic ``UseRequest.model_validate`` alone.

Everyone gets the same pool (``peers.peer_pool``: ``_pool.request_pool`` plus denied
entity ids and sparse requests). Before anything is timed, every engine must decide every
request of the pool like usepolicy, or the benchmark stops. The peers are given the
request already validated by usepolicy with defaults filled in (their time does not
include validation; usepolicy's does), and what a caller of theirs does per decision is
timed: building the Cedar request / the Rego input and reading the answer back.

Timing: each call alone, engines interleaved in a shuffled order each round; batch APIs
are timed per batch and divided. The clock is the thread's CPU time
(``time.thread_time_ns``, its own cost subtracted), so that time the process spends
preempted by other processes on a shared machine is not charged to whichever engine was
running; the wall-clock median (``perf_counter_ns``) of the same calls is shown beside it
as a check. decisions/s is 1 / median CPU time (one thread).
Engines too slow to run the whole pool every round get a time budget per round and run a
rotating slice of the pool (the ``requests`` column says how many calls were timed).

    pip install -e '.[bench]'
    python benchmarks/bench_peers.py [--rounds 20] [--budget 0.5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    import cedarpy  # noqa: F401 - the peers need it; say so before anything else
    import regopy
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit(f"bench_peers: {exc.name or exc} is missing: pip install -e '.[bench]'")

from peers import Disagreement, builtins_pool, peer_pool, reference_policy, thousand_rule_policy
from peers.agree import check, native
from peers.cedar import CedarPeer, comparable
from peers.floor import make_floor
from peers.rego import RegoPeer, exporter_module, hand_module

import usepolicy
from usepolicy.policy import Policy
from usepolicy.request._fast import validate_request

BATCH = 100
EXTRA_RULES = 1000


@dataclass
class Case:
    table: str
    name: str
    fn: Callable[[Any], Any]
    inputs: Sequence[Any]
    batch: int | None = None  # None: one call per request; else requests per call
    est_us: float = 1.0  # per-request cost seen in the agreement pass (for the budget)
    samples: list[float] = field(default_factory=list)  # CPU µs per request
    wall: list[float] = field(default_factory=list)  # wall µs per request
    key: str = ""  # what the targets refer to


@dataclass
class Table:
    key: str
    title: str
    policy: Policy
    cases: list[Case] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def timed_pass(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def build_table(
    key: str, title: str, policy: Policy, extra: int, pool: list[dict[str, Any]], rego: str
) -> Table:
    """Build every engine for ``policy``, check that all agree on ``pool``, and return
    the cases to time. Raises ``Disagreement``."""
    table = Table(key, title, policy)
    n = len(pool)
    engine = usepolicy.Engine(policy)
    ready = builtins_pool(pool, policy)
    reqs = [validate_request(r, policy.vocabulary) for r in pool]
    decisions: list[Any] = []
    est = timed_pass(lambda: decisions.extend(engine.evaluate(r) for r in pool)) / n * 1e6
    want_native = [native(d) for d in decisions]
    want_pair = [(w["decision"], w["determining_rule"]) for w in want_native]

    many = engine.evaluate_many(pool)
    check("Engine.evaluate_many", lambda i: native(many[i]), want_native.__getitem__, n, pool)
    decided = [engine.decide(r) for r in reqs]
    check("Engine.decide", lambda i: native(decided[i]), want_native.__getitem__, n, pool)
    table.cases += [
        Case(
            key,
            "**usepolicy `Engine.evaluate(dict)`**",
            engine.evaluate,
            pool,
            None,
            est,
            key="evaluate",
        ),
        Case(
            key,
            f"usepolicy `Engine.evaluate_many(list)`, batches of {BATCH}",
            engine.evaluate_many,
            pool,
            BATCH,
            est,
            key="many",
        ),
        Case(
            key,
            "usepolicy `Engine.decide(Req)` (rules only, request pre-validated)",
            engine.decide,
            reqs,
            None,
            est,
        ),
    ]

    # floor: hand-written if chain on the raw dict
    floor = make_floor(policy.lists["denied_entities"], extra)
    t = timed_pass(
        lambda: check("Python if chain", lambda i: floor(pool[i]), want_pair.__getitem__, n, pool)
    )
    table.cases.append(
        Case(
            key,
            "Python `if` chain on the raw dict (floor, no validation)",
            floor,
            pool,
            None,
            t / n * 1e6,
            key="floor",
        )
    )

    # Cedar
    cedar = CedarPeer(policy, extra)
    want_cedar = [comparable(d) for d in decisions]
    t = timed_pass(
        lambda: check(
            "cedarpy is_authorized",
            lambda i: cedar.outcome(cedar.authorize(ready[i])),
            want_cedar.__getitem__,
            n,
            pool,
        )
    )
    table.cases.append(
        Case(key, "cedarpy `is_authorized`", cedar.authorize, ready, None, t / n * 1e6, key="cedar")
    )
    t = timed_pass(
        lambda: check(
            "cedarpy is_authorized (schema)",
            lambda i: cedar.outcome(cedar.authorize_validated(ready[i])),
            want_cedar.__getitem__,
            n,
            pool,
        )
    )
    table.cases.append(
        Case(
            key,
            "cedarpy `is_authorized` + schema (Cedar validates the request)",
            cedar.authorize_validated,
            ready,
            None,
            t / n * 1e6,
            key="cedar",
        )
    )
    batch_answers: list[Any] = []
    t = timed_pass(
        lambda: [
            batch_answers.extend(cedar.authorize_batch(ready[i : i + BATCH]))
            for i in range(0, n, BATCH)
        ]
    )
    check(
        "cedarpy is_authorized_batch",
        lambda i: cedar.outcome(batch_answers[i]),
        want_cedar.__getitem__,
        n,
        pool,
    )
    table.cases.append(
        Case(
            key,
            f"cedarpy `is_authorized_batch`, batches of {BATCH}",
            cedar.authorize_batch,
            ready,
            BATCH,
            t / n * 1e6,
            key="cedar",
        )
    )

    # Rego
    modules: list[tuple[str, str]] = []
    if rego in ("both", "exporter"):
        text = exporter_module(policy)
        if text is None:
            if rego == "exporter":
                raise SystemExit("bench_peers: usepolicy.backends.opa.to_rego is not available")
            table.notes.append("`usepolicy export rego` is not available: hand translation only")
        else:
            modules.append(("exporter", text))
    if rego in ("both", "hand"):
        modules.append(("hand", hand_module(extra)))
    for source, text in modules:
        peer = RegoPeer(policy, text, source)
        label = (
            "regopy bundle, `usepolicy export rego` output"
            if source == "exporter"
            else "regopy bundle, hand translation"
        )
        t = timed_pass(
            lambda peer=peer, label=label: check(
                label, lambda i: peer.decide(ready[i]), want_native.__getitem__, n, pool
            )
        )
        table.cases.append(Case(key, label, peer.decide, ready, None, t / n * 1e6, key="rego"))
    return table


def shared_cases(pool: list[dict[str, Any]], policy: Policy) -> list[Case]:
    vocabulary = policy.vocabulary
    model_validate = usepolicy.UseRequest.model_validate
    est = timed_pass(lambda: [model_validate(r) for r in pool]) / len(pool) * 1e6
    return [
        Case(
            "shared",
            "pydantic `UseRequest.model_validate` alone (baseline)",
            model_validate,
            pool,
            None,
            est,
        ),
        Case(
            "shared",
            "usepolicy `validate_request` alone (msgspec hot path)",
            lambda r: validate_request(r, vocabulary),
            pool,
            None,
            est,
        ),
    ]


def timer_overhead_ns() -> tuple[float, float]:
    """The CPU and wall time an empty timed call costs (subtracted from every sample)."""
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    cpus, walls = [], []
    for _ in range(5000):
        w0 = wall()
        c0 = cpu()
        c1 = cpu()
        w1 = wall()
        cpus.append(c1 - c0)
        walls.append(w1 - w0)
    return statistics.median(cpus), statistics.median(walls)


def run_round(
    case: Case, round_no: int, budget_s: float, min_calls: int, base: tuple[float, float]
) -> None:
    n = len(case.inputs)
    if case.est_us * n <= budget_s * 1e6:
        items = case.inputs
    else:
        count = max(min_calls, int(budget_s * 1e6 / case.est_us))
        count = min(n, -(-count // (case.batch or 1)) * (case.batch or 1))
        start = (round_no * count) % n
        items = [case.inputs[(start + k) % n] for k in range(count)]
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    base_cpu, base_wall = base
    fn, out, out_wall = case.fn, case.samples, case.wall
    if case.batch is None:
        for item in items:
            w0 = wall()
            c0 = cpu()
            fn(item)
            c1 = cpu()
            w1 = wall()
            out.append((c1 - c0 - base_cpu) / 1000)
            out_wall.append((w1 - w0 - base_wall) / 1000)
    else:
        size = case.batch
        for i in range(0, len(items), size):
            chunk = items[i : i + size]
            w0 = wall()
            c0 = cpu()
            fn(chunk)
            c1 = cpu()
            w1 = wall()
            out.append((c1 - c0 - base_cpu) / 1000 / len(chunk))
            out_wall.append((w1 - w0 - base_wall) / 1000 / len(chunk))


def stats(case: Case) -> dict[str, float]:
    s = sorted(case.samples)
    median = statistics.median(s)
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    mean = statistics.fmean(s)
    calls = len(s) * (case.batch or 1)
    return {
        "median_us": median,
        "p99_us": p99,
        "mean_us": mean,
        "wall_median_us": statistics.median(case.wall),
        "wall_mean_us": statistics.fmean(case.wall),
        "decisions_per_s": 1e6 / median,
        "requests": calls,
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "usepolicy": usepolicy.__version__,
        "cedarpy": _version("cedarpy"),
        "regopy": _version("regopy"),
        "rego-cpp": regopy.__version__,
        "pydantic": _version("pydantic"),
        "msgspec": _version("msgspec"),
    }


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def render(
    tables: list[Table], shared: list[Case], info: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    lines: list[str] = []
    results: dict[str, Any] = {"machine": info, "tables": {}}
    ref_eval = {t.key: stats(next(c for c in t.cases if c.key == "evaluate")) for t in tables}
    for t in tables:
        base = ref_eval[t.key]["median_us"]
        lines += [f"#### {t.title}", ""]
        lines.append(
            "| engine | median µs | p99 µs | decisions/s | × usepolicy | wall median µs "
            "| requests timed |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        rows = []
        for case in t.cases + shared:
            st = stats(case)
            st["ratio"] = st["median_us"] / base
            rows.append({"engine": case.name, **st})
            lines.append(
                f"| {case.name} | {fmt(st['median_us'])} | {fmt(st['p99_us'])} | "
                f"{st['decisions_per_s']:,.0f} | {st['ratio']:.2f} | "
                f"{fmt(st['wall_median_us'])} | {st['requests']:,} |"
            )
        lines += [f"_{note}_" for note in t.notes]
        lines.append("")
        results["tables"][t.key] = rows
    # targets
    ref, big = tables[0], tables[-1]
    evaluate = ref_eval[ref.key]["median_us"]

    def best(table: Table, key: str) -> float:
        meds = [stats(c)["median_us"] for c in table.cases if c.key == key]
        return min(meds) if meds else float("nan")

    many = best(ref, "many")
    targets = [
        (
            "`Engine.evaluate(dict)`, reference pack, median ≤ 3 µs",
            f"{evaluate:.2f} µs",
            evaluate <= 3.0,
        ),
        (
            "≥ 10× faster than cedarpy (its fastest row)",
            f"{best(ref, 'cedar') / evaluate:.0f}×",
            best(ref, "cedar") / evaluate >= 10,
        ),
        (
            "≥ 10× faster than regopy (its fastest row)",
            f"{best(ref, 'rego') / evaluate:,.0f}×",
            best(ref, "rego") / evaluate >= 10,
        ),
    ]
    if big is not ref:
        ratio = ref_eval[big.key]["median_us"] / evaluate
        targets.append(
            ("1012-rule policy ≤ 1.5× the reference pack (median)", f"{ratio:.2f}×", ratio <= 1.5)
        )
        big_eval = ref_eval[big.key]["median_us"]
        r = best(big, "cedar") / big_eval
        targets.append(("1012-rule: ≥ 10× faster than cedarpy", f"{r:.0f}×", r >= 10))
        r = best(big, "rego") / big_eval
        targets.append(("1012-rule: ≥ 10× faster than regopy", f"{r:,.0f}×", r >= 10))
    targets.append(
        (f"`Engine.evaluate_many`, batches of {BATCH}, per request", f"{many:.2f} µs", None)
    )
    floor = best(ref, "floor")
    targets.append(
        ("`Engine.evaluate` ÷ Python floor (machine-independent)", f"{evaluate / floor:.1f}×", None)
    )
    lines += ["#### Targets (this run)", "", "| target | measured | met |", "|---|---:|:---:|"]
    for label, value, ok in targets:
        mark = "—" if ok is None else ("yes" if ok else "**no**")
        lines.append(f"| {label} | {value} | {mark} |")
    results["targets"] = [{"target": a, "measured": b, "met": c} for a, b, c in targets]
    return "\n".join(lines), results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="pool size (≥ 1000)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--budget",
        type=float,
        default=0.5,
        help="seconds per engine per round before slow engines get a slice",
    )
    parser.add_argument(
        "--min-calls", type=int, default=20, help="calls per round for an engine over the budget"
    )
    parser.add_argument(
        "--rego",
        choices=("both", "exporter", "hand"),
        default="both",
        help="which Rego module(s) to run",
    )
    parser.add_argument("--no-thousand", action="store_true", help="reference pack only")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    info = machine()
    info["load_before"] = os.getloadavg()
    pool = peer_pool(args.requests)
    reference = reference_policy()
    print(f"building engines and checking agreement on {len(pool)} requests…", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        tables = [
            build_table(
                "reference",
                f"Reference pack (national-security-safeguards, {len(reference.rules)} rules)",
                reference,
                0,
                pool,
                args.rego,
            )
        ]
        if not args.no_thousand:
            big = thousand_rule_policy(EXTRA_RULES)
            tables.append(
                build_table(
                    "thousand",
                    f"{len(big.rules)}-rule policy (reference "
                    f"pack + {EXTRA_RULES} per-organisation allow rules)",
                    big,
                    EXTRA_RULES,
                    pool,
                    args.rego,
                )
            )
    except Disagreement as exc:
        print(
            f"bench_peers: STOP, the engines disagree, nothing was timed.\n{exc}", file=sys.stderr
        )
        return 1
    print(
        f"all engines agree on every request ({time.perf_counter() - t0:.0f} s); timing…",
        file=sys.stderr,
    )
    shared = shared_cases(pool, reference)
    cases = [c for t in tables for c in t.cases] + shared
    base = timer_overhead_ns()
    for round_no in range(args.rounds):
        order = list(cases)
        random.Random(round_no).shuffle(order)
        for case in order:
            run_round(case, round_no, args.budget, args.min_calls, base)
        print(f"  round {round_no + 1}/{args.rounds}", file=sys.stderr)
    info["load_after"] = os.getloadavg()
    text, results = render(tables, shared, info)
    load = (
        ", ".join(f"{a:.1f}" for a in info["load_before"])
        + " → "
        + ", ".join(f"{a:.1f}" for a in info["load_after"])
    )
    print(
        f"{info['cpu']}, {info['cores']} cores, {info['os']}; Python {info['python']}, "
        f"usepolicy {info['usepolicy']}, cedarpy {info['cedarpy']}, regopy {info['regopy']} "
        f"(rego-cpp {info['rego-cpp']}), pydantic {info['pydantic']}, msgspec "
        f"{info['msgspec']}; {len(pool)} requests, {args.rounds} rounds; load average {load}\n"
    )
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
