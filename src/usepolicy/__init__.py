"""usepolicy: check every requested use of an AI model against a declarative policy.

Quick start::

    import usepolicy

    engine = usepolicy.Engine(usepolicy.load_policy())   # the reference pack
    decision = engine.evaluate({"requester": {"organization": "Army Intelligence Center"},
                                "purpose": "intelligence.foreign"})
    decision.allowed, decision.determining_rule, decision.record()
"""

from ._errors import (
    AuditError,
    BackendError,
    Diagnostic,
    EvaluationError,
    FieldError,
    PolicyError,
    RequestError,
    UsePolicyError,
)
from ._record import DecisionRecord
from ._request import (
    Autonomy,
    AutonomyLevel,
    Category,
    Classification,
    Data,
    Environment,
    LegalAuthority,
    Network,
    Provenance,
    Requester,
    Subjects,
    UseRequest,
)
from ._version import __version__
from ._vocabulary import STANDARD_PURPOSES, Vocabulary
from .engine import (
    Decision,
    DecisionError,
    Engine,
    Explanation,
    MatchedRule,
    Obligation,
    RuleTrace,
)
from .policy import Combine, Effect, Policy, load_policy, loads_policy

__all__ = [
    "STANDARD_PURPOSES",
    "AuditError",
    "Autonomy",
    "AutonomyLevel",
    "BackendError",
    "Category",
    "Classification",
    "Combine",
    "Data",
    "Decision",
    "DecisionError",
    "DecisionRecord",
    "Diagnostic",
    "Effect",
    "Engine",
    "Environment",
    "EvaluationError",
    "Explanation",
    "FieldError",
    "LegalAuthority",
    "MatchedRule",
    "Network",
    "Obligation",
    "Policy",
    "PolicyError",
    "Provenance",
    "RequestError",
    "Requester",
    "RuleTrace",
    "Subjects",
    "UsePolicyError",
    "UseRequest",
    "Vocabulary",
    "__version__",
    "load_policy",
    "loads_policy",
]
