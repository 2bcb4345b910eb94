"""Strings that match a regular expression, derived from the pattern itself.

The partition needs, for every ``matches`` test, values that match and values that do
not. A small walk over Python's parse of the pattern yields candidates (each branch,
each optional part once absent and once present); every candidate is confirmed with
RE2, which decides. Patterns Python cannot parse, or whose candidates all fail, yield
nothing: the caller reports that its partition is only sampled there.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Iterable
from typing import Any, Final

import re2

__all__ = ["regex_examples"]

_parser: Any = importlib.import_module("re._parser")
_MAX_PER_NODE: Final = 4
_MAX_EXAMPLES: Final = 12
_MAX_LENGTH: Final = 256

_CATEGORY_CHARS: Final = {
    "CATEGORY_DIGIT": "0",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
    "CATEGORY_LINEBREAK": "\n",
    "CATEGORY_NOT_LINEBREAK": "a",
}


def _char_class(items: list[tuple[Any, Any]]) -> list[str]:
    negate = any(str(op) == "NEGATE" for op, _ in items)
    allowed: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            allowed.append(chr(arg))
        elif name == "RANGE":
            allowed.append(chr(arg[0]))
            if arg[1] != arg[0]:
                allowed.append(chr(arg[1]))
        elif name == "CATEGORY":
            char = _CATEGORY_CHARS.get(str(arg).replace("_UNI", "").replace("_LOC", ""))
            if char is not None:
                allowed.append(char)
    if not negate:
        return allowed[:_MAX_PER_NODE]
    excluded = set()
    for op, arg in items:
        if str(op) == "LITERAL":
            excluded.add(chr(arg))
        elif str(op) == "RANGE":
            excluded.update(chr(c) for c in range(arg[0], min(arg[1], arg[0] + 512) + 1))
    return [c for c in "a0Z_- ~" if c not in excluded][:2]


def _node(op: Any, arg: Any) -> list[str]:
    name = str(op)
    if name == "LITERAL":
        return [chr(arg)]
    if name == "NOT_LITERAL":
        return ["a" if chr(arg) != "a" else "b"]
    if name == "ANY":
        return ["a"]
    if name == "IN":
        return _char_class(arg)
    if name == "AT":
        return [""]
    if name == "BRANCH":
        options: list[str] = []
        for alternative in arg[1]:
            options.extend(_sequence(alternative))
        return options[: _MAX_PER_NODE * 2]
    if name == "SUBPATTERN":
        return _sequence(arg[-1])
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, body = arg
        inner = _sequence(body) or [""]
        counts = sorted({low, min(low + 1, high)})
        options = []
        for count in counts:
            for choice in inner[:2]:
                options.append(choice * count)
        return options
    if name == "ATOMIC_GROUP":
        return _sequence(arg)
    raise ValueError(name)


def _sequence(items: Iterable[tuple[Any, Any]]) -> list[str]:
    parts = [_node(op, arg) for op, arg in items]
    results: list[str] = []
    for combo in itertools.product(*parts):
        text = "".join(combo)
        if len(text) <= _MAX_LENGTH and text not in results:
            results.append(text)
        if len(results) >= _MAX_EXAMPLES:
            break
    # vary each part on its own too: the product above mostly varies the last one
    for index, options in enumerate(parts):
        for option in options[1:]:
            text = "".join(option if i == index else p[0] for i, p in enumerate(parts))
            if len(text) <= _MAX_LENGTH and text not in results:
                results.append(text)
    return results


def regex_examples(pattern: str) -> list[str]:
    """Strings RE2 finds ``pattern`` in (possibly none), simplest first."""
    try:
        parsed = _parser.parse(pattern)
        candidates = _sequence(list(parsed))
    except Exception:  # a pattern Python's parser reads differently from RE2
        candidates = []
    search = re2.compile(pattern).search
    found: list[str] = []
    for text in candidates:
        if text not in found and search(text) is not None:
            found.append(text)
    return found[:_MAX_EXAMPLES]
