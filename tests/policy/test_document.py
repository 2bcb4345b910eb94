"""One policy document read on its own: what it contributes, and no file read."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from usepolicy._errors import Diagnostic
from usepolicy.policy._document import ListFile, parse_file
from usepolicy.policy._yaml import parse_yaml

HEAD = "usepolicy: 1\nname: p\n"


def test_list_files_are_left_to_the_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_io(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the document reader opened a file")

    root = parse_yaml(HEAD + "lists:\n  kept: {file: lists/missing.txt}\n  inline: [a, b]\n", "p")
    monkeypatch.setattr(builtins, "open", no_io)
    diagnostics: list[Diagnostic] = []
    parsed = parse_file(root, "p.yaml", diagnostics)
    assert diagnostics == []
    source, key = parsed.list_sources["kept"]
    assert isinstance(source, ListFile) and source.rel == "lists/missing.txt"
    assert (key.line, source.node.line, source.node.col) == (4, 4, 16)
    assert parsed.list_sources["inline"][0] == frozenset({"a", "b"})
    assert list(parsed.list_sources) == ["kept", "inline"]
    assert parsed.lists == {}  # filled by the loader


def test_purpose_names_are_keys_of_their_own_not_unknown_keys() -> None:
    root = parse_yaml(
        HEAD + "vocabulary:\n  purposes:\n    intelligence.geoint: geospatial\n"
        "    cyber.forensics: evidence\n  purpose: typo\n",
        "p",
    )
    diagnostics: list[Diagnostic] = []
    parsed = parse_file(root, "p.yaml", diagnostics)
    assert [(d.line, d.code, d.message) for d in diagnostics] == [
        (7, "unknown-key", "unknown key `purpose` in `vocabulary`"),
    ]
    assert {name: desc for name, (desc, _) in parsed.purposes.items()} == {
        "intelligence.geoint": "geospatial",
        "cyber.forensics": "evidence",
    }
