"""Cold start of the command line: ``usepolicy check REQUEST.json`` as a fresh process,
beside ``python -c pass``, ``python -c "import pydantic"`` and ``python -c "import
usepolicy"`` measured in the same run (commands interleaved, medians), then where the
import time goes (``python -X importtime``).

    python benchmarks/bench_cli.py [--runs 20] [--top 15]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUEST = ROOT / "examples" / "requests" / "network_defense.json"
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def usepolicy_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("usepolicy")
    if script.exists():
        return [str(script)]
    found = shutil.which("usepolicy")
    return [found] if found else [sys.executable, "-m", "usepolicy"]


def wall(cmd: list[str], expect: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != expect:
        sys.exit(f"bench_cli: {' '.join(cmd)} exited {done.returncode}: {done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def import_profile(top: int) -> tuple[float, list[tuple[str, int]], list[tuple[int, int, str]]]:
    """(total µs, self time by top-level package, the modules with most self time)."""
    cmd = [sys.executable, "-X", "importtime", "-m", "usepolicy", "check", str(REQUEST)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        m = _LINE.match(line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)), m.group(4)))
    by_package: dict[str, int] = defaultdict(int)
    for self_us, _, _, name in rows:
        by_package[name.split(".")[0]] += self_us
    total = sum(self_us for self_us, _, _, _ in rows)
    packages = sorted(by_package.items(), key=lambda kv: -kv[1])[:top]
    modules = sorted(((s, c, n) for s, c, _, n in rows), key=lambda r: -r[0])[:top]
    return total, packages, modules


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    commands = [
        ("`python -c pass`", [py, "-c", "pass"], 0),
        ('`python -c "import pydantic"`', [py, "-c", "import pydantic"], 0),
        ('`python -c "import usepolicy"`', [py, "-c", "import usepolicy"], 0),
        (
            f"**`usepolicy check {REQUEST.relative_to(ROOT)}`**",
            [*usepolicy_command(), "check", str(REQUEST)],
            0,
        ),
    ]
    for _, cmd, expect in commands:  # warm the OS caches once
        wall(cmd, expect)
    times: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    cpus: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    for _ in range(args.runs):
        for label, cmd, expect in commands:
            elapsed, cpu = wall(cmd, expect)
            times[label].append(elapsed)
            cpus[label].append(cpu)
    base = statistics.median(times[commands[0][0]])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.runs} runs each, "
        f"interleaved; load average {load}\n"
    )
    print(
        "| command (fresh process) | wall median s | wall min s | CPU median s "
        "| × `python -c pass` (wall) |"
    )
    print("|---|---:|---:|---:|---:|")
    for label, _, _ in commands:
        t = times[label]
        med = statistics.median(t)
        cpu = statistics.median(cpus[label])
        print(f"| {label} | {med:.3f} | {min(t):.3f} | {cpu:.3f} | {med / base:.1f} |")
    check_median = statistics.median(times[commands[-1][0]])
    verdict = "met" if check_median <= 0.3 else "**missed**"
    print(
        f"\nTarget `usepolicy check` cold ≤ 0.3 s wall (median): {check_median:.3f} s, {verdict}.\n"
    )

    total, packages, modules = import_profile(args.top)
    print(
        f"`python -X importtime -m usepolicy check …`: {total / 1000:.0f} ms of imports "
        "(sum of self times, one run)\n"
    )
    print("| top-level package | self ms | share |")
    print("|---|---:|---:|")
    for name, self_us in packages:
        print(f"| {name} | {self_us / 1000:.1f} | {self_us / total:.0%} |")
    print("\n| module | self ms | cumulative ms |")
    print("|---|---:|---:|")
    for self_us, cum_us, name in modules:
        print(f"| {name} | {self_us / 1000:.1f} | {cum_us / 1000:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
