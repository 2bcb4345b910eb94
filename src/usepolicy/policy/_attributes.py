"""Declared attributes: ``vocabulary.attributes`` read from one file, and the checks of
``attributes.KEY`` tests against the declarations of the whole policy set.

A set that declares attributes must declare every attribute its conditions test, and
each test must fit the declared type: operator, operand types, closed values.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from .._errors import Diagnostic
from ..request import ATTRIBUTE_KEY_PATTERN, ATTRIBUTE_TYPES, LIMITS, AttributeSpec, is_under
from ._nodes import NodeReader, closest
from ._yaml import Node

__all__ = [
    "ATTRIBUTE_OPERATORS",
    "KEY_RE",
    "AttributeReader",
    "AttributeUse",
    "check_attribute_uses",
]

_ATTRIBUTE_SPEC_KEYS: Final = ("type", "values", "description")
#: the operators that fit a declared attribute, by its type (in documentation order)
ATTRIBUTE_OPERATORS: Final[dict[str, tuple[str, ...]]] = {
    "string": ("eq", "ne", "in", "not_in", "under", "in_list", "matches", "exists"),
    "number": ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "exists"),
    "integer": ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "exists"),
    "boolean": ("eq", "ne", "exists"),
    "list": ("contains", "contains_any", "contains_all", "all_in", "none_in", "exists"),
}
KEY_RE: Final = re.compile(ATTRIBUTE_KEY_PATTERN)


@dataclass(frozen=True, slots=True)
class AttributeUse:
    """A test of ``attributes.KEY`` in a file, checked against the set's declarations."""

    key: str
    path: str
    key_node: Node
    op: str
    op_node: Node
    operand: Node


