"""The error tree's request errors: capped, printable, bounded, whatever the input held."""

from __future__ import annotations

from typing import Any

import pytest

from usepolicy import FieldProblem, RequestError
from usepolicy._errors import path_part, printable, quote_value
from usepolicy.record import canonical_json

from .hostile import HUGE, LyingStr, nested, nested_dicts


def test_request_error_keeps_at_most_max_errors_and_says_how_many_were_left_out() -> None:
    cap = RequestError.max_errors
    errors = [FieldProblem(f"k{i}", "unknown-field", "x") for i in range(cap + 150)]
    exc = RequestError(errors)
    assert len(exc.errors) == cap + 1
    assert exc.errors[:cap] == errors[:cap]
    last = exc.errors[-1]
    assert (last.path, last.code) == ("$", "too-many-errors")
    assert last.message.startswith("150 more errors left out")
    assert exc.omitted == 150
    # errors the caller counted but never built are added in
    assert RequestError(errors[:3], omitted=7).errors[-1].message.startswith("7 more errors")
    assert RequestError(errors[:cap], omitted=5).omitted == 5
    assert RequestError(errors[:cap]).omitted == 0
    assert len(RequestError(errors[:cap]).errors) == cap


def test_field_error_text_is_printable_and_bounded() -> None:
    err = FieldProblem("attributes.\ud800\n", "bad", "got \x1b[31m\u202e" + "x" * 5000)
    assert err.path == "attributes.\\ud800\\n"
    assert err.message.startswith("got \\x1b[31m\\u202e")
    assert len(err.message) == 1000 and err.message.endswith("…")
    assert str(err).isprintable()
    canonical_json([err.path, err.message])  # UTF-8 and canonical JSON take it
    assert FieldProblem("data.subjects", "c", "é ok").message == "é ok"


@pytest.mark.parametrize(
    "value",
    [
        HUGE,
        -HUGE,
        {"a": [HUGE]},
        nested(5000),
        nested_dicts(5000),
        "\ud800" * 100,
        LyingStr("x" * 1000),
        b"\xff" * 100,
        {("\udfff",): {1, 2}},
        float("nan"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_quote_value_is_safe_for_any_value(value: Any) -> None:
    text = quote_value(value)
    assert text.startswith("`") and text.endswith("`")
    assert len(text) <= 63 and text.isprintable()


def test_quote_value_survives_a_failing_repr() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    class Endless(int):
        def __repr__(self) -> str:
            return "9" * 10**6

    assert quote_value([Hostile()]).startswith("`[<Hostile instance")
    assert len(quote_value(Endless(3))) <= 63
    assert quote_value(10**5000) == "`<an integer of about 5001 digits>`"
    assert quote_value(12) == "`12`" and quote_value("ab") == "`'ab'`"


def test_path_part_names_a_key_printably_and_briefly() -> None:
    assert path_part("data") == "data"
    assert path_part(3) == "3"
    assert path_part("a\ud800") == "a\\ud800"
    assert path_part("k" * 500) == "k" * 64 + "…"
    assert type(path_part(LyingStr("x"))) is str
    assert printable("tab\there") == "tab\\there"


# -- the drawn tree ----------------------------------------------------------------------
#: the packages whose ``__all__`` is public; each exception they export must be drawn
PUBLIC_PACKAGES = (
    "usepolicy",
    "usepolicy.request",
    "usepolicy.policy",
    "usepolicy.engine",
    "usepolicy.audit",
    "usepolicy.tlog",
    "usepolicy.testing",
    "usepolicy.backends.opa",
)


def _drawn() -> dict[str, str | None]:
    """The tree in the ``_errors`` docstring: each class name and its drawn parent."""
    import re

    import usepolicy._errors

    doc = usepolicy._errors.__doc__ or ""
    block = doc.split("::", 1)[1].split("\n\n", 2)[1]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = re.match(r"^([\s│├└─]*)(\w+)", line)
        assert match is not None, line
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def _exported_exceptions() -> dict[str, type[BaseException]]:
    import importlib

    found: dict[str, type[BaseException]] = {}
    for name in PUBLIC_PACKAGES:
        package = importlib.import_module(name)
        for attr in package.__all__:
            value = getattr(package, attr)
            if isinstance(value, type) and issubclass(value, BaseException):
                found[attr] = value
    import usepolicy._files

    found["InputFileError"] = usepolicy._files.InputFileError  # raised to users as is
    return found


def test_every_public_exception_is_drawn_where_it_stands() -> None:
    drawn = _drawn()
    exported = _exported_exceptions()
    assert set(exported) == set(drawn)
    for name, parent in drawn.items():
        cls = exported[name]
        if parent is None:
            assert cls.__mro__[1] is Exception
        else:
            assert exported[parent] in cls.__bases__, f"{name} is drawn under {parent}"
        assert isinstance(cls.code, str), name


def test_only_exceptions_are_named_like_errors() -> None:
    import importlib

    for name in PUBLIC_PACKAGES:
        package = importlib.import_module(name)
        for attr in package.__all__:
            value = getattr(package, attr)
            if isinstance(value, type) and attr.endswith("Error"):
                assert issubclass(value, BaseException), f"{name}.{attr} is data"


@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        ("usepolicy", "FieldError", "FieldProblem"),
        ("usepolicy", "DecisionError", "DecisionProblem"),
        ("usepolicy.engine", "DecisionError", "DecisionProblem"),
        ("usepolicy.record", "RecordError", "RecordProblem"),
    ],
)
def test_the_old_names_of_data_classes_still_resolve_with_a_warning(
    module: str, old: str, new: str
) -> None:
    import importlib

    package = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"{old} is renamed {new}"):
        value = getattr(package, old)
    assert value is getattr(package, new)
    assert old not in package.__all__
