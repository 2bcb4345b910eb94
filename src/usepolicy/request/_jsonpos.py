"""Where request fields are in JSON text: line and column for field errors.

Validation reports field paths (``data.subjects``); people want the line too. A request
with a hundred thousand unknown keys has as many errors, so the text is read once for
all of them: the paths of the errors to place, and their prefixes, are collected
first; one walk over the text then records where each of those keys starts, descending
only into values on the way to one of them and skipping every other value with the C
JSON scanner.
"""

from __future__ import annotations

import contextlib
import json
import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import replace
from typing import Final

from .._errors import FieldProblem, path_part

__all__ = ["line_col", "locate_errors", "long_integer_at"]

_WS: Final = re.compile(r"[ \t\n\r]*")
_scanstring: Final = json.decoder.scanstring  # type: ignore[attr-defined]


def _skip_number(digits: str) -> None:
    return None  # skipped values are never used; big integers need not be converted


_skip_value: Final = json.JSONDecoder(parse_int=_skip_number, parse_float=_skip_number).raw_decode


class _Walk:
    """One pass over ``text``: the offset of the first key at each path in ``wanted``
    (of the value, for a list item)."""

    def __init__(self, text: str, wanted: set[str]) -> None:
        self.text = text
        self.wanted = wanted
        # every dotted prefix: keys may hold dots themselves, so a path is matched as
        # text, and a value is entered when its path is a prefix of a wanted one
        self.enter = {path[:i] for path in wanted for i, c in enumerate(path) if c == "."}
        self.enter |= wanted
        self.found: dict[str, int] = {}

    def ws(self, i: int) -> int:
        match = _WS.match(self.text, i)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def value(self, i: int, path: str | None) -> int:
        """Walk the value at ``i`` (``path``: its dotted path, None for the root);
        return the offset after it."""
        text = self.text
        i = self.ws(i)
        char = text[i : i + 1]
        if path is not None and path not in self.enter:
            return int(_skip_value(text, i)[1])
        if char == "{":
            i = self.ws(i + 1)
            if text[i : i + 1] == "}":
                return i + 1
            while True:
                i = self.ws(i)
                start = i
                key, i = _scanstring(text, i + 1)
                here = path_part(key) if path is None else f"{path}.{path_part(key)}"
                if here in self.wanted and here not in self.found:
                    self.found[here] = start
                i = self.ws(i)
                i = self.value(i + 1, here)  # past the ':'
                i = self.ws(i)
                if text[i : i + 1] != ",":
                    return i + 1
                i += 1
        if char == "[":
            i = self.ws(i + 1)
            if text[i : i + 1] == "]":
                return i + 1
            index = 0
            while True:
                here = str(index) if path is None else f"{path}.{index}"
                i = self.ws(i)
                if here in self.wanted and here not in self.found:
                    self.found[here] = i  # an item has no key: place its value
                i = self.ws(self.value(i, here))
                index += 1
                if text[i : i + 1] != ",":
                    return i + 1
                i += 1
        return int(_skip_value(text, i)[1])


def _ancestors(path: str) -> Iterable[str]:
    """``path`` and the paths of the objects above it, nearest first."""
    while path and path != "$":
        yield path
        path = path.rpartition(".")[0]


def locate_errors(text: str | bytes, errors: Iterable[FieldProblem]) -> list[FieldProblem]:
    """``errors`` with the line and column of their field in JSON ``text`` filled in.

    A field that is not in the text (a missing one) gets the position of the nearest
    object above it that is; an error that has a position keeps it, and one with no
    place in the text (``$``) stays without. Text that is not JSON leaves the errors
    as they are, or placed as far as the text could be read.
    """
    errors = list(errors)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return errors
    wanted = {path for err in errors if err.line is None for path in _ancestors(err.path)}
    if not wanted:
        return errors
    walk = _Walk(text, wanted)
    # text that is not JSON (or not a request): place what was found before the problem
    with contextlib.suppress(ValueError, IndexError, RecursionError):
        walk.value(0, None)
    lines = _Lines(text)
    placed = []
    for err in errors:
        if err.line is None:
            offset = next((walk.found[p] for p in _ancestors(err.path) if p in walk.found), None)
            if offset is not None:
                line, col = lines.line_col(offset)
                err = replace(err, line=line, col=col)
        placed.append(err)
    return placed


class _Lines:
    """Line and column of offsets in one text, from one scan for its newlines."""

    def __init__(self, text: str) -> None:
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?')


def long_integer_at(text: str, digits: int) -> int | None:
    """The offset of the first integer literal (outside strings) of more than
    ``digits`` digits in JSON ``text``, if any."""
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0] != '"' and len(token.lstrip("-")) > digits and token.lstrip("-").isdigit():
            return match.start()
    return None
