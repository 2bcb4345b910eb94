"""Compile conditions into closures over a validated request.

Each ``Test`` becomes one small closure with its operand pre-converted (sets for
``in``, ranks for ordered enums, the purpose set an ``under`` covers, a compiled RE2
pattern). ``specialize`` folds every purpose test to a constant for one purpose, so
the engine can index rules by purpose without changing their meaning.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Final

from .._enums import Classification
from .._errors import EvaluationError
from .._fastrequest import Req
from .._vocabulary import Vocabulary, compile_re2, is_under
from ..policy._fields import Kind, lookup_field, rank
from ..policy._model import AllOf, AnyOf, Cond, NotOf, Test

__all__ = ["Pred", "compile_cond", "getter", "specialize"]

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


def specialize(cond: Cond, purpose: str) -> Cond:
    """``cond`` with every purpose test decided for ``purpose`` and folded away.

    Returns the same object when nothing changed, so callers can share compiled code.
    """
    if isinstance(cond, Test):
        if cond.field != "purpose" or cond.op == "matches":
            return cond
        return _TRUE if _purpose_test(cond, purpose) else _FALSE
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
        return purpose in value
    if op == "not_in":
        return purpose not in value
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


def compile_cond(cond: Cond, lists: Mapping[str, frozenset[str]], vocabulary: Vocabulary) -> Pred:
    """Compile a condition tree into one predicate."""
    if isinstance(cond, Test):
        return _compile_test(cond, lists, vocabulary)
    if isinstance(cond, NotOf):
        inner = compile_cond(cond.item, lists, vocabulary)
        return lambda req: not inner(req)
    preds = tuple(compile_cond(item, lists, vocabulary) for item in cond.items)
    if isinstance(cond, AllOf):
        if not preds:
            return lambda req: True
        if len(preds) == 1:
            return preds[0]
        if len(preds) == 2:
            a, b = preds
            return lambda req: a(req) and b(req)
        if len(preds) == 3:
            a, b, c = preds
            return lambda req: a(req) and b(req) and c(req)
        return lambda req: all(p(req) for p in preds)
    if not preds:
        return lambda req: False
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda req: a(req) or b(req)
    return lambda req: any(p(req) for p in preds)


def _compile_test(test: Test, lists: Mapping[str, frozenset[str]], vocabulary: Vocabulary) -> Pred:
    spec = lookup_field(test.field)
    assert spec is not None, test.field
    get = getter(test.field)
    op, value = test.op, test.operand
    if spec.kind is Kind.ATTRIBUTE:
        return _compile_attribute(test, get, lists)
    if op == "exists":
        want = bool(value)
        return lambda req: (get(req) is not None) is want
    if op == "eq":
        return lambda req: get(req) == value
    if op == "ne":
        # absent optional fields match nothing but `exists`
        if spec.optional:
            return lambda req: (v := get(req)) is not None and v != value
        return lambda req: get(req) != value
    if op == "in":
        members = frozenset(value)
        return lambda req: get(req) in members
    if op == "not_in":
        members = frozenset(value)
        if spec.optional:
            return lambda req: (v := get(req)) is not None and v not in members
        return lambda req: get(req) not in members
    if op in ("lt", "lte", "gt", "gte"):
        compare = getattr(operator, "le" if op == "lte" else "ge" if op == "gte" else op)
        if spec.kind is Kind.ENUM:
            ranks = rank(Classification) if spec.enum is Classification else rank(spec.enum)  # type: ignore[arg-type]
            bound = ranks[value]
            return lambda req: compare(ranks[get(req)], bound)
        return lambda req: compare(get(req), value)
    if op == "under":
        if spec.kind is Kind.PURPOSE:
            covered = frozenset(
                name for name in vocabulary.names if any(is_under(name, p) for p in value)
            )
            return lambda req: get(req) in covered
        prefixes = tuple(value)
        return lambda req: any(is_under(get(req), p) for p in prefixes)
    if op == "contains":
        return lambda req: value in get(req)
    if op == "contains_any":
        wanted = frozenset(value)
        return lambda req: not wanted.isdisjoint(get(req))
    if op == "contains_all":
        wanted = frozenset(value)
        return lambda req: wanted.issubset(get(req))
    if op == "in_list":
        members = lists[value]
        return lambda req: get(req) in members
    if op == "matches":
        pattern = compile_re2(value)
        search = pattern.search
        return lambda req: (v := get(req)) is not None and search(v) is not None
    raise AssertionError(op)  # pragma: no cover


def _compile_attribute(
    test: Test, get: Callable[[Req], Any], lists: Mapping[str, frozenset[str]]
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
    if op in ("contains", "contains_any", "contains_all"):
        items = need("list of strings", lambda v: isinstance(v, list))
        if op == "contains":
            return lambda req: (v := get(req)) is not _MISSING and value in items(v)
        wanted = frozenset(value)
        if op == "contains_any":
            return lambda req: (v := get(req)) is not _MISSING and not wanted.isdisjoint(items(v))
        return lambda req: (v := get(req)) is not _MISSING and wanted.issubset(items(v))
    if op == "in_list":
        members = lists[value]
        return lambda req: isinstance(v := get(req), str) and v in members
    if op == "matches":
        search = compile_re2(value).search
        text = need("string", lambda v: isinstance(v, str))
        return lambda req: (v := get(req)) is not _MISSING and search(text(v)) is not None
    raise AssertionError(op)  # pragma: no cover
