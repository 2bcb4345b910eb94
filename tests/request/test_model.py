"""The public request model: defaults, strictness, vocabulary, limits, all errors at once."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

import usepolicy
from usepolicy import RequestError, UseRequest, Vocabulary
from usepolicy.record import canonical_json
from usepolicy.request._fast import request_to_builtins, validate_request
from usepolicy.request._model import LIMITS
from usepolicy.request._vocabulary import STANDARD_VOCABULARY

from ..hostile import DENIED_ORG, INVALID, INVALID_TEXT, SUBCLASSED, LyingStr, with_

MINIMAL = {
    "requester": {"organization": "Army Intelligence Center"},
    "purpose": "general.assistant",
}


def errors_of(obj: Any, vocabulary: Vocabulary = STANDARD_VOCABULARY) -> dict[str, str]:
    with pytest.raises(RequestError) as info:
        validate_request(obj, vocabulary)
    return {e.path: e.code for e in info.value.errors}


def test_defaults_are_filled_in() -> None:
    req = request_to_builtins(validate_request(MINIMAL, STANDARD_VOCABULARY))
    assert req["data"] == {
        "subjects": "none",
        "provenance": "none",
        "subject_count": 0,
        "categories": [],
        "legal_authority": "none",
    }
    assert req["autonomy"] == {"level": "none", "lethal": False}
    assert req["environment"] == {"network": "internet", "classification": "unclassified"}
    assert req["attributes"] == {}
    model = UseRequest.model_validate(MINIMAL)
    assert model.model_dump(mode="json") == req


def test_model_is_frozen() -> None:
    model = UseRequest.model_validate(MINIMAL)
    with pytest.raises(Exception, match="frozen"):
        model.purpose = "weapons.engagement"  # type: ignore[misc]


def test_every_bad_field_is_reported_at_once() -> None:
    bad = {
        "requester": {"country": "usa"},
        "purpose": "intelligence.foriegn",
        "data": {"subjects": "domestik", "subject_count": "12"},
        "autonomy": {"lethal": "no"},
        "priority": "high",
    }
    assert errors_of(bad) == {
        "requester.organization": "missing-field",
        "requester.country": "string-pattern-mismatch",
        "purpose": "unknown-purpose",
        "data.subjects": "bad-enum-value",
        "data.subject_count": "int-type",
        "autonomy.lethal": "bool-type",
        "priority": "unknown-field",
    }


def test_unknown_purpose_names_the_closest() -> None:
    with pytest.raises(RequestError) as info:
        validate_request({**MINIMAL, "purpose": "intelligence.foriegn"}, STANDARD_VOCABULARY)
    assert "did you mean `intelligence.foreign`" in str(info.value)


def test_policy_vocabulary_additions_are_accepted() -> None:
    vocabulary = Vocabulary({"intelligence.geoint": "geospatial intelligence"})
    request = {**MINIMAL, "purpose": "intelligence.geoint"}
    assert validate_request(request, vocabulary).purpose == "intelligence.geoint"
    assert errors_of(request) == {"purpose": "unknown-purpose"}
    UseRequest.model_validate(request, context={"vocabulary": vocabulary})


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"attributes": {f"k{i}": i for i in range(LIMITS.max_attributes + 1)}}, "attributes"),
        ({"attributes": {"notes": "x" * (LIMITS.max_attribute_string + 1)}}, "attributes.notes"),
        ({"attributes": {"tags": ["a"] * (LIMITS.max_attribute_list + 1)}}, "attributes.tags"),
        ({"attributes": {"bad key": 1}}, "attributes.bad key"),
        ({"attributes": {"nested": {"a": 1}}}, "attributes.nested"),
        ({"attributes": {"n": 2**60}}, "attributes.n"),
        ({"attributes": {"n": float("nan")}}, "attributes.n"),
        ({"data": {"subject_count": -1}}, "data.subject_count"),
        ({"data": {"subject_count": True}}, "data.subject_count"),
        ({"requester": {"organization": ""}}, "requester.organization"),
        ({"requester": {"organization": "x" * 257}}, "requester.organization"),
        ({"description": "x" * (LIMITS.max_description + 1)}, "description"),
        ({"requester": {"organization": "a", "country": "US\n"}}, "requester.country"),
        ({"requester": {"organization": "\ud800"}}, "requester.organization"),
        ({"description": "ok \udfff"}, "description"),
        ({"attributes": {"notes": ["é", "\ud834"]}}, "attributes.notes"),
    ],
)
def test_bounds_and_types_are_enforced(patch: dict[str, Any], path: str) -> None:
    assert path in errors_of({**MINIMAL, **patch})


def test_oversize_text_is_rejected_before_parsing() -> None:
    text = json.dumps({**MINIMAL, "description": "x" * LIMITS.max_request_bytes})
    assert errors_of(text) == {"$": "too-large"}


def test_size_limit_counts_utf8_bytes_of_text() -> None:
    text = '{"x": "' + "é" * 600_000 + '"}'  # 600k characters, 1.2 MB
    assert errors_of(text) == {"$": "too-large"}


def test_deep_nesting_is_a_clean_error() -> None:
    text = '{"requester": {"organization": "a"}, "purpose": "general.assistant", "x": '
    text += "[" * 100_000 + "]" * 100_000 + "}"
    codes = errors_of(text)
    assert set(codes.values()) <= {"too-deep", "unknown-field"}


def test_duplicate_json_keys_are_rejected() -> None:
    text = (
        '{"requester": {"organization": "a"}, "purpose": "weapons.engagement",'
        ' "purpose": "general.assistant"}'
    )
    assert errors_of(text) == {"$": "duplicate-key"}


def test_malformed_json_reports_line_and_column() -> None:
    with pytest.raises(RequestError) as info:
        validate_request('{\n  "purpose": "x",\n  oops\n}', STANDARD_VOCABULARY)
    (err,) = info.value.errors
    assert (err.code, err.line, err.col) == ("bad-json", 3, 3)


def test_escaped_lone_surrogates_in_json_are_rejected() -> None:
    text = '{"requester": {"organization": "a\\ud800"}, "purpose": "general.assistant"}'
    assert errors_of(text) == {"requester.organization": "string-unicode"}
    fine = '{"requester": {"organization": "\\ud83d\\ude00"}, "purpose": "general.assistant"}'
    assert validate_request(fine, STANDARD_VOCABULARY).requester.organization == "\U0001f600"


def test_non_utf8_bytes_are_rejected() -> None:
    assert errors_of(b'{"purpose": "\xff"}') == {"$": "bad-encoding"}


def test_use_request_instances_are_accepted_by_the_engine() -> None:
    engine = usepolicy.Engine(usepolicy.load_policy())
    model = UseRequest.model_validate({**MINIMAL, "purpose": "cyber.defense"})
    assert engine.evaluate(model).determining_rule == "cyber"


def test_json_schema_lists_every_enum() -> None:
    schema = json.dumps(UseRequest.model_json_schema())
    for value in ("fully_autonomous", "top_secret", "court_order", "web_browsing", "commercial"):
        assert value in schema


# -- hostile requests (issue 12, item 5): one verdict from both validators -------------


@pytest.mark.parametrize(("case", "request_"), INVALID, ids=[c for c, _ in INVALID])
def test_hostile_request_is_rejected_by_both_validators(case: str, request_: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        UseRequest.model_validate(request_)
    engine = usepolicy.Engine(usepolicy.load_policy())
    with pytest.raises(RequestError) as info:
        engine.evaluate(request_)
    for err in info.value.errors:
        # every error prints on one line and can be recorded
        line = str(err)
        assert line.isprintable() and len(line) < 2000
        canonical_json({"path": err.path, "message": err.message})


@pytest.mark.parametrize(
    ("case", "request_", "plain"), SUBCLASSED, ids=[c for c, _, _ in SUBCLASSED]
)
def test_str_subclasses_are_accepted_as_plain_strings(
    case: str, request_: Any, plain: dict[str, Any]
) -> None:
    engine = usepolicy.Engine(usepolicy.load_policy())
    decision, expected = engine.evaluate(request_), engine.evaluate(plain)
    assert decision.request == expected.request
    assert decision.determining_rule == expected.determining_rule
    assert _plain_types(decision.request)
    record = decision.record()  # a subclass kept as it was made this raise TypeError
    assert (
        record.request is not None and record.request["requester"] == expected.request["requester"]
    )
    model = UseRequest.model_validate(request_).model_dump(mode="json")
    assert model == UseRequest.model_validate(plain).model_dump(mode="json")


def _plain_types(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(k) is str and _plain_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_types(v) for v in value)
    return type(value) in (str, int, float, bool, type(None))


def test_a_lying_str_subclass_cannot_slip_past_a_denied_list() -> None:
    engine = usepolicy.Engine(usepolicy.load_policy())
    request = {**MINIMAL, "requester": {"organization": LyingStr(DENIED_ORG)}}
    assert engine.evaluate(request).determining_rule == "denied-entity"
    assert engine.evaluate_many([request])[0].determining_rule == "denied-entity"


@pytest.mark.parametrize(("case", "text"), INVALID_TEXT, ids=[c for c, _ in INVALID_TEXT])
def test_hostile_json_text_is_an_invalid_request(case: str, text: str) -> None:
    engine = usepolicy.Engine(usepolicy.load_policy())
    with pytest.raises(RequestError) as info:
        engine.evaluate(text)
    with pytest.raises(RequestError):
        engine.evaluate(text.encode())
    assert all(str(err).isprintable() for err in info.value.errors)


def test_a_huge_integer_in_json_text_is_refused_with_its_position() -> None:
    text = '{\n  "purpose": "general.assistant",\n  "data": {"subject_count": ' + "7" * 5000 + "}}"
    assert errors_of(text) == {"$": "number-too-long"}
    with pytest.raises(RequestError) as info:
        validate_request(text, STANDARD_VOCABULARY)
    (err,) = info.value.errors
    assert (err.line, err.col) == (3, 29)
    assert "5000 digits" in err.message
    # digits inside a string are text, not a number
    quoted = '{"description": "' + "7" * 5000 + '", "x": -' + "7" * 700 + "}"
    with pytest.raises(RequestError) as info:
        validate_request(quoted, STANDARD_VOCABULARY)
    assert [(e.code, e.col) for e in info.value.errors] == [("number-too-long", 5026)]
    # the longest integer read still gets its field's own error
    assert errors_of(with_({"data": {"subject_count": 10**639}})) == {
        "data.subject_count": "less-than-equal"
    }
    text = json.dumps(MINIMAL)[:-1] + ', "data": {"subject_count": ' + "9" * 640 + "}}"
    assert errors_of(text) == {"data.subject_count": "less-than-equal"}
