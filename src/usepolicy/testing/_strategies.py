"""Hypothesis strategies: valid requests, and small valid policies.

``requests()`` draws request dicts that ``UseRequest`` accepts, over every field of the
request's declared shape (``usepolicy.request.REQUEST_SHAPE``, attributes included):
each field is drawn from what the shape says of it, and now and then at its declared
limits (the longest name, the most categories, the largest count, the most attributes,
the longest key, string and list, the extreme numbers). Given ``policy=`` (or a
``vocabulary`` that declares attributes), the requests are valid for that policy too:
a declared attribute gets only values of its declared type and values, and no other
attribute takes a declared key. Given ``policy=``, it also draws the constants that
policy tests (names on its lists, thresholds and their neighbours), so boundary cases
come up often. ``policy_texts()`` and ``policies()`` draw small policies over the whole
language (named conditions, named lists, declared attributes included), for testing
tools that handle policies.
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
    AttributeSpec,
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


def _declared_value(spec: AttributeSpec) -> st.SearchStrategy[Any]:
    """Values that fit a declared attribute."""
    if spec.type in ("string", "list"):
        text = st.sampled_from(spec.values) if spec.values else st.text(max_size=16)
        return text if spec.type == "string" else st.lists(text, max_size=4)
    if spec.type == "boolean":
        return st.booleans()
    integers = st.one_of(st.integers(-5, 5), st.integers(-_LIMIT, _LIMIT))
    if spec.type == "integer":
        return integers
    return st.one_of(
        integers, st.floats(-float(_LIMIT), float(_LIMIT), allow_nan=False, allow_infinity=False)
    )


def _hints(policy: Policy) -> dict[str, list[Any]]:
    """Per field, one valid value for each class of the policy's partition."""
    conds = policy_conditions(policy, invariants=True, obligations=True)
    partition = Partition([policy], [(0, cond) for cond in conds])
    return {field: values[:64] for field, values in partition.values.items()}


def _pick(
    hints: dict[str, list[Any]],
    field: str,
    base: st.SearchStrategy[Any],
    spec: AttributeSpec | None = None,
) -> st.SearchStrategy[Any]:
    found = [v for v in hints.get(field, []) if v is not None]
    if spec is not None:  # the hints of another vocabulary may not fit this one
        found = [v for v in found if spec.accepts(list(v) if isinstance(v, tuple) else v)]
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
        declared: dict[str, AttributeSpec],
        *,
        at_limits: bool,
        complete: bool,
        organizations: Sequence[str] | None,
    ) -> None:
        self.purposes = purposes
        self.hints = hints
        self.declared = declared
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

    def attribute(self, key: str) -> st.SearchStrategy[Any]:
        spec = self.declared.get(key)
        base = _attribute_value() if spec is None else _declared_value(spec)
        return _pick(self.hints, f"attributes.{key}", base, spec)

    def attributes(self) -> st.SearchStrategy[dict[str, Any]]:
        declared = self.declared
        tested = {f.removeprefix("attributes.") for f in self.hints if f.startswith("attributes.")}
        keys = sorted(tested | set(declared))
        known = st.fixed_dictionaries({}, optional={k: self.attribute(k) for k in keys})
        other, edge = _KEY, _edge_attributes()
        if declared:  # (else the same draws as ever: a filter changes what is drawn)
            # other attributes never take a declared key, whose value would have to fit it
            other = _KEY.filter(lambda key: key not in declared)
            edge = edge.map(lambda d: {k: v for k, v in d.items() if k not in declared})
        extra = st.dictionaries(other, _attribute_value(), max_size=3)
        usual = st.builds(lambda a, b: {**b, **a}, known, extra).filter(
            lambda d: len(d) <= LIMITS.max_attributes
        )
        return self.sometimes(edge, usual)


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
    declared = dict(vocab.attributes or {})
    return _Drawer(
        names,
        hints,
        declared,
        at_limits=at_limits,
        complete=complete,
        organizations=organizations,
    ).object("")


# -- policies --------------------------------------------------------------------------
_ORGS: Final = ("Acme Corp", "Army Intelligence Center", "Beta Inc", "NO", "Zeta Labs")
_PATTERNS: Final = ("^A", "Inc$", "Corp", "(?i)army", "^Z")
_PURPOSE_PATTERNS: Final = ("^weapons", "defense$", "intelligence")
_WORDS: Final = ("alpha", "alpha.one", "beta", "ALPHA", "x")


