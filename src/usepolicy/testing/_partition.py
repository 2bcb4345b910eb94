"""The domain partition: finitely many representative requests that stand for all.

Every test of a policy reads one request field, so a request's decision depends only
on how each test answers it (true, false, or an evaluation error). ``Partition``
collects the tests of the conditions it is given, lists candidate values per field
(``_domain``) and keeps one value per distinct answer of that field's tests. The
representatives are the combinations of those values, enumerated as a tree: after a
field is fixed, every condition is folded with its answers, and a field that no
remaining condition reads keeps its default. A condition that may meet an evaluation
error is never folded away early, whatever order the engine evaluates it in.

The product of two requests' per-field answers is what the engine sees, so if two
requests agree on every field's answers they get the same decision: checking every
leaf checks every request.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Final

from .._errors import Diagnostic, PolicyError, RequestError
from ..engine import Pred, compile_cond
from ..policy import AllOf, AnyOf, Cond, Named, NotOf, Policy, Test
from ..request import STANDARD_PURPOSES, AttributeSpec, Req, Vocabulary, validate_request
from ._domain import FIELD_ORDER, candidates, default_value

__all__ = ["ERROR", "Partition", "outcome", "policy_conditions"]


class _Error:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ERROR"


#: the answer of a test that raised (the engine then denies)
ERROR: Final = _Error()
Outcome = bool | _Error
_RAISING: Final = frozenset(
    {
        "lt", "lte", "gt", "gte", "under", "contains", "contains_any", "contains_all",
        "all_in", "none_in", "matches",
    }
)  # fmt: skip


class _Atom:
    """One test of one policy: its compiled predicate and its slot in the outcome tables."""

    __slots__ = ("field", "index", "policy", "pred", "raises", "test")

    def __init__(self, test: Test, policy: int, pred: Pred, index: int) -> None:
        self.test = test
        self.policy = policy
        self.field = test.field
        self.pred = pred
        self.index = index
        self.raises = test.field.startswith("attributes.") and test.op in _RAISING


# a folded condition: an atom, a constant outcome, ("all"|"any", items) or ("not", item)
_Node = Any


def _tainted(node: _Node) -> bool:
    """True when ``node`` holds an error, or a test that may raise one."""
    if isinstance(node, _Atom):
        return node.raises
    if isinstance(node, tuple):
        if node[0] == "not":
            return _tainted(node[1])
        return any(_tainted(item) for item in node[1])
    return node is ERROR


def _fold(node: _Node, out: dict[int, Outcome]) -> _Node:
    """``node`` with the answers in ``out`` (atom index -> outcome) filled in.

    A node folds to a constant only when plain boolean logic settles it and nothing in
    it can raise. Where an error may be met, which items the engine evaluates depends
    on its order (short circuits, purpose tests decided first, hash indexes), so such a
    node keeps every item: each test that can decide whether the error is met stays in
    the partition, and the representatives are exact whatever that order is.
    """
    if isinstance(node, _Atom):
        return out.get(node.index, node)
    if not isinstance(node, tuple):
        return node
    if node[0] == "not":
        inner = _fold(node[1], out)
        if inner is node[1]:
            return node
        if inner is True or inner is False:
            return not inner
        return ("not", inner)
    items = tuple(_fold(item, out) for item in node[1])
    unchanged = all(a is b for a, b in zip(items, node[1], strict=True))
    if any(_tainted(item) for item in items):
        return node if unchanged else (node[0], items)
    stop = node[0] == "any"  # the value that settles it: True for any, False for all
    if any(item is stop for item in items):
        return stop
    kept = tuple(item for item in items if item is not (not stop))
    if not kept:
        return not stop
    if len(kept) == 1:
        return kept[0]
    return node if unchanged else (node[0], kept)


def _collect(node: _Node, into: dict[int, _Atom]) -> None:
    if isinstance(node, _Atom):
        into[node.index] = node
    elif isinstance(node, tuple):
        if node[0] == "not":
            _collect(node[1], into)
        else:
            for item in node[1]:
                _collect(item, into)


def outcome(pred: Pred, req: Req) -> Outcome:
    try:
        return bool(pred(req))
    except Exception:  # the engine denies on any error; the partition keeps it apart
        return ERROR


def policy_conditions(
    policy: Policy, *, invariants: bool = False, obligations: bool = False
) -> list[Cond | None]:
    """The conditions of a policy the partition should respect (None: always true)."""
    conds: list[Cond | None] = [rule.when for rule in policy.rules]
    if obligations:
        conds += [o.when for rule in policy.rules for o in rule.obligations if o.when]
    if invariants:
        conds += [inv.when for inv in policy.invariants]
    return conds


def _conflict(key: str, first: AttributeSpec, second: AttributeSpec) -> Diagnostic:
    return Diagnostic(
        second.source,
        second.line,
        second.col,
        "conflicting-attributes",
        f"attribute `{key}` is declared `{second.describe()}` here and "
        f"`{first.describe()}` at {first.source}:{first.line}:{first.col}",
        "the policies compared must accept the same requests: declare it alike in both",
    )


class Partition:
    """The representatives of a set of conditions over one or more policies.

    Args:
        policies: the policies whose lists and vocabularies the conditions use.
        conditions: ``(policy index, condition)`` pairs; a None condition is true.

    Raises:
        PolicyError: two of the policies declare an attribute differently
            (``conflicting-attributes``): no one set of requests is valid for both.
    """

    def __init__(
        self, policies: Sequence[Policy], conditions: Sequence[tuple[int, Cond | None]]
    ) -> None:
        self.policies = tuple(policies)
        additions: dict[str, str] = {}
        declared: dict[str, AttributeSpec] = {}
        conflicts: list[Diagnostic] = []
        for policy in self.policies:
            additions.update(policy.purpose_additions)
            for key, spec in (policy.vocabulary.attributes or {}).items():
                earlier = declared.setdefault(key, spec)
                if not earlier.same_requests(spec):
                    conflicts.append(_conflict(key, earlier, spec))
        if conflicts:
            raise PolicyError(conflicts)
        # declared attributes keep invalid values out of the representatives
        self.vocabulary = Vocabulary(additions, declared)
        self.purposes = [*STANDARD_PURPOSES, *sorted(additions)]
        self._atoms: list[_Atom] = []
        seen: dict[tuple[int, int], _Atom] = {}
        self.roots: tuple[_Node, ...] = tuple(
            True if cond is None else self._convert(cond, index, seen) for index, cond in conditions
        )
        by_field: dict[str, list[_Atom]] = {}
        for atom in self._atoms:
            by_field.setdefault(atom.field, []).append(atom)
        attrs = sorted(f for f in by_field if f.startswith("attributes."))
        self.order = [f for f in (*FIELD_ORDER, *attrs) if f in by_field]
        self.defaults = {f: default_value(f, self.purposes) for f in (*FIELD_ORDER, *attrs)}
        self.values: dict[str, list[Any]] = {}
        self.notes: list[str] = []
        self._out: dict[int, list[Outcome]] = {}
        for field in self.order:
            self._classify(field, by_field[field])

    # -- setup --------------------------------------------------------------------------
    def _convert(self, cond: Cond, index: int, seen: dict[tuple[int, int], _Atom]) -> _Node:
        if isinstance(cond, Test):
            atom = seen.get((index, id(cond)))
            if atom is None:
                policy = self.policies[index]
                pred = compile_cond(cond, policy.name_lists, policy.vocabulary)
                atom = _Atom(cond, index, pred, len(self._atoms))
                self._atoms.append(atom)
                seen[(index, id(cond))] = atom
            return atom
        if isinstance(cond, Named):  # a name changes nothing a request can tell apart
            return self._convert(cond.cond, index, seen)
        if isinstance(cond, NotOf):
            return ("not", self._convert(cond.item, index, seen))
        items = tuple(self._convert(item, index, seen) for item in cond.items)
        if not items:
            return isinstance(cond, AllOf)
        assert isinstance(cond, (AllOf, AnyOf))
        return ("all" if isinstance(cond, AllOf) else "any", items)

    def _classify(self, field: str, atoms: list[_Atom]) -> None:
        tests = [(a.test, self.policies[a.policy]) for a in atoms]
        domain = candidates(field, tests, self.purposes)
        self.notes.extend(domain.notes)
        kept: list[Any] = []
        rows: list[tuple[Outcome, ...]] = []
        seen: set[tuple[Outcome, ...]] = set()
        for value in domain.values:
            req = self.single(field, value)
            if req is None:
                continue  # not a valid value for the field (e.g. too long)
            row = tuple(outcome(atom.pred, req) for atom in atoms)
            if row not in seen:
                seen.add(row)
                kept.append(value)
                rows.append(row)
        self.values[field] = kept
        for column, atom in enumerate(atoms):
            self._out[atom.index] = [row[column] for row in rows]

    # -- requests -----------------------------------------------------------------------
    def request(self, assignment: dict[str, Any]) -> dict[str, Any]:
        """The request a representative stands for, with default values left out."""
        doc: dict[str, Any] = {
            "requester": {
                "organization": assignment.get(
                    "requester.organization", self.defaults["requester.organization"]
                )
            },
            "purpose": assignment.get("purpose", self.defaults["purpose"]),
        }
        for field in FIELD_ORDER:
            if field in ("purpose", "requester.organization") or field not in assignment:
                continue
            value = assignment[field]
            if value is not None and value != self.defaults[field]:
                _set_path(doc, field, value)
        attrs = {
            f.removeprefix("attributes."): v
            for f, v in sorted(assignment.items())
            if f.startswith("attributes.") and v is not None
        }
        if attrs:
            doc["attributes"] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()
            }
        return doc

    def nondefault(self, assignment: dict[str, Any]) -> int:
        """How many fields of a representative differ from their defaults."""
        return sum(
            1
            for field, value in assignment.items()
            if value != self.defaults.get(field)
            or type(value) is not type(self.defaults.get(field))
        )

    def req(self, assignment: dict[str, Any]) -> Req:
        return validate_request(self.request(assignment), self.vocabulary)

    def single(self, field: str, value: Any) -> Req | None:
        """A request with one field set (the others default); None if it is invalid."""
        try:
            return self.req({field: value})
        except RequestError:
            return None

    # -- enumeration --------------------------------------------------------------------
    def size_bound(self) -> int:
        """An upper bound on the number of leaves (the product of per-field classes)."""
        return math.prod(len(self.values[f]) for f in self.order)

    def leaves(self) -> Iterator[dict[str, Any]]:
        """Every representative (the values of the fields that matter for it; the others
        keep their defaults), depth first, preferred values first."""
        yield from self._walk(self.roots, {})

    def _walk(
        self, nodes: tuple[_Node, ...], assignment: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        atoms: dict[int, _Atom] = {}
        for node in nodes:
            _collect(node, atoms)
        if not atoms:
            yield dict(assignment)
            return
        present = {atom.field for atom in atoms.values()}
        field = next(f for f in self.order if f in present)
        ids = sorted(i for i, atom in atoms.items() if atom.field == field)
        columns = [self._out[i] for i in ids]
        values = self.values[field]
        seen: set[tuple[Outcome, ...]] = set()
        for j, value in enumerate(values):
            signature = tuple(column[j] for column in columns)
            if signature in seen:
                continue
            seen.add(signature)
            out = dict(zip(ids, signature, strict=True))
            assignment[field] = value
            yield from self._walk(tuple(_fold(node, out) for node in nodes), assignment)
            del assignment[field]

    def representative(self, req: Req) -> dict[str, Any] | None:
        """The leaf a validated request falls into; None if the partition misses it."""
        nodes = self.roots
        assignment: dict[str, Any] = {}
        while True:
            atoms: dict[int, _Atom] = {}
            for node in nodes:
                _collect(node, atoms)
            if not atoms:
                return assignment
            present = {atom.field for atom in atoms.values()}
            field = next(f for f in self.order if f in present)
            ids = sorted(i for i, atom in atoms.items() if atom.field == field)
            wanted = tuple(outcome(atoms[i].pred, req) for i in ids)
            for j, value in enumerate(self.values[field]):
                if tuple(self._out[i][j] for i in ids) == wanted:
                    assignment[field] = value
                    break
            else:
                return None
            out = dict(zip(ids, wanted, strict=True))
            nodes = tuple(_fold(node, out) for node in nodes)


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    target = doc
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = list(value) if isinstance(value, tuple) else value
