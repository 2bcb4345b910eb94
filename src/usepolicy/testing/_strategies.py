"""Hypothesis strategies: valid requests, and small valid policies.

``requests()`` draws request dicts that ``UseRequest`` accepts, over every field of the
request's declared shape (``usepolicy.request.REQUEST_SHAPE``, attributes included):
each field is drawn from what the shape says of it, and now and then at its declared
limits (the longest name, the most categories, the largest count, the most attributes,
the longest key, string and list, the extreme numbers). Given ``policy=``, it also draws
the constants that policy tests (names on its lists, thresholds and their neighbours),
so boundary cases come up often. ``policy_texts()`` and ``policies()`` draw small
policies over the whole language, for testing tools that handle policies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

try:
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError(
        "usepolicy.testing strategies need hypothesis: pip install 'usepolicy[test]'"
    ) from None

import yaml

from ..policy import Policy, loads_policy
from ..request import (
    LIMITS,
    REQUEST_SHAPE,
    STANDARD_VOCABULARY,
    AutonomyLevel,
    Category,
    Classification,
    FieldShape,
    LegalAuthority,
    Network,
    Provenance,
    Shape,
    Subjects,
    Vocabulary,
)
from ._partition import Partition, policy_conditions

__all__ = ["policies", "policy_texts", "requests"]

_LIMIT: Final = LIMITS.max_abs_number
_CHARS: Final = st.characters(codec="utf-8", exclude_categories=("Cs", "Cn"))
_KEY: Final = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,15}", fullmatch=True)
#: one character beyond the BMP: one character to the validators, four UTF-8 bytes
_WIDE: Final = "\U0001f600"


def _edge_texts(field: FieldShape) -> st.SearchStrategy[str]:
    lengths = [n for n in (field.min_length or 0, field.max_length) if n is not None]
    return st.sampled_from([c * n for n in lengths for c in ("x", _WIDE)])


def _attribute_value() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.booleans(),
        st.integers(-_LIMIT, _LIMIT),
        st.integers(-5, 5),
        st.floats(-float(_LIMIT), float(_LIMIT), allow_nan=False, allow_infinity=False),
        st.text(max_size=16),
        st.lists(st.text(max_size=8), max_size=4),
    )


def _edge_attributes() -> st.SearchStrategy[dict[str, Any]]:
    """Attributes at one of their limits."""
    string, items, key = (
        LIMITS.max_attribute_string,
        LIMITS.max_attribute_list,
        LIMITS.max_attribute_key,
    )
    return st.sampled_from(
        [
            {f"k{i}": i for i in range(LIMITS.max_attributes)},
            {"k" * key: True},
            {"text": "x" * string, "wide": _WIDE * string},
            {"items": [_WIDE] * items},
            {"high": _LIMIT, "low": -_LIMIT, "top": float(_LIMIT), "bottom": -float(_LIMIT)},
        ]
    )


def _hints(policy: Policy) -> dict[str, list[Any]]:
    """Per field, one valid value for each class of the policy's partition."""
    conds = policy_conditions(policy, invariants=True, obligations=True)
    partition = Partition([policy], [(0, cond) for cond in conds])
    return {field: values[:64] for field, values in partition.values.items()}


