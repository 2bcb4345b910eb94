"""Cost of one decision: ``Engine.evaluate(dict)`` on the reference pack and on a
1000-rule policy, beside pydantic validation of the same dicts alone (the baseline),
all measured in this run on the same pool of requests; and on the eu-ai-act-prohibited
pack (requests with its purposes and attributes), as shipped and with its named
condition written out in every rule, which must cost the same (named conditions are
inlined).

    python benchmarks/bench_engine.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _pool import eu_request_pool, request_pool, thousand_rule_policy_text

import usepolicy
from usepolicy.policy import pack_path


def per_call_ns(fn: Callable[[Any], Any], pool: list[Any], rounds: int) -> list[float]:
    """Per-call times (ns), each call timed alone, minus the timer's own overhead."""
    clock = time.perf_counter_ns
    overhead = []
    for _ in range(2000):
        t0 = clock()
        overhead.append(clock() - t0)
    base = statistics.median(overhead)
    samples: list[float] = []
    for _ in range(rounds):
        for item in pool:
            t0 = clock()
            fn(item)
            samples.append(clock() - t0 - base)
    return samples


def summary(samples: list[float]) -> tuple[float, float, float]:
    samples = sorted(samples)
    median = samples[len(samples) // 2] / 1000
    p99 = samples[int(len(samples) * 0.99)] / 1000
    return median, p99, 1e6 / median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    pool = request_pool(1000)
    reference = usepolicy.Engine(usepolicy.load_policy())
    big = usepolicy.Engine(
        usepolicy.loads_policy(thousand_rule_policy_text(), base_dir=pack_path().parent)
    )
    eu_pool = eu_request_pool(len(pool))
    eu_text = pack_path("eu-ai-act-prohibited").read_text(encoding="utf-8")
    eu = usepolicy.Engine(usepolicy.load_policy(pack_path("eu-ai-act-prohibited")))
    eu_inline = usepolicy.Engine(
        usepolicy.loads_policy(written_out(eu_text), base_dir=pack_path().parent)
    )
    assert eu_inline.policy.digest == eu.policy.digest
    validate = usepolicy.UseRequest.model_validate
    # the two engines must agree wherever the extra rules do not apply
    for request in pool:
        a, b = reference.evaluate(request), big.evaluate(request)
        if not request["requester"]["organization"].startswith("Organisation"):
            assert (a.effect, a.determining_rule) == (b.effect, b.determining_rule)
    rows = [
        ("pydantic UseRequest.model_validate (baseline)", validate),
        ("Engine.evaluate, reference pack (12 rules)", reference.evaluate),
        ("Engine.evaluate, 1012-rule policy", big.evaluate),
    ]
    for _, fn in rows:  # warm up
        for request in pool:
            fn(request)
    results = {name: summary(per_call_ns(fn, pool, args.rounds)) for name, fn in rows}
    # `in_list` keys each organisation (policy/_names.py) and remembers recent keys: a
    # pool of few names measures the cached path; these rows give every call a name
    # never seen, as ASCII (the fast path) and with one non-ASCII letter (ICU's path)
    for label, template in (
        ("every organisation new, ASCII", "Organisation {} Ltd."),
        ("every organisation new, non-ASCII", "Organisation {} Zürich AG"),
    ):
        fresh = [
            {**r, "requester": {**r["requester"], "organization": template.format(k)}}
            for k, r in enumerate(pool * args.rounds)
        ]
        name = f"Engine.evaluate, {label}"
        results[name] = summary(per_call_ns(reference.evaluate, fresh, 1))
    eu_rows = [
        ("Engine.evaluate, EU AI Act pack (as shipped)", eu.evaluate),
        ("Engine.evaluate, EU AI Act pack (written out)", eu_inline.evaluate),
    ]
    for _, fn in eu_rows:
        for request in eu_pool:
            fn(request)
    # rounds interleaved: the two must cost the same, and a shared machine drifts
    eu_samples: dict[str, list[float]] = {name: [] for name, _ in eu_rows}
    for i in range(args.rounds):
        for name, fn in eu_rows if i % 2 == 0 else reversed(eu_rows):
            eu_samples[name] += per_call_ns(fn, eu_pool, 1)
    results.update({name: summary(samples) for name, samples in eu_samples.items()})
    chunks = [pool[i : i + 100] for i in range(0, len(pool), 100)]
    batch = [sample / 100 for sample in per_call_ns(reference.evaluate_many, chunks, args.rounds)]
    batch_us = statistics.median(batch) / 1000
    ref_median = results["Engine.evaluate, reference pack (12 rules)"][0]
    print(
        f"python {sys.version.split()[0]}, usepolicy {usepolicy.__version__}, "
        f"{len(pool)} requests x {args.rounds} rounds, each call timed alone"
    )
    print(f"{'':48} {'median µs':>10} {'p99 µs':>8} {'decisions/s':>12} {'÷ reference':>12}")
    for name, (median, p99, rate) in results.items():
        print(f"{name:48} {median:10.2f} {p99:8.2f} {rate:12,.0f} {median / ref_median:12.2f}")
    print(f"{'Engine.evaluate_many (batch), reference pack':48} {batch_us:10.2f}")


def written_out(text: str) -> str:
    """The eu-ai-act-prohibited pack with its named condition written out in every place
    (the text as is when it has no ``conditions:``)."""
    head, found, rest = text.partition("conditions:\n  eu-in-scope:\n")
    if not found:
        return text
    definition, _, rules = rest.partition("\n\nrules:\n")
    inline = "".join(f"          {line[2:]}\n" for line in definition.splitlines())
    return (
        head
        + "rules:\n"
        + rules.replace("        - condition: eu-in-scope\n", "        -\n" + inline)
    )


if __name__ == "__main__":
    main()
