"""The evaluation engine: compiled policies, decisions and explanations."""

from ._decision import Decider, Decision, DecisionError, MatchedRule, Obligation
from ._engine import Engine
from ._explain import Explanation, RuleTrace

__all__ = [
    "Decider",
    "Decision",
    "DecisionError",
    "Engine",
    "Explanation",
    "MatchedRule",
    "Obligation",
    "RuleTrace",
]
