"""Compile conditions into predicates over a validated request.

Conditions become generated Python: ``generate_scan`` gives one function per purpose
plan with every rule's condition inlined, returning a bit mask of matching rules, so a
decision costs a handful of attribute reads and set lookups instead of a call per
condition; ``compile_cond`` gives one condition as a generated predicate, with the same
emitter. Attribute tests (typed, and able to raise an evaluation error) are closures
that the generated code calls. ``specialize`` folds every purpose test to a constant for
one purpose, so the engine can index rules by purpose without changing their meaning.
A named condition (``Named``) is inlined wherever it is used: it costs nothing at
evaluation.

Only the structure of the code comes from the policy: every value (operands, sets,
compiled patterns, closures) is bound by name in the function's namespace, never pasted
into the source, so no policy text can change what the generated code does.
"""

from __future__ import annotations

import keyword
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

from .._errors import EvaluationError
from ..policy import (
    AllOf,
    AnyOf,
    Cond,
    Kind,
    ListRef,
    Named,
    NameList,
    NotOf,
    Test,
    is_listed,
    lookup_field,
    name_keys,
    rank,
)
from ..request import Classification, Req, Vocabulary, compile_re2, is_under

__all__ = [
    "Pred",
    "compile_cond",
    "generate_predicate",
    "generate_scan",
    "getter",
    "is_absent",
    "is_constant",
    "members",
    "specialize",
]

Pred = Callable[[Req], bool]
_MISSING: Final[Any] = object()
_TRUE: Final = AllOf(())
_FALSE: Final = AnyOf(())


def getter(path: str) -> Callable[[Req], Any]:
    """A fast accessor for a field path (``attributes.KEY`` yields a sentinel if absent)."""
    if path.startswith("attributes."):
        key = path[len("attributes.") :]
        return lambda req: req.attributes.get(key, _MISSING)
    return operator.attrgetter(path)


def is_absent(value: object) -> bool:
    """True for what a ``getter`` yields when the request has no value there."""
    return value is None or value is _MISSING


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_kind(a: object, b: object) -> bool:
    # attribute equality is typed: 1 is not `true`, "1" is not 1; 1 equals 1.0
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b)
    if _is_number(a):
        return _is_number(b)
    return type(a) is type(b)


def _typed_eq(a: object, b: object) -> bool:
    return _same_kind(a, b) and a == b


def members(operand: Any) -> frozenset[Any]:
    """The values of a set operand: written inline, or the items of a named list."""
    if isinstance(operand, ListRef):
        return operand.items
    return frozenset(operand)


def specialize(cond: Cond, purpose: str) -> Cond:
    """``cond`` with every purpose test decided for ``purpose`` and folded away.

    Returns the same object when nothing changed, so callers can share compiled code.
    A named condition keeps its name unless it folds to a constant.
    """
    if isinstance(cond, Test):
        if cond.field != "purpose" or cond.op == "matches":
            return cond
        return _TRUE if _purpose_test(cond, purpose) else _FALSE
    if isinstance(cond, Named):
        inner = specialize(cond.cond, purpose)
        if inner is cond.cond:
            return cond
        if inner is _TRUE or inner is _FALSE:
            return inner
        return Named(cond.name, inner, cond.source, cond.line, cond.col)
    if isinstance(cond, NotOf):
        inner = specialize(cond.item, purpose)
        if inner is cond.item:
            return cond
        if inner is _TRUE:
            return _FALSE
        if inner is _FALSE:
            return _TRUE
        return NotOf(inner)
    items = [specialize(item, purpose) for item in cond.items]
    if all(new is old for new, old in zip(items, cond.items, strict=True)):
        return cond
    if isinstance(cond, AllOf):
        if any(item is _FALSE for item in items):
            return _FALSE
        kept = tuple(item for item in items if item is not _TRUE)
        return kept[0] if len(kept) == 1 else (AllOf(kept) if kept else _TRUE)
    if any(item is _TRUE for item in items):
        return _TRUE
    kept = tuple(item for item in items if item is not _FALSE)
    return kept[0] if len(kept) == 1 else (AnyOf(kept) if kept else _FALSE)


def _purpose_test(test: Test, purpose: str) -> bool:
    op, value = test.op, test.operand
    if op == "eq":
        return bool(purpose == value)
    if op == "ne":
        return bool(purpose != value)
    if op == "in":
        return purpose in members(value)
    if op == "not_in":
        return purpose not in members(value)
    if op == "under":
        return any(is_under(purpose, prefix) for prefix in value)
    raise AssertionError(op)  # pragma: no cover


def is_constant(cond: Cond) -> bool | None:
    """True/False when ``cond`` is a folded constant, else None."""
    if cond is _TRUE:
        return True
    if cond is _FALSE:
        return False
    return None


def compile_cond(cond: Cond, lists: Mapping[str, NameList], vocabulary: Vocabulary) -> Pred:
    """Compile a condition tree into one predicate (``lists``: ``Policy.name_lists``).

    Attribute tests (typed, and able to raise) are closures; everything else is
    generated code, the same code the engine's per-purpose scans are made of.
    """
    if isinstance(cond, Test) and cond.field.startswith("attributes."):
        return _compile_attribute(cond, getter(cond.field), lists)
    return generate_predicate(cond, lists, vocabulary)


