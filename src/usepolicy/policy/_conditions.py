"""Conditions: ``when`` mappings read into ``Cond`` trees (``Test``, ``AllOf``,
``AnyOf``, ``NotOf``, ``Named``), with field paths, operator fit, enum values and
regular expressions checked here.

Names that need the whole policy set (purposes, lists, named conditions) are collected
as ``Ref``s, and tests of ``attributes.KEY`` as ``AttributeUse``s, for the loader to
check. A ``{condition: NAME}`` is read as a ``Named`` whose ``cond`` is ``PENDING``, and
a ``{list: NAME}`` operand as a ``ListRef`` without items, until the loader resolves
them against the whole set (``_named``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from .._errors import Diagnostic
from ..request import compile_re2, is_purpose_name
from ._attributes import KEY_RE, AttributeUse
from ._fields import (
    FIELDS,
    NOT_EVALUABLE,
    OPERATORS,
    SET_OPERATORS,
    FieldSpec,
    Kind,
    lookup_field,
)
from ._model import AllOf, AnyOf, Cond, ListRef, Named, NotOf, Test
from ._nodes import NodeReader, closest
from ._yaml import Node

__all__ = ["NAME_RE", "PENDING", "ConditionReader", "Ref"]

#: list and condition names
NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")
#: the ``cond`` of a ``Named`` until the loader resolves it
PENDING: Final = AllOf(())


@dataclass(frozen=True, slots=True)
class Ref:
    """A name used in a file that the loader resolves against the whole set.

    ``field`` is set for a named list used as the operand of a membership operator: its
    items must then be values of that field (enumerations, categories, purposes).
    """

    kind: str  # "purpose", "purpose-prefix" or "list"
    name: str
    path: str
    line: int
    col: int
    field: str = ""


class ConditionReader(NodeReader):
    """Reads the conditions of one file, collecting its ``refs`` and ``attribute_uses``."""

    def __init__(self, path: str, diagnostics: list[Diagnostic]) -> None:
        super().__init__(path, diagnostics)
        self.refs: list[Ref] = []
        self.attribute_uses: list[AttributeUse] = []

    def condition(self, node: Node) -> Cond | None:
        if not isinstance(node.value, dict):
            self.err(
                node, "wrong-type", f"a condition must be a mapping, got {node.describe()}",
                "write `field.path: value` or `all:`/`any:`/`not:`",
            )  # fmt: skip
            return None
        if not node.value:
            self.err(
                node, "empty-condition", "empty condition", "omit `when` to match every request"
            )
            return None
        items: list[Cond | None] = []
        for key, value in node.value.items():
            key_node = node.keys[key]
            if key in ("all", "any"):
                members = self.seq(value, f"`{key}`")
                if members is None:
                    items.append(None)
                    continue
                if not members:
                    self.err(value, "empty-condition", f"`{key}` needs at least one condition")
                    items.append(None)
                    continue
                subs = [self.condition(member) for member in members]
                if any(sub is None for sub in subs):
                    items.append(None)
                    continue
                group = tuple(s for s in subs if s is not None)
                items.append(AllOf(group) if key == "all" else AnyOf(group))
            elif key == "not":
                sub = self.condition(value)
                items.append(NotOf(sub) if sub is not None else None)
            elif key == "condition":
                items.append(self.named(value))
            else:
                items.append(self.field_test(key, key_node, value))
        if any(item is None for item in items):
            return None
        conds = tuple(item for item in items if item is not None)
        return conds[0] if len(conds) == 1 else AllOf(conds)

    def named(self, node: Node) -> Named | None:
        if isinstance(node.value, list):
            self.err(
                node, "wrong-type", "`condition` takes one name",
                "for several, write `all: [{condition: a}, {condition: b}]`",
            )  # fmt: skip
            return None
        name = self.string(node, "a condition name")
        if name is None:
            return None
        if not NAME_RE.fullmatch(name):
            self.err(node, "bad-value", f"`{name}` is not a valid condition name")
            return None
        return Named(name, PENDING, self.path, node.line, node.col)

    def field_test(self, path: str, key_node: Node, value: Node) -> Cond | None:
        spec = lookup_field(path)
        if spec is None:
            if path in NOT_EVALUABLE:
                self.err(
                    key_node, "not-evaluable",
                    f"`{path}` is recorded but never evaluated",
                    "describe the use with typed fields or `attributes`",
                )  # fmt: skip
            else:
                options = [*FIELDS, "all", "any", "not", "condition"]
                hint = closest(path, options)
                if path == "attributes" or path.startswith("attributes"):
                    hint = "write `attributes.KEY`"
                self.err(
                    key_node,
                    "unknown-field",
                    f"unknown field `{path}`",
                    hint or "fields: " + ", ".join(FIELDS) + ", attributes.KEY",
                )
            return None
        if spec.kind is Kind.ATTRIBUTE and not KEY_RE.fullmatch(path[len("attributes.") :]):
            self.err(key_node, "unknown-field", f"`{path}` is not a valid attribute key")
            return None
        if isinstance(value.value, dict):
            if not value.value:
                self.err(value, "empty-condition", f"no operator for `{path}`")
                return None
            tests: list[Cond | None] = []
            for op, operand in value.value.items():
                test = self.test(spec, op, value.keys[op], operand)
                tests.append(test)
                if test is not None and spec.kind is Kind.ATTRIBUTE:
                    self.attribute_use(path, key_node, op, value.keys[op], operand)
            if any(t is None for t in tests):
                return None
            conds = tuple(t for t in tests if t is not None)
            return conds[0] if len(conds) == 1 else AllOf(conds)
        if isinstance(value.value, list):
            self.err(
                value, "wrong-type", f"a bare list is ambiguous for `{path}`",
                "write `{in: [...]}`" if spec.kind is not Kind.CATEGORIES
                else "write `{contains_any: [...]}`, `{contains_all: [...]}` or `{all_in: [...]}`",
            )  # fmt: skip
            return None
        test = self.test(spec, "eq", key_node, value)
        if test is not None and spec.kind is Kind.ATTRIBUTE:
            self.attribute_use(path, key_node, "eq", key_node, value)
        return test

    def attribute_use(self, path: str, key_node: Node, op: str, op_node: Node, node: Node) -> None:
        key = path[len("attributes.") :]
        self.attribute_uses.append(AttributeUse(key, self.path, key_node, op, op_node, node))

    def test(self, spec: FieldSpec, op: str, op_node: Node, node: Node) -> Test | None:
        if op not in OPERATORS:
            self.err(
                op_node,
                "unknown-operator",
                f"unknown operator `{op}`",
                closest(op, OPERATORS) or f"operators: {', '.join(OPERATORS)}",
            )
            return None
        if op not in spec.operators:
            fits = [o for o in OPERATORS if o in spec.operators]
            self.err(
                op_node, "operator-mismatch",
                f"`{op}` does not fit `{spec.path}` ({spec.kind.value})",
                f"use one of: {', '.join(fits)}",
            )  # fmt: skip
            return None
        operand = self.operand(spec, op, node)
        if operand is _BAD:
            return None
        return Test(spec.path, op, operand, self.path, op_node.line, op_node.col)

    def operand(self, spec: FieldSpec, op: str, node: Node) -> Any:
        if op in ("eq", "ne"):
            return self.value(spec, node)
        if op in SET_OPERATORS:
            if isinstance(node.value, dict):
                return self.list_ref(spec, op, node)
            return self.values(spec, node, op)
        if op in ("lt", "lte", "gt", "gte"):
            if spec.kind is Kind.ENUM:
                return self.value(spec, node)
            if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                if spec.kind is Kind.INT and not isinstance(node.value, int):
                    self.err(
                        node, "wrong-type", f"`{spec.path}` is an integer, got {node.describe()}"
                    )
                    return _BAD
                return node.value
            self.err(node, "wrong-type", f"`{op}` needs a number, got {node.describe()}")
            return _BAD
        if op == "contains":
            return self.value(spec, node)
        if op == "under":
            names = node.value if isinstance(node.value, list) else [node]
            if not names:
                self.err(node, "empty-condition", "`under` needs at least one name")
                return _BAD
            result = []
            for item in names:
                name = self.string(item, "an `under` name")
                if name is None:
                    return _BAD
                if spec.kind is Kind.PURPOSE:
                    if not is_purpose_name(name):
                        self.err(item, "unknown-purpose", f"`{name}` is not a purpose name")
                        return _BAD
                    self.refs.append(Ref("purpose-prefix", name, self.path, item.line, item.col))
                result.append(name)
            return tuple(result)
        if op == "in_list":
            name = self.string(node, "a list name")
            if name is None:
                return _BAD
            self.refs.append(Ref("list", name, self.path, node.line, node.col))
            return name
        if op == "matches":
            pattern = self.string(node, "a regular expression")
            if pattern is None:
                return _BAD
            try:
                compile_re2(pattern)
            except Exception as exc:  # re2 raises its own error type
                self.err(
                    node,
                    "bad-regex",
                    f"bad regular expression `{pattern}`: {exc}",
                    "patterns use RE2 syntax (no backreferences or lookaround)",
                )
                return _BAD
            return pattern
        if op == "exists":
            flag = self.boolean(node, "`exists`")
            return _BAD if flag is None else flag
        raise AssertionError(op)  # pragma: no cover

    def list_ref(self, spec: FieldSpec, op: str, node: Node) -> Any:
        """``{list: NAME}``: a named list as the operand (checked by the loader)."""
        ref = self.mapping(node, f"the operand of `{op}`", ("list",), ("list",))
        if ref is None or "list" not in ref:
            return _BAD
        name = self.string(ref["list"], "a list name")
        if name is None:
            return _BAD
        if spec.kind in (Kind.INT, Kind.BOOL):
            self.err(
                node, "wrong-type",
                f"`{spec.path}` is {'an' if spec.kind is Kind.INT else 'a'} {spec.kind.value}; "
                "a named list holds strings",
                f"write the values inline: `{op}: [...]`",
            )  # fmt: skip
            return _BAD
        where = ref["list"]
        self.refs.append(Ref("list", name, self.path, where.line, where.col, spec.path))
        return ListRef(name)

    def values(self, spec: FieldSpec, node: Node, op: str) -> Any:
        if not isinstance(node.value, list):
            self.err(
                node,
                "wrong-type",
                f"`{op}` needs a list, got {node.describe()}",
                f"write `{op}: [{node.text or '...'}]`",
            )
            return _BAD
        if not node.value:
            self.err(node, "empty-condition", f"`{op}` needs at least one value")
            return _BAD
        result = [self.value(spec, item) for item in node.value]
        if any(v is _BAD for v in result):
            return _BAD
        return tuple(result)

    def value(self, spec: FieldSpec, node: Node) -> Any:
        kind = spec.kind
        if kind in (Kind.ENUM, Kind.CATEGORIES):
            text = self.string(node, f"a value of `{spec.path}`")
            if text is None:
                return _BAD
            assert spec.enum is not None
            options = tuple(m.value for m in spec.enum)
            if text not in options:
                self.err(
                    node,
                    "unknown-value",
                    f"`{text}` is not a value of `{spec.path}`",
                    closest(text, options) or f"values: {', '.join(options)}",
                )
                return _BAD
            return text
        if kind is Kind.PURPOSE:
            text = self.string(node, "a purpose")
            if text is None:
                return _BAD
            self.refs.append(Ref("purpose", text, self.path, node.line, node.col))
            return text
        if kind is Kind.STRING:
            text = self.string(node, f"a value of `{spec.path}`")
            return _BAD if text is None else text
        if kind is Kind.INT:
            if isinstance(node.value, int) and not isinstance(node.value, bool):
                return node.value
            self.err(node, "wrong-type", f"`{spec.path}` is an integer, got {node.describe()}")
            return _BAD
        if kind is Kind.BOOL:
            flag = self.boolean(node, f"a value of `{spec.path}`")
            return _BAD if flag is None else flag
        # attributes: any scalar
        if isinstance(node.value, (str, int, float, bool)):
            return node.value
        self.err(node, "wrong-type", f"an attribute value must be a scalar, got {node.describe()}")
        return _BAD


_BAD: Final[Any] = object()
