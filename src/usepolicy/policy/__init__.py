"""The policy language: models, the positioned YAML loader and load-time checks."""

from ._fields import FIELDS, OPERATORS, FieldSpec, Kind, lookup_field
from ._load import DEFAULT_PACK, load_policy, loads_policy, pack_path, policy_files
from ._model import (
    AllOf,
    AnyOf,
    Combine,
    Cond,
    Effect,
    Invariant,
    NotOf,
    ObligationSpec,
    Policy,
    Rule,
    Test,
)

__all__ = [
    "DEFAULT_PACK",
    "FIELDS",
    "OPERATORS",
    "AllOf",
    "AnyOf",
    "Combine",
    "Cond",
    "Effect",
    "FieldSpec",
    "Invariant",
    "Kind",
    "NotOf",
    "ObligationSpec",
    "Policy",
    "Rule",
    "Test",
    "load_policy",
    "loads_policy",
    "lookup_field",
    "pack_path",
    "policy_files",
]
