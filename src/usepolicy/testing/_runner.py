"""Run policy test files and invariant checks; count rule coverage.

``Runner.run(paths)`` yields one event per step (a file that failed to load, a file
started, a case result, an invariant result), so a front end (the CLI, the pytest
plugin) can render progress as it goes. ``format_case_failure`` and
``format_invariant_failure`` give the readable failure text both front ends print.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import PolicyError, RequestError, plural
from .._files import resolved
from ..engine import Decision, Engine, Explanation, describe
from ..policy import (
    AllOf,
    AnyOf,
    Cond,
    Named,
    NotOf,
    Policy,
    Test,
    display_path,
    load_policy,
    policy_files,
)
from ._casefile import CASE_SUFFIXES, Case, _Unchecked, is_case_file, load_case_file
from ._invariants import InvariantReport, InvariantResult, check_invariants
from ._search import DEFAULT_BUDGET, DEFAULT_SAMPLES

__all__ = [
    "CaseResult",
    "CoverageReport",
    "FileStarted",
    "InvariantOutcome",
    "LoadFailure",
    "RuleCoverage",
    "Runner",
    "describe_condition",
    "format_case_failure",
    "format_invariant_failure",
    "format_trace",
    "run_case",
]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """A case's outcome. ``problems`` says what differed (empty when it passed)."""

    case: Case
    decision: Decision | None
    problems: tuple[str, ...]
    explanation: Explanation | None = None

    @property
    def passed(self) -> bool:
        return not self.problems


def run_case(engine: Engine, case: Case) -> CaseResult:
    """Evaluate one case; on a failure the result carries the explain trace."""
    try:
        decision = engine.evaluate(case.request)
    except RequestError as exc:
        return CaseResult(case, None, (f"invalid request: {exc}",))
    expect, problems = case.expect, []
    if decision.effect is not expect.decision:
        problems.append(f"decision: expected {expect.decision.value}, got {decision.effect.value}")
    if not isinstance(expect.rule, _Unchecked) and decision.determining_rule != expect.rule:
        problems.append(
            f"determining rule: expected {expect.rule or 'null (the default)'}, "
            f"got {decision.determining_rule or 'null (the default)'}"
        )
    if not isinstance(expect.obligations, _Unchecked):
        got = sorted(o.id for o in decision.obligations)
        if sorted(expect.obligations) != got:
            problems.append(f"obligations: expected {sorted(expect.obligations)}, got {got}")
    if not isinstance(expect.dryrun, _Unchecked):
        got = sorted(d.id for d in decision.dryrun)
        if sorted(expect.dryrun) != got:
            problems.append(f"dry run would deny: expected {sorted(expect.dryrun)}, got {got}")
    if not problems:
        return CaseResult(case, decision, ())
    return CaseResult(case, decision, tuple(problems), engine.explain(case.request))


def _verdict(decision: Decision) -> str:
    if decision.errors:
        return f"{decision.effect.value} (evaluation failed)"
    rule = decision.determining_rule
    text = f"{decision.effect.value} by " + (f"rule {rule}" if rule else "default")
    if decision.obligations:
        text += f" with obligations [{', '.join(o.id for o in decision.obligations)}]"
    if decision.dryrun:
        text += f", dry run would deny [{', '.join(d.id for d in decision.dryrun)}]"
    return text


def format_trace(explanation: Explanation, indent: str = "  ") -> list[str]:
    """The explain trace, a line per rule: ``+`` matched (with the tests that settled
    it, indented below), ``-`` why not, ``!`` error."""
    lines: list[str] = []
    for trace in explanation.rules:
        lines.extend(f"{indent}{line}" for line in trace.lines())
    for err in explanation.decision.errors:
        lines.append(f"{indent}! evaluation error: {err.code}: {err.message}")
    return lines


def _compact(request: Any) -> str:
    return json.dumps(request, ensure_ascii=False, separators=(", ", ": "))


