"""Turn one positioned YAML document into rules, conditions and settings.

Checks everything one file can check on its own: keys, types, field paths, operator
fit, enum values, regular expressions. References that need the whole policy set
(purpose names, list names) are collected and checked by the loader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .._enums import ATTRIBUTE_KEY_PATTERN, LIMITS
from .._errors import Diagnostic
from .._vocabulary import (
    ATTRIBUTE_TYPES,
    STANDARD_PURPOSES,
    AttributeSpec,
    compile_re2,
    is_purpose_name,
    is_under,
)
from ._fields import FIELDS, NOT_EVALUABLE, OPERATORS, FieldSpec, Kind, lookup_field
from ._model import AllOf, AnyOf, Cond, Effect, Invariant, NotOf, ObligationSpec, Rule, Test
from ._nodes import NodeReader, closest
from ._yaml import Node

__all__ = ["AttributeUse", "ParsedFile", "check_attribute_use", "parse_file"]

_TOP_KEYS: Final = (
    "usepolicy", "name", "version", "description", "default", "combine",
    "vocabulary", "lists", "include", "rules", "invariants",
)  # fmt: skip
_RULE_KEYS: Final = ("id", "effect", "reason", "reference", "when", "obligations")
_OBLIGATION_KEYS: Final = ("id", "with", "when")
_INVARIANT_KEYS: Final = ("id", "never", "when", "description")
_ATTRIBUTE_SPEC_KEYS: Final = ("type", "values", "description")
#: the operators that fit a declared attribute, by its type (in documentation order)
ATTRIBUTE_OPERATORS: Final[dict[str, tuple[str, ...]]] = {
    "string": ("eq", "ne", "in", "not_in", "under", "in_list", "matches", "exists"),
    "number": ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "exists"),
    "integer": ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "exists"),
    "boolean": ("eq", "ne", "exists"),
    "list": ("contains", "contains_any", "contains_all", "exists"),
}
_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")
_LIST_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")
_KEY_RE: Final = re.compile(ATTRIBUTE_KEY_PATTERN)
MAX_LIST_FILE_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Ref:
    """A name used in a file that the loader resolves against the whole set."""

    kind: str  # "purpose", "purpose-prefix" or "list"
    name: str
    path: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class AttributeUse:
    """A test of ``attributes.KEY`` in a file, checked against the set's declarations."""

    key: str
    path: str
    key_node: Node
    op: str
    op_node: Node
    operand: Node


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
    lists: dict[str, tuple[frozenset[str], Node]] = field(default_factory=dict)
    purposes: dict[str, tuple[str, Node]] = field(default_factory=dict)
    attributes: dict[str, tuple[AttributeSpec, Node]] = field(default_factory=dict)
    attribute_uses: list[AttributeUse] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    invariants: list[Invariant] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)


