"""The request's declared shape (``REQUEST_SHAPE``) against every form written out from
it by hand: the pydantic model (through its JSON Schema, which is what ``usepolicy
schema`` prints) and the msgspec mirror of the hot path. (The policy language's field
table is derived from it: ``tests/policy/test_fields.py``.)

Two ways: structurally (each field's type, optionality, default, limits and enum
values, read from the schema and from ``msgspec.inspect``), and by behaviour (probes
built from the declared limits, each one just inside or just outside, must get the
declared verdict from the model and from the msgspec path on its own, without the
model it falls back to). Editing one form alone fails here.
"""

from __future__ import annotations

import copy
import enum
from typing import Any

import msgspec
import msgspec.inspect as mi
import pydantic
import pytest

from usepolicy.request import (
    ATTRIBUTE_KEY_PATTERN,
    FIELD_ORDER,
    LIMITS,
    REQUEST_SHAPE,
    STANDARD_VOCABULARY,
    FieldShape,
    Shape,
    UseRequest,
    Vocabulary,
    _fast,
    request_to_builtins,
    validate_request,
)

MINIMAL: dict[str, Any] = {"requester": {"organization": "Acme"}, "purpose": "cyber.defense"}
LONGEST_PURPOSE = "a" * LIMITS.max_purpose
VOCABULARY = Vocabulary({LONGEST_PURPOSE: "the longest purpose name there may be"})

#: what the msgspec mirror leaves to the Python checks after it (checked by the probes):
#: the country and attribute-key patterns, and the purpose, which must be in the
#: vocabulary (whose names are all purpose names: ``Vocabulary`` refuses others)
CHECKED_AFTER_MSGSPEC = {
    ("requester.country", "pattern"),
    ("purpose", "pattern"),
    ("purpose", "max_length"),
    ("attributes", "pattern"),
}


def _described(field: FieldShape) -> dict[str, Any]:
    """A field as the declaration says it, in the terms the forms are read in."""
    default: Any = field.default
    if isinstance(default, enum.Enum):
        default = default.value
    out = {
        "type": {
            Shape.TEXT: "string",
            Shape.PURPOSE: "string",
            Shape.ENUM: "enum",
            Shape.ENUM_LIST: "list",
            Shape.ATTRIBUTES: "mapping",
        }.get(field.shape, field.shape.value),
        "required": field.required,
        "nullable": field.nullable,
        "default": None if field.required or field.shape is Shape.OBJECT else default,
        "enum": None if field.enum is None else [m.value for m in field.enum],
        "min_length": field.min_length,
        "max_length": field.max_length,
        "ge": field.ge,
        "le": field.le,
        "pattern": field.pattern,
    }
    return out


# -- the pydantic model, through its JSON Schema ---------------------------------------
SCHEMA = UseRequest.model_json_schema()


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return {**SCHEMA["$defs"][node["$ref"].rpartition("/")[2]], **node}
    return node


def _schema_object(path: str) -> dict[str, Any]:
    node = SCHEMA
    for part in filter(None, path.split(".")):
        node = _resolve(node["properties"][part])
    return node


def _from_schema(field: FieldShape) -> dict[str, Any]:
    parent = _schema_object(field.parent)
    node = _resolve(parent["properties"][field.name])
    nullable = False
    if "anyOf" in node:
        kinds = [_resolve(k) for k in node["anyOf"]]
        nullable = {"type": "null"} in kinds
        [node] = [{**k, "default": node.get("default")} for k in kinds if k != {"type": "null"}]
    kind = node.get("type")
    if "enum" in node:
        kind = "enum"
    elif kind == "array":
        kind = "list"
    elif kind == "object":
        kind = "mapping" if "propertyNames" in node else kind
    items = _resolve(node.get("items", {}))
    default = node.get("default")
    if kind == "list" and field.name not in parent.get("required", []):
        default = []  # a default_factory: pydantic leaves it out of the schema
    if kind == "mapping":
        default = {}
    pattern = node.get("pattern")
    if kind == "mapping":
        pattern = node.get("propertyNames", {}).get("pattern")
    length = {"string": ("minLength", "maxLength")}.get(kind, ("minItems", "maxItems"))
    if kind == "mapping":
        length = ("minProperties", "maxProperties")
    return {
        "type": kind,
        "required": field.name in parent.get("required", []),
        "nullable": nullable,
        "default": None if kind == "object" else default,
        "enum": node.get("enum", items.get("enum")),
        "min_length": node.get(length[0]),
        "max_length": node.get(length[1]),
        "ge": node.get("minimum"),
        "le": node.get("maximum"),
        "pattern": None if pattern is None else pattern.removeprefix("^").removesuffix("$"),
    }


@pytest.mark.parametrize("field", REQUEST_SHAPE, ids=lambda f: f.path)
def test_the_model_and_its_schema_match_the_shape(field: FieldShape) -> None:
    assert _from_schema(field) == _described(field)


