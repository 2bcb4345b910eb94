"""Names resolved across a policy set: named conditions and named-list operands.

Every file of a set shares one namespace of conditions (``conditions:``), as it shares
lists. A ``{condition: NAME}`` must name a condition defined somewhere in the set
(``unknown-condition``, with the closest name as a hint), a name is defined once
(``duplicate-condition``), and no condition may use itself, directly or through others
(``condition-cycle``, with the path of the cycle), and written out in place, no
condition may nest or grow past the limits of a YAML file (``too-deep``,
``too-complex``). Once the set is known to be sound,
``Resolver`` rebuilds each condition tree with every ``Named`` pointing at its
definition (one shared object per name) and every ``ListRef`` holding its list's items.
A named list used on a field with a closed set of values must hold only such values
(``check_list_items``).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .._errors import Diagnostic
from ..request import Vocabulary
from ._conditions import Ref
from ._fields import Kind, lookup_field
from ._model import AllOf, AnyOf, Cond, ListRef, Named, NotOf, Test
from ._yaml import MAX_DEPTH, MAX_NODES

__all__ = [
    "Definition",
    "Resolver",
    "Root",
    "check_conditions",
    "check_list_items",
    "named_uses",
]


@dataclass(frozen=True, slots=True)
class Definition:
    """A named condition as one file defines it (``cond`` None: it failed to read)."""

    name: str
    cond: Cond | None
    path: str
    line: int
    col: int


def named_uses(cond: Cond | None) -> Iterator[Named]:
    """The ``{condition: NAME}`` uses in an unresolved condition, in written order."""
    if cond is None:
        return
    if isinstance(cond, Named):
        yield cond
    elif isinstance(cond, NotOf):
        yield from named_uses(cond.item)
    elif isinstance(cond, (AllOf, AnyOf)):
        for item in cond.items:
            yield from named_uses(item)


@dataclass(frozen=True, slots=True)
class Root:
    """A condition of the set that is evaluated: a rule's, an obligation's or an
    invariant's ``when`` (``what`` names it in messages), with its position."""

    cond: Cond | None
    what: str
    path: str
    line: int
    col: int


def check_conditions(
    definitions: Mapping[str, Definition],
    roots: list[Root],
    diagnostics: list[Diagnostic],
) -> None:
    """Report uses of undefined names, cycles among the definitions, and conditions too
    deep or too large once their named conditions are written out in place.

    Written out, a chain of names can nest deeper than any YAML file may, and names
    used twice at every level double at each: the same limits as YAML's apply
    (``too-deep`` past ``MAX_DEPTH`` levels, ``too-complex`` past ``MAX_NODES`` tests
    and groups in the whole set), so nothing downstream recurses or expands without
    bound. Names are followed without recursion: a chain may be long.
    """
    names = sorted(definitions)
    inner = [use for d in definitions.values() for use in named_uses(d.cond)]
    unknown = False
    for use in [*(u for root in roots for u in named_uses(root.cond)), *inner]:
        if use.name not in definitions:
            unknown = True
            close = difflib.get_close_matches(use.name, names, n=1, cutoff=0.6)
            diagnostics.append(
                Diagnostic(
                    use.source,
                    use.line,
                    use.col,
                    "unknown-condition",
                    f"no condition named `{use.name}`",
                    f"did you mean `{close[0]}`?" if close else "define it under `conditions:`",
                )
            )
    order = _order(definitions, diagnostics)
    if order is not None and not unknown:
        _check_size(definitions, order, roots, diagnostics)


