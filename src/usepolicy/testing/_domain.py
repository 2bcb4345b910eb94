"""Candidate values for each request field: enough to reach every class of the partition.

For a field and the tests a set of policies makes on it, ``candidates`` lists values
such that every way those tests can answer together (true, false or an evaluation
error, per test) is produced by at least one value. The partition later keeps one
value per distinct answer. Values come preferred first: the field's default (or
absent), then small and simple ones, so a representative reads like a real request.

Finite domains (purposes, enumerations, booleans, category sets) are listed whole.
Numbers split at every constant ``c`` into ``c - 1``, ``c``, ``c + 1`` (and midpoints
for attributes, which may be fractions). Strings take every constant, every item of
every named list tested, strings derived from every regular expression, and one
fresh string (on no list, even after normalisation); there exactness rests on the
regular expressions (see ``_regex``) and, where a field is tested both with ``in_list``
and exactly, on the case variants of the list items tried.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..policy import (
    FIELDS,
    SET_OPERATORS,
    Kind,
    ListRef,
    NameList,
    Policy,
    Test,
    is_listed,
    lookup_field,
)
from ..request import LIMITS, Category
from ._regex import regex_examples

__all__ = ["PLACEHOLDER_ORGANIZATION", "Domain", "candidates", "default_value"]

PLACEHOLDER_ORGANIZATION: Final = "Example Organization"
_MAX_LIST_SUBSETS: Final = 1 << 10
_MAX_COMBINED_PATTERNS: Final = 6
_LETTERS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FRESH: Final = {
    "request_id": "req-0001",
    "requester.organization": PLACEHOLDER_ORGANIZATION,
    "requester.country": "ZZ",
    "requester.entity_id": "EX-0001",
    "model": "example-model",
}


@dataclass(frozen=True, slots=True)
class Domain:
    """The candidate values of one field; ``notes`` say where they may not be exhaustive."""

    field: str
    values: tuple[Any, ...]
    notes: tuple[str, ...] = ()


def default_value(field: str, purposes: Sequence[str]) -> Any:
    """The value a field takes when no test cares about it (None: absent)."""
    spec = lookup_field(field)
    assert spec is not None, field
    if field == "requester.organization":
        return PLACEHOLDER_ORGANIZATION
    if spec.kind is Kind.PURPOSE:
        return "general.assistant" if "general.assistant" in purposes else purposes[0]
    if spec.kind is Kind.ENUM:
        assert spec.enum is not None
        return next(iter(spec.enum)).value
    if spec.kind is Kind.INT:
        return 0
    if spec.kind is Kind.BOOL:
        return False
    if spec.kind is Kind.CATEGORIES:
        return ()
    return None


def _scalars(tests: Iterable[Test]) -> list[Any]:
    """The values tests compare with (the items of named lists too, in order)."""
    found: list[Any] = []
    for test in tests:
        if test.op in ("eq", "ne", "contains", "lt", "lte", "gt", "gte"):
            found.append(test.operand)
        elif test.op in SET_OPERATORS:
            found.extend(_members(test.operand))
    return found


def _members(operand: Any) -> list[Any]:
    if isinstance(operand, ListRef):
        return sorted(operand.items)
    return list(operand)


def _unique(values: Iterable[Any]) -> list[Any]:
    seen: set[tuple[str, Any]] = set()
    result = []
    for value in values:
        key = (type(value).__name__, value)
        if key not in seen:
            seen.add(key)
            result.append(value)
    return result


def _fresh(base: str, taken: set[str], lists: Sequence[NameList] = ()) -> str:
    """A string that is none of ``taken`` and on none of ``lists`` (names on a list match
    after normalisation: ``EXAMPLE ORGANIZATION`` is on a list of ``Example Organization``)."""

    def free(candidate: str) -> bool:
        return candidate not in taken and not any(is_listed(candidate, keys) for keys in lists)

    if free(base):
        return base
    for n in itertools.count(2):
        candidate = f"{base}-{n}" if len(base) > 2 else f"{chr(ord('A') + n % 26)}Q"
        if free(candidate):
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _strings(
    field: str, tests: Sequence[tuple[Test, Policy]], fresh: str, closed: bool = False
) -> tuple[list[str], list[str]]:
    """String candidates (without absent) and notes. ``closed``: every valid value is
    a candidate anyway (a declared attribute's values)."""
    notes: list[str] = []
    constants = [
        v
        for v in _scalars(t for t, _ in tests if not isinstance(t.operand, ListRef))
        if isinstance(v, str)
    ]
    items: list[str] = []
    prefixes: list[str] = []
    examples: list[str] = []
    patterns = []
    listed: list[NameList] = []
    for test, policy in tests:
        name = test.list_name  # a name matched against a list: every spelling of its items
        if name is not None:
            items.extend(sorted(policy.lists.get(name, ())))
            listed.append(policy.name_lists.get(name, {}))
        elif isinstance(test.operand, ListRef):
            items.extend(sorted(test.operand.items))
        elif test.op == "under":
            prefixes.extend(test.operand)
        elif test.op == "matches":
            patterns.append(test.operand)
    for pattern in dict.fromkeys(patterns):
        found = regex_examples(pattern)
        if not found:
            notes.append(f"{field}: no string matching `{pattern}` could be derived")
        examples.extend(found)
    # unanchored patterns also match inside longer strings: combining the examples
    # tries strings that match several patterns at once
    combos = _combinations(patterns)
    if patterns:
        notes.append(
            f"{field}: tested with `matches`; its classes come from strings derived "
            "from the patterns, not from a proof"
        )
    if listed and (constants or prefixes or patterns) and not closed:
        # a list item stands for every spelling with its keys (policy/_names.py), and
        # exact tests on the same field tell spellings apart: try other cases too
        items += [v for item in list(items) for v in (item.upper(), item.lower())]
        notes.append(
            f"{field}: tested with `in_list` and exact tests; of the spellings a list item "
            "stands for, only its upper and lower case are tried"
        )
    under = [p for prefix in prefixes for p in (prefix, prefix + ".x")]
    taken = set(constants) | set(items) | set(examples) | set(under)
    values = [_fresh(fresh, taken, listed), *constants, *under, *examples, *combos, *items]
    values += [f"x{e}x" for e in examples[:16]]
    return _unique(values), notes


def _combinations(patterns: list[str]) -> list[str]:
    """Strings meant to match several patterns at once: their examples joined, with
    start-anchored patterns first and end-anchored ones last."""
    unique = list(dict.fromkeys(patterns))[:_MAX_COMBINED_PATTERNS]
    firsts = {p: regex_examples(p)[:1] for p in unique}
    found: list[str] = []
    for size in range(2, len(unique) + 1):
        for group in itertools.combinations(unique, size):
            parts = [firsts[p][0] for p in group if firsts[p]]
            order = sorted(
                range(len(parts)),
                key=lambda i: (not group[i].startswith("^"), group[i].endswith("$")),
            )
            ordered = [parts[i] for i in order]
            found += ["".join(ordered), " ".join(ordered), "".join(reversed(parts))]
    return found


def _numbers(constants: Iterable[Any], integral: bool, low: float, high: float) -> list[Any]:
    points: set[Any] = set()
    numbers = sorted(
        {c for c in constants if isinstance(c, (int, float)) and not isinstance(c, bool)}
    )
    for value in numbers:
        points.update((value - 1, value, value + 1))
    if numbers:
        points.update((low, high))
    if not integral:
        for a, b in itertools.pairwise(numbers):
            points.add((a + b) / 2)
    result = [p for p in sorted(points) if low <= p <= high]
    if integral:
        result = [int(p) for p in result if float(p).is_integer()]
    return _unique(result)


def _category_sets(tests: Sequence[Test]) -> list[tuple[str, ...]]:
    mentioned = set(_scalars(tests))
    ordered = [c.value for c in Category if c.value in mentioned]
    if any(t.op == "all_in" for t in tests):
        # an item no test names makes every `all_in` fail: one stands for them all
        ordered += [c.value for c in Category if c.value not in mentioned][:1]
    subsets: list[tuple[str, ...]] = []
    for size in range(len(ordered) + 1):
        subsets.extend(itertools.combinations(ordered, size))
    return subsets


def _attribute(field: str, tests: Sequence[tuple[Test, Policy]]) -> tuple[list[Any], list[str]]:
    plain = [t for t, _ in tests]
    constants = _scalars(plain)
    limit = float(LIMITS.max_abs_number)
    numbers = _numbers(constants, integral=False, low=-limit, high=limit)
    key = field.removeprefix("attributes.")
    specs = [(policy.vocabulary.attributes or {}).get(key) for _, policy in tests]
    closed = all(s is not None and s.type == "string" and s.values for s in specs)
    strings, notes = _strings(field, tests, "x", closed)
    strings = [s for s in strings if len(s) <= LIMITS.max_attribute_string]
    list_ops = ("contains", "contains_any", "contains_all", "all_in", "none_in")
    members = _unique(
        v
        for t in plain
        if t.op in list_ops
        for v in ((t.operand,) if t.op == "contains" else _members(t.operand))
        if isinstance(v, str)
    )
    by_name = [policy.name_lists.get(t.list_name or "", {}) for t, policy in tests if t.item_test]
    exact = [t for t in plain if t.op in list_ops and not t.item_test]
    if by_name and exact:
        # an item matched by name stands for every spelling with its keys, and exact
        # tests on the same field tell spellings apart: try other cases too
        members = _unique([*members, *(v for m in members for v in (m.upper(), m.lower()))])
        notes.append(
            f"{field}: list items matched by name and exactly; of the spellings a list "
            "item stands for, only its upper and lower case are tried"
        )
    if any(t.op == "all_in" for t in plain):
        # an item no test names makes every `all_in` fail: one stands for them all (a
        # declared value, where only declared values are valid)
        declared = [v for spec in specs if spec and spec.values for v in spec.values]
        unnamed = [v for v in declared if v not in members]
        members.append(unnamed[0] if unnamed else _fresh("x", set(members), by_name))
    if len(members) > LIMITS.max_attribute_list or (1 << len(members)) > _MAX_LIST_SUBSETS:
        notes.append(f"{field}: too many list items tested to try every combination")
        lists = [(), *((m,) for m in members), tuple(members[: LIMITS.max_attribute_list])]
    else:
        lists = [
            combo
            for size in range(len(members) + 1)
            for combo in itertools.combinations(members, size)
        ]
    bools = [v for v in constants if isinstance(v, bool)]
    # a declared attribute's values: invalid candidates are dropped later, so the
    # declared ones must be here to stand for the values no test names
    for spec in specs:
        if spec is not None and spec.values is not None:
            if spec.type == "list":
                lists += [(v,) for v in spec.values]
            else:
                strings += list(spec.values)
    values: list[Any] = [None, False, True, *bools, 0, *numbers, *strings, *lists]
    return _unique(values), notes


def candidates(field: str, tests: Sequence[tuple[Test, Policy]], purposes: Sequence[str]) -> Domain:
    """Candidate values for ``field`` given every test on it (with its policy)."""
    spec = lookup_field(field)
    assert spec is not None, field
    plain = [t for t, _ in tests]
    notes: list[str] = []
    values: list[Any]
    if spec.kind is Kind.PURPOSE:
        first = default_value(field, purposes)
        values = [first, *(p for p in purposes if p != first)]
    elif spec.kind is Kind.ENUM:
        assert spec.enum is not None
        values = [member.value for member in spec.enum]
    elif spec.kind is Kind.BOOL:
        values = [False, True]
    elif spec.kind is Kind.INT:
        values = [0, *_numbers(_scalars(plain), True, 0, LIMITS.max_subject_count)]
        values.append(LIMITS.max_subject_count)
    elif spec.kind is Kind.CATEGORIES:
        values = list(_category_sets(plain))
    elif spec.kind is Kind.STRING:
        strings, notes = _strings(field, tests, _FRESH[field])
        if field == "requester.country" and any(t.op == "matches" for t in plain):
            # a finite domain: list it whole rather than trust derived strings
            strings += [a + b for a in _LETTERS for b in _LETTERS]
            notes = []
        values = [*([None] if spec.optional else []), *strings]
    else:
        values, notes = _attribute(field, tests)
    return Domain(field, tuple(_unique(values)), tuple(notes))


#: the order fields are split in: purpose first (it decides most), then request order
FIELD_ORDER: Final = ("purpose", *(f for f in FIELDS if f != "purpose"))
