"""usepolicy: check every requested use of an AI model against a declarative policy.

Quick start::

    import usepolicy

    engine = usepolicy.Engine(usepolicy.load_policy())   # the reference pack
    decision = engine.evaluate({"requester": {"organization": "Army Intelligence Center"},
                                "purpose": "intelligence.foreign"})
    decision.allowed, decision.determining_rule, decision.record()

(PYTEST_DONT_REWRITE: usepolicy ships a pytest plugin, so pytest rewrites the asserts
of this package; this module has none and keeps its namespace exactly ``__all__``.)
"""

import typing

from ._errors import (
    AuditError,
    BackendError,
    Diagnostic,
    EvaluationError,
    FieldProblem,
    PolicyError,
    RequestError,
    UsePolicyError,
)
from ._version import __version__
from .engine import (
    Decision,
    DecisionProblem,
    Engine,
    Explanation,
    MatchedRule,
    Obligation,
    RuleTrace,
)
from .policy import Combine, Effect, Policy, load_policy, loads_policy
from .record import UseDenied
from .request import (
    STANDARD_PURPOSES,
    AutonomyLevel,
    Category,
    Classification,
    LegalAuthority,
    Network,
    Provenance,
    Subjects,
    Vocabulary,
)

if typing.TYPE_CHECKING:
    from ._enforcer import Enforcement, Enforcer
    from .audit import AuditLog, MemorySink, Sink
    from .record import DecisionRecord
    from .request import Autonomy, Data, Environment, Requester, UseRequest

# Loaded on first use (PEP 562): they pull in pydantic and the audit machinery, which
# a cold `usepolicy check` and a gateway that only evaluates never need.
_LAZY = {
    "Enforcer": "._enforcer",
    "Enforcement": "._enforcer",
    "DecisionRecord": ".record",
    "Autonomy": ".request",
    "Data": ".request",
    "Environment": ".request",
    "Requester": ".request",
    "UseRequest": ".request",
    "AuditLog": ".audit",
    "MemorySink": ".audit",
    "Sink": ".audit",
}


#: old names of data classes that are not exceptions (renamed; the old names still
#: resolve, with a DeprecationWarning)
_RENAMED = {"FieldError": "FieldProblem", "DecisionError": "DecisionProblem"}


def _renamed(module: str, name: str) -> typing.Any:
    import warnings

    new = _RENAMED[name]
    warnings.warn(
        f"{module}.{name} is renamed {new} (it is data, not an exception)",
        DeprecationWarning,
        stacklevel=3,
    )
    return globals()[new]


def __getattr__(name: str) -> typing.Any:
    if name in _RENAMED:
        return _renamed(__name__, name)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'usepolicy' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "STANDARD_PURPOSES",
    "AuditError",
    "AuditLog",
    "Autonomy",
    "AutonomyLevel",
    "BackendError",
    "Category",
    "Classification",
    "Combine",
    "Data",
    "Decision",
    "DecisionProblem",
    "DecisionRecord",
    "Diagnostic",
    "Effect",
    "Enforcement",
    "Enforcer",
    "Engine",
    "Environment",
    "EvaluationError",
    "Explanation",
    "FieldProblem",
    "LegalAuthority",
    "MatchedRule",
    "MemorySink",
    "Network",
    "Obligation",
    "Policy",
    "PolicyError",
    "Provenance",
    "RequestError",
    "Requester",
    "RuleTrace",
    "Sink",
    "Subjects",
    "UseDenied",
    "UsePolicyError",
    "UseRequest",
    "Vocabulary",
    "__version__",
    "load_policy",
    "loads_policy",
]
