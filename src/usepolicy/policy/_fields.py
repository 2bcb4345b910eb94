"""The request fields a policy may test, their types and the operators that fit them.

This is the only place the policy language knows about the request model: a test
(``tests/policy/test_fields.py``) checks that it covers every field of ``UseRequest``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from ..request._enums import (
    AutonomyLevel,
    Category,
    Classification,
    LegalAuthority,
    Network,
    Provenance,
    Subjects,
)

__all__ = ["FIELDS", "NOT_EVALUABLE", "OPERATORS", "FieldSpec", "Kind", "lookup_field"]


class Kind(enum.Enum):
    ENUM = "enum"
    PURPOSE = "purpose"
    STRING = "string"
    INT = "integer"
    BOOL = "boolean"
    CATEGORIES = "list of categories"
    ATTRIBUTE = "attribute"


_EQUALITY = frozenset({"eq", "ne", "in", "not_in"})
_ORDER = frozenset({"lt", "lte", "gt", "gte"})
_LIST = frozenset({"contains", "contains_any", "contains_all"})

#: every operator of the language, in documentation order
OPERATORS: Final = (
    "eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "under",
    "contains", "contains_any", "contains_all", "in_list", "matches", "exists",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A testable request field: its path, kind and the operators that fit it."""

    path: str
    kind: Kind
    operators: frozenset[str]
    enum: type[enum.StrEnum] | None = None
    optional: bool = False

    @property
    def ordered(self) -> bool:
        return self.kind is Kind.ENUM and "lt" in self.operators


def _enum(path: str, cls: type[enum.StrEnum], ordered: bool = False) -> FieldSpec:
    ops = _EQUALITY | _ORDER if ordered else _EQUALITY
    return FieldSpec(path, Kind.ENUM, ops, cls)


def _string(path: str, optional: bool) -> FieldSpec:
    ops = _EQUALITY | {"in_list", "matches"} | ({"exists"} if optional else set())
    return FieldSpec(path, Kind.STRING, frozenset(ops), optional=optional)


FIELDS: Final[dict[str, FieldSpec]] = {
    spec.path: spec
    for spec in (
        _string("request_id", optional=True),
        _string("requester.organization", optional=False),
        _string("requester.country", optional=True),
        _string("requester.entity_id", optional=True),
        _string("model", optional=True),
        FieldSpec("purpose", Kind.PURPOSE, _EQUALITY | {"under", "matches"}),
        _enum("data.subjects", Subjects),
        _enum("data.provenance", Provenance),
        FieldSpec("data.subject_count", Kind.INT, _EQUALITY | _ORDER),
        FieldSpec("data.categories", Kind.CATEGORIES, _LIST, Category),
        _enum("data.legal_authority", LegalAuthority),
        _enum("autonomy.level", AutonomyLevel),
        FieldSpec("autonomy.lethal", Kind.BOOL, frozenset({"eq", "ne"})),
        _enum("environment.network", Network),
        _enum("environment.classification", Classification, ordered=True),
    )
}

#: fields that are recorded but never evaluated
NOT_EVALUABLE: Final = frozenset({"description"})

_ATTRIBUTE_OPERATORS: Final = frozenset(OPERATORS)


def lookup_field(path: str) -> FieldSpec | None:
    """The spec for a field path, including ``attributes.KEY``; None if unknown."""
    spec = FIELDS.get(path)
    if spec is not None:
        return spec
    if path.startswith("attributes.") and len(path) > len("attributes."):
        return FieldSpec(path, Kind.ATTRIBUTE, _ATTRIBUTE_OPERATORS, optional=True)
    return None


#: ordered enums rank their members in declaration order (lowest first)
def rank(cls: type[enum.StrEnum]) -> dict[str, int]:
    return {member.value: i for i, member in enumerate(cls)}