def format_case_failure(result: CaseResult) -> str:
    """Expected vs got, the request and the explain trace, as lines of text."""
    case = result.case
    lines = [f"{case.path}:{case.line}:{case.col}: case `{case.name}`"]
    lines.append(f"  expected: {case.expect.describe()}")
    if result.decision is not None:
        lines.append(f"  got:      {_verdict(result.decision)}")
    lines.extend(f"  {problem}" for problem in result.problems if result.decision is not None)
    if result.decision is None:
        lines.extend(f"  {problem}" for problem in result.problems)
    lines.append(f"  request:  {_compact(case.request)}")
    if result.explanation is not None:
        lines.append("  trace:")
        lines.extend(format_trace(result.explanation, "    "))
    return "\n".join(lines)


def format_invariant_failure(result: InvariantResult, engine: Engine) -> str:
    """The invariant, the simplest violating request as JSON, and its trace."""
    inv = result.invariant
    assert result.violation is not None
    assert result.decision is not None
    lines = [
        f"{inv.source}:{inv.line}:{inv.col}: invariant `{inv.id}` is violated: "
        f"never {inv.never.value}" + (f" when {describe_condition(inv.when)}" if inv.when else ""),
        f"  {_verdict(result.decision)}; {plural(result.violations, 'class')} of requests "
        "violate it, for example:",
        f"  {_compact(result.violation)}",
        "  trace:",
        *format_trace(engine.explain(result.violation), "    "),
    ]
    return "\n".join(lines)


def describe_condition(cond: Cond) -> str:
    """A condition in words: ``autonomy.level == "fully_autonomous" and (...)``."""
    if isinstance(cond, Test):
        return describe(cond)
    if isinstance(cond, Named):
        return f"{cond.name} ({describe_condition(cond.cond)})"
    if isinstance(cond, NotOf):
        return f"not ({describe_condition(cond.item)})"
    assert isinstance(cond, (AllOf, AnyOf))
    joiner = " and " if isinstance(cond, AllOf) else " or "
    parts = [
        f"({describe_condition(item)})"
        if isinstance(item, (AllOf, AnyOf))
        else describe_condition(item)
        for item in cond.items
    ]
    return joiner.join(parts)


# -- coverage --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RuleCoverage:
    """How many cases a rule matched, and how many it decided."""

    rule: str
    effect: str
    matched: int
    decided: int


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Per-rule counts over every case run against one policy."""

    policy: Policy
    cases: int
    rules: tuple[RuleCoverage, ...]
    default: int

    @property
    def percent(self) -> float:
        """The share of rules that decided at least one case."""
        if not self.rules:
            return 100.0
        return 100.0 * sum(1 for r in self.rules if r.decided) / len(self.rules)


# -- running files ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LoadFailure:
    """A test file or policy that could not be loaded (counts as one failure)."""

    path: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileStarted:
    """A test file (``kind == "cases"``) or a policy's invariants begin."""

    path: str
    kind: str
    count: int


@dataclass(frozen=True, slots=True)
class InvariantOutcome:
    """One invariant's result, with the report it belongs to."""

    path: str
    result: InvariantResult
    report: InvariantReport
    engine: Engine


Event = LoadFailure | FileStarted | CaseResult | InvariantOutcome


def _diag_lines(exc: PolicyError) -> tuple[str, ...]:
    return tuple(f"{d}; hint: {d.hint}" if d.hint else str(d) for d in exc.diagnostics)