#: the attributes a generated policy may declare; it then tests only these
_DECLARED: Final = {
    "level": {"type": "string", "values": ["low", "mid", "high"]},
    "tags": {"type": "list", "values": ["a", "b", "c"]},
    "score": {"type": "integer"},
    "vetted": {"type": "boolean"},
}


def _set_operand(values: list[Any], named: str) -> st.SearchStrategy[Any]:
    """A set operand: some of ``values`` inline, or the named list ``named``."""
    inline = st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)
    return st.one_of(inline, st.just({"list": named}))


def _declared_test() -> st.SearchStrategy[dict[str, Any]]:
    """A test of a declared attribute that fits its declaration."""
    levels = ["low", "mid", "high"]
    level = st.one_of(
        st.tuples(st.sampled_from(["eq", "ne"]), st.sampled_from(levels)),
        st.tuples(st.sampled_from(["in", "not_in"]), _set_operand(levels, "levels")),
        st.tuples(st.just("exists"), st.booleans()),
    )
    tags = st.one_of(
        st.tuples(st.just("contains"), st.sampled_from(["a", "b", "c"])),
        st.tuples(
            st.sampled_from(["contains_any", "contains_all", "all_in", "none_in"]),
            _set_operand(["a", "b", "c"], "tag_set"),
        ),
    )
    score = st.tuples(st.sampled_from(["eq", "lt", "gte"]), st.integers(-2, 5))
    vetted = st.tuples(st.sampled_from(["eq", "ne"]), st.booleans())

    def test_of(key: str, strategy: st.SearchStrategy[tuple[str, Any]]) -> Any:
        return strategy.map(lambda t: {f"attributes.{key}": {t[0]: t[1]}})

    return st.one_of(
        test_of("level", level),
        test_of("tags", tags),
        test_of("score", score),
        test_of("vetted", vetted),
    )


def _leaf(
    purposes: list[str], prefixes: list[str], declared: bool
) -> st.SearchStrategy[dict[str, Any]]:
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
            st.tuples(st.sampled_from(["in", "not_in"]), _set_operand(pool, "orgs")).map(
                lambda t: {field: {t[0]: t[1]}}
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
                st.sampled_from(
                    ["in", "not_in", "contains_any", "contains_all", "all_in", "none_in"]
                ),
                st.one_of(st.lists(scalar, min_size=1, max_size=3), st.just({"list": "codes"})),
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
            st.sampled_from(["contains_any", "contains_all", "all_in", "none_in"]),
            _set_operand(categories, "cats"),
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
        _declared_test() if declared else attribute_test(),
    )


def _condition(
    purposes: list[str], prefixes: list[str], declared: bool, names: list[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """Conditions over the language; leaves may use the named conditions ``names``."""
    leaf = _leaf(purposes, prefixes, declared)
    if names:
        leaf = st.one_of(leaf, st.sampled_from(names).map(lambda n: {"condition": n}))
    return st.recursive(
        leaf,
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
    declared = draw(st.booleans())
    purposes = sorted(STANDARD_VOCABULARY.names) + (["custom.use"] if custom else [])
    prefixes = sorted({p.split(".")[0] for p in purposes})
    # named conditions, each may use the ones before it (no cycles)
    named: dict[str, Any] = {}
    for i in range(draw(st.integers(0, 2))):
        named[f"c{i}"] = draw(_condition(purposes, prefixes, declared, list(named)))
    condition = _condition(purposes, prefixes, declared, list(named))
    doc: dict[str, Any] = {
        "usepolicy": 1,
        "name": "generated",
        "version": "1",
        "default": draw(st.sampled_from(["allow", "deny"])),
        "combine": draw(st.sampled_from(["deny-overrides", "first-match"])),
        "lists": {
            "orgs": ["Acme Corp", "Beta Inc"],
            "codes": ["US", "alpha", "ZZ"],
            "cats": [c.value for c in Category][:3],
            "levels": ["low", "high"],
            "tag_set": ["a", "b"],
        },
    }
    vocabulary: dict[str, Any] = {}
    if custom:
        vocabulary["purposes"] = {"custom.use": "a purpose a policy adds"}
    if declared:
        vocabulary["attributes"] = _DECLARED
    if vocabulary:
        doc["vocabulary"] = vocabulary
    if named:
        doc["conditions"] = named
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
