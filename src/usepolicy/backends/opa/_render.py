"""Rego text: formulas as rule bodies (a helper rule for each disjunction), comments,
section lines, literals."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

from ._logic import FALSE, TRUE, And, Atom, Formula, Not, Or, literal

__all__ = ["Renderer", "block", "comment", "dump_json", "rule", "section", "slug"]


def rule(head: str, body: list[str] | None) -> str:
    """``head if {body}`` (a one-line form for one expression), or a comment if never."""
    if body is None:
        return f"# {head}: never holds"
    if not body:
        return head
    if len(body) == 1:
        return f"{head} if {body[0]}"
    return f"{head} if {{\n" + "".join(f"\t{line}\n" for line in body) + "}"


class Renderer:
    """Turns formulas into rule bodies. A disjunction, or a conjunction under ``not``,
    becomes a helper rule named after ``prefix``; equal formulas share one helper."""

    def __init__(self, prefix: str, taken: set[str]) -> None:
        self.prefix = prefix
        self.helpers: list[str] = []
        self._names: dict[Formula, str] = {}
        self._taken = taken  # every name in the module, shared by all renderers

    def body(self, formula: Formula) -> list[str] | None:
        """The lines of a rule body for ``formula``; None if it can never hold."""
        if formula == FALSE:
            return None
        if isinstance(formula, Atom):
            return [formula.text]
        if isinstance(formula, And):
            lines: list[str] = []
            for item in formula.items:
                part = self.body(item)
                if part is None:
                    return None
                for line in part:
                    if line not in lines:
                        lines.append(line)
            return lines
        if isinstance(formula, Or):
            return [self.helper(formula, "any")]
        assert isinstance(formula, Not)
        inner = formula.item
        if isinstance(inner, Atom):
            return [f"not {inner.text}"]
        return [f"not {self.helper(inner, 'all' if isinstance(inner, And) else 'any')}"]

    def helper(self, formula: Formula, kind: str) -> str:
        known = self._names.get(formula)
        if known is not None:
            return known
        number = len(self._names) + 1
        name = f"{self.prefix}_{kind}{number}"
        while name in self._taken:
            number += 1
            name = f"{self.prefix}_{kind}{number}"
        self._taken.add(name)
        self._names[formula] = name
        alternatives = formula.items if isinstance(formula, Or) else (formula,)
        assert alternatives
        assert TRUE not in alternatives
        slot = len(self.helpers)
        self.helpers.append("")  # a helper reads best before the helpers it uses
        self.helpers[slot] = "\n".join(rule(name, self.body(alt)) for alt in alternatives)
        return name


def comment(text: str, prefix: str = "") -> list[str]:
    """``text`` as comment lines, wrapped; continuation lines indented."""
    lines = textwrap.wrap(
        prefix + " ".join(text.split()),
        width=88,
        initial_indent="# ",
        subsequent_indent="#   ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    return lines or ["#"]


def section(title: str) -> str:
    return f"# -- {title} " + "-" * max(3, 84 - len(title))


def slug(rule_id: str, slugs: set[str], reserved: frozenset[str]) -> str:
    """A prefix for the helper rules of one policy rule, distinct from the others'."""
    base = "_" + re.sub(r"[^A-Za-z0-9_]", "_", rule_id)
    slug, n = base, 1
    while slug in slugs or slug in reserved:
        n += 1
        slug = f"{base}_{n}"
    slugs.add(slug)
    return slug


def block(values: list[str], brackets: str) -> str:
    """A literal of strings: one line if short, else one item a line (order kept)."""
    items = [literal(v) for v in values]
    if len(", ".join(items)) <= 70:
        return brackets[0] + ", ".join(items) + brackets[1]
    return brackets[0] + "\n" + ",\n".join(f"\t{i}" for i in items) + "\n" + brackets[1]


def dump_json(value: Any, indent: str | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=indent is None)
