"""Find the line and column of a field inside request JSON text.

Validation reports field paths (``data.subjects``); operators want the line too. This
walks the JSON text once, recording where each object key starts.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Final

__all__ = ["locate"]

_WS: Final = re.compile(r"[ \t\n\r]*")
_SCALAR: Final = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]


class _Walker:
    def __init__(self, text: str, want: tuple[str, ...]) -> None:
        self.text = text
        self.want = want
        self.found: int | None = None

    def ws(self, i: int) -> int:
        match = _WS.match(self.text, i)
        return match.end() if match else i

    def value(self, i: int, path: tuple[str, ...], depth: int) -> int:
        if depth > 64:
            raise ValueError("too deep")
        i = self.ws(i)
        char = self.text[i : i + 1]
        if char == "{":
            i = self.ws(i + 1)
            if self.text[i : i + 1] == "}":
                return i + 1
            while True:
                i = self.ws(i)
                key_start = i
                key, i = _scanstring(self.text, i + 1)
                here = (*path, key)
                if here == self.want[: len(here)] and len(here) == len(self.want):
                    self.found = key_start
                i = self.ws(i)
                i = self.value(i + 1, here, depth + 1)  # skip ':'
                i = self.ws(i)
                if self.text[i : i + 1] == ",":
                    i += 1
                    continue
                return i + 1
        if char == "[":
            i = self.ws(i + 1)
            if self.text[i : i + 1] == "]":
                return i + 1
            index = 0
            while True:
                i = self.value(i, (*path, str(index)), depth + 1)
                i = self.ws(i)
                index += 1
                if self.text[i : i + 1] == ",":
                    i += 1
                    continue
                return i + 1
        if char == '"':
            return int(_scanstring(self.text, i + 1)[1])
        match = _SCALAR.match(self.text, i)
        if match is None:
            raise ValueError("bad JSON")
        return match.end()


def locate(text: str, path: str) -> tuple[int, int] | None:
    """1-based (line, col) of the key at dotted ``path`` in JSON ``text``, if found."""
    if not path or path == "$":
        return None
    walker = _Walker(text, tuple(path.split(".")))
    with contextlib.suppress(ValueError, IndexError):
        walker.value(0, (), 0)
    if walker.found is None:
        return None
    line = text.count("\n", 0, walker.found) + 1
    col = walker.found - (text.rfind("\n", 0, walker.found) + 1) + 1
    return line, col
