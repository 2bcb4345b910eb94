"""The ``usepolicy`` pytest plugin (registered through the ``pytest11`` entry point).

- Collects policy test files (``*.test.yaml``) as pytest items, one per case and
  one per invariant of the policy under test: ``pytest policies/`` runs them, with
  expected vs got and the explain trace on failure. Turn collection off with the ini
  option ``usepolicy_collect = false`` (or ``-p no:usepolicy``).
- Fixtures ``usepolicy_policy`` (the reference pack, or the ini option
  ``usepolicy_policy``, or ``@pytest.mark.usepolicy_policy("path", ...)`` with paths
  relative to the test file) and ``usepolicy_engine``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .._errors import PolicyError
from .._files import resolved
from ..engine import Engine
from ..policy import Policy, load_policy, resolve_source
from ._casefile import Case, is_case_file, load_case_file
from ._invariants import InvariantReport, check_invariants
from ._runner import CaseResult, format_case_failure, format_invariant_failure, run_case

__all__ = [
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_configure",
    "usepolicy_engine",
    "usepolicy_policy",
]

_POLICIES = pytest.StashKey[dict[tuple[str, ...], Policy]]()
_ENGINES = pytest.StashKey[dict[str, Engine]]()
_REPORTS = pytest.StashKey[dict[str, InvariantReport]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "usepolicy_policy",
        "policy files or folders the usepolicy_policy fixture loads, relative to this file, "
        "or pack:NAME (default: the reference pack)",
        type="args",
        default=[],
    )
    parser.addini(
        "usepolicy_collect", "collect policy test files (*.test.yaml)", type="bool", default=True
    )
    parser.addini(
        "usepolicy_invariants",
        "check the invariants of the policies that collected test files name",
        type="bool",
        default=True,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "usepolicy_policy(*paths): the policy files or folders (relative to the test "
        "file, or pack:NAME) that the usepolicy_policy fixture loads",
    )
    config.stash[_POLICIES] = {}
    config.stash[_ENGINES] = {}
    config.stash[_REPORTS] = {}


def _sources(base: Path, names: list[str]) -> list[str | Path]:
    """Policy paths relative to ``base``; ``pack:NAME`` stays a name (load_policy reads
    it, and names the closest pack when there is no such one)."""
    return [name if name.startswith("pack:") else base / name for name in names]


def _policy(config: pytest.Config, paths: list[str | Path]) -> Policy:
    key = tuple(str(resolved(resolve_source(Path(), os.fspath(p)))) for p in paths)
    cache = config.stash[_POLICIES]
    if key not in cache:
        cache[key] = load_policy(paths or None)
    return cache[key]


def _engine(config: pytest.Config, policy: Policy) -> Engine:
    cache = config.stash[_ENGINES]
    key = f"{policy.digest}:{id(policy)}"
    if key not in cache:
        cache[key] = Engine(policy)
    return cache[key]


def _diagnostics(exc: PolicyError) -> str:
    return "\n".join(f"{d}; hint: {d.hint}" if d.hint else str(d) for d in exc.diagnostics)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_case_file(file_path) and parent.config.getini("usepolicy_collect"):
        collector: pytest.Collector = PolicyTestFile.from_parent(parent, path=file_path)
        return collector
    return None


class PolicyTestFile(pytest.File):
    """A policy test file: its cases, then the invariants of its policy."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            casefile = load_case_file(self.path)
            policy = _policy(self.config, list(casefile.policies))
        except PolicyError as exc:
            raise self.CollectError(_diagnostics(exc)) from None
        engine = _engine(self.config, policy)
        for case in casefile.cases:
            name = case.name.replace("::", ": :")
            yield CaseItem.from_parent(self, name=name, case=case, engine=engine)
        if self.config.getini("usepolicy_invariants"):
            for index, inv in enumerate(policy.invariants):
                yield InvariantItem.from_parent(
                    self, name=f"invariant {inv.id}", engine=engine, index=index
                )


class _Failed(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class CaseItem(pytest.Item):
    """One case of a policy test file."""

    def __init__(self, *, case: Case, engine: Engine, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.engine = engine
        self.result: CaseResult | None = None

    def runtest(self) -> None:
        self.result = run_case(self.engine, self.case)
        if not self.result.passed:
            raise _Failed(format_case_failure(self.result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, _Failed):
            return excinfo.value.text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"usepolicy case: {self.case.name}"


class InvariantItem(pytest.Item):
    """One invariant of the policy under test, checked over every class of requests."""

    def __init__(self, *, engine: Engine, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.index = index

    def runtest(self) -> None:
        policy = self.engine.policy
        reports = self.config.stash[_REPORTS]
        key = f"{policy.digest}:{id(policy)}"
        if key not in reports:
            reports[key] = check_invariants(policy)
        report = reports[key]
        result = report.results[self.index]
        if not result.holds:
            raise _Failed(format_invariant_failure(result, self.engine))
        for note in report.stats.notes:
            self.add_report_section("call", "usepolicy", note)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, _Failed):
            return excinfo.value.text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        inv = self.engine.policy.invariants[self.index]
        return self.path, 0, f"usepolicy invariant: {inv.id}"


@pytest.fixture
def usepolicy_policy(request: pytest.FixtureRequest) -> Policy:
    """The policy under test: marker paths, else the ini option, else the reference pack."""
    marker = request.node.get_closest_marker("usepolicy_policy")
    if marker is not None and marker.args:
        paths = _sources(Path(str(request.node.path)).parent, [str(a) for a in marker.args])
    else:
        config = request.config
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        paths = _sources(base, config.getini("usepolicy_policy"))
    try:
        return _policy(request.config, paths)
    except PolicyError as exc:
        pytest.fail(_diagnostics(exc), pytrace=False)


@pytest.fixture
def usepolicy_engine(request: pytest.FixtureRequest, usepolicy_policy: Policy) -> Engine:
    """An ``Engine`` over ``usepolicy_policy`` (compiled once per session)."""
    return _engine(request.config, usepolicy_policy)