class AttributeReader(NodeReader):
    """Reads ``vocabulary.attributes`` and checks tests of declared attributes."""

    def attribute_declarations(self, node: Node) -> dict[str, tuple[AttributeSpec, Node]]:
        declared: dict[str, tuple[AttributeSpec, Node]] = {}
        specs = self.open_mapping(node, "`vocabulary.attributes`")
        for key, spec_node in (specs or {}).items():
            key_node = node.keys[key]
            if len(key) > LIMITS.max_attribute_key or not KEY_RE.fullmatch(key):
                self.err(
                    key_node,
                    "bad-attribute-name",
                    f"`{key}` is not an attribute key",
                    f"keys match {ATTRIBUTE_KEY_PATTERN} (at most "
                    f"{LIMITS.max_attribute_key} characters)",
                )
                continue
            spec = self.attribute_spec(key, spec_node, key_node)
            if spec is not None:
                declared[key] = (spec, key_node)
        return declared

    def attribute_spec(self, key: str, node: Node, key_node: Node) -> AttributeSpec | None:
        what = f"attribute `{key}`"
        spec = self.mapping(node, what, _ATTRIBUTE_SPEC_KEYS, ("type",))
        if spec is None or "type" not in spec:
            return None
        kind = self.choice(spec["type"], "`type`", ATTRIBUTE_TYPES)
        values: tuple[str, ...] | None = None
        ok = kind is not None
        if "values" in spec:
            items = self.seq(spec["values"], f"the values of {what}")
            if kind is not None and kind not in ("string", "list"):
                self.err(
                    spec["values"],
                    "bad-value",
                    f"`values` applies to string and list attributes; {what} is {kind}",
                    "remove `values`",
                )
                ok = False
            elif items is None:
                ok = False
            elif not items:
                self.err(spec["values"], "empty-condition", f"{what} needs at least one value")
                ok = False
            else:
                texts = [self.string(item, f"a value of {what}") for item in items]
                if any(t is None for t in texts):
                    ok = False
                values = tuple(dict.fromkeys(t for t in texts if t is not None))
        description = None
        if "description" in spec:
            description = self.string(spec["description"], f"the description of {what}")
            ok = ok and description is not None
        if not ok or kind is None:
            return None
        return AttributeSpec(kind, values, description, self.path, key_node.line, key_node.col)

    def declared_use(
        self, use: AttributeUse, spec: AttributeSpec, lists: Mapping[str, frozenset[str]]
    ) -> None:
        kind = spec.type
        fits = ATTRIBUTE_OPERATORS[kind]
        if use.op not in fits:
            self.err(
                use.op_node, "operator-mismatch",
                f"`{use.op}` does not fit `attributes.{use.key}` (declared {kind})",
                f"use one of: {', '.join(fits)}",
            )  # fmt: skip
            return
        if use.op in ("matches", "exists"):
            return
        node = use.operand
        if use.op == "in_list" or isinstance(node.value, dict):
            self.declared_list(use, spec, lists)
            return
        items = node.value if isinstance(node.value, list) else [node]
        for item in items:
            if not self.declared_value(use, spec, item):
                return

    def declared_list(
        self, use: AttributeUse, spec: AttributeSpec, lists: Mapping[str, frozenset[str]]
    ) -> None:
        """A named list tested against a declared attribute: it holds strings, so the
        attribute must be a string or a list, and each item one of its ``values``."""
        node = use.operand
        ref = node.value.get("list") if isinstance(node.value, dict) else node
        if ref is None:
            return  # not a valid `{list: NAME}`: reported already
        field_path = f"`attributes.{use.key}`"
        if spec.type not in ("string", "list"):
            self.err(
                node, "wrong-type",
                f"{field_path} is declared {spec.type}; a named list holds strings",
                "write the values inline",
            )  # fmt: skip
            return
        items = lists.get(ref.value) if isinstance(ref.value, str) else None
        if items is None or spec.values is None:
            return  # an unknown list is reported by the loader
        bad = sorted(item for item in items if item not in spec.values)
        if bad:
            self.err(
                ref, "unknown-value",
                f"list `{ref.value}` holds `{bad[0]}`"
                + (f" and {len(bad) - 1} more" if len(bad) > 1 else "")
                + f", not a declared value of {field_path}",
                closest(bad[0], spec.values) or f"values: {', '.join(spec.values)}",
            )  # fmt: skip

    def declared_value(self, use: AttributeUse, spec: AttributeSpec, node: Node) -> bool:
        field_path = f"`attributes.{use.key}`"
        kind = spec.type
        value = node.value
        if kind == "boolean":
            return self.boolean(node, f"a value of {field_path}") is not None
        if kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                article = "an" if kind == "integer" else "a"
                self.err(
                    node, "wrong-type", f"{field_path} is {article} {kind}, got {node.describe()}"
                )
                return False
            if kind == "integer" and not isinstance(value, int):
                self.err(node, "wrong-type", f"{field_path} is an integer, got {node.describe()}")
                return False
            return True
        what = "an item of " + field_path if kind == "list" else "a value of " + field_path
        text = self.string(node, what)
        if text is None:
            return False
        if spec.values is None:
            return True
        if use.op == "under":
            known = any(is_under(v, text) for v in spec.values)
        else:
            known = text in spec.values
        if not known:
            self.err(
                node,
                "unknown-value",
                f"`{text}` is not a declared value of {field_path}",
                closest(text, spec.values) or f"values: {', '.join(spec.values)}",
            )
            return False
        return True


def check_attribute_uses(
    uses: Iterable[AttributeUse],
    attributes: Mapping[str, AttributeSpec],
    lists: Mapping[str, frozenset[str]],
    diagnostics: list[Diagnostic],
) -> None:
    """Every tested attribute must be declared, and each test must fit its declaration
    (the items of the named lists it uses too)."""
    declared = sorted(attributes)
    for use in uses:
        reader = AttributeReader(use.path, diagnostics)
        spec = attributes.get(use.key)
        if spec is not None:
            reader.declared_use(use, spec, lists)
            continue
        close = difflib.get_close_matches(use.key, declared, n=1, cutoff=0.6)
        reader.err(
            use.key_node,
            "unknown-attribute",
            f"attribute `{use.key}` is not declared in `vocabulary.attributes`",
            f"did you mean `attributes.{close[0]}`?"
            if close
            else "declare it under `vocabulary: attributes:`",
        )
