"""The policy language: models, the positioned YAML loader and load-time checks."""

from ._fields import FIELDS, OPERATORS, FieldSpec, Kind, lookup_field, rank
from ._load import DEFAULT_PACK, display_path, load_policy, loads_policy, pack_path, policy_files
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
from ._names import SCHEME, NameList, fold, is_listed, listed_as, name_keys
from ._nodes import NodeReader
from ._yaml import MAX_FILE_BYTES, Node, YamlFailure, parse_yaml

__all__ = [
    "DEFAULT_PACK",
    "FIELDS",
    "MAX_FILE_BYTES",
    "OPERATORS",
    "SCHEME",
    "AllOf",
    "AnyOf",
    "Combine",
    "Cond",
    "Effect",
    "FieldSpec",
    "Invariant",
    "Kind",
    "NameList",
    "Node",
    "NodeReader",
    "NotOf",
    "ObligationSpec",
    "Policy",
    "Rule",
    "Test",
    "YamlFailure",
    "display_path",
    "fold",
    "is_listed",
    "listed_as",
    "load_policy",
    "loads_policy",
    "lookup_field",
    "name_keys",
    "pack_path",
    "parse_yaml",
    "policy_files",
    "rank",
]
