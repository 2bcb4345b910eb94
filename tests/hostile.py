"""Hostile requests (issue 12, items 3 and 5), shared by the tests of every layer that
must give them one clean verdict: both validators, the engine, the enforcer, the CLI."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

MINIMAL: dict[str, Any] = {
    "requester": {"organization": "Army Intelligence Center"},
    "purpose": "general.assistant",
}
DENIED_ORG = "Huawei Technologies Co., Ltd."  # on the reference packs' denied list


class LyingStr(str):
    """A ``str`` subclass that is equal to nothing and hashes alike: kept as it is, it
    would slip past a list of denied names."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


def nested(depth: int, leaf: Any = 1) -> Any:
    """``[[[...leaf...]]]``, ``depth`` lists deep (built without recursion)."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def nested_dicts(depth: int, leaf: Any = 1) -> Any:
    """``{"a": {"a": ...leaf...}}``, ``depth`` objects deep."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def with_(patch: dict[str, Any]) -> dict[str, Any]:
    return {**MINIMAL, **patch}


HUGE = 10**5000

#: (case, request) that both validators must reject, with a clean RequestError
INVALID: list[tuple[str, dict[str, Any]]] = [
    ("surrogate-enum", with_({"data": {"subjects": "\ud800"}})),
    ("surrogate-category", with_({"data": {"categories": ["\udfff"]}})),
    ("surrogate-boolean", with_({"autonomy": {"lethal": "\ud800"}})),
    ("surrogate-integer", with_({"data": {"subject_count": "\ud800"}})),
    ("surrogate-unknown-key", with_({"\ud800": 1})),
    ("surrogate-nested-key", with_({"data": {"\ud800x": 1}})),
    ("surrogate-attribute-key", with_({"attributes": {"\ud800": "x"}})),
    ("huge-integer-count", with_({"data": {"subject_count": HUGE}})),
    ("huge-negative-integer", with_({"data": {"subject_count": -HUGE}})),
    ("huge-integer-attribute", with_({"attributes": {"n": HUGE}})),
    ("huge-integer-unknown", with_({"extra": HUGE})),
    ("huge-integer-in-a-dict", with_({"description": {"a": {"b": HUGE}}})),
    ("huge-integer-list-item", with_({"attributes": {"tags": ["a", HUGE]}})),
    ("deep-description", with_({"description": nested(5000)})),
    ("deep-attribute", with_({"attributes": {"a": nested(5000)}})),
    ("deep-unknown", with_({"extra": nested(5000)})),
    ("deep-category", with_({"data": {"categories": nested(5000)}})),
    ("deep-dicts", with_({"description": nested_dicts(5000)})),
    ("deep-unknown-dicts", with_({"data": {"extra": nested_dicts(5000)}})),
    ("tuple-categories", with_({"data": {"categories": ("health",)}})),
    ("set-categories", with_({"data": {"categories": {"health"}}})),
    ("frozenset-categories", with_({"data": {"categories": frozenset({"health"})}})),
    ("empty-tuple-categories", with_({"data": {"categories": ()}})),
    ("tuple-attribute", with_({"attributes": {"tags": ("a", "b")}})),
    ("set-attribute", with_({"attributes": {"tags": {"a"}}})),
    ("frozenset-attribute", with_({"attributes": {"tags": frozenset({"a"})}})),
    ("mapping-proxy-object", with_({"data": MappingProxyType({"subjects": "none"})})),
    ("mapping-proxy-attributes", with_({"attributes": MappingProxyType({"a": "b"})})),
]

#: (case, request, the same request with plain strings) that both validators accept
SUBCLASSED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "organization",
        {**MINIMAL, "requester": {"organization": LyingStr(DENIED_ORG)}},
        {**MINIMAL, "requester": {"organization": DENIED_ORG}},
    ),
    (
        "entity-id-and-country",
        {
            **MINIMAL,
            "requester": {
                "organization": "x",
                "entity_id": LyingStr(DENIED_ORG),
                "country": LyingStr("US"),
            },
        },
        {**MINIMAL, "requester": {"organization": "x", "entity_id": DENIED_ORG, "country": "US"}},
    ),
    (
        "purpose-model-description-id",
        {
            "requester": {"organization": "x"},
            "purpose": LyingStr("weapons.engagement"),
            "model": LyingStr("m"),
            "description": LyingStr("d"),
            "request_id": LyingStr("r-1"),
            "autonomy": {"level": "fully_autonomous"},
        },
        {
            "requester": {"organization": "x"},
            "purpose": "weapons.engagement",
            "model": "m",
            "description": "d",
            "request_id": "r-1",
            "autonomy": {"level": "fully_autonomous"},
        },
    ),
    (
        "enum-and-category",
        {**MINIMAL, "data": {"subjects": LyingStr("mixed"), "categories": [LyingStr("health")]}},
        {**MINIMAL, "data": {"subjects": "mixed", "categories": ["health"]}},
    ),
    (
        "attribute-key-value-and-item",
        {**MINIMAL, "attributes": {LyingStr("k"): LyingStr("v"), "l": [LyingStr("x")]}},
        {**MINIMAL, "attributes": {"k": "v", "l": ["x"]}},
    ),
]


def many_unknown_keys(count: int) -> str:
    """Request JSON text with ``count`` unknown keys (8,000 of them: 64 KB)."""
    head = json.dumps(MINIMAL, separators=(",", ":"))[:-1]
    return head + "".join(f',"{i:x}":1' for i in range(count)) + "}"


#: (case, JSON text) that must be an invalid request, never a crash
INVALID_TEXT: list[tuple[str, str]] = [
    ("surrogate-enum", '{"requester": {"organization": "a"}, "purpose": "general.assistant",'
     ' "data": {"subjects": "\\ud800"}}'),
    ("surrogate-boolean", '{"requester": {"organization": "a"}, "purpose": "general.assistant",'
     ' "autonomy": {"lethal": "\\ud800"}}'),
    ("surrogate-integer", '{"requester": {"organization": "a"}, "purpose": "general.assistant",'
     ' "data": {"subject_count": "\\udc00"}}'),
    ("surrogate-unknown-key", '{"requester": {"organization": "a"},'
     ' "purpose": "general.assistant", "\\ud800": 1}'),
    ("huge-integer", '{"requester": {"organization": "a"}, "purpose": "general.assistant",'
     ' "data": {"subject_count": ' + "9" * 5000 + "}}"),
    ("huge-integer-in-a-dict", '{"requester": {"organization": "a"},'
     ' "purpose": "general.assistant", "x": {"y": [-' + "1" * 5000 + "]}}"),
    ("deep", '{"requester": {"organization": "a"}, "purpose": "general.assistant", "x": '
     + "[" * 5000 + "]" * 5000 + "}"),
]  # fmt: skip
