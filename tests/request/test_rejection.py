"""Why a request is invalid: the model's errors, capped, counted, printable."""

from __future__ import annotations

import json
from typing import Any

import pytest

import usepolicy
from usepolicy import RequestError
from usepolicy.request._rejection import explain_rejection
from usepolicy.request._vocabulary import STANDARD_VOCABULARY, AttributeSpec, Vocabulary

from ..hostile import MINIMAL, many_unknown_keys, with_

CAP = RequestError.max_errors


def rejection(obj: Any, vocabulary: Vocabulary = STANDARD_VOCABULARY) -> RequestError:
    model, errors, omitted = explain_rejection(obj, vocabulary)
    assert model is None
    return RequestError(errors, omitted=omitted)


def test_many_unknown_keys_give_the_first_errors_and_a_count_of_the_rest() -> None:
    """A 1 MiB request of unknown keys once gave 130,000 errors (218 MB)."""
    text = many_unknown_keys(20_000)
    with pytest.raises(RequestError) as info:
        usepolicy.Engine(usepolicy.load_policy()).evaluate(text)
    errors = info.value.errors
    assert len(errors) == CAP + 1
    assert [e.path for e in errors[:3]] == ["0", "1", "2"]
    assert {e.code for e in errors[:CAP]} == {"unknown-field"}
    assert errors[-1].code == "too-many-errors"
    assert errors[-1].message.startswith(f"{20_000 - CAP} more errors left out")
    assert info.value.omitted == 20_000 - CAP
    assert len(str(info.value)) < 200 * CAP  # bounded, whatever the request held


def test_declared_attribute_errors_count_toward_the_cap() -> None:
    vocabulary = Vocabulary(attributes={f"a{i}": AttributeSpec("integer") for i in range(60)})
    request = with_({f"x{i}": 1 for i in range(70)})
    request["attributes"] = {f"a{i}": "no" for i in range(60)}
    exc = rejection(request, vocabulary)
    codes = [e.code for e in exc.errors]
    assert codes == ["bad-attribute-value"] * 60 + ["unknown-field"] * 40 + ["too-many-errors"]
    assert exc.omitted == 30
    # the cap falls among the declared attributes' errors: those past it are counted
    request = {
        "request_id": "",
        "requester": {"country": "x", "entity_id": ""},
        "model": "",
        "purpose": "?",
        "description": 1,
        "data": {"categories": ["?"] * 32, "subjects": "?", "subject_count": -1},
        "autonomy": {"level": "?", "lethal": "?"},
        "environment": {"network": "?", "classification": "?"},
        "attributes": {f"a{i}": "no" for i in range(60)},
    }
    exc = rejection(request, vocabulary)
    before = len([e for e in exc.errors if e.code != "bad-attribute-value"]) - 1
    assert before > CAP - 60
    assert len(exc.errors) == CAP + 1
    assert exc.omitted == before + 60 - CAP


def test_an_attribute_that_fails_every_type_is_one_error() -> None:
    exc = rejection(with_({"attributes": {"bad key": {"a": 1}, "n": [1], "ok": "x"}}))
    assert [(e.path, e.code) for e in exc.errors] == [
        ("attributes.bad key", "bad-attribute-key"),
        ("attributes.n", "bad-attribute"),
    ]


def test_huge_keys_and_values_make_small_errors() -> None:
    key = "k" * 500_000
    exc = rejection({**MINIMAL, key: "v" * 500_000, "description": ["d" * 500_000]})
    (description, unknown) = sorted(exc.errors, key=lambda e: e.path)
    assert unknown.path == "k" * 64 + "…" and len(unknown.message) < 300
    assert description.path == "description" and len(description.message) < 300
    assert len(json.dumps([e.message for e in exc.errors])) < 1000


def test_lone_surrogates_are_shown_escaped() -> None:
    exc = rejection(with_({"data": {"subjects": "\ud800"}, "autonomy": {"lethal": "a\udfff"}}))
    messages = " ".join(e.message for e in exc.errors)
    assert "\\ud800" in messages and "a\\udfff" in messages
    assert messages.isprintable()