def test_the_model_has_no_field_the_shape_lacks() -> None:
    declared = {f.path for f in REQUEST_SHAPE}

    def paths(node: dict[str, Any], prefix: str) -> list[str]:
        found = []
        for name, sub in node.get("properties", {}).items():
            path = f"{prefix}{name}"
            found.append(path)
            found += paths(_resolve(sub), f"{path}.")
        return found

    assert sorted(paths(SCHEMA, "")) == sorted(declared)
    assert tuple(UseRequest.model_fields) == FIELD_ORDER


# -- the msgspec mirror ----------------------------------------------------------------
def _struct_field(path: str) -> mi.Field:
    info: Any = mi.type_info(_fast.Req)
    field = None
    for part in path.split("."):
        field = next(f for f in info.fields if f.name == part)
        info = field.type
    assert field is not None
    return field


def _from_msgspec(field: FieldShape) -> dict[str, Any]:
    found = _struct_field(field.path)
    kind: Any = found.type
    nullable = False
    if isinstance(kind, mi.UnionType):
        nullable = any(isinstance(t, mi.NoneType) for t in kind.types)
        [kind] = [t for t in kind.types if not isinstance(t, mi.NoneType)]
    default = found.default
    if found.default_factory is not mi.NODEFAULT:
        default = found.default_factory()
    if isinstance(default, enum.Enum):
        default = default.value
    enum_cls = kind.cls if isinstance(kind, mi.EnumType) else None
    if isinstance(kind, mi.ListType) and isinstance(kind.item_type, mi.EnumType):
        enum_cls = kind.item_type.cls
    described: dict[str, Any] = {
        "type": {
            mi.StrType: "string",
            mi.EnumType: "enum",
            mi.ListType: "list",
            mi.DictType: "mapping",
            mi.IntType: "integer",
            mi.BoolType: "boolean",
            mi.StructType: "object",
        }[type(kind)],
        "required": found.required,
        "nullable": nullable,
        "default": None if isinstance(kind, mi.StructType) or found.required else default,
        "enum": None if enum_cls is None else [m.value for m in enum_cls],
        "min_length": getattr(kind, "min_length", None),
        "max_length": getattr(kind, "max_length", None),
        "ge": getattr(kind, "ge", None),
        "le": getattr(kind, "le", None),
        "pattern": getattr(kind, "pattern", None),
    }
    if isinstance(kind, mi.DictType):
        described["pattern"] = kind.key_type.pattern
    return described


@pytest.mark.parametrize("field", REQUEST_SHAPE, ids=lambda f: f.path)
def test_the_fast_mirror_matches_the_shape(field: FieldShape) -> None:
    expected = _described(field)
    for path, key in CHECKED_AFTER_MSGSPEC:
        if path == field.path:
            expected[key] = None  # checked in Python after msgspec: see the probes
    assert _from_msgspec(field) == expected


def test_the_fast_mirror_has_no_field_the_shape_lacks() -> None:
    def paths(info: Any, prefix: str) -> list[str]:
        found = []
        for f in info.fields:
            found.append(f"{prefix}{f.name}")
            if isinstance(f.type, mi.StructType):
                found += paths(f.type, f"{prefix}{f.name}.")
        return found

    assert sorted(paths(mi.type_info(_fast.Req), "")) == sorted(f.path for f in REQUEST_SHAPE)
    assert list(request_to_builtins(validate_request(MINIMAL, STANDARD_VOCABULARY))) == list(
        FIELD_ORDER
    )


# -- behaviour: probes at the declared limits ------------------------------------------
def _with(path: str, value: Any) -> dict[str, Any]:
    """``MINIMAL`` with ``value`` at ``path`` (``...`` removes it)."""
    request = copy.deepcopy(MINIMAL)
    *parents, name = path.split(".")
    node = request
    for part in parents:
        node = node.setdefault(part, {})
    if value is ...:
        node.pop(name, None)
    else:
        node[name] = value
    return request


def _text(length: int) -> str:
    # a non-BMP character: one character, four UTF-8 bytes, two UTF-16 units
    return "\U0001f600" * length