def _pick(
    hints: dict[str, list[Any]], field: str, base: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    found = [v for v in hints.get(field, []) if v is not None]
    if not found:
        return base
    return st.one_of(
        st.sampled_from(found).map(lambda v: list(v) if isinstance(v, tuple) else v), base
    )


class _Drawer:
    """A strategy for each declared field, from its shape and limits."""

    def __init__(
        self,
        purposes: Sequence[str],
        hints: dict[str, list[Any]],
        *,
        at_limits: bool,
        complete: bool,
        organizations: Sequence[str] | None,
    ) -> None:
        self.purposes = purposes
        self.hints = hints
        self.at_limits = at_limits
        self.complete = complete
        self.organizations = organizations

    def sometimes(
        self, edge: st.SearchStrategy[Any], usual: st.SearchStrategy[Any]
    ) -> st.SearchStrategy[Any]:
        """``usual``, and one time in eight ``edge`` (limits are costly to draw often)."""
        if not self.at_limits:
            return usual
        return st.integers(0, 7).flatmap(lambda i: edge if i == 0 else usual)

    def value(self, field: FieldShape) -> st.SearchStrategy[Any]:
        shape = field.shape
        if shape is Shape.OBJECT:
            return self.object(field.path)
        if shape is Shape.PURPOSE:
            return st.sampled_from(list(self.purposes))
        if shape is Shape.ENUM:
            assert field.enum is not None
            return st.sampled_from([m.value for m in field.enum])
        if shape is Shape.ENUM_LIST:
            assert field.enum is not None
            assert field.max_length is not None
            values = [m.value for m in field.enum]
            most = st.lists(st.sampled_from(values), min_size=field.max_length)
            return self.sometimes(
                most.map(lambda v: v[: field.max_length]),
                st.lists(st.sampled_from(values), max_size=6),
            )
        if shape is Shape.INTEGER:
            assert field.ge is not None
            assert field.le is not None
            usual = st.one_of(st.integers(field.ge, 2000), st.integers(field.ge, field.le))
            base = self.sometimes(st.sampled_from([field.ge, field.le]), usual)
        elif shape is Shape.BOOLEAN:
            return st.booleans()
        elif shape is Shape.ATTRIBUTES:
            return self.attributes()
        elif field.pattern is not None:
            base = st.from_regex(field.pattern, fullmatch=True)
        elif shape is Shape.TEXT:
            return self.sometimes(_edge_texts(field), st.text(max_size=40))
        elif field.path == "requester.organization" and self.organizations:
            base = st.sampled_from(list(self.organizations))
        else:
            size = field.min_length or 0
            base = self.sometimes(_edge_texts(field), st.text(_CHARS, min_size=size, max_size=24))
        return _pick(self.hints, field.path, base)

    def object(self, path: str) -> st.SearchStrategy[dict[str, Any]]:
        children = [f for f in REQUEST_SHAPE if f.parent == path]
        given = [f for f in children if f.required or self.complete]
        return st.fixed_dictionaries(
            {f.name: self.value(f) for f in given},
            optional={f.name: self.value(f) for f in children if f not in given},
        )

    def attributes(self) -> st.SearchStrategy[dict[str, Any]]:
        keys = sorted(f.removeprefix("attributes.") for f in self.hints if "attributes." in f)
        known = st.fixed_dictionaries(
            {},
            optional={k: _pick(self.hints, f"attributes.{k}", _attribute_value()) for k in keys},
        )
        extra = st.dictionaries(_KEY, _attribute_value(), max_size=3)
        usual = st.builds(lambda a, b: {**b, **a}, known, extra).filter(
            lambda d: len(d) <= LIMITS.max_attributes
        )
        return self.sometimes(_edge_attributes(), usual)


def requests(
    vocabulary: Vocabulary | None = None,
    *,
    policy: Policy | None = None,
    purposes: Sequence[str] | None = None,
    at_limits: bool = True,
    complete: bool = False,
    organizations: Sequence[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid request dicts, now and then at the request's declared limits.

    Args:
        vocabulary: the purposes to draw from (default: the policy's, else standard).
        policy: bias the draw towards the constants this policy tests.
        purposes: draw only these purposes (each must be in the vocabulary).
        at_limits: also draw fields at their declared limits (False: typical values
            only, as a benchmark wants).
        complete: every field present, as gateways tend to send them (default: only
            some optional fields).
        organizations: the requesting organisations to draw from (default: any text),
            as a gateway sees the same few again and again.
    """
    vocab = vocabulary or (policy.vocabulary if policy is not None else STANDARD_VOCABULARY)
    names = sorted(vocab.names) if purposes is None else list(purposes)
    unknown = [name for name in names if name not in vocab]
    if unknown or not names:
        raise ValueError(f"purposes not in the vocabulary: {unknown or 'none given'}")
    hints = _hints(policy) if policy is not None else {}
    return _Drawer(
        names, hints, at_limits=at_limits, complete=complete, organizations=organizations
    ).object("")


# -- policies --------------------------------------------------------------------------
_ORGS: Final = ("Acme Corp", "Army Intelligence Center", "Beta Inc", "NO", "Zeta Labs")
_PATTERNS: Final = ("^A", "Inc$", "Corp", "(?i)army", "^Z")
_PURPOSE_PATTERNS: Final = ("^weapons", "defense$", "intelligence")
_WORDS: Final = ("alpha", "alpha.one", "beta", "ALPHA", "x")


def _leaf(purposes: list[str], prefixes: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    def enum_test(field: str, enum: Any, ordered: bool = False) -> st.SearchStrategy[Any]:
        values = [m.value for m in enum]
        ops = ["eq", "ne", "in", "not_in", *(["lt", "lte", "gt", "gte"] if ordered else [])]
        return st.sampled_from(ops).flatmap(
            lambda op: (
                st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)
                if op in ("in", "not_in")
                else st.sampled_from(values)
            ).map(lambda v: {field: {op: v}})
        )

    def string_test(field: str, optional: bool) -> st.SearchStrategy[Any]:
        pool = ["US", "GB", "ZZ"] if field == "requester.country" else list(_ORGS)
        options = [
            st.sampled_from(pool).map(lambda v: {field: {"eq": v}}),
            st.sampled_from(pool).map(lambda v: {field: {"ne": v}}),
            st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True).map(
                lambda v: {field: {"in": v}}
            ),
            st.sampled_from(["orgs", "codes"]).map(lambda v: {field: {"in_list": v}}),
            st.sampled_from(_PATTERNS).map(lambda v: {field: {"matches": v}}),
        ]
        if optional:
            options.append(st.booleans().map(lambda v: {field: {"exists": v}}))
        return st.one_of(options)

    def attribute_test() -> st.SearchStrategy[Any]:
        key = st.sampled_from(["attributes.tier", "attributes.program", "attributes.flags"])
        scalar = st.one_of(st.sampled_from(_WORDS), st.integers(-2, 5), st.booleans())
        op_operand = st.one_of(
            st.tuples(st.sampled_from(["eq", "ne"]), scalar),
            st.tuples(
                st.sampled_from(["in", "not_in", "contains_any", "contains_all"]),
                st.lists(scalar, min_size=1, max_size=3),
            ),
            st.tuples(
                st.sampled_from(["lt", "lte", "gt", "gte"]),
                st.one_of(st.integers(-2, 5), st.sampled_from([0.5, 2.5])),
            ),
            st.tuples(st.just("under"), st.sampled_from(["alpha", "beta"])),
            st.tuples(st.just("contains"), st.sampled_from(_WORDS)),
            st.tuples(st.just("matches"), st.sampled_from(["^al", "ha$"])),
            st.tuples(st.just("in_list"), st.just("codes")),
            st.tuples(st.just("exists"), st.booleans()),
        )
        return st.tuples(key, op_operand).map(lambda t: {t[0]: {t[1][0]: t[1][1]}})

    categories = [c.value for c in Category][:4]
    return st.one_of(
        enum_test("data.subjects", Subjects),
        enum_test("data.provenance", Provenance),
        enum_test("data.legal_authority", LegalAuthority),
        enum_test("autonomy.level", AutonomyLevel),
        enum_test("environment.network", Network),
        enum_test("environment.classification", Classification, ordered=True),
        st.sampled_from(["eq", "ne"]).flatmap(
            lambda op: st.booleans().map(lambda v: {"autonomy.lethal": {op: v}})
        ),
        st.tuples(
            st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"]), st.integers(0, 2000)
        ).map(lambda t: {"data.subject_count": {t[0]: t[1]}}),
        st.tuples(
            st.sampled_from(["contains_any", "contains_all"]),
            st.lists(st.sampled_from(categories), min_size=1, max_size=3, unique=True),
        ).map(lambda t: {"data.categories": {t[0]: t[1]}}),
        st.sampled_from(categories).map(lambda v: {"data.categories": {"contains": v}}),
        st.sampled_from(purposes).map(lambda v: {"purpose": v}),
        st.lists(st.sampled_from(prefixes), min_size=1, max_size=2, unique=True).map(
            lambda v: {"purpose": {"under": v}}
        ),
        st.sampled_from(_PURPOSE_PATTERNS).map(lambda v: {"purpose": {"matches": v}}),
        string_test("requester.organization", optional=False),
        string_test("requester.entity_id", optional=True),
        string_test("requester.country", optional=True),
        attribute_test(),
    )


def _condition(purposes: list[str], prefixes: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        _leaf(purposes, prefixes),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda v: {"all": v}),
            st.lists(inner, min_size=1, max_size=3).map(lambda v: {"any": v}),
            inner.map(lambda v: {"not": v}),
        ),
        max_leaves=5,
    )


@st.composite
def _document(draw: st.DrawFn, max_rules: int) -> dict[str, Any]:
    custom = draw(st.booleans())
    purposes = sorted(STANDARD_VOCABULARY.names) + (["custom.use"] if custom else [])
    prefixes = sorted({p.split(".")[0] for p in purposes})
    condition = _condition(purposes, prefixes)
    doc: dict[str, Any] = {
        "usepolicy": 1,
        "name": "generated",
        "version": "1",
        "default": draw(st.sampled_from(["allow", "deny"])),
        "combine": draw(st.sampled_from(["deny-overrides", "first-match"])),
        "lists": {"orgs": ["Acme Corp", "Beta Inc"], "codes": ["US", "alpha", "ZZ"]},
    }
    if custom:
        doc["vocabulary"] = {"purposes": {"custom.use": "a purpose a policy adds"}}
    rules = []
    for index in range(draw(st.integers(1, max_rules))):
        effect = draw(st.sampled_from(["allow", "deny"]))
        rule: dict[str, Any] = {"id": f"r{index}", "effect": effect, "reason": "generated"}
        if draw(st.integers(0, 5)):
            rule["when"] = draw(condition)
        if effect == "allow" and draw(st.booleans()):
            rule["obligations"] = [{"id": "log", "when": draw(condition)}]
        rules.append(rule)
    doc["rules"] = rules
    invariants = draw(st.lists(condition, max_size=2))
    if invariants:
        doc["invariants"] = [
            {"id": f"i{i}", "never": draw(st.sampled_from(["allow", "deny"])), "when": when}
            for i, when in enumerate(invariants)
        ]
    return doc


def policy_texts(max_rules: int = 5) -> st.SearchStrategy[str]:
    """Small valid policy documents as YAML text."""
    return _document(max_rules).map(
        lambda doc: yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    )


def policies(max_rules: int = 5) -> st.SearchStrategy[Policy]:
    """Small valid policies, loaded (see ``policy_texts``)."""
    return policy_texts(max_rules).map(lambda text: loads_policy(text, "<generated>"))
