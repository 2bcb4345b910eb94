"""The use request of an HTTP call: requester from the key, environment from the
deployment, the rest from the header or the OpenAI body's metadata."""

from __future__ import annotations

import json
from typing import Any

import pytest

from usepolicy import load_policy, loads_policy
from usepolicy.gateway import (
    GatewayRejection,
    IncomingCall,
    KeyRing,
    RequestBuilder,
    convert_metadata,
)

from .conftest import KEY, ORG

RING = KeyRing.of({KEY: {"organization": ORG, "country": "US"}})
ENV = {"network": "air_gapped", "classification": "secret"}


def call(body: Any = None, key: str | None = KEY, **headers: str) -> IncomingCall:
    names = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    if key is not None:
        names["authorization"] = f"Bearer {key}"
    raw = json.dumps(body).encode() if body is not None else b""
    return IncomingCall("POST", "/v1/chat/completions", names, raw)


def test_header_use_with_requester_and_environment_from_the_deployment() -> None:
    use = {"purpose": "intelligence.foreign", "data": {"subjects": "foreign"}}
    built = RequestBuilder(RING, ENV)(call({"model": "gpt-x"}, x_usepolicy_use=json.dumps(use)))
    assert built == {
        **use,
        "requester": {"organization": ORG, "country": "US"},
        "environment": ENV,
        "model": "gpt-x",
    }


def test_metadata_strings_become_the_declared_types() -> None:
    metadata = {
        "purpose": "intelligence.foreign",
        "data.subjects": "mixed",
        "data.subject_count": "12",
        "data.categories": "communications, location",
        "autonomy.lethal": "false",
        "attributes.program": "ALPHA",
        "trace_id": "not ours",
    }
    built = RequestBuilder(RING)(call({"model": "m", "metadata": metadata}))
    assert built["data"] == {
        "subjects": "mixed",
        "subject_count": 12,
        "categories": ["communications", "location"],
    }
    assert built["autonomy"] == {"lethal": False}
    assert built["attributes"] == {"program": "ALPHA"}
    assert "trace_id" not in built


def test_attribute_types_come_from_the_policy() -> None:
    base = load_policy()
    policy = loads_policy(
        "usepolicy: 1\nname: t\ndefault: deny\nvocabulary:\n  attributes:\n"
        "    tier: {type: integer}\n    urgent: {type: boolean}\n    score: {type: number}\n"
        "rules: []\n",
        "t.yaml",
    )
    assert base.name != policy.name
    metadata = {
        "purpose": "general.assistant",
        "attributes.tier": "2",
        "attributes.urgent": "true",
        "attributes.score": "0.5",
        "attributes.x": "3",
    }
    built = RequestBuilder(RING, policy=lambda: policy)(call({"metadata": metadata}))
    assert built["attributes"] == {"tier": 2, "urgent": True, "score": 0.5, "x": "3"}


def test_a_value_that_does_not_convert_is_left_for_validation_to_name() -> None:
    assert convert_metadata({"data.subject_count": "twelve"}) == {
        "data": {"subject_count": "twelve"}
    }


@pytest.mark.parametrize(
    ("metadata", "param", "text"),
    [
        ({"data.subject": "x"}, "metadata.data.subject", "no such request field"),
        ({"requester.organization": "Me"}, "metadata.requester.organization", "set by the gateway"),
        ({"environment.network": "internet"}, "metadata.environment.network", "set by the gateway"),
    ],
)
def test_bad_metadata_keys_are_400_naming_the_key(
    metadata: dict[str, str], param: str, text: str
) -> None:
    with pytest.raises(GatewayRejection) as caught:
        RequestBuilder(RING)(call({"metadata": metadata}))
    assert caught.value.status == 400
    assert caught.value.param == param
    assert text in caught.value.message
    assert caught.value.error_type == "usepolicy_invalid_request"


def test_the_client_never_states_who_asks() -> None:
    use = {"purpose": "general.assistant", "requester": {"organization": "Someone Else"}}
    with pytest.raises(GatewayRejection, match="set by the gateway") as caught:
        RequestBuilder(RING)(call({}, x_usepolicy_use=json.dumps(use)))
    assert caught.value.status == 400


@pytest.mark.parametrize("key", [None, "sk-unknown"])
def test_missing_or_unknown_key_is_401(key: str | None) -> None:
    with pytest.raises(GatewayRejection) as caught:
        RequestBuilder(RING)(call({"metadata": {"purpose": "general.assistant"}}, key=key))
    assert caught.value.status == 401
    assert caught.value.error_type == "usepolicy_unauthorized"


@pytest.mark.parametrize(
    ("headers", "body", "text"),
    [
        ({"x_usepolicy_use": "{not json"}, {}, "not JSON"),
        ({"x_usepolicy_use": "[1]"}, {}, "must be a JSON object"),
        ({}, {"messages": []}, "no use stated"),
        ({}, {"metadata": "purpose"}, "must be an object"),
    ],
)
def test_unreadable_uses_are_400(headers: dict[str, str], body: Any, text: str) -> None:
    with pytest.raises(GatewayRejection, match=text) as caught:
        RequestBuilder(RING)(call(body, **headers))
    assert caught.value.status == 400
