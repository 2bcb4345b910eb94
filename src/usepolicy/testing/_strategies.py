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
come up often. ``policy_texts()`` and ``policies()`` (``_policy_texts``, re-exported
here) draw small policies over the whole language, for testing tools that handle
policies.
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

from ..policy import Policy
from ..request import (
    LIMITS,
    REQUEST_SHAPE,
    STANDARD_VOCABULARY,
    AttributeSpec,
    FieldShape,
    Shape,
    Vocabulary,
)
from ._partition import Partition, policy_conditions
from ._policy_texts import policies, policy_texts

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