def _compile_attribute(
    test: Test, get: Callable[[Req], Any], lists: Mapping[str, NameList]
) -> Pred:
    op, value, path = test.op, test.operand, test.field

    def need(kind: str, ok: Callable[[Any], bool]) -> Callable[[Any], Any]:
        def check(v: Any) -> Any:
            if not ok(v):
                raise EvaluationError(f"{path}: `{v!r}` is not a {kind}, so `{op}` cannot apply")
            return v

        return check

    if op == "exists":
        want = bool(value)
        return lambda req: (get(req) is not _MISSING) is want
    if op == "eq":
        return lambda req: (v := get(req)) is not _MISSING and _typed_eq(v, value)
    if op == "ne":
        return lambda req: (v := get(req)) is not _MISSING and not _typed_eq(v, value)
    if op in ("in", "not_in") and test.list_name is not None:
        # a named list matches a name as `in_list` does (Test.list_name)
        listed = _compile_attribute(Test(path, "in_list", test.list_name), get, lists)
        if op == "in":
            return listed
        return lambda req: get(req) is not _MISSING and not listed(req)
    if op in ("in", "not_in"):
        options = tuple(value)
        want_in = op == "in"
        return lambda req: (
            (v := get(req)) is not _MISSING and (any(_typed_eq(v, o) for o in options) is want_in)
        )
    if op in ("lt", "lte", "gt", "gte"):
        compare = getattr(operator, "le" if op == "lte" else "ge" if op == "gte" else op)
        number = need("number", _is_number)
        return lambda req: (v := get(req)) is not _MISSING and compare(number(v), value)
    if op == "under":
        prefixes = tuple(value)
        text = need("string", lambda v: isinstance(v, str))
        return lambda req: (
            (v := get(req)) is not _MISSING and any(is_under(text(v), p) for p in prefixes)
        )
    if op in ("contains", "contains_any", "contains_all", "all_in", "none_in"):
        items = need("list of strings", lambda v: isinstance(v, list))
        if test.item_test:
            return _item_test(test, get, items, lists)
        if op == "contains":
            return lambda req: (v := get(req)) is not _MISSING and value in items(v)
        wanted = members(value)
        if op == "contains_any":
            return lambda req: (v := get(req)) is not _MISSING and not wanted.isdisjoint(items(v))
        if op == "none_in":
            return lambda req: (v := get(req)) is not _MISSING and wanted.isdisjoint(items(v))
        if op == "all_in":
            return lambda req: (v := get(req)) is not _MISSING and wanted.issuperset(items(v))
        return lambda req: (v := get(req)) is not _MISSING and wanted.issubset(items(v))
    if op == "in_list":
        keys = lists[value]
        return lambda req: isinstance(v := get(req), str) and is_listed(v, keys)
    if op == "matches":
        search = compile_re2(value).search
        text = need("string", lambda v: isinstance(v, str))
        return lambda req: (v := get(req)) is not _MISSING and search(text(v)) is not None
    raise AssertionError(op)  # pragma: no cover


def _item_test(
    test: Test,
    get: Callable[[Req], Any],
    items: Callable[[Any], list[str]],
    lists: Mapping[str, NameList],
) -> Pred:
    """A list operator with a named list on an attribute: each item of the request's
    list is a name, on the list as ``in_list`` has it (``Test.list_name``)."""
    op, name = test.op, test.list_name
    assert name is not None
    assert isinstance(test.operand, ListRef)
    keys = lists[name]

    def listed(v: Any) -> Iterator[bool]:
        return (is_listed(x, keys) for x in items(v))

    if op == "contains_any":
        return lambda req: (v := get(req)) is not _MISSING and any(listed(v))
    if op == "none_in":
        return lambda req: (v := get(req)) is not _MISSING and not any(listed(v))
    if op == "all_in":
        return lambda req: (v := get(req)) is not _MISSING and all(listed(v))
    assert op == "contains_all"
    # every entry of the list is matched by some item: an entry has two keys of its own
    wanted = tuple(frozenset(name_keys(entry)) for entry in sorted(test.operand.items))

    def covers(v: Any) -> bool:
        have = {key for x in items(v) for key in name_keys(x)}
        return all(not entry.isdisjoint(have) for entry in wanted)

    return lambda req: (v := get(req)) is not _MISSING and covers(v)


_ORDER_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


