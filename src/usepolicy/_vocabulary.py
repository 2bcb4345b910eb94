"""Purpose vocabulary: the standard dotted purpose names and policy additions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "PURPOSE_PATTERN",
    "STANDARD_PURPOSES",
    "STANDARD_VOCABULARY",
    "Vocabulary",
    "is_purpose_name",
    "is_under",
]

#: a dotted, hierarchical name: lowercase segments of letters, digits and ``_``
PURPOSE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
_PURPOSE_RE = re.compile(PURPOSE_PATTERN.removeprefix("^").removesuffix("$"))

STANDARD_PURPOSES: Mapping[str, str] = MappingProxyType(
    {
        "intelligence.foreign": "foreign intelligence collection and analysis",
        "intelligence.counterintelligence": "countering foreign intelligence activity",
        "intelligence.analysis": "all-source analysis, reporting",
        "surveillance.domestic": "monitoring people inside the deployer's country",
        "law_enforcement.investigation": "a criminal investigation",
        "military.planning": "operational planning",
        "military.simulation": "modeling, simulation, wargaming",
        "military.logistics": "logistics, maintenance, supply",
        "weapons.targeting": "identifying or nominating targets",
        "weapons.engagement": "selecting and engaging targets (applying force)",
        "cyber.defense": "defending networks",
        "cyber.operations": "offensive or dual-use cyber operations",
        "general.assistant": "drafting, coding, translation, summarising",
        "general.research": "research and development",
    }
)


def compile_re2(pattern: str) -> Any:
    """Compile an RE2 pattern (linear-time matching) without RE2's stderr logging.

    Raises:
        re2.error: the pattern is not valid RE2 syntax.
    """
    import re2

    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def is_purpose_name(name: str) -> bool:
    """True when ``name`` is a syntactically valid dotted purpose name."""
    return len(name) <= 128 and _PURPOSE_RE.fullmatch(name) is not None


def is_under(name: str, prefix: str) -> bool:
    """Dotted-name prefix on segment boundaries: ``weapons`` covers ``weapons.x``."""
    return name == prefix or name.startswith(prefix + ".")


class Vocabulary:
    """The set of purposes a request may name: the standard ones plus additions.

    Immutable once built; membership tests are set lookups.
    """

    __slots__ = ("_names", "_prefixes", "descriptions")

    def __init__(self, additions: Mapping[str, str] | None = None) -> None:
        merged = dict(STANDARD_PURPOSES)
        merged.update(additions or {})
        self.descriptions: Mapping[str, str] = MappingProxyType(merged)
        self._names = frozenset(merged)
        prefixes: set[str] = set()
        for name in merged:
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                prefixes.add(".".join(parts[:i]))
        self._prefixes = frozenset(prefixes)

    @property
    def names(self) -> frozenset[str]:
        return self._names

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def is_prefix(self, prefix: str) -> bool:
        """True when some purpose is ``prefix`` or lies under it."""
        return prefix in self._prefixes

    def closest(self, name: str, n: int = 3) -> list[str]:
        """The known purposes closest to ``name`` (for "did you mean" hints)."""
        return difflib.get_close_matches(name, sorted(self._names), n=n, cutoff=0.6)

    def closest_prefix(self, name: str) -> list[str]:
        return difflib.get_close_matches(name, sorted(self._prefixes), n=3, cutoff=0.6)


STANDARD_VOCABULARY = Vocabulary()
