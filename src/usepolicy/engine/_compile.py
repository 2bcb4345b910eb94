"""Compile conditions into predicates over a validated request.

``compile_cond`` gives one predicate for a condition: attribute tests (typed, and able
to raise an evaluation error) are closures here, everything else is generated code from
``_codegen``. ``specialize`` folds every purpose test to a constant for one purpose, so
the engine can index rules by purpose without changing their meaning.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Final

from .._errors import EvaluationError
from .._fastrequest import Req
from .._vocabulary import Vocabulary, compile_re2, is_under
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
    """Compile a condition tree into one predicate.

    Attribute tests (typed, and able to raise) are closures; everything else is
    generated code, the same code the engine's per-purpose scans are made of.
    """
    if isinstance(cond, Test) and cond.field.startswith("attributes."):
        return _compile_attribute(cond, getter(cond.field), lists)
    from ._codegen import generate_predicate

    return generate_predicate(cond, lists, vocabulary)


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
