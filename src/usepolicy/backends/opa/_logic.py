"""Policy conditions as boolean formulas over Rego expressions.

``Translator.holds`` is a condition read plainly: it is what the native engine computes
whenever evaluation meets no error. ``Translator.fails`` is when the native engine meets
an evaluation error (an ordering test on an attribute that is not a number, ``contains``
on one that is not a list, ``under``/``matches`` on one that is not a string). Which
tests the engine evaluates depends on its order, so ``fails`` follows it exactly:

- ``all`` and ``any`` evaluate their items left to right and stop at the first that
  settles the answer (a false item for ``all``, a true one for ``any``);
- in a rule's condition, purpose tests (except ``matches``) are decided before anything
  else: a branch they settle is never evaluated (``engine._compile.specialize``);
- obligation conditions are evaluated plainly, left to right.

When no evaluation error occurs, ``holds`` is exact whatever value the erring tests are
given, because a test that would err is either evaluated (and the decision is an error)
or skipped (and the answer does not depend on it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ...policy import (
    AllOf,
    AnyOf,
    Cond,
    Kind,
    ListRef,
    Named,
    NotOf,
    Test,
    lookup_field,
    name_keys,
    rank,
)

__all__ = [
    "FALSE",
    "TRUE",
    "And",
    "Atom",
    "Formula",
    "Not",
    "Or",
    "Translator",
    "conj",
    "disj",
    "field_ref",
    "literal",
    "neg",
]

#: Rego v1 keywords, which cannot follow a dot in a reference
_KEYWORDS: Final = frozenset(
    {
        "as", "contains", "default", "else", "every", "false", "if", "import", "in", "not",
        "null", "package", "some", "true", "with",
    }
)  # fmt: skip
_ORDER: Final = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
#: attribute operators that fail on a value of the wrong type, and the test they need
_TYPED: Final = {
    "lt": "number",
    "lte": "number",
    "gt": "number",
    "gte": "number",
    "under": "string",
    "matches": "string",
    "contains": "list",
    "contains_any": "list",
    "contains_all": "list",
    "all_in": "list",
    "none_in": "list",
}
_IS_TYPE: Final = {"number": "is_number", "string": "is_string", "list": "is_array"}


# -- formulas -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Atom:
    """One Rego expression without variables (so it can be negated or repeated)."""

    text: str


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Formula, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Formula, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Formula


Formula = Atom | And | Or | Not
TRUE: Final[Formula] = And(())
FALSE: Final[Formula] = Or(())


def conj(*items: Formula) -> Formula:
    """All of ``items``, flattened and simplified."""
    out: list[Formula] = []
    for item in items:
        if item == FALSE:
            return FALSE
        for part in item.items if isinstance(item, And) else (item,):
            if part not in out:
                out.append(part)
    return out[0] if len(out) == 1 else And(tuple(out))


def disj(*items: Formula) -> Formula:
    """Any of ``items``, flattened and simplified."""
    out: list[Formula] = []
    for item in items:
        if item == TRUE:
            return TRUE
        for part in item.items if isinstance(item, Or) else (item,):
            if part not in out:
                out.append(part)
    return out[0] if len(out) == 1 else Or(tuple(out))


def neg(item: Formula) -> Formula:
    if item == TRUE:
        return FALSE
    if item == FALSE:
        return TRUE
    if isinstance(item, Not):
        return item.item
    return Not(item)


# -- Rego text of values and fields ---------------------------------------------------
def literal(value: Any) -> str:
    """A Rego scalar literal (JSON syntax; strings keep non-ASCII characters as is)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"not a scalar: {value!r}")  # pragma: no cover - the loader checks


def set_literal(values: Any) -> str:
    return "{" + ", ".join(sorted({literal(v) for v in values})) + "}"


def is_identifier(name: str) -> bool:
    return name.isidentifier() and name.isascii() and name not in _KEYWORDS


def field_ref(path: str) -> str:
    """The Rego reference to a request field (``attributes.KEY`` keys may need brackets)."""
    if path.startswith("attributes."):
        key = path[len("attributes.") :]
        return (
            "input.attributes." + key if is_identifier(key) else f"input.attributes[{literal(key)}]"
        )
    return "input." + path


def name_key_ref(path: str) -> str:
    """The Rego reference to a field's name keys in the input's ``name_keys`` section."""
    return f"input.name_keys.fields[{literal(path)}]"


def regex_literal(pattern: str) -> str:
    # raw strings keep a pattern readable: no doubled backslashes
    return f"`{pattern}`" if "`" not in pattern else literal(pattern)


