"""The evaluation engine: compiled policies, decisions and explanations."""

import typing

from ._compile import Pred, compile_cond, getter, members
from ._decision import Decider, Decision, DecisionProblem, DryRun, MatchedRule, Obligation
from ._engine import Engine
from ._explain import Explanation, RuleTrace, describe

__all__ = [
    "Decider",
    "Decision",
    "DecisionProblem",
    "DryRun",
    "Engine",
    "Explanation",
    "MatchedRule",
    "Obligation",
    "Pred",
    "RuleTrace",
    "compile_cond",
    "describe",
    "getter",
    "members",
]

#: old names of data classes that are not exceptions (renamed; the old names still
#: resolve, with a DeprecationWarning)
_RENAMED = {"DecisionError": "DecisionProblem"}


def __getattr__(name: str) -> typing.Any:
    if name not in _RENAMED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import warnings

    new = _RENAMED[name]
    warnings.warn(
        f"{__name__}.{name} is renamed {new} (it is data, not an exception)",
        DeprecationWarning,
        stacklevel=2,
    )
    return globals()[new]
