"""Hypothesis strategies for small valid policies over the whole language (named
conditions, named lists as operands, declared attributes included), for testing tools
that handle policies: ``policy_texts()`` (YAML text) and ``policies()`` (loaded)."""

from __future__ import annotations

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
    STANDARD_VOCABULARY,
    AutonomyLevel,
    Category,
    Classification,
    LegalAuthority,
    Network,
    Provenance,
    Subjects,
)

__all__ = ["policies", "policy_texts"]

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