class _Emitter:
    def __init__(self, lists: Mapping[str, NameList], vocabulary: Vocabulary) -> None:
        self.lists = lists
        self.vocabulary = vocabulary
        self.namespace: dict[str, Any] = {}
        self._ids: dict[int, str] = {}

    def const(self, value: Any) -> str:
        key = id(value)
        name = self._ids.get(key)
        if name is None:
            name = f"_k{len(self._ids)}"
            self._ids[key] = name
            self.namespace[name] = value
        return name

    def expr(self, cond: Cond) -> str:
        if isinstance(cond, Test):
            return self.test(cond)
        if isinstance(cond, Named):
            return self.expr(cond.cond)
        if isinstance(cond, NotOf):
            return f"(not {self.expr(cond.item)})"
        if not cond.items:
            return "True" if isinstance(cond, AllOf) else "False"
        joiner = " and " if isinstance(cond, AllOf) else " or "
        return "(" + joiner.join(self.expr(item) for item in cond.items) + ")"

    def test(self, test: Test) -> str:
        spec = lookup_field(test.field)
        assert spec is not None
        if spec.kind is Kind.ATTRIBUTE:
            # typed comparisons and type errors live in the closure; keep one code path
            pred = compile_cond(test, self.lists, self.vocabulary)
            return f"{self.const(pred)}(r)"
        parts = test.field.split(".")
        assert all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)
        get = "r." + test.field
        op, value = test.op, test.operand
        if op == "exists":
            return f"({get} is {'not ' if value else ''}None)"
        if op in ("eq", "ne"):
            sign = "==" if op == "eq" else "!="
            if op == "ne" and spec.optional:
                return f"((_v := {get}) is not None and _v != {self.const(value)})"
            return f"({get} {sign} {self.const(value)})"
        if op in ("in", "not_in") and test.list_name is not None:
            # a named list matches a name as `in_list` does (Test.list_name)
            listed = self.test(Test(test.field, "in_list", test.list_name))
            if op == "in":
                return listed
            if spec.optional:
                return f"({get} is not None and not {listed})"
            return f"(not {listed})"
        if op in ("in", "not_in"):
            values = self.const(members(value))
            if op == "in":
                return f"({get} in {values})"
            if spec.optional:
                return f"((_v := {get}) is not None and _v not in {values})"
            return f"({get} not in {values})"
        if op in _ORDER_OPS:
            sign = _ORDER_OPS[op]
            if spec.kind is Kind.ENUM:
                assert spec.enum is Classification
                ranks = rank(Classification)
                return f"({self.const(ranks)}[{get}] {sign} {self.const(ranks[value])})"
            return f"({get} {sign} {self.const(value)})"
        if op == "under":
            covered = frozenset(
                name for name in self.vocabulary.names if any(is_under(name, p) for p in value)
            )
            return f"({get} in {self.const(covered)})"
        if op == "contains":
            return f"({self.const(value)} in {get})"
        if op == "contains_any":
            return f"(not {self.const(members(value))}.isdisjoint({get}))"
        if op == "contains_all":
            return f"{self.const(members(value))}.issubset({get})"
        if op == "all_in":
            return f"{self.const(members(value))}.issuperset({get})"
        if op == "none_in":
            return f"{self.const(members(value))}.isdisjoint({get})"
        if op == "in_list":
            # names match after normalisation (policy/_names.py): the list's keys were
            # made once, with the policy; the request's value is keyed here
            keys, listed = self.const(self.lists[value]), self.const(is_listed)
            if spec.optional:
                return f"((_v := {get}) is not None and {listed}(_v, {keys}))"
            return f"{listed}({get}, {keys})"
        if op == "matches":
            search = self.const(compile_re2(value).search)
            return f"((_v := {get}) is not None and {search}(_v) is not None)"
        raise AssertionError(op)  # pragma: no cover


def generate_scan(
    conds: Sequence[Cond | None],
    lists: Mapping[str, NameList],
    vocabulary: Vocabulary,
) -> Callable[[Req], int]:
    """A function returning a bit mask: bit ``k`` is set when ``conds[k]`` holds
    (None means "always").

    A mask is cheap to build, and the engine maps each distinct mask to its outcome
    once (a policy has few distinct sets of matching rules in practice).
    """
    emitter = _Emitter(lists, vocabulary)
    always = sum(1 << k for k, cond in enumerate(conds) if cond is None)
    lines = ["def scan(r):", f"    m = {always}"]
    for k, cond in enumerate(conds):
        if cond is not None:
            lines.append(f"    if {emitter.expr(cond)}:")
            lines.append(f"        m |= {1 << k}")
    lines.append("    return m")
    scan: Callable[[Req], int] = _define("scan", lines, emitter)
    return scan


def generate_predicate(
    cond: Cond, lists: Mapping[str, NameList], vocabulary: Vocabulary
) -> Callable[[Req], bool]:
    """One condition as a generated function (for explain traces, indexed rules and
    obligations), so every path evaluates conditions with the same code."""
    emitter = _Emitter(lists, vocabulary)
    lines = ["def pred(r):", f"    return bool({emitter.expr(cond)})"]
    pred: Callable[[Req], bool] = _define("pred", lines, emitter)
    return pred


def _define(name: str, lines: list[str], emitter: _Emitter) -> Any:
    source = "\n".join(lines)
    namespace = dict(emitter.namespace)
    exec(compile(source, "<usepolicy plan>", "exec"), namespace)  # noqa: S102 - see module doc
    function = namespace[name]
    function.__doc__ = source
    return function
