"""The parsed policy: conditions, rules, obligations, invariants and the policy set.

Everything here is immutable. ``Policy.document()`` is the normalised form the
policy digest is computed from: comments, key order, quoting and file layout do not
change it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any, Final

from ..request import Vocabulary
from ._fields import Kind, lookup_field
from ._names import NameList, name_lists

__all__ = [
    "ITEM_OPERATORS",
    "AllOf",
    "AnyOf",
    "Combine",
    "Cond",
    "Effect",
    "Enforcement",
    "Invariant",
    "ListRef",
    "Named",
    "NotOf",
    "ObligationSpec",
    "Policy",
    "Rule",
    "Test",
]


#: the list operators whose operand is a set: with a named list on an attribute, each
#: item of the request's list is a name (``Test.list_name``)
ITEM_OPERATORS: Final = frozenset({"contains_any", "contains_all", "all_in", "none_in"})


class Effect(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class Enforcement(enum.StrEnum):
    """Whether a rule decides (``enforce``) or only says what it would have denied
    (``dryrun``: shadow mode, to roll a stricter rule out safely)."""

    ENFORCE = "enforce"
    DRYRUN = "dryrun"


class Combine(enum.StrEnum):
    DENY_OVERRIDES = "deny-overrides"
    FIRST_MATCH = "first-match"


@dataclass(frozen=True, slots=True)
class ListRef:
    """A named list as the operand of a membership operator: ``{in: {list: NAME}}``.

    ``items`` are the list's items, filled in by the loader once the whole set's lists
    are known (empty while one file is being read).
    """

    name: str
    items: frozenset[str] = _field(default=frozenset(), compare=False, repr=False)

    def document(self) -> dict[str, Any]:
        return {"list": self.name}


@dataclass(frozen=True, slots=True)
class Test:
    """``field: {op: operand}``; ``line``/``col`` point at the operator in the source.

    The operand of ``in``, ``not_in``, ``contains_any``, ``contains_all``, ``all_in``
    and ``none_in`` is a tuple of values or a ``ListRef``.
    """

    field: str
    op: str
    operand: Any
    source: str = _field(default="", compare=False)
    line: int = _field(default=0, compare=False)
    col: int = _field(default=0, compare=False)

    def document(self) -> dict[str, Any]:
        operand = self.operand
        if isinstance(operand, ListRef):
            operand = operand.document()
        elif isinstance(operand, frozenset):
            operand = sorted(operand)
        elif isinstance(operand, tuple):
            operand = list(operand)
        return {"field": self.field, "op": self.op, "value": operand}

    @property
    def list_name(self) -> str | None:
        """The named list this test matches names against, or None.

        Names are compared after normalisation (``policy/_names.py``) wherever a string
        a request gives is tested against a named list: by ``in_list``; by ``in`` and
        ``not_in`` with a named list on a field holding a name (a string field or an
        attribute); and by ``contains_any``, ``contains_all``, ``all_in`` and
        ``none_in`` with a named list on an attribute, item by item (``item_test``).
        Every other test compares exactly: inline operands always, and the enumerated
        ``data.categories`` (docs/policy-language.md, "Lists").
        """
        if self.op == "in_list":
            return str(self.operand)
        if not isinstance(self.operand, ListRef):
            return None
        kind = lookup_field(self.field)
        if kind is None:
            return None
        if self.op in ("in", "not_in") and kind.kind in (Kind.STRING, Kind.ATTRIBUTE):
            return self.operand.name
        if self.op in ITEM_OPERATORS and kind.kind is Kind.ATTRIBUTE:
            return self.operand.name
        return None

    @property
    def item_test(self) -> bool:
        """True when a list's items, each a name, are matched against a named list
        (a list operator with ``list_name``)."""
        return self.op in ITEM_OPERATORS and self.list_name is not None


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Cond, ...]

    def document(self) -> dict[str, Any]:
        return {"all": [item.document() for item in self.items]}


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Cond, ...]

    def document(self) -> dict[str, Any]:
        return {"any": [item.document() for item in self.items]}


@dataclass(frozen=True, slots=True)
class NotOf:
    item: Cond

    def document(self) -> dict[str, Any]:
        return {"not": self.item.document()}


@dataclass(frozen=True, slots=True)
class Named:
    """``{condition: NAME}``: a condition defined once under ``conditions:``.

    ``cond`` is the definition, resolved by the loader (one shared object per name, so
    compiled code and partitions are shared too). Evaluating it is evaluating ``cond``:
    the engine inlines it, and the digest sees the condition written out in full
    (``document``), so naming a condition never changes a policy's meaning or digest.
    ``line``/``col`` point at the use.
    """

    name: str
    cond: Cond
    source: str = _field(default="", compare=False)
    line: int = _field(default=0, compare=False)
    col: int = _field(default=0, compare=False)

    def document(self) -> dict[str, Any]:
        return self.cond.document()


Cond = Test | AllOf | AnyOf | NotOf | Named


def condition_parts(cond: Cond | None) -> Iterator[Test | Named]:
    """The tests in ``cond``, and each use of a named condition before the tests of its
    definition (which it goes through), in written order."""
    if cond is None:
        return
    if isinstance(cond, Test):
        yield cond
    elif isinstance(cond, Named):
        yield cond
        yield from condition_parts(cond.cond)
    elif isinstance(cond, NotOf):
        yield from condition_parts(cond.item)
    else:
        for item in cond.items:
            yield from condition_parts(item)


@dataclass(frozen=True, slots=True)
class ObligationSpec:
    """An obligation an allow rule attaches: ``id``, parameters, optional condition."""

    id: str
    params: Mapping[str, Any]
    when: Cond | None = None

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self.id, "with": dict(self.params)}
        if self.when is not None:
            doc["when"] = self.when.document()
        return doc


@dataclass(frozen=True, slots=True)
class Rule:
    """One allow or deny rule; ``when`` None matches every request."""

    id: str
    effect: Effect
    reason: str
    reference: str | None
    when: Cond | None
    obligations: tuple[ObligationSpec, ...] = ()
    source: str = _field(default="", compare=False)
    line: int = _field(default=0, compare=False)
    col: int = _field(default=0, compare=False)
    #: ``dryrun``: the rule never decides; a decision lists it when it would have denied
    enforcement: Enforcement = Enforcement.ENFORCE

    @property
    def dryrun(self) -> bool:
        return self.enforcement is Enforcement.DRYRUN

    def document(self) -> dict[str, Any]:
        doc = {
            "id": self.id,
            "effect": self.effect.value,
            "reason": self.reason,
            "reference": self.reference,
            "when": None if self.when is None else self.when.document(),
            "obligations": [o.document() for o in self.obligations],
        }
        if self.dryrun:  # absent when enforced, so the digests of older policies stay
            doc["enforcement"] = self.enforcement.value
        return doc


@dataclass(frozen=True, slots=True)
class Invariant:
    """A statement that must hold for every request: never ``never`` when ``when``."""

    id: str
    never: Effect
    when: Cond | None
    description: str | None = None
    source: str = _field(default="", compare=False)
    line: int = _field(default=0, compare=False)
    col: int = _field(default=0, compare=False)

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "never": self.never.value,
            "when": None if self.when is None else self.when.document(),
        }


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded policy set (one file and everything it includes, or several files).

    ``digest`` is ``sha256:<hex>`` of the RFC 8785 canonical JSON of ``document()``.
    """

    name: str
    version: str
    description: str | None
    default: Effect
    combine: Combine
    rules: tuple[Rule, ...]
    lists: Mapping[str, frozenset[str]]
    vocabulary: Vocabulary
    purpose_additions: Mapping[str, str]
    invariants: tuple[Invariant, ...]
    sources: tuple[str, ...]
    digest: str = ""
    #: the named conditions of the set (``conditions:``), by name; not in the digest,
    #: where every use is written out in full
    conditions: Mapping[str, Named] = _field(default_factory=dict, compare=False)
    #: the files loaded directly (not through ``include``), as in ``sources``
    roots: tuple[str, ...] = _field(default=(), compare=False)
    #: ``(lists, name_lists)``, made when first asked for; an init field only so that a
    #: copy made field by field stays valid (it is remade when ``lists`` is another object)
    _name_lists: tuple[object, Mapping[str, NameList]] | None = _field(
        default=None, repr=False, compare=False
    )

    @property
    def name_lists(self) -> Mapping[str, NameList]:
        """Each named list as ``in_list`` reads it, ``{name key: list item}``
        (``policy/_names.py``); made once, when first asked for (compiling an engine)."""
        made = self._name_lists
        if made is None or made[0] is not self.lists:
            made = (self.lists, name_lists(self.lists))
            object.__setattr__(self, "_name_lists", made)
        return made[1]

    def document(self) -> dict[str, Any]:
        """The normalised policy set the digest is computed from."""
        return {
            "usepolicy": 1,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "default": self.default.value,
            "combine": self.combine.value,
            "vocabulary": self._vocabulary_document(),
            "lists": {name: sorted(items) for name, items in sorted(self.lists.items())},
            "rules": [rule.document() for rule in self.rules],
            "invariants": [inv.document() for inv in self.invariants],
        }

    def _vocabulary_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"purposes": dict(sorted(self.purpose_additions.items()))}
        declared = self.vocabulary.attributes
        if declared:  # absent when nothing is declared, so older digests stay the same
            doc["attributes"] = {key: declared[key].document() for key in sorted(declared)}
        return doc

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)
