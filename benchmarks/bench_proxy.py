"""The enforcing proxy as a client sees it: calls per second through ``usepolicy proxy``
against the same calls straight to the upstream, measured in the same run.

A small OpenAI-compatible upstream (Starlette, answering at once) runs in its own
process; ``usepolicy proxy`` in another, in front of it, with ``--durability always``
(no call goes ahead before its record is fsynced) or ``batch``. Each round sends
``--calls`` chat completions with ``--concurrency`` in flight (httpx), first straight
to the upstream, then through the proxy; the figures are medians over ``--rounds``
rounds, printed with the machine's load, with the ratio proxy / direct. Through the
proxy each allowed call costs a decision record and an outcome record, both durable.

    python benchmarks/bench_proxy.py [--rounds N] [--calls N] [--concurrency N]
        [--durability always|batch] [--dir PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

KEY = "sk-bench"
USE = json.dumps({"purpose": "intelligence.foreign", "data": {"subjects": "foreign"}})


def upstream_main(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def chat(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}}]})  # fmt: skip

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int) -> None:
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


async def load(url: str, calls: int, concurrency: int) -> float:
    """Calls per second (wall clock); every answer must be 200."""
    gate = asyncio.Semaphore(concurrency)
    headers = {"authorization": f"Bearer {KEY}", "x-usepolicy-use": USE}
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    # an idle connection is dropped before the server's keep-alive (5 s) closes it
    limits = httpx.Limits(max_connections=concurrency, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def one() -> None:
            async with gate:
                answer = await client.post("/v1/chat/completions", json=body, headers=headers)
            if answer.status_code != 200:
                raise SystemExit(f"{url}: answered {answer.status_code}: {answer.text[:200]}")

        await one()  # connections warm
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(calls)))
        return calls / (time.perf_counter() - started)


def proxy_command(
    port: int, upstream: int, keys: Path, env: Path, log: Path, durability: str
) -> list[str]:
    return [
        sys.executable, "-m", "usepolicy", "proxy", "--port", str(port),
        "--upstream", f"http://127.0.0.1:{upstream}", "--keys", str(keys),
        "--environment", str(env), "--audit-log", str(log), "--durability", durability,
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--durability", choices=("always", "batch"), default="always")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-proxy-"))
    keys = folder / "keys.yaml"
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    keys.write_text(f"keys:\n  - sha256: {digest}\n    organization: Bench Cell\n")
    env = folder / "env.yaml"
    env.write_text("network: air_gapped\nclassification: secret\n")
    log = folder / "audit.jsonl"
    up_port, proxy_port = free_port(), free_port()
    procs = [
        subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(up_port)]),
        subprocess.Popen(proxy_command(proxy_port, up_port, keys, env, log, args.durability)),
    ]
    try:
        wait_for(up_port)
        wait_for(proxy_port)
        direct, proxied = [], []
        for _ in range(args.rounds):
            direct.append(asyncio.run(load(f"http://127.0.0.1:{up_port}", args.calls,
                                           args.concurrency)))  # fmt: skip
            proxied.append(asyncio.run(load(f"http://127.0.0.1:{proxy_port}", args.calls,
                                            args.concurrency)))  # fmt: skip
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
    d, p = statistics.median(direct), statistics.median(proxied)
    load_average = os.getloadavg()[0]
    print(f"load average {load_average:.2f} on {os.cpu_count()} CPUs; {args.calls} calls, "
          f"{args.concurrency} in flight, median of {args.rounds} rounds")  # fmt: skip
    print(f"straight to the upstream: {d:8.0f} calls/s")
    print(f"through usepolicy proxy : {p:8.0f} calls/s  ({args.durability}: a decision and "
          f"an outcome record per call)")  # fmt: skip
    print(f"ratio proxy / direct    : {p / d:8.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-upstream":
        upstream_main(int(sys.argv[2]))
    else:
        main()
