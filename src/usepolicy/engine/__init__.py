"""The evaluation engine: compiled policies, decisions and explanations."""

from ._compile import Pred, compile_cond, getter
from ._decision import Decider, Decision, DecisionError, MatchedRule, Obligation
from ._engine import Engine
from ._explain import Explanation, RuleTrace, describe

__all__ = [
    "Decider",
    "Decision",
    "DecisionError",
    "Engine",
    "Explanation",
    "MatchedRule",
    "Obligation",
    "Pred",
    "RuleTrace",
    "compile_cond",
    "describe",
    "getter",
]