def _probes(field: FieldShape) -> list[tuple[str, Any, bool]]:
    """``(label, value, valid)`` for one field, from its declaration alone."""
    probes: list[tuple[str, Any, bool]] = []
    shape = field.shape
    if shape is Shape.OBJECT:
        probes += [("unknown key", {"nope": 1}, False), ("not an object", [], False)]
    else:
        probes += [("null", None, field.nullable)]
    probes.append(("absent", ..., not field.required))
    if shape in (Shape.STRING, Shape.TEXT) and field.pattern is None:
        probes += [("not a string", 7, False)]
        if field.max_length is not None:
            probes += [
                ("longest", _text(field.max_length), True),
                ("too long", _text(field.max_length + 1), False),
            ]
        probes += [("empty", "", (field.min_length or 0) == 0)]
    elif shape is Shape.STRING:  # the country code
        probes += [("matches", "US", True), ("lowercase", "us", False), ("three", "USA", False)]
    elif shape is Shape.PURPOSE:
        probes += [
            ("longest known", LONGEST_PURPOSE, True),
            ("too long", LONGEST_PURPOSE + "a", False),
            ("unknown", "cyber.nothing", False),
        ]
    elif shape is Shape.ENUM:
        assert field.enum is not None
        probes += [(f"member {m.value}", m.value, True) for m in field.enum]
        probes += [("not a member", "nothing", False), ("upper case", "NONE", False)]
    elif shape is Shape.ENUM_LIST:
        assert field.enum is not None and field.max_length is not None
        members = [m.value for m in field.enum]
        longest = (members * field.max_length)[: field.max_length]
        probes += [
            ("every member", members, True),
            ("longest", longest, True),
            ("too long", [*longest, members[0]], False),
            ("not a member", ["nothing"], False),
        ]
    elif shape is Shape.INTEGER:
        assert field.ge is not None and field.le is not None
        probes += [
            ("least", field.ge, True),
            ("greatest", field.le, True),
            ("below", field.ge - 1, False),
            ("above", field.le + 1, False),
            ("a boolean", True, False),
            ("a float", 1.0, False),
        ]
    elif shape is Shape.BOOLEAN:
        probes += [("true", True, True), ("false", False, True), ("one", 1, False)]
    elif shape is Shape.ATTRIBUTES:
        assert field.max_length is not None
        top = LIMITS.max_abs_number
        many = {f"k{i}": i for i in range(field.max_length)}
        probes += [
            ("most keys", many, True),
            ("too many keys", {**many, "extra": 1}, False),
            ("longest key", {"k" * LIMITS.max_attribute_key: 1}, True),
            ("key too long", {"k" * (LIMITS.max_attribute_key + 1): 1}, False),
            ("key off the pattern", {"1k": 1}, False),
            ("longest string", {"k": _text(LIMITS.max_attribute_string)}, True),
            ("string too long", {"k": _text(LIMITS.max_attribute_string + 1)}, False),
            ("longest list", {"k": ["x"] * LIMITS.max_attribute_list}, True),
            ("list too long", {"k": ["x"] * (LIMITS.max_attribute_list + 1)}, False),
            ("extreme integers", {"a": top, "b": -top}, True),
            ("integer too large", {"k": top + 1}, False),
            ("extreme floats", {"a": float(top), "b": -float(top)}, True),
            ("float too large", {"k": float(top) * 2}, False),
            ("a nested object", {"k": {"x": 1}}, False),
        ]
    return probes


_PROBES = [
    pytest.param(field.path, value, valid, id=f"{field.path}-{label}")
    for field in REQUEST_SHAPE
    for label, value, valid in _probes(field)
]


def _model_accepts(request: dict[str, Any]) -> bool:
    try:
        UseRequest.model_validate(request, context={"vocabulary": VOCABULARY})
    except pydantic.ValidationError:
        return False
    return True


def _fast_path_accepts(request: dict[str, Any]) -> bool:
    """The msgspec path alone: ``validate_request`` without the model it falls back to."""
    try:
        req = msgspec.convert(request, _fast.Req)
    except msgspec.ValidationError:
        return False
    return _fast._accepted(req, request, VOCABULARY.names, VOCABULARY.attributes)


@pytest.mark.parametrize(("path", "value", "valid"), _PROBES)
def test_both_validators_give_the_declared_verdict(path: str, value: Any, valid: bool) -> None:
    request = _with(path, value)
    assert (_model_accepts(request), _fast_path_accepts(request)) == (valid, valid)


def test_both_validators_fill_in_the_declared_defaults() -> None:
    model = UseRequest.model_validate(MINIMAL).model_dump(mode="json")
    fast = request_to_builtins(validate_request(MINIMAL, STANDARD_VOCABULARY))
    for field in REQUEST_SHAPE:
        if field.required or field.shape is Shape.OBJECT:
            continue
        expected = _described(field)["default"]
        node_model, node_fast = model, fast
        for part in field.path.split("."):
            node_model, node_fast = node_model[part], node_fast[part]
        assert (node_model, node_fast) == (expected, expected), field.path


def test_a_vocabulary_holds_only_purpose_names() -> None:
    with pytest.raises(ValueError, match="not a purpose name"):
        Vocabulary({LONGEST_PURPOSE + "a": "one character too long"})
    with pytest.raises(ValueError, match="not a purpose name"):
        Vocabulary({"Upper.Case": "not lowercase"})
    assert REQUEST_SHAPE[-1].pattern == ATTRIBUTE_KEY_PATTERN
