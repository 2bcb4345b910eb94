"""Purpose vocabulary: the standard dotted purpose names and policy additions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from .._errors import quote_value
from ._enums import LIMITS

__all__ = [
    "ATTRIBUTE_TYPES",
    "PURPOSE_PATTERN",
    "STANDARD_PURPOSES",
    "STANDARD_VOCABULARY",
    "AttributeSpec",
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
    return len(name) <= LIMITS.max_purpose and _PURPOSE_RE.fullmatch(name) is not None


def is_under(name: str, prefix: str) -> bool:
    """Dotted-name prefix on segment boundaries: ``weapons`` covers ``weapons.x``."""
    return name == prefix or name.startswith(prefix + ".")


#: the types an attribute may be declared with (``list`` is a list of strings)
ATTRIBUTE_TYPES: Final = ("string", "number", "integer", "boolean", "list")


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """A declared attribute: its type, its allowed values (string and list) and meaning;
    ``source``/``line``/``col`` say where it is declared (not part of its identity)."""

    type: str
    values: tuple[str, ...] | None = None
    description: str | None = None
    source: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)
    col: int = field(default=0, compare=False)
    _allowed: frozenset[str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.values is not None:
            object.__setattr__(self, "_allowed", frozenset(self.values))

    def accepts(self, value: object) -> bool:
        """True when ``value`` (an already well-formed attribute value) fits the spec."""
        kind = self.type
        allowed = self._allowed
        if kind == "string":
            return type(value) is str and (allowed is None or value in allowed)
        if kind == "list":
            if type(value) is not list:
                return False
            return allowed is None or all(item in allowed for item in value)
        if kind == "boolean":
            return type(value) is bool
        if kind == "integer":
            return type(value) is int
        return type(value) is int or type(value) is float  # number

    def problem(self, value: object) -> str:
        """Why ``value`` does not fit (for an error message)."""
        what = {"list": "a list of strings", "integer": "an integer"}.get(
            self.type, f"a {self.type}"
        )
        if self.values is not None:
            allowed = ", ".join(f"`{v}`" for v in self.values)
            what = (
                f"one of {allowed}" if self.type == "string" else f"{what}, each one of {allowed}"
            )
        return f"must be {what}, got {quote_value(value)}"

    def same_requests(self, other: AttributeSpec) -> bool:
        """True when both accept exactly the same values (descriptions aside)."""
        return self.type == other.type and self._allowed == other._allowed

    def describe(self) -> str:
        """``integer``, ``string of low, high``: the declaration in words."""
        if self.values is None:
            return self.type
        return f"{self.type} of {', '.join(self.values)}"

    def document(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "values": None if self.values is None else sorted(self.values),
            "description": self.description,
        }


class Vocabulary:
    """The purposes a request may name (standard ones plus additions), and the
    attributes a policy declares.

    Immutable once built; membership tests are set lookups. Every name is a purpose
    name (``ValueError`` otherwise). ``attributes`` is None
    when nothing is declared, so request validation can skip the check outright.
    """

    __slots__ = ("_names", "_prefixes", "attributes", "descriptions")

    def __init__(
        self,
        additions: Mapping[str, str] | None = None,
        attributes: Mapping[str, AttributeSpec] | None = None,
    ) -> None:
        self.attributes: Mapping[str, AttributeSpec] | None = (
            MappingProxyType(dict(attributes)) if attributes else None
        )
        merged = dict(STANDARD_PURPOSES)
        for name in additions or ():
            # the hot path takes membership as proof of the purpose pattern and length
            if not isinstance(name, str) or not is_purpose_name(name):
                raise ValueError(f"{quote_value(name)} is not a purpose name")
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

    def attribute_errors(self, attributes: Mapping[str, object]) -> list[tuple[str, str]]:
        """``(key, message)`` for each declared attribute whose request value does not fit."""
        specs = self.attributes
        if not specs or not attributes:
            return []
        errors = []
        for key, value in attributes.items():
            spec = specs.get(key)
            if spec is not None and not spec.accepts(value):
                errors.append((key, f"attribute `{key}` {spec.problem(value)}"))
        return errors

    def is_prefix(self, prefix: str) -> bool:
        """True when some purpose is ``prefix`` or lies under it."""
        return prefix in self._prefixes

    def closest(self, name: str, n: int = 3) -> list[str]:
        """The known purposes closest to ``name`` (for "did you mean" hints)."""
        return difflib.get_close_matches(name, sorted(self._names), n=n, cutoff=0.6)

    def closest_prefix(self, name: str) -> list[str]:
        return difflib.get_close_matches(name, sorted(self._prefixes), n=3, cutoff=0.6)


STANDARD_VOCABULARY = Vocabulary()
