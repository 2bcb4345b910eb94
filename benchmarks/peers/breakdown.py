"""Where the time of one ``Engine.evaluate(dict)`` goes: its steps timed alone on the same
pool (thread CPU time, interleaved, medians); then a cProfile of ``evaluate`` over the
pool. The step rows reach into engine internals (``Engine._plans``) and are left out when
those change.

    python benchmarks/peers/breakdown.py [--rounds 20] [--policy reference|thousand]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec

import usepolicy
from peers import peer_pool, reference_policy, thousand_rule_policy
from usepolicy.engine._decision import Decision
from usepolicy.request._fast import Req, validate_request


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--policy", choices=("reference", "thousand"), default="reference")
    parser.add_argument("--top", type=int, default=14)
    args = parser.parse_args()
    policy = reference_policy() if args.policy == "reference" else thousand_rule_policy()
    engine = usepolicy.Engine(policy)
    pool = peer_pool(1000)
    vocabulary = policy.vocabulary
    reqs = [validate_request(r, vocabulary) for r in pool]
    plans = getattr(engine, "_plans", None)

    def scan(req: Req) -> Any:
        """What ``decide`` does before combining: the plan's mask (+ indexed rules)."""
        plan = plans[req.purpose]
        mask = plan.scan(req)
        if plan.indexes:  # the per-organisation rules of the 1000-rule policy
            from usepolicy.engine._engine import _indexed_hits

            return mask, _indexed_hits(plan, req)
        return mask, []

    def matched_rules(req: Req) -> list[Any]:
        plan = plans[req.purpose]
        mask, found = scan(req)
        return [rule for k, rule in enumerate(plan.rules) if mask >> k & 1] + found

    hits = [matched_rules(r) for r in reqs] if plans is not None else []

    def make_decision(i: int) -> Decision:
        found = hits[i]
        matched = tuple(r.matched for r in found)
        return Decision(policy.default, None, matched, (), (), reqs[i], policy)

    steps: list[tuple[str, Callable[[Any], Any], list[Any]]] = [
        ("Engine.evaluate(dict), all of it", engine.evaluate, pool),
        (
            "  validate_request(dict): msgspec and the checks after it",
            lambda r: validate_request(r, vocabulary),
            pool,
        ),
        ("    of which msgspec.convert(dict, Req) alone", lambda r: msgspec.convert(r, Req), pool),
        ("  Engine.decide(Req), all of it", engine.decide, reqs),
    ]
    if plans is not None:
        steps += [
            ("    of which plan lookup + generated scan", scan, reqs),
            (
                "    of which building the Decision (matched tuple + object)",
                make_decision,
                list(range(len(pool))),
            ),
        ]
    clock = time.thread_time_ns  # CPU time: preemption by other processes not counted
    base = statistics.median([-(clock() - clock()) for _ in range(5000)])
    samples: dict[str, list[float]] = {name: [] for name, _, _ in steps}
    for round_no in range(args.rounds):
        order = list(steps)
        random.Random(round_no).shuffle(order)
        for name, fn, inputs in order:
            out = samples[name]
            for item in inputs:
                t0 = clock()
                fn(item)
                out.append((clock() - t0 - base) / 1000)
    total = statistics.median(samples[steps[0][0]])
    print(
        f"{args.policy} policy ({len(policy.rules)} rules), {len(pool)} requests x "
        f"{args.rounds} rounds, each call timed alone\n"
    )
    print("| step | median µs | share of evaluate |")
    print("|---|---:|---:|")
    for name, _, _ in steps:
        med = statistics.median(samples[name])
        print(f"| {name.replace('  ', '&nbsp;&nbsp;')} | {med:.2f} | {med / total:.0%} |")

    profiler = cProfile.Profile()
    evaluate = engine.evaluate
    profiler.enable()
    for _ in range(10):
        for request in pool:
            evaluate(request)
    profiler.disable()
    print(f"\ncProfile of Engine.evaluate over {10 * len(pool)} requests (tottime order):\n")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
