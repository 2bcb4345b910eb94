"""Bounded counters for ``AuditStats``: a log is read once, and may be hostile.

A crafted log can hold a million distinct organisation names (each a megabyte long),
still chained correctly: no key is kept longer than ``MAX_KEY`` characters, and no
counter holds more than its ``cap`` keys. Keys seen after a counter is full are
counted together under ``other``, so every count shown for a named key is exact and
the totals still add up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

__all__ = ["KINDS", "MAX_KEY", "Entry", "Tally", "Timeline", "clip"]

#: the classes every count is split by: allowed, denied by the policy, invalid request
KINDS: Final = ("allow", "deny", "invalid")
MAX_KEY: Final = 200


def clip(value: Any) -> str:
    """A value as a bounded, one-line key: strings as they are, anything else as JSON."""
    text: str
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError):  # pragma: no cover - records hold JSON values
            text = repr(value)
    return text if len(text) <= MAX_KEY else text[: MAX_KEY - 1] + "…"


@dataclass(slots=True)
class Entry:
    """One key's counts by kind, and where it was first and last seen."""

    counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    first: str = ""
    last: str = ""
    example: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(zip(KINDS, self.counts, strict=True))
        body.update(total=self.total, first=self.first, last=self.last)
        if self.example is not None:
            body["example"] = self.example
        return body


class Tally:
    """Counts by key (a string or a tuple of strings), at most ``cap`` keys."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.entries: dict[Any, Entry] = {}
        self.other = Entry()

    def add(self, key: Any, kind: int, where: str, example: str | None = None) -> None:
        entry = self.entries.get(key)
        if entry is None:
            if len(self.entries) >= self.cap:
                entry = self.other
            else:
                entry = self.entries[key] = Entry(first=where, example=example)
        if not entry.first:
            entry.first = where
        entry.counts[kind] += 1
        entry.last = where

    def top(self, limit: int | None = None) -> list[tuple[Any, Entry]]:
        """(key, entry) by count, most first (ties by key); ``other`` is not among them."""
        ranked = sorted(self.entries.items(), key=lambda item: (-item[1].total, str(item[0])))
        return ranked[:limit] if limit is not None else ranked

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.entries)


# Bucket widths in seconds, each a multiple of the one before, so buckets merge exactly
# when the span grows; past a week the width doubles.
_WIDTHS: Final = (1, 10, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
#: buckets are aligned to a Monday at midnight UTC, so weeks start on Mondays
ORIGIN: Final = datetime(1970, 1, 5, tzinfo=UTC)


def _width_after(width: int) -> int:
    later = [w for w in _WIDTHS if w > width]
    return later[0] if later else width * 2


class Timeline:
    """Counts by kind per time bucket; the buckets widen as the span grows, so the span
    never takes more than ``max_buckets`` buckets, whatever the order of the records."""

    def __init__(self, max_buckets: int = 240) -> None:
        self.max_buckets = max(max_buckets, 2)
        self.width = _WIDTHS[0]
        self.buckets: dict[int, list[int]] = {}  # bucket index -> counts by kind
        self.low = self.high = 0  # the first and last bucket index, when there are any

    def add(self, moment: datetime, kind: int) -> None:
        seconds = int((moment - ORIGIN).total_seconds())
        index = seconds // self.width
        counts = self.buckets.get(index)
        if counts is None:
            if not self.buckets:
                self.low = self.high = index
            self.low, self.high = min(self.low, index), max(self.high, index)
            counts = self.buckets[index] = [0, 0, 0]
            if self.high - self.low >= self.max_buckets:
                self._widen()
                counts = self.buckets[seconds // self.width]
        counts[kind] += 1

    def _widen(self) -> None:
        self.width, self.buckets, self.low, self.high = self._merged(self.max_buckets)

    def _merged(self, most: int) -> tuple[int, dict[int, list[int]], int, int]:
        """(width, buckets, low, high) for the narrowest width that spans the counts in
        at most ``most`` buckets (at least two: a span may straddle any boundary)."""
        most = max(most, 2)
        first = self.low * self.width  # seconds since ORIGIN
        last = (self.high + 1) * self.width - 1
        width = self.width
        while last // width - first // width + 1 > most:
            width = _width_after(width)
        factor = width // self.width
        merged: dict[int, list[int]] = {}
        for index, counts in self.buckets.items():
            into = merged.setdefault(index // factor, [0, 0, 0])
            for kind, count in enumerate(counts):
                into[kind] += count
        return width, merged, first // width, last // width

    def rows(self, most: int | None = None) -> tuple[int, list[tuple[datetime, list[int]]]]:
        """(bucket width in seconds, [(bucket start, counts by kind)]) in time order,
        empty buckets included; with ``most``, merged into at most that many buckets."""
        if not self.buckets:
            return self.width, []
        width, buckets, low, high = self._merged(most or self.max_buckets)
        step = timedelta(seconds=width)
        return width, [
            (ORIGIN + index * step, buckets.get(index, [0, 0, 0])) for index in range(low, high + 1)
        ]
