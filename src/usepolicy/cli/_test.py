"""``usepolicy test PATH...``: run policy test files and check invariants."""

from __future__ import annotations

import argparse
import sys
import time

from ..testing import (
    DEFAULT_BUDGET,
    CaseResult,
    CoverageReport,
    FileStarted,
    InvariantOutcome,
    LoadFailure,
    Runner,
    format_case_failure,
    format_invariant_failure,
)
from ._output import EXIT_ALLOWED, EXIT_ERROR, error

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy test`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = (
        "Run policy test files (*.test.yaml) and check the invariants of "
        "their policies; a policy file is checked for its invariants, a folder runs "
        "every test file in it. Invariants are checked against every class of requests "
        "the policy distinguishes, not a sample. Exit 0 when everything passes, 1 on "
        "any failure."
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="test file, policy or folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    parser.add_argument(
        "--coverage", action="store_true", help="per rule: cases it matched and decided"
    )
    parser.add_argument(
        "--min-coverage",
        type=float,
        metavar="PCT",
        help="fail when fewer than PCT%% of a policy's rules decided some case",
    )
    parser.add_argument(
        "--no-invariants", action="store_true", help="run the cases only, skip invariants"
    )
    parser.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        metavar="N",
        help=f"classes checked one by one before a random search (default {DEFAULT_BUDGET:,})",
    )
    parser.set_defaults(run=run)


class _Printer:
    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.open_line = False
        self.count = 0

    def end_line(self) -> None:
        if self.open_line:
            print(f" [{self.count}]")
            self.open_line = False

    def start(self, event: FileStarted) -> None:
        self.end_line()
        label = event.path + (" invariants" if event.kind == "invariants" else "")
        if self.verbose:
            print(label)
        else:
            print(label + " ", end="", flush=True)
            self.open_line = True
            self.count = 0

    def mark(self, name: str, passed: bool) -> None:
        self.count += 1
        if self.verbose:
            print(f"  {'PASS' if passed else 'FAIL'} {name}")
        else:
            print("." if passed else "F", end="", flush=True)


def _print_coverage(report: CoverageReport) -> None:
    policy = report.policy
    print(f"coverage: {policy.name} {policy.version} ({report.cases} cases)")
    width = max([len(r.rule) for r in report.rules] + [9])
    print(f"  {'rule':<{width}}  {'effect':<6}  matched  decided")
    for rule in report.rules:
        flag = "" if rule.decided else "  <- never decided"
        print(
            f"  {rule.rule:<{width}}  {rule.effect:<6}  {rule.matched:>7}  {rule.decided:>7}{flag}"
        )
    print(f"  {'(default)':<{width}}  {policy.default.value:<6}  {'-':>7}  {report.default:>7}")
    decided = sum(1 for r in report.rules if r.decided)
    print(f"  {decided}/{len(report.rules)} rules decided a case: {report.percent:.0f}%")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    runner = Runner(invariants=not args.no_invariants, budget=args.budget)
    printer = _Printer(args.verbose)
    failures: list[str] = []
    notes: list[str] = []
    infos: dict[str, str] = {}
    passed = failed = 0
    for event in runner.run(args.paths):
        if isinstance(event, LoadFailure):
            printer.end_line()
            for line in event.lines:
                error(line)
            failed += 1
        elif isinstance(event, FileStarted):
            printer.start(event)
        elif isinstance(event, CaseResult):
            printer.mark(event.case.name, event.passed)
            if event.passed:
                passed += 1
            else:
                failed += 1
                failures.append(format_case_failure(event))
        elif isinstance(event, InvariantOutcome):
            printer.mark(f"invariant {event.result.invariant.id}", event.result.holds)
            stats = event.report.stats
            infos.setdefault(
                event.path,
                f"{event.path}: invariants checked against all {stats.classes:,} classes "
                "of requests"
                if stats.exhaustive
                else f"{event.path}: invariants checked by search",
            )
            notes.extend(n for n in stats.notes if n not in notes)
            if event.result.holds:
                passed += 1
            else:
                failed += 1
                failures.append(format_invariant_failure(event.result, event.engine))
    printer.end_line()
    if failures:
        print("\nFAILURES")
        for text in failures:
            print(text)
            print()
    for info in infos.values():
        print(info)
    for note in notes:
        print(f"warning: {note}")
    status = EXIT_ALLOWED if failed == 0 else EXIT_ERROR
    if args.coverage or args.min_coverage is not None:
        for report in runner.coverage():
            if args.coverage:
                _print_coverage(report)
            if args.min_coverage is not None and report.percent < args.min_coverage:
                error(
                    f"coverage of {report.policy.name} is {report.percent:.0f}%, below "
                    f"--min-coverage {args.min_coverage:g}%"
                )
                status = EXIT_ERROR
    if passed + failed == 0:
        error("nothing to test: no cases and no invariants found")
        status = EXIT_ERROR
    print(f"{passed} passed, {failed} failed in {time.perf_counter() - started:.2f}s")
    sys.stdout.flush()
    return status