# -- conditions -----------------------------------------------------------------------
class Translator:
    """Turns conditions into formulas. ``lists`` is the Rego reference to the lists.

    ``used`` collects the helper functions the formulas call, so the module can define
    only those.
    """

    def __init__(self, lists: str, lists_by_name: Mapping[str, frozenset[str]]) -> None:
        self.lists = lists
        self.lists_by_name = lists_by_name
        self.used: set[str] = set()
        #: the fields tested with ``in_list``, whose name keys the input must carry
        self.name_fields: set[str] = set()

    # -- plain truth --
    def holds(self, cond: Cond) -> Formula:
        if isinstance(cond, Test):
            return self.test(cond)
        if isinstance(cond, Named):  # inlined, as the native engine does
            return self.holds(cond.cond)
        if isinstance(cond, NotOf):
            return neg(self.holds(cond.item))
        parts = [self.holds(item) for item in cond.items]
        return conj(*parts) if isinstance(cond, AllOf) else disj(*parts)

    # -- evaluation errors --
    def fails(self, cond: Cond, fold: bool) -> Formula:
        """When the native engine meets an evaluation error in ``cond``.

        ``fold``: purpose tests are decided first (rule conditions), not in place.
        """
        if isinstance(cond, Test):
            return self.test_fails(cond)
        if isinstance(cond, Named):
            return self.fails(cond.cond, fold)
        if isinstance(cond, NotOf):
            return self.fails(cond.item, fold)
        items = cond.items
        alternatives = []
        for i, item in enumerate(items):
            failing = self.fails(item, fold)
            if failing == FALSE:
                continue
            earlier = [self.holds(prior) for prior in items[:i]]
            if isinstance(cond, AnyOf):
                earlier = [neg(e) for e in earlier]
            alternatives.append(conj(failing, *earlier))
        found = disj(*alternatives)
        if not fold or found == FALSE:
            return found
        settled = self.const_false(cond) if isinstance(cond, AllOf) else self.const_true(cond)
        return conj(neg(settled), found)

    def const_true(self, cond: Cond) -> Formula:
        """When purpose tests alone make ``cond`` true (``specialize`` folds it to true)."""
        if isinstance(cond, Test):
            return self.test(cond) if _folded(cond) else FALSE
        if isinstance(cond, Named):
            return self.const_true(cond.cond)
        if isinstance(cond, NotOf):
            return self.const_false(cond.item)
        if isinstance(cond, AllOf):
            if not cond.items:
                return FALSE
            return conj(*(self.const_true(item) for item in cond.items))
        return disj(*(self.const_true(item) for item in cond.items))

    def const_false(self, cond: Cond) -> Formula:
        """When purpose tests alone make ``cond`` false (``specialize`` folds it to false)."""
        if isinstance(cond, Test):
            return neg(self.test(cond)) if _folded(cond) else FALSE
        if isinstance(cond, Named):
            return self.const_false(cond.cond)
        if isinstance(cond, NotOf):
            return self.const_true(cond.item)
        if isinstance(cond, AnyOf):
            if not cond.items:
                return FALSE
            return conj(*(self.const_false(item) for item in cond.items))
        return disj(*(self.const_false(item) for item in cond.items))

    # -- one test --
    def test_fails(self, test: Test) -> Formula:
        spec = lookup_field(test.field)
        assert spec is not None, test.field
        kind = _TYPED.get(test.op)
        if spec.kind is not Kind.ATTRIBUTE or kind is None:
            return FALSE
        self.used.add(f"not_{kind}")
        return Atom(f"_not_{kind}({field_ref(test.field)})")

    def test(self, test: Test) -> Formula:
        spec = lookup_field(test.field)
        assert spec is not None, test.field
        ref, op, value = field_ref(test.field), test.op, test.operand
        if op in ("in", "not_in") and test.list_name is not None:
            # a named list matches a name as `in_list` does (Test.list_name), as natively
            listed = self.test(Test(test.field, "in_list", test.list_name))
            if op == "in":
                return listed
            return conj(self.test(Test(test.field, "exists", True)), neg(listed))
        if spec.kind is Kind.ATTRIBUTE:
            return self.attribute(test, ref)
        if op == "exists":
            return Atom(f"{ref} {'!=' if value else '=='} null")
        present = Atom(f"{ref} != null") if spec.optional else TRUE
        if op == "eq":
            return Atom(f"{ref} == {literal(value)}")
        if op == "ne":
            return conj(present, Atom(f"{ref} != {literal(value)}"))
        if op == "in":
            return Atom(f"{ref} in {self.members(value)}")
        if op == "not_in":
            return conj(present, neg(Atom(f"{ref} in {self.members(value)}")))
        if op in _ORDER:
            if spec.kind is Kind.ENUM:
                # an ordered enumeration: the members on the right side of the bound
                assert spec.enum is not None
                ranks = rank(spec.enum)
                keep = [m for m, r in ranks.items() if _compare(op, r, ranks[value])]
                return Atom(f"{ref} in {set_literal(keep)}") if keep else FALSE
            return Atom(f"{ref} {_ORDER[op]} {literal(value)}")
        if op == "under":
            self.used.add("under")
            return Atom(f"_under({ref}, {set_literal(value)})")
        if op == "contains":
            return Atom(f"{literal(value)} in {ref}")
        if op in ("contains_any", "contains_all", "all_in", "none_in"):
            return self.set_test(op, ref, value)
        if op == "in_list":
            return self.in_list(test)
        if op == "matches":
            return conj(present, Atom(f"regex.match({regex_literal(value)}, {ref})"))
        raise AssertionError(op)  # pragma: no cover

    def attribute(self, test: Test, ref: str) -> Formula:
        """Typed tests on ``attributes.KEY``: an absent key matches only ``exists: false``."""
        op, value = test.op, test.operand
        key = literal(test.field[len("attributes.") :])
        present = Atom(f"{key} in object.keys(input.attributes)")
        if op == "exists":
            return present if value else neg(present)
        if op == "eq":
            return Atom(f"{ref} == {literal(value)}")  # Rego equality is typed, 1 == 1.0
        if op == "ne":
            return Atom(f"{ref} != {literal(value)}")  # undefined (false) when absent
        if op == "in":
            return Atom(f"{ref} in {self.members(value)}")
        if op == "not_in":
            return conj(present, neg(Atom(f"{ref} in {self.members(value)}")))
        if op == "in_list":
            return self.in_list(test)
        typed = Atom(f"{_IS_TYPE[_TYPED[op]]}({ref})")
        if op in _ORDER:
            return conj(typed, Atom(f"{ref} {_ORDER[op]} {literal(value)}"))
        if op == "under":
            self.used.add("under")
            return conj(typed, Atom(f"_under({ref}, {set_literal(value)})"))
        if op == "matches":
            return conj(typed, Atom(f"regex.match({regex_literal(value)}, {ref})"))
        if op == "contains":
            return conj(typed, Atom(f"{literal(value)} in {ref}"))
        if test.item_test:
            return conj(typed, self.item_test(test))
        return conj(typed, self.set_test(op, ref, value))

    def item_test(self, test: Test) -> Formula:
        """A list operator with a named list on an attribute: each item's name keys
        (computed by usepolicy, ``_input``) against the list's, as ``in_list`` does."""
        self.name_fields.add(test.field)
        entry, op = name_key_ref(test.field), test.op
        if op == "contains_all":
            # every entry of the list (its own two keys) matched by some item
            wanted = [sorted(name_keys(item)) for item in sorted(test.operand.items)]
            self.used.add("items_cover")
            return Atom(f"_items_cover({entry}, {json.dumps(wanted, ensure_ascii=False)})")
        names = self.list_ref(test.operand.name)
        helper = {"contains_any": "items_any", "all_in": "items_all", "none_in": "items_none"}
        self.used.add(helper[op])
        return Atom(f"_{helper[op]}({entry}, {names})")

    def set_test(self, op: str, ref: str, value: Any) -> Formula:
        """``contains_any``, ``contains_all``, ``all_in`` or ``none_in`` on a list."""
        helper = "contains_any" if op == "none_in" else op
        self.used.add(helper)
        found = Atom(f"_{helper}({ref}, {self.members(value)})")
        return neg(found) if op == "none_in" else found

    def members(self, value: Any) -> str:
        """A set operand compared exactly, as a set literal: written inline, or the items
        of a named list (the module's lists hold name keys, for `in_list`)."""
        if isinstance(value, ListRef):
            return set_literal(sorted(value.items)) if value.items else "set()"
        return set_literal(value)

    def in_list(self, test: Test) -> Formula:
        """One of the field's name keys (computed by usepolicy, ``_input``) among the
        list's keys; null (absent, or an attribute that is not a string) is in no list."""
        self.name_fields.add(test.field)
        return Atom(f"_listed({name_key_ref(test.field)}, {self.list_ref(test.operand)})")

    def list_ref(self, name: str) -> str:
        return f"{self.lists}.{name}" if is_identifier(name) else f"{self.lists}[{literal(name)}]"


def _folded(test: Test) -> bool:
    return test.field == "purpose" and test.op != "matches"


def _compare(op: str, a: int, b: int) -> bool:
    return {"lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b}[op]


def can_fail(cond: Cond | None) -> bool:
    """True when some test in ``cond`` can raise an evaluation error."""
    if cond is None:
        return False
    if isinstance(cond, Test):
        spec = lookup_field(cond.field)
        return spec is not None and spec.kind is Kind.ATTRIBUTE and cond.op in _TYPED
    if isinstance(cond, Named):
        return can_fail(cond.cond)
    if isinstance(cond, NotOf):
        return can_fail(cond.item)
    return any(can_fail(item) for item in cond.items)


def typed_tests(cond: Cond | None) -> list[Test]:
    """The tests of ``cond`` that can raise an evaluation error, in order."""
    if cond is None:
        return []
    if isinstance(cond, Test):
        return [cond] if can_fail(cond) else []
    if isinstance(cond, Named):
        return typed_tests(cond.cond)
    if isinstance(cond, NotOf):
        return typed_tests(cond.item)
    return [t for item in cond.items for t in typed_tests(item)]


def type_needed(op: str) -> str:
    return {"list": "list of strings"}.get(_TYPED[op], _TYPED[op])
