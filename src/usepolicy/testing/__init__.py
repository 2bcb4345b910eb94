"""The policy-author kit: test files, invariants, coverage, semantic diff, lint, and
helpers for pytest and hypothesis.

Checks that need no test framework::

    from usepolicy import load_policy
    from usepolicy.testing import check_invariants, diff_policies, lint_policy

    report = check_invariants(load_policy())          # every class of requests
    assert report.holds

In pytest (the ``usepolicy`` plugin is registered on install)::

    from usepolicy.testing import assert_allowed, assert_denied

    def test_loitering_munition(usepolicy_engine):
        assert_denied({...}, engine=usepolicy_engine, rule="no-fully-autonomous-weapons")

Hypothesis strategies (``requests``, ``policies``, ``policy_texts``) need the test
extra: ``pip install 'usepolicy[test]'``.

(PYTEST_DONT_REWRITE: pytest rewrites the asserts of a plugin's package; this module
has none and keeps its namespace exactly ``__all__``.)
"""

from __future__ import annotations

import typing

from ._asserts import ANY_RULE, assert_allowed, assert_denied
from ._casefile import UNCHECKED, Case, CaseFile, Expect, is_case_file, load_case_file
from ._diff import Change, DiffReport, Side, diff_policies
from ._invariants import InvariantReport, InvariantResult, check_invariants
from ._lint import LintWarning, lint_policy
from ._partition import Partition
from ._runner import (
    CaseResult,
    CoverageReport,
    FileStarted,
    InvariantOutcome,
    LoadFailure,
    RuleCoverage,
    Runner,
    format_case_failure,
    format_invariant_failure,
    format_trace,
    run_case,
)
from ._search import DEFAULT_BUDGET, DEFAULT_SAMPLES, SearchStats

if typing.TYPE_CHECKING:
    from ._strategies import policies, policy_texts, requests

__all__ = [
    "ANY_RULE",
    "DEFAULT_BUDGET",
    "DEFAULT_SAMPLES",
    "UNCHECKED",
    "Case",
    "CaseFile",
    "CaseResult",
    "Change",
    "CoverageReport",
    "DiffReport",
    "Expect",
    "FileStarted",
    "InvariantOutcome",
    "InvariantReport",
    "InvariantResult",
    "LintWarning",
    "LoadFailure",
    "Partition",
    "RuleCoverage",
    "Runner",
    "SearchStats",
    "Side",
    "assert_allowed",
    "assert_denied",
    "check_invariants",
    "diff_policies",
    "format_case_failure",
    "format_invariant_failure",
    "format_trace",
    "is_case_file",
    "lint_policy",
    "load_case_file",
    "policies",
    "policy_texts",
    "requests",
    "run_case",
]

_STRATEGIES = frozenset({"policies", "policy_texts", "requests"})


def __getattr__(name: str) -> typing.Any:
    # strategies import hypothesis, a test dependency: only when they are asked for
    if name in _STRATEGIES:
        from . import _strategies

        return getattr(_strategies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