@dataclass
class Runner:
    """Runs test files and invariant checks over paths (files or folders).

    A test file runs its cases and then the invariants of its policy; a policy file
    (not a test file) has its invariants checked. A folder contributes its test
    files (recursively) and the policy files beside them that no test file covers.
    """

    invariants: bool = True
    budget: int = DEFAULT_BUDGET
    samples: int = DEFAULT_SAMPLES
    _policies: dict[tuple[Path, ...], Policy] = field(default_factory=dict)
    _checked: set[tuple[Path, ...]] = field(default_factory=set)
    _coverage: dict[tuple[Path, ...], tuple[Policy, Counter[str], Counter[str], list[int]]] = field(
        default_factory=dict
    )

    def _discover(self, paths: Sequence[str | os.PathLike[str]]) -> list[tuple[str, Path]]:
        found: list[tuple[str, Path]] = []
        for item in paths:
            path = Path(item)
            if os.path.isdir(path):  # never raises; Path.is_dir does on a long name
                try:
                    tests = sorted(p for p in path.rglob("*") if p.name.endswith(CASE_SUFFIXES))
                    policies = policy_files(path)
                except OSError:  # a folder that cannot be listed: loading it says why
                    found.append(("invariants", path))
                    continue
                found += [("cases", p) for p in tests]
                found += [("invariants", p) for p in policies]
                if not tests and not policies:
                    found.append(("empty", path))
            else:
                found.append(("cases" if is_case_file(path) else "invariants", path))
        return found

    def _load(self, files: tuple[Path, ...]) -> Policy:
        key = tuple(resolved(p) for p in files)
        if key not in self._policies:
            self._policies[key] = load_policy(list(files))
        return self._policies[key]

    def run(self, paths: Sequence[str | os.PathLike[str]]) -> Iterator[Event]:
        """Run everything the paths name, yielding events as it goes."""
        targets = self._discover(paths)
        covered: set[Path] = set()
        for kind, path in targets:
            if kind == "cases":
                with contextlib.suppress(PolicyError):
                    covered.update(resolved(p) for p in load_case_file(path).policies)
        for kind, path in targets:
            if kind == "empty":
                yield LoadFailure(
                    display_path(path), (f"{display_path(path)}: no test files or policies",)
                )
            elif kind == "cases":
                yield from self._cases(path)
            elif resolved(path) not in covered or path in [Path(p) for p in paths]:
                yield from self._invariants((path,), display_path(path))

    def _cases(self, path: Path) -> Iterator[Event]:
        try:
            casefile = load_case_file(path)
            policy = self._load(casefile.policies)
        except PolicyError as exc:
            yield LoadFailure(display_path(path), _diag_lines(exc))
            return
        engine = Engine(policy)
        key = tuple(resolved(p) for p in casefile.policies)
        _, matched, decided, total = self._coverage.setdefault(
            key, (policy, Counter(), Counter(), [0])
        )
        yield FileStarted(casefile.path, "cases", len(casefile.cases))
        for case in casefile.cases:
            result = run_case(engine, case)
            decision = result.decision
            if decision is not None:
                total[0] += 1
                matched.update(m.id for m in decision.matched_rules)
                if not decision.errors:  # an evaluation error is not the default deciding
                    decided[decision.determining_rule or ""] += 1
                # a dry-run rule is covered by the cases it would have decided
                shadow = [d.id for d in decision.dryrun if d.error is None]
                matched.update(shadow)
                decided.update(shadow)
            yield result
        if self.invariants:
            yield from self._invariants(casefile.policies, casefile.path)

    def _invariants(self, files: tuple[Path, ...], label: str) -> Iterator[Event]:
        key = tuple(resolved(p) for p in files)
        if key in self._checked:
            return
        self._checked.add(key)
        try:
            policy = self._load(files)
        except PolicyError as exc:
            yield LoadFailure(label, _diag_lines(exc))
            return
        if not policy.invariants:
            return
        where = ", ".join(display_path(p) for p in files)
        yield FileStarted(where, "invariants", len(policy.invariants))
        report = check_invariants(policy, budget=self.budget, samples=self.samples)
        engine = Engine(policy)
        for result in report.results:
            yield InvariantOutcome(where, result, report, engine)

    def coverage(self) -> list[CoverageReport]:
        """Rule coverage per policy over the cases run so far."""
        reports = []
        for policy, matched, decided, total in self._coverage.values():
            rules = tuple(
                RuleCoverage(r.id, r.effect.value, matched[r.id], decided[r.id])
                for r in policy.rules
            )
            reports.append(CoverageReport(policy, total[0], rules, decided[""]))
        return reports
