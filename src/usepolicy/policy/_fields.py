"""The request fields a policy may test, their types and the operators that fit them.

This is the only place the policy language knows about the request: the table is
derived from the request's declared shape (``request.REQUEST_SHAPE``), so a field
added, made optional or given other enum values there is tested here the same way
(``tests/policy/test_fields.py``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from ..request import REQUEST_SHAPE, FieldShape, Shape

__all__ = [
    "FIELDS",
    "NOT_EVALUABLE",
    "OPERATORS",
    "SET_OPERATORS",
    "FieldSpec",
    "Kind",
    "lookup_field",
]


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
_LIST = frozenset({"contains", "contains_any", "contains_all", "all_in", "none_in"})

#: every operator of the language, in documentation order
OPERATORS: Final = (
    "eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "under",
    "contains", "contains_any", "contains_all", "all_in", "none_in", "in_list", "matches",
    "exists",
)  # fmt: skip
#: the operators whose operand is a set of values, written inline or as a named list
#: (``{list: NAME}``)
SET_OPERATORS: Final = frozenset(
    {"in", "not_in", "contains_any", "contains_all", "all_in", "none_in"}
)


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


def _spec(field: FieldShape) -> FieldSpec | None:
    """The policy's view of a declared field; None for what a policy cannot test."""
    shape = field.shape
    if shape is Shape.STRING:
        ops = _EQUALITY | {"in_list", "matches"} | ({"exists"} if field.nullable else set())
        return FieldSpec(field.path, Kind.STRING, frozenset(ops), optional=field.nullable)
    if shape is Shape.ENUM:
        ops = _EQUALITY | _ORDER if field.ordered else _EQUALITY
        return FieldSpec(field.path, Kind.ENUM, ops, field.enum)
    if shape is Shape.PURPOSE:
        return FieldSpec(field.path, Kind.PURPOSE, _EQUALITY | {"under", "matches"})
    if shape is Shape.INTEGER:
        return FieldSpec(field.path, Kind.INT, _EQUALITY | _ORDER)
    if shape is Shape.BOOLEAN:
        return FieldSpec(field.path, Kind.BOOL, frozenset({"eq", "ne"}))
    if shape is Shape.ENUM_LIST:
        return FieldSpec(field.path, Kind.CATEGORIES, _LIST, field.enum)
    return None  # objects hold fields; attributes are ``attributes.KEY``; text is not tested


FIELDS: Final[dict[str, FieldSpec]] = {
    spec.path: spec for spec in map(_spec, REQUEST_SHAPE) if spec is not None
}

#: fields that are recorded but never evaluated
NOT_EVALUABLE: Final = frozenset(f.path for f in REQUEST_SHAPE if f.shape is Shape.TEXT)

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
