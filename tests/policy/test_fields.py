"""The policy language's field table is derived from the request's declared shape:
every field a policy can test, with the kind, optionality, enum and operators the
shape implies; nothing else."""

from __future__ import annotations

import pytest

from usepolicy.policy import FIELDS, OPERATORS, Kind, lookup_field
from usepolicy.policy._fields import NOT_EVALUABLE
from usepolicy.request import REQUEST_SHAPE, FieldShape, Shape

_KINDS = {
    Shape.STRING: Kind.STRING,
    Shape.PURPOSE: Kind.PURPOSE,
    Shape.ENUM: Kind.ENUM,
    Shape.ENUM_LIST: Kind.CATEGORIES,
    Shape.INTEGER: Kind.INT,
    Shape.BOOLEAN: Kind.BOOL,
}


@pytest.mark.parametrize("field", REQUEST_SHAPE, ids=lambda f: f.path)
def test_the_field_table_follows_the_shape(field: FieldShape) -> None:
    spec = FIELDS.get(field.path)
    if field.shape not in _KINDS:
        assert spec is None  # objects, free text and attributes (``attributes.KEY``)
        return
    assert spec is not None
    assert spec.kind is _KINDS[field.shape]
    assert spec.optional is field.nullable
    assert spec.enum is field.enum
    assert spec.ordered is field.ordered
    assert ("exists" in spec.operators) is field.nullable
    assert spec.operators <= set(OPERATORS)


def test_the_table_holds_every_testable_field_in_request_order() -> None:
    assert list(FIELDS) == [f.path for f in REQUEST_SHAPE if f.shape in _KINDS]
    assert {"description"} == NOT_EVALUABLE


def test_attributes_are_looked_up_by_key() -> None:
    spec = lookup_field("attributes.tier")
    assert spec is not None
    assert (spec.kind, spec.optional, spec.operators) == (Kind.ATTRIBUTE, True, set(OPERATORS))
    assert lookup_field("attributes.") is None
    assert lookup_field("data.nothing") is None