class _Parser(NodeReader):
    def __init__(self, path: str, base_dir: Path, diagnostics: list[Diagnostic]) -> None:
        super().__init__(path, diagnostics)
        self.base_dir = base_dir
        self.out = ParsedFile(path)

    # -- the document ----------------------------------------------------------------
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
        if "include" in top:
            for item in self.seq(top["include"], "`include`") or []:
                target = self.string(item, "an include")
                if target is not None:
                    out.includes.append((target, item))
        if "rules" in top:
            for item in self.seq(top["rules"], "`rules`") or []:
                rule = self.rule(item)
                if rule is not None:
                    out.rules.append(rule)
        if "invariants" in top:
            for item in self.seq(top["invariants"], "`invariants`") or []:
                invariant = self.invariant(item)
                if invariant is not None:
                    out.invariants.append(invariant)
        return out

    def vocabulary(self, node: Node) -> None:
        vocab = self.mapping(node, "`vocabulary`", ("purposes", "attributes"))
        if vocab and "attributes" in vocab:
            self.attribute_declarations(vocab["attributes"])
        if not vocab or "purposes" not in vocab:
            return
        purposes = self.mapping(vocab["purposes"], "`vocabulary.purposes`", ())
        if purposes is None:
            return
        # every key is a purpose name here, so `mapping` reported none as unknown
        self.diagnostics[:] = [
            d
            for d in self.diagnostics
            if not (d.code == "unknown-key" and d.message.endswith("in `vocabulary.purposes`"))
        ]
        for name, desc_node in vocab["purposes"].value.items():
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

    def attribute_declarations(self, node: Node) -> None:
        if not isinstance(node.value, dict):
            self.err(
                node,
                "wrong-type",
                f"`vocabulary.attributes` must be a mapping, got {node.describe()}",
            )
            return
        for key, spec_node in node.value.items():
            key_node = node.keys[key]
            if len(key) > LIMITS.max_attribute_key or not _KEY_RE.fullmatch(key):
                self.err(
                    key_node,
                    "bad-attribute-name",
                    f"`{key}` is not an attribute key",
                    f"keys match {ATTRIBUTE_KEY_PATTERN} (at most "
                    f"{LIMITS.max_attribute_key} characters)",
                )
                continue
            spec = self.attribute_spec(key, spec_node)
            if spec is not None:
                self.out.attributes[key] = (spec, key_node)

    def attribute_spec(self, key: str, node: Node) -> AttributeSpec | None:
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
        return AttributeSpec(kind, values, description)

    def lists(self, node: Node) -> None:
        if not isinstance(node.value, dict):
            self.err(node, "wrong-type", f"`lists` must be a mapping, got {node.describe()}")
            return
        for name, value in node.value.items():
            key_node = node.keys[name]
            if not _LIST_NAME_RE.fullmatch(name):
                self.err(key_node, "bad-value", f"`{name}` is not a valid list name")
                continue
            items = self.list_items(name, value)
            if items is not None:
                self.out.lists[name] = (items, key_node)

    def list_items(self, name: str, node: Node) -> frozenset[str] | None:
        if isinstance(node.value, dict):
            spec = self.mapping(node, f"list `{name}`", ("file",), ("file",))
            if not spec or "file" not in spec:
                return None
            rel = self.string(spec["file"], "a list file")
            if rel is None:
                return None
            target = self.base_dir / rel
            try:
                with open(target, "rb") as handle:
                    raw = handle.read(MAX_LIST_FILE_BYTES + 1)
            except OSError as exc:
                self.err(
                    spec["file"],
                    "list-file-not-found",
                    f"cannot read list file `{rel}`: {exc.strerror or exc}",
                    f"paths are relative to the policy file's folder ({self.base_dir})",
                )
                return None
            if len(raw) > MAX_LIST_FILE_BYTES:
                self.err(spec["file"], "too-large", f"list file `{rel}` is over 16 MiB")
                return None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.err(spec["file"], "bad-encoding", f"list file `{rel}` is not UTF-8")
                return None
            return frozenset(
                line.strip()
                for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            )
        items = self.seq(node, f"list `{name}`")
        if items is None:
            return None
        values = [self.string(item, f"an item of list `{name}`") for item in items]
        return frozenset(v for v in values if v is not None)

    # -- rules -------------------------------------------------------------------------
    def ident(self, node: Node, what: str) -> str | None:
        value = self.string(node, what)
        if value is not None and not _ID_RE.fullmatch(value):
            self.err(
                node,
                "bad-id",
                f"{what} `{value}` must be letters, digits, `-`, `_`, `.` (at most 128)",
            )
            return None
        return value

    def rule(self, node: Node) -> Rule | None:
        spec = self.mapping(node, "a rule", _RULE_KEYS, ("id", "effect", "reason"))
        if spec is None:
            return None
        rule_id = self.ident(spec["id"], "rule id") if "id" in spec else None
        effect = (
            self.choice(spec["effect"], "`effect`", ("allow", "deny")) if "effect" in spec else None
        )
        reason = self.string(spec["reason"], "`reason`") if "reason" in spec else None
        reference = self.string(spec["reference"], "`reference`") if "reference" in spec else None
        when = self.condition(spec["when"]) if "when" in spec else None
        obligations: list[ObligationSpec] = []
        if "obligations" in spec:
            if effect == "deny":
                self.err(
                    spec["obligations"],
                    "obligation-on-deny",
                    "obligations ride on allow rules only",
                    "a denied use has nothing to fulfil; move them to an allow rule",
                )
            for item in self.seq(spec["obligations"], "`obligations`") or []:
                obligation = self.obligation(item)
                if obligation is not None:
                    obligations.append(obligation)
        if rule_id is None or effect is None or reason is None:
            return None
        if "when" in spec and when is None:
            return None
        return Rule(
            rule_id, Effect(effect), reason, reference, when, tuple(obligations),
            self.path, node.line, node.col,
        )  # fmt: skip

    def obligation(self, node: Node) -> ObligationSpec | None:
        if isinstance(node.value, str):
            oid = self.ident(node, "obligation id")
            return ObligationSpec(oid, {}) if oid else None
        spec = self.mapping(node, "an obligation", _OBLIGATION_KEYS, ("id",))
        if spec is None or "id" not in spec:
            return None
        oid = self.ident(spec["id"], "obligation id")
        params: dict[str, Any] = {}
        if "with" in spec:
            if isinstance(spec["with"].value, dict):
                params = spec["with"].plain_value()
            else:
                self.err(spec["with"], "wrong-type", "`with` must be a mapping of parameters")
        when = self.condition(spec["when"]) if "when" in spec else None
        if oid is None or ("when" in spec and when is None):
            return None
        return ObligationSpec(oid, params, when)

    def invariant(self, node: Node) -> Invariant | None:
        spec = self.mapping(node, "an invariant", _INVARIANT_KEYS, ("id", "never"))
        if spec is None:
            return None
        inv_id = self.ident(spec["id"], "invariant id") if "id" in spec else None
        never = (
            self.choice(spec["never"], "`never`", ("allow", "deny")) if "never" in spec else None
        )
        description = (
            self.string(spec["description"], "`description`") if "description" in spec else None
        )
        when = self.condition(spec["when"]) if "when" in spec else None
        if inv_id is None or never is None or ("when" in spec and when is None):
            return None
        return Invariant(inv_id, Effect(never), when, description, self.path, node.line, node.col)

    # -- conditions --------------------------------------------------------------------
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
            else:
                items.append(self.field_test(key, key_node, value))
        if any(item is None for item in items):
            return None
        conds = tuple(item for item in items if item is not None)
        return conds[0] if len(conds) == 1 else AllOf(conds)

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
                options = [*FIELDS, "all", "any", "not"]
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
        if spec.kind is Kind.ATTRIBUTE and not _KEY_RE.fullmatch(path[len("attributes.") :]):
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
                else "write `{contains_all: [...]}` or `{contains_any: [...]}`",
            )  # fmt: skip
            return None
        test = self.test(spec, "eq", key_node, value)
        if test is not None and spec.kind is Kind.ATTRIBUTE:
            self.attribute_use(path, key_node, "eq", key_node, value)
        return test

    def attribute_use(self, path: str, key_node: Node, op: str, op_node: Node, node: Node) -> None:
        key = path[len("attributes.") :]
        self.out.attribute_uses.append(AttributeUse(key, self.path, key_node, op, op_node, node))

    # -- declared attributes (checked by the loader, against the whole set) ----------
    def declared_use(self, use: AttributeUse, spec: AttributeSpec) -> None:
        kind = spec.type
        fits = ATTRIBUTE_OPERATORS[kind]
        if use.op not in fits:
            self.err(
                use.op_node, "operator-mismatch",
                f"`{use.op}` does not fit `attributes.{use.key}` (declared {kind})",
                f"use one of: {', '.join(fits)}",
            )  # fmt: skip
            return
        if use.op in ("in_list", "matches", "exists"):
            return
        node = use.operand
        items = node.value if isinstance(node.value, list) else [node]
        for item in items:
            if not self.declared_value(use, spec, item):
                return

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
        if op in ("in", "not_in", "contains_any", "contains_all"):
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
                    self.out.refs.append(
                        Ref("purpose-prefix", name, self.path, item.line, item.col)
                    )
                result.append(name)
            return tuple(result)
        if op == "in_list":
            name = self.string(node, "a list name")
            if name is None:
                return _BAD
            self.out.refs.append(Ref("list", name, self.path, node.line, node.col))
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
            self.out.refs.append(Ref("purpose", text, self.path, node.line, node.col))
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


def check_attribute_use(
    use: AttributeUse, spec: AttributeSpec, diagnostics: list[Diagnostic]
) -> None:
    """Check a test of a declared attribute: operator fit, operand types and values."""
    _Parser(use.path, Path("."), diagnostics).declared_use(use, spec)


def parse_file(root: Node, path: str, base_dir: Path, diagnostics: list[Diagnostic]) -> ParsedFile:
    """Parse one policy document; problems are appended to ``diagnostics``."""
    return _Parser(path, base_dir, diagnostics).document(root)
