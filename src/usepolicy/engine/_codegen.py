"""Generate one Python function per purpose plan: the rules' conditions inlined as
expressions, so a decision costs a handful of attribute reads and set lookups instead
of a call per condition.

Only the structure of the code comes from the policy: every value (operands, sets,
compiled patterns, rules) is bound by name in the function's namespace, never pasted
into the source, so no policy text can change what the generated code does.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._enums import Classification
from .._fastrequest import Req
from .._vocabulary import Vocabulary, compile_re2, is_under
from ..policy._fields import Kind, lookup_field, rank
from ..policy._model import AllOf, Cond, NotOf, Test
from ._compile import compile_cond

__all__ = ["generate_predicate", "generate_scan"]

_ORDER_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


class _Emitter:
    def __init__(self, lists: Mapping[str, frozenset[str]], vocabulary: Vocabulary) -> None:
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
        if op in ("in", "not_in"):
            members = self.const(frozenset(value))
            if op == "in":
                return f"({get} in {members})"
            if spec.optional:
                return f"((_v := {get}) is not None and _v not in {members})"
            return f"({get} not in {members})"
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
            return f"(not {self.const(frozenset(value))}.isdisjoint({get}))"
        if op == "contains_all":
            return f"{self.const(frozenset(value))}.issubset({get})"
        if op == "in_list":
            return f"({get} in {self.const(self.lists[value])})"
        if op == "matches":
            search = self.const(compile_re2(value).search)
            return f"((_v := {get}) is not None and {search}(_v) is not None)"
        raise AssertionError(op)  # pragma: no cover


def generate_scan(
    conds: Sequence[Cond | None],
    lists: Mapping[str, frozenset[str]],
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
    cond: Cond, lists: Mapping[str, frozenset[str]], vocabulary: Vocabulary
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