def _order(
    definitions: Mapping[str, Definition], diagnostics: list[Diagnostic]
) -> list[str] | None:
    """The names, each after every name it uses; None after reporting a cycle (one
    ``condition-cycle`` per cycle, at the use that closes it)."""
    order: list[str] = []
    done: set[str] = set()
    reported: set[frozenset[str]] = set()
    cyclic = False
    # the walk's own stack of (name, its remaining uses), and the names on it: a chain
    # of names may be longer than Python's recursion allows
    path: list[str] = []
    stack: list[tuple[str, Iterator[Named]]] = []
    on_path: set[str] = set()

    def enter(name: str) -> None:
        stack.append((name, named_uses(definitions[name].cond)))
        path.append(name)
        on_path.add(name)

    for start in sorted(definitions):
        if start in done:
            continue
        enter(start)
        while stack:
            name, uses = stack[-1]
            use = next(uses, None)
            if use is None:
                stack.pop()
                path.pop()
                on_path.discard(name)
                done.add(name)
                order.append(name)
                continue
            target = use.name
            if target not in definitions or target in done:
                continue  # unknown names are reported by the caller
            if target in on_path:
                cyclic = True
                cycle = path[path.index(target) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    shown = " -> ".join(f"`{n}`" for n in [*cycle, target])
                    diagnostics.append(
                        Diagnostic(
                            use.source,
                            use.line,
                            use.col,
                            "condition-cycle",
                            f"condition `{cycle[0]}` uses itself: {shown}",
                            "a named condition cannot refer to itself, directly or through others",
                        )
                    )
                continue
            enter(target)
    return None if cyclic else order


def _check_size(
    definitions: Mapping[str, Definition],
    order: list[str],
    roots: list[Root],
    diagnostics: list[Diagnostic],
) -> None:
    depth: dict[str, int] = {}
    size: dict[str, int] = {}

    def measure(cond: Cond | None) -> tuple[int, int]:
        """(levels, tests and groups) of ``cond`` written out; names already measured."""
        if cond is None:
            return 0, 0
        if isinstance(cond, Test):
            return 1, 1
        if isinstance(cond, Named):
            return depth[cond.name] + 1, size[cond.name] + 1
        parts = [
            measure(item) for item in ((cond.item,) if isinstance(cond, NotOf) else cond.items)
        ]
        return 1 + max((d for d, _ in parts), default=0), 1 + sum(n for _, n in parts)

    for name in order:
        d = definitions[name]
        depth[name], size[name] = measure(d.cond)
        inner = [depth[use.name] for use in named_uses(d.cond)]
        if depth[name] > MAX_DEPTH and all(level <= MAX_DEPTH for level in inner):
            diagnostics.append(
                Diagnostic(
                    d.path,
                    d.line,
                    d.col,
                    "too-deep",
                    f"condition `{name}` nests {depth[name]} levels deep once the named "
                    f"conditions it uses are written out (at most {MAX_DEPTH})",
                )
            )
    total = 0
    for root in roots:
        levels, count = measure(root.cond)
        if levels > MAX_DEPTH and all(
            depth[use.name] <= MAX_DEPTH for use in named_uses(root.cond)
        ):
            diagnostics.append(
                Diagnostic(
                    root.path,
                    root.line,
                    root.col,
                    "too-deep",
                    f"the condition of {root.what} nests {levels} levels deep once its "
                    f"named conditions are written out (at most {MAX_DEPTH})",
                )
            )
        total += count
        if total > MAX_NODES:
            diagnostics.append(
                Diagnostic(
                    root.path,
                    root.line,
                    root.col,
                    "too-complex",
                    f"with {root.what}, the set's conditions hold more than {MAX_NODES:,} "
                    "tests and groups once their named conditions are written out",
                    "a named condition used many times over, at several levels, multiplies",
                )
            )
            return


def check_list_items(
    ref: Ref, items: frozenset[str], vocabulary: Vocabulary, diagnostics: list[Diagnostic]
) -> None:
    """A named list tested against a field with a closed set of values must hold only
    such values (declared attributes are checked with the other attribute tests)."""
    spec = lookup_field(ref.field)
    assert spec is not None, ref.field
    if spec.kind in (Kind.ENUM, Kind.CATEGORIES):
        assert spec.enum is not None
        options = [m.value for m in spec.enum]
        code, what = "unknown-value", f"a value of `{ref.field}`"
    elif spec.kind is Kind.PURPOSE:
        options = sorted(vocabulary.names)
        code, what = "unknown-purpose", "a purpose"
    else:
        return
    bad = sorted(item for item in items if item not in options)
    if bad:
        close = difflib.get_close_matches(bad[0], options, n=1, cutoff=0.6)
        diagnostics.append(
            Diagnostic(
                ref.path,
                ref.line,
                ref.col,
                code,
                f"list `{ref.name}` holds `{bad[0]}`"
                + (f" and {len(bad) - 1} more" if len(bad) > 1 else "")
                + f", not {what}",
                f"did you mean `{close[0]}`?" if close else f"values: {', '.join(options)}",
            )
        )


class Resolver:
    """Rebuilds condition trees with names resolved (call only on a sound set).

    Args:
        definitions: every named condition of the set, each read without errors.
        lists: every named list of the set.
    """

    def __init__(self, definitions: Mapping[str, Definition], lists: Mapping[str, frozenset[str]]):
        self.definitions = definitions
        self.lists = lists
        self.resolved: dict[str, Cond] = {}

    def named(self) -> dict[str, Named]:
        """Each definition as a ``Named`` positioned at the definition."""
        out: dict[str, Named] = {}
        for name in sorted(self.definitions):
            d = self.definitions[name]
            out[name] = Named(name, self.definition(name), d.path, d.line, d.col)
        return out

    def definition(self, name: str) -> Cond:
        found = self.resolved.get(name)
        if found is None:
            cond = self.definitions[name].cond
            assert cond is not None, name
            found = self.resolved[name] = self.cond(cond)
        return found

    def cond(self, cond: Cond) -> Cond:
        """``cond`` resolved; the same object when there was nothing to resolve."""
        if isinstance(cond, Test):
            if isinstance(cond.operand, ListRef):
                ref = ListRef(cond.operand.name, self.lists[cond.operand.name])
                return dataclasses.replace(cond, operand=ref)
            return cond
        if isinstance(cond, Named):
            return dataclasses.replace(cond, cond=self.definition(cond.name))
        if isinstance(cond, NotOf):
            item = self.cond(cond.item)
            return cond if item is cond.item else NotOf(item)
        items = tuple(self.cond(item) for item in cond.items)
        if all(new is old for new, old in zip(items, cond.items, strict=True)):
            return cond
        return AllOf(items) if isinstance(cond, AllOf) else AnyOf(items)

    def optional(self, cond: Cond | None) -> Cond | None:
        return None if cond is None else self.cond(cond)
