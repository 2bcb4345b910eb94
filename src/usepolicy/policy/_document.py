"""Turn one positioned YAML document into what it contributes to a policy set: its
settings, vocabulary additions, lists, includes, rules and invariants.

Checks everything one file can check on its own (keys, types, field paths, operator
fit, enum values, regular expressions); references that need the whole policy set
(purpose names, list names, declared attributes) are collected for the loader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from .._errors import Diagnostic
from ..request import STANDARD_PURPOSES, AttributeSpec, is_purpose_name
from ._attributes import AttributeReader, AttributeUse
from ._conditions import NAME_RE, ConditionReader, Ref
from ._model import Cond, Effect, Invariant, Rule
from ._nodes import NodeReader
from ._rules import RuleReader
from ._yaml import Node

__all__ = ["ParsedFile", "parse_file"]

_TOP_KEYS: Final = (
    "usepolicy", "name", "version", "description", "default", "combine",
    "vocabulary", "lists", "conditions", "include", "rules", "invariants",
)  # fmt: skip
_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")


@dataclass(frozen=True, slots=True)
class ListFile:
    """A list kept in a file (one item a line, ``#`` comments), read by the loader."""

    rel: str  # as written: relative to the policy file's folder
    node: Node  # the `file:` value, where a read error points


@dataclass
class ParsedFile:
    """What one file contributes to a policy set."""

    path: str
    name: str | None = None
    version: str | None = None
    description: str | None = None
    default: Effect | None = None
    combine: str | None = None
    settings_pos: dict[str, tuple[int, int]] = field(default_factory=dict)
    includes: list[tuple[str, Node]] = field(default_factory=list)
    list_sources: dict[str, tuple[frozenset[str] | ListFile, Node]] = field(default_factory=dict)
    lists: dict[str, tuple[frozenset[str], Node]] = field(default_factory=dict)  # by the loader
    purposes: dict[str, tuple[str, Node]] = field(default_factory=dict)
    attributes: dict[str, tuple[AttributeSpec, Node]] = field(default_factory=dict)
    attribute_uses: list[AttributeUse] = field(default_factory=list)
    #: named conditions by name, with the key node; None: one that failed to read
    conditions: dict[str, tuple[Cond | None, Node]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    invariants: list[Invariant] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)


class _DocumentReader(NodeReader):
    def __init__(self, path: str, diagnostics: list[Diagnostic]) -> None:
        super().__init__(path, diagnostics)
        self.out = ParsedFile(path)
        self.conditions = ConditionReader(path, diagnostics)
        self.rules = RuleReader(path, diagnostics, self.conditions)
        self.attributes = AttributeReader(path, diagnostics)
        self.out.refs = self.conditions.refs
        self.out.attribute_uses = self.conditions.attribute_uses

    def document(self, root: Node) -> ParsedFile:
        top = self.mapping(root, "a policy", _TOP_KEYS, ("usepolicy", "name"))
        if top is None:
            return self.out
        out = self.out
        if "usepolicy" in top:
            node = top["usepolicy"]
            if node.value != 1 or isinstance(node.value, bool):
                self.err(
                    node,
                    "bad-version",
                    f"unsupported policy format {node.describe()}",
                    "this engine reads `usepolicy: 1`",
                )
        if "name" in top:
            name = self.string(top["name"], "`name`")
            if name is not None and not _NAME_RE.fullmatch(name):
                self.err(
                    top["name"],
                    "bad-value",
                    f"policy name `{name}` must be lowercase letters, digits, `-`, `_`",
                )
            out.name = name
        if "version" in top:
            out.version = self.string(top["version"], "`version`")
        if "description" in top:
            out.description = self.string(top["description"], "`description`")
        if "default" in top:
            value = self.choice(top["default"], "`default`", ("allow", "deny"))
            out.default = Effect(value) if value else None
            out.settings_pos["default"] = (top["default"].line, top["default"].col)
        if "combine" in top:
            out.combine = self.choice(
                top["combine"], "`combine`", ("deny-overrides", "first-match")
            )
            out.settings_pos["combine"] = (top["combine"].line, top["combine"].col)
        if "vocabulary" in top:
            self.vocabulary(top["vocabulary"])
        if "lists" in top:
            self.lists(top["lists"])
        if "conditions" in top:
            self.named_conditions(top["conditions"])
        if "include" in top:
            for item in self.seq(top["include"], "`include`") or []:
                target = self.string(item, "an include")
                if target is not None:
                    out.includes.append((target, item))
        if "rules" in top:
            for item in self.seq(top["rules"], "`rules`") or []:
                rule = self.rules.rule(item)
                if rule is not None:
                    out.rules.append(rule)
        if "invariants" in top:
            for item in self.seq(top["invariants"], "`invariants`") or []:
                invariant = self.rules.invariant(item)
                if invariant is not None:
                    out.invariants.append(invariant)
        return out

    def vocabulary(self, node: Node) -> None:
        vocab = self.mapping(node, "`vocabulary`", ("purposes", "attributes"))
        if vocab and "attributes" in vocab:
            self.out.attributes = self.attributes.attribute_declarations(vocab["attributes"])
        if not vocab or "purposes" not in vocab:
            return
        purposes = self.open_mapping(vocab["purposes"], "`vocabulary.purposes`")
        if purposes is None:
            return
        for name, desc_node in purposes.items():
            key_node = vocab["purposes"].keys[name]
            if not is_purpose_name(name):
                self.err(
                    key_node,
                    "bad-purpose-name",
                    f"`{name}` is not a purpose name",
                    "use lowercase dotted segments, e.g. `intelligence.geoint`",
                )
                continue
            if name in STANDARD_PURPOSES:
                self.err(
                    key_node,
                    "duplicate-purpose",
                    f"`{name}` is already a standard purpose",
                    "remove it from `vocabulary.purposes`",
                )
                continue
            desc = self.string(desc_node, f"the description of purpose `{name}`")
            self.out.purposes[name] = (desc or "", key_node)

    def named_conditions(self, node: Node) -> None:
        conditions = self.open_mapping(node, "`conditions`")
        for name, value in (conditions or {}).items():
            key_node = node.keys[name]
            if not NAME_RE.fullmatch(name):
                self.err(
                    key_node,
                    "bad-value",
                    f"`{name}` is not a valid condition name",
                    "names are letters, digits, `_` and `-`, starting with a letter or `_`",
                )
                continue
            self.out.conditions[name] = (self.conditions.condition(value), key_node)

    def lists(self, node: Node) -> None:
        lists = self.open_mapping(node, "`lists`")
        if lists is None:
            return
        for name, value in lists.items():
            key_node = node.keys[name]
            if not NAME_RE.fullmatch(name):
                self.err(key_node, "bad-value", f"`{name}` is not a valid list name")
                continue
            items = self.list_items(name, value)
            if items is not None:
                self.out.list_sources[name] = (items, key_node)

    def list_items(self, name: str, node: Node) -> frozenset[str] | ListFile | None:
        if isinstance(node.value, dict):
            spec = self.mapping(node, f"list `{name}`", ("file",), ("file",))
            if not spec or "file" not in spec:
                return None
            rel = self.string(spec["file"], "a list file")
            return None if rel is None else ListFile(rel, spec["file"])
        items = self.seq(node, f"list `{name}`")
        if items is None:
            return None
        values = [self.string(item, f"an item of list `{name}`") for item in items]
        return frozenset(v for v in values if v is not None)


def parse_file(root: Node, path: str, diagnostics: list[Diagnostic]) -> ParsedFile:
    """Parse one policy document; problems are appended to ``diagnostics``.

    Reads no file: lists kept in files are left in ``list_sources`` for the loader.
    """
    return _DocumentReader(path, diagnostics).document(root)
