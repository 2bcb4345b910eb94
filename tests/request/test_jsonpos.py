"""Field errors get the line and column of their field in the JSON text, in one pass."""

from __future__ import annotations

import json

import pytest

import usepolicy.request._jsonpos
from usepolicy import FieldProblem, RequestError
from usepolicy.request._jsonpos import line_col, locate_errors, long_integer_at

from ..hostile import many_unknown_keys

TEXT = """{
  "requester": {"organization": "a", "country": "usa"},
  "purpose": "general.assistant",
  "data": {"categories": ["health", "nope"], "subjects": "x"},
  "attributes": {"a.b": {"c": 1}, "\\ud800": 2, "ok": [1, {"x": 2}]},
  "k": 1
}"""


def placed(*paths: str, text: str = TEXT) -> list[tuple[int | None, int | None]]:
    errors = [FieldProblem(path, "code", "message") for path in paths]
    return [(e.line, e.col) for e in locate_errors(text, errors)]


def test_keys_are_placed_at_their_opening_quote() -> None:
    assert placed("requester", "requester.country", "purpose", "data.subjects", "k") == [
        (2, 3),
        (2, 38),
        (3, 3),
        (4, 46),
        (6, 3),
    ]


def test_list_items_keys_with_dots_and_escaped_keys() -> None:
    assert placed("data.categories.1", "attributes.a.b", "attributes.\\ud800") == [
        (4, 37),  # a list item has no key: its value
        (5, 18),
        (5, 35),
    ]
    assert placed("attributes.ok.1.x", "attributes.ok.1") == [(5, 59), (5, 58)]


def test_a_missing_field_points_at_the_object_that_lacks_it() -> None:
    assert placed("requester.organization_id", "data.legal_authority") == [(2, 3), (4, 3)]
    assert placed("nothing") == [(None, None)]


def test_errors_with_a_position_or_none_to_have_are_left_alone() -> None:
    errors = [FieldProblem("$", "bad-json", "m"), FieldProblem("purpose", "c", "m", 9, 9)]
    assert locate_errors(TEXT, errors) == errors


def test_bytes_and_text_that_is_not_json() -> None:
    assert placed("purpose", text=TEXT) == [(3, 3)]
    assert locate_errors(TEXT.encode(), [FieldProblem("purpose", "c", "m")])[0].line == 3
    assert locate_errors(b"\xff{", [FieldProblem("purpose", "c", "m")])[0].line is None
    # placed as far as the text could be read
    broken = '{"purpose": 1, "data": {"subjects": '
    assert placed("purpose", "data.subjects", text=broken) == [(1, 2), (1, 25)]
    assert placed("purpose", text="[1, 2") == [(None, None)]


def test_the_text_is_read_once_for_all_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each key is read once, however many errors there are (it was once per error: a
    64 KB request with 8,000 unknown keys took minutes)."""
    reads = 0
    scan = usepolicy.request._jsonpos._scanstring

    def counting(text: str, end: int) -> tuple[str, int]:
        nonlocal reads
        reads += 1
        return scan(text, end)  # type: ignore[no-any-return]

    monkeypatch.setattr(usepolicy.request._jsonpos, "_scanstring", counting)
    text = many_unknown_keys(8000)
    errors = [FieldProblem(f"{i:x}", "unknown-field", "m") for i in range(8000)]
    located = locate_errors(text, errors)
    assert reads == 8000 + 2  # the unknown keys, `requester` and `purpose`
    assert [e.col for e in located[:2]] == [text.index('"0"') + 1, text.index('"1"') + 1]
    assert all(e.line == 1 for e in located)


def test_a_request_error_from_json_text_is_placed_by_the_library() -> None:
    import usepolicy

    text = json.dumps({"requester": {"organization": "a"}, "purpose": "x.y", "z": 1}, indent=2)
    engine = usepolicy.Engine(usepolicy.load_policy())
    for call in (engine.evaluate, engine.explain, lambda t: engine.evaluate_many([t])):
        with pytest.raises(RequestError) as info:
            call(text)
        where = {e.path: (e.line, e.col) for e in info.value.errors}
        assert where == {"purpose": (5, 3), "z": (6, 3)}
        assert "5:3: purpose: unknown-purpose:" in str(info.value)
    # a dict has no text to place errors in
    with pytest.raises(RequestError) as info:
        engine.evaluate(json.loads(text))
    assert {e.line for e in info.value.errors} == {None}


def test_line_col_and_long_integers() -> None:
    assert line_col("ab\ncd", 4) == (2, 2)
    assert line_col("ab", 0) == (1, 1)
    text = '{"a": "' + "1" * 50 + '", "b": 1.' + "2" * 50 + ", " + '"c": -' + "3" * 50 + "}"
    assert long_integer_at(text, 40) == text.index("-")
    assert long_integer_at(text, 50) is None
