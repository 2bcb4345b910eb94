"""Hypothesis strategy for small random policies over every field and every operator,
named lists as operands and named conditions included."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

from usepolicy import STANDARD_PURPOSES
from usepolicy.policy import FIELDS, lookup_field
from usepolicy.policy._fields import FieldSpec, Kind

from ._harness import REGEXES, STRINGS

ATTRIBUTE_KEYS = ["tier", "program", "flag"]
LIST_ITEMS = ["ALPHA", "Cell 7", "x", "a.b"]
SET_OPERATORS = ("in", "not_in", "contains_any", "contains_all", "all_in", "none_in")
PURPOSES = [*sorted(STANDARD_PURPOSES), "custom.thing"]
PREFIXES = ["intelligence", "weapons", "general", "general.assistant", "custom"]
NUMBERS: list[Any] = [0, 1, 2, 2.5, -1, 10, 1000]
SCALARS: list[Any] = [*STRINGS, *NUMBERS, True, False]

_fields = st.sampled_from([*FIELDS, *(f"attributes.{k}" for k in ATTRIBUTE_KEYS)])


def _list_name(spec: FieldSpec) -> str:
    """The named list whose items fit ``spec`` (see ``LISTS``)."""
    if spec.kind in (Kind.ENUM, Kind.CATEGORIES):
        return "values_" + spec.path.replace(".", "_")
    return "purposes" if spec.kind is Kind.PURPOSE else "names"


#: one list per kind of field, so a named list always fits the field it is used on
LISTS: dict[str, list[str]] = {
    "names": LIST_ITEMS,
    "purposes": ["weapons.targeting", "custom.thing", "general.assistant"],
    **{
        _list_name(spec): [m.value for m in spec.enum][1:4]
        for spec in FIELDS.values()
        if spec.enum is not None
    },
}


def _some(values: list[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=3, unique_by=repr)


def _operand(spec: FieldSpec, op: str) -> st.SearchStrategy[Any]:
    kind = spec.kind
    if op == "exists":
        return st.booleans()
    if op == "matches":
        return st.sampled_from(sorted(REGEXES))
    if op == "in_list":
        return st.just("names")
    if kind in (Kind.ENUM, Kind.CATEGORIES):
        assert spec.enum is not None
        values = [m.value for m in spec.enum]
    elif kind is Kind.PURPOSE:
        values = PREFIXES if op == "under" else PURPOSES
    elif kind is Kind.STRING:
        values = STRINGS
    elif kind is Kind.INT:
        values = [0, 1, 10, 1000]
    elif kind is Kind.BOOL:
        values = [True, False]
    elif op in ("lt", "lte", "gt", "gte"):
        values = NUMBERS
    elif op in ("under", "contains", "contains_any", "contains_all"):
        values = ["a", "a.b", "ALPHA", "x", ""] if op == "under" else STRINGS
    else:
        values = SCALARS
    if op in SET_OPERATORS and kind not in (Kind.INT, Kind.BOOL):
        # inline, or a named list (always strings, so not for numbers and booleans)
        return st.one_of(_some(values), st.just({"list": _list_name(spec)}))
    if op in (*SET_OPERATORS, "under"):
        return _some(values)
    return st.sampled_from(values)


@st.composite
def _test(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(_fields)
    spec = lookup_field(field)
    assert spec is not None
    op = draw(st.sampled_from(sorted(spec.operators)))
    return {field: {op: draw(_operand(spec, op))}}


def conditions_over(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Conditions whose leaves are tests or uses of the named conditions ``names``."""
    leaf = _test()
    if names:
        leaf = st.one_of(leaf, st.sampled_from(names).map(lambda n: {"condition": n}))
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
            inner.map(lambda x: {"not": x}),
        ),
        max_leaves=6,
    )


conditions = conditions_over([])


@st.composite
def _rule(
    draw: st.DrawFn, index: int, conditions: st.SearchStrategy[dict[str, Any]]
) -> dict[str, Any]:
    effect = draw(st.sampled_from(["allow", "deny"]))
    rule: dict[str, Any] = {"id": f"r{index}", "effect": effect, "reason": f"rule {index}"}
    if draw(st.integers(0, 9)) > 0:
        rule["when"] = draw(conditions)
    if effect == "allow" and draw(st.booleans()):
        obligations = []
        for j in range(draw(st.integers(1, 2))):
            obligation: dict[str, Any] = {"id": f"ob{index}-{j}", "with": {"n": j}}
            if draw(st.booleans()):
                obligation["when"] = draw(conditions)
            obligations.append(obligation)
        rule["obligations"] = obligations
    return rule


@st.composite
def policies(draw: st.DrawFn) -> str:
    """YAML text of a valid policy with 1 to 6 rules and up to 3 named conditions (each
    may use the ones defined before it)."""
    count = draw(st.integers(1, 6))
    named: dict[str, Any] = {}
    for i in range(draw(st.integers(0, 3))):
        named[f"c{i}"] = draw(conditions_over(list(named)))
    used = conditions_over(list(named))
    document = {
        "usepolicy": 1,
        "name": "generated",
        "version": "1",
        "default": draw(st.sampled_from(["allow", "deny"])),
        "combine": draw(st.sampled_from(["deny-overrides", "first-match"])),
        "vocabulary": {"purposes": {"custom.thing": "a purpose added by the policy"}},
        "lists": LISTS,
        **({"conditions": named} if named else {}),
        "rules": [draw(_rule(i, used)) for i in range(1, count + 1)],
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
