"""Latency of one decision through the Open Policy Agent paths, beside the native engine
(the baseline), measured in this run on the same pool of requests:

- native: ``Engine.evaluate(dict)`` on the reference pack (validation and decision);
- regopy: the module of ``usepolicy export rego`` evaluated by rego-cpp (``regopy``)
  through a prepared bundle, timed inside its own process (``regopy`` cannot share a
  process with google-re2: see ``tests/backends/opa/_regopy_worker.py``). Per
  decision: the validated request's JSON text in, the answer out; no validation;
- HTTP: ``OpaEngine.evaluate(dict)`` against a loopback stand-in for ``opa run
  --server`` (``tests/backends/opa/_fake_opa.py``, which evaluates with regopy):
  validation, a round trip through opa-python-client, the server's evaluation, the
  checks on the answer; and the same with a canned answer the server returns without
  evaluating (transport, client and checks alone).

The OPA binary is not available here, so the HTTP figure includes rego-cpp, not OPA,
on the server side; the transport and client costs are real.

    python benchmarks/bench_opa.py [--requests N] [--http-requests N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _pool import request_pool

import usepolicy
from usepolicy.backends.opa import OpaEngine, data_path, to_rego
from usepolicy.request._fast import request_to_builtins, validate_request

TESTS = Path(__file__).resolve().parent.parent / "tests" / "backends" / "opa"


def summary(nanos: list[float]) -> tuple[float, float]:
    """(median, p99) in microseconds."""
    ordered = sorted(nanos)
    return ordered[len(ordered) // 2] / 1000, ordered[int(len(ordered) * 0.99)] / 1000


def native_ns(engine: usepolicy.Engine, pool: list[dict[str, Any]], rounds: int) -> list[float]:
    clock = time.perf_counter_ns
    samples: list[float] = []
    for _ in range(rounds):
        for request in pool:
            t0 = clock()
            engine.evaluate(request)
            samples.append(clock() - t0)
    return samples


def regopy_ns(policy: usepolicy.Policy, pool: list[dict[str, Any]], rounds: int) -> list[float]:
    worker = subprocess.Popen(
        [sys.executable, str(TESTS / "_regopy_worker.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert worker.stdin is not None
    assert worker.stdout is not None

    def call(message: dict[str, Any]) -> dict[str, Any]:
        assert worker.stdin is not None
        assert worker.stdout is not None
        worker.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
        worker.stdin.flush()
        reply: dict[str, Any] = json.loads(worker.stdout.readline())
        assert reply["ok"], reply
        return reply

    entry = f"{data_path(policy)}/decision"
    call({"op": "load", "modules": {"p.rego": to_rego(policy)}, "data": [], "entries": [entry]})
    inputs = [
        json.dumps(request_to_builtins(validate_request(r, policy.vocabulary)), ensure_ascii=False)
        for r in pool
    ]
    call({"op": "query", "entry": entry, "inputs": inputs})  # warm up
    samples: list[float] = []
    for _ in range(rounds):
        samples += call({"op": "query", "entry": entry, "inputs": inputs})["nanos"]
    worker.stdin.close()
    worker.wait()
    return samples


def post(url: str, body: Any) -> Any:
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def http_ns(
    policy: usepolicy.Policy, pool: list[dict[str, Any]]
) -> tuple[list[float], list[float]]:
    """Per-decision times through OPA's API: evaluated by the server, and a canned answer
    (the server skips evaluation: what is left is transport, client and checks)."""
    server = subprocess.Popen(
        [sys.executable, str(TESTS / "_fake_opa.py")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=TESTS,
    )
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline().split()[1])}"
        clock = time.perf_counter_ns
        with OpaEngine(url, policy, timeout=10) as opa:
            for request in pool[:50]:  # uploads, warms up
                assert not opa.evaluate(request).errors
            samples: list[float] = []
            for request in pool:
                t0 = clock()
                decision = opa.evaluate(request)
                samples.append(clock() - t0)
                assert not decision.errors, decision.errors
            first = request_to_builtins(validate_request(pool[0], policy.vocabulary))
            answer = post(f"{url}/v1/data/{data_path(policy)}/answer", {"input": first})
            post(f"{url}/_fault", {"status": 200, "raw": json.dumps(answer)})
            transport: list[float] = []
            for request in pool:
                t0 = clock()
                decision = opa.evaluate(request)
                transport.append(clock() - t0)
                assert not decision.errors, decision.errors
        return samples, transport
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--http-requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pool = request_pool(args.requests)
    policy = usepolicy.load_policy()
    engine = usepolicy.Engine(policy)
    native_ns(engine, pool, 1)  # warm up
    http, transport = http_ns(policy, pool[: args.http_requests])
    rows = [
        ("native Engine.evaluate (baseline)", native_ns(engine, pool, args.rounds)),
        ("exported Rego in regopy (rego-cpp)", regopy_ns(policy, pool, args.rounds)),
        ("OpaEngine over HTTP, server evaluates", http),
        ("OpaEngine over HTTP, canned answer", transport),
    ]
    base = statistics.median(rows[0][1]) / 1000
    print(
        f"python {sys.version.split()[0]}, usepolicy {usepolicy.__version__}, "
        f"reference pack ({len(policy.rules)} rules), {len(pool)} requests"
    )
    print(f"{'path':40} {'median µs':>10} {'p99 µs':>10} {'× native':>10}")
    for name, samples in rows:
        median, p99 = summary(samples)
        print(f"{name:40} {median:10.1f} {p99:10.1f} {median / base:10.0f}")


if __name__ == "__main__":
    main()
