"""The request's shape, declared once: every field, its type, optionality, default and
limits (DESIGN.md section 1).

What is derived from it: the public field order (``FIELD_ORDER``), the field table of
the policy language (``policy.FIELDS``), and the request strategy of the testing kit
(``usepolicy.testing.requests``, boundary values included). What is written out again
by hand, and why: the pydantic model (``_model``: the public classes people import,
read and type-check) and the msgspec mirror (``_fast``: the hot path, whose classes
must be plain for speed). ``tests/request/test_shape.py`` compares both with this
declaration field by field (types, optionality, defaults, limits, enum values), and
the JSON Schema too, so an edit to any of them fails until the others follow.

Free of pydantic and msgspec: the policy loader and a cold ``usepolicy check`` read it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from ._enums import (
    ATTRIBUTE_KEY_PATTERN,
    COUNTRY_PATTERN,
    LIMITS,
    AutonomyLevel,
    Category,
    Classification,
    LegalAuthority,
    Network,
    Provenance,
    Subjects,
)
from ._vocabulary import PURPOSE_PATTERN

__all__ = ["FIELD_ORDER", "REQUEST_SHAPE", "FieldShape", "Shape", "field_shape"]


class Shape(enum.Enum):
    """What a field holds."""

    OBJECT = "object"  # a nested part: its fields follow it in ``REQUEST_SHAPE``
    STRING = "string"  # a name or id: policies test it
    TEXT = "text"  # free text: recorded, never evaluated
    PURPOSE = "purpose"  # a dotted name from the vocabulary
    ENUM = "enum"
    ENUM_LIST = "enum-list"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ATTRIBUTES = "attributes"  # string keys to string, number, boolean or list of strings


@dataclass(frozen=True, slots=True)
class FieldShape:
    """One request field.

    ``required``: must be given. ``nullable``: may be absent or null (its default is
    null). Otherwise an absent field takes ``default``, a JSON value (``[]`` and ``{}``
    are fresh per request; an object takes the defaults of its fields).
    """

    path: str
    shape: Shape
    required: bool = False
    nullable: bool = False
    default: object = None
    enum: type[enum.StrEnum] | None = None
    ordered: bool = False  # lt/lte/gt/gte apply (members lowest first)
    min_length: int | None = None
    max_length: int | None = None  # characters of a string; items of a list or mapping
    ge: int | None = None
    le: int | None = None
    pattern: str | None = None  # unanchored: matched against the whole value

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def parent(self) -> str:
        return self.path.rpartition(".")[0]


def _name(path: str, *, required: bool = False) -> FieldShape:
    return FieldShape(
        path,
        Shape.STRING,
        required=required,
        nullable=not required,
        min_length=1,
        max_length=LIMITS.max_name,
    )


def _enum(path: str, cls: type[enum.StrEnum], default: enum.StrEnum) -> FieldShape:
    return FieldShape(path, Shape.ENUM, default=default, enum=cls, ordered=cls is Classification)


REQUEST_SHAPE: Final[tuple[FieldShape, ...]] = (
    FieldShape(
        "request_id",
        Shape.STRING,
        nullable=True,
        min_length=1,
        max_length=LIMITS.max_request_id,
    ),
    FieldShape("requester", Shape.OBJECT, required=True),
    _name("requester.organization", required=True),
    FieldShape("requester.country", Shape.STRING, nullable=True, pattern=COUNTRY_PATTERN),
    _name("requester.entity_id"),
    _name("model"),
    FieldShape(
        "purpose",
        Shape.PURPOSE,
        required=True,
        max_length=LIMITS.max_purpose,
        pattern=PURPOSE_PATTERN.removeprefix("^").removesuffix("$"),
    ),
    FieldShape("description", Shape.TEXT, nullable=True, max_length=LIMITS.max_description),
    FieldShape("data", Shape.OBJECT),
    _enum("data.subjects", Subjects, Subjects.NONE),
    _enum("data.provenance", Provenance, Provenance.NONE),
    FieldShape("data.subject_count", Shape.INTEGER, default=0, ge=0, le=LIMITS.max_subject_count),
    FieldShape(
        "data.categories",
        Shape.ENUM_LIST,
        default=[],
        enum=Category,
        max_length=LIMITS.max_categories,
    ),
    _enum("data.legal_authority", LegalAuthority, LegalAuthority.NONE),
    FieldShape("autonomy", Shape.OBJECT),
    _enum("autonomy.level", AutonomyLevel, AutonomyLevel.NONE),
    FieldShape("autonomy.lethal", Shape.BOOLEAN, default=False),
    FieldShape("environment", Shape.OBJECT),
    _enum("environment.network", Network, Network.INTERNET),
    _enum("environment.classification", Classification, Classification.UNCLASSIFIED),
    FieldShape(
        "attributes",
        Shape.ATTRIBUTES,
        default={},
        max_length=LIMITS.max_attributes,
        pattern=ATTRIBUTE_KEY_PATTERN,  # of the keys
    ),
)

_BY_PATH: Final = {field.path: field for field in REQUEST_SHAPE}

#: the public model's field order, for records that read like DESIGN.md section 1
FIELD_ORDER: Final = tuple(f.name for f in REQUEST_SHAPE if not f.parent)


def field_shape(path: str) -> FieldShape | None:
    """The declared field at a dotted ``path`` (not ``attributes.KEY``), or None."""
    return _BY_PATH.get(path)
