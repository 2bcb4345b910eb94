"""The node reader shared by the policy file readers and the policy test-case reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from usepolicy import PolicyError, load_policy
from usepolicy.policy._nodes import NodeReader
from usepolicy.policy._yaml import Node, parse_yaml
from usepolicy.testing import load_case_file


def read(text: str) -> tuple[NodeReader, Node]:
    return NodeReader("f.yaml", []), parse_yaml(text, "f.yaml")


def reported(reader: NodeReader) -> list[tuple[int, int, str, str, str | None]]:
    return [(d.line, d.col, d.code, d.message, d.hint) for d in reader.diagnostics]


def test_mapping_keeps_allowed_keys_and_reports_unknown_and_missing_ones() -> None:
    reader, root = read("nme: x\neffect: allow\nextra: 1\n")
    spec = reader.mapping(root, "a rule", ("name", "effect"), ("name", "effect"))
    assert spec is not None and list(spec) == ["effect"]
    assert reported(reader) == [
        (1, 1, "unknown-key", "unknown key `nme` in a rule", "did you mean `name`?"),
        (3, 1, "unknown-key", "unknown key `extra` in a rule", "allowed: name, effect"),
        (1, 1, "missing-key", "a rule needs `name`", None),
    ]


def test_mapping_without_suggestions_lists_the_allowed_keys() -> None:
    reader, root = read("nme: x\n")
    reader.mapping(root, "a case", ("name",), suggest=False)
    assert reported(reader) == [
        (1, 1, "unknown-key", "unknown key `nme` in a case", "allowed: name"),
    ]


def test_open_mapping_takes_any_key_and_checks_only_the_type() -> None:
    reader, root = read("lists:\n  anything: [a]\n  Other-Name: [b]\nbad: [1]\n")
    assert isinstance(root.value, dict)
    found = reader.open_mapping(root.value["lists"], "`lists`")
    assert found is not None and list(found) == ["anything", "Other-Name"]
    assert reader.open_mapping(root.value["bad"], "`lists`") is None
    assert reported(reader) == [(4, 6, "wrong-type", "`lists` must be a mapping, got a list", None)]


def test_scalars_read_as_their_type_or_report_what_yaml_read() -> None:
    reader, root = read("s: 1.10\nb: yes\nc: maybe\nq: [x]\nok: fine\n")
    assert isinstance(root.value, dict)
    nodes = root.value
    assert reader.string(nodes["s"], "`version`") is None
    assert reader.boolean(nodes["b"], "`exists`") is None
    assert reader.choice(nodes["c"], "`default`", ("allow", "deny")) is None
    assert reader.seq(nodes["ok"], "`rules`") is None
    assert reader.string(nodes["ok"], "`name`") == "fine"
    assert reader.seq(nodes["q"], "`rules`") == nodes["q"].value
    assert reported(reader) == [
        (
            1, 4, "wrong-type", "`version` must be a string; YAML read `1.10` as a number",
            'quote it: "1.10"',
        ),
        (
            2, 4, "ambiguous-boolean", "`yes` is a string here, not a boolean (YAML 1.2)",
            "write `true`",
        ),
        (
            3, 4, "bad-value", "`default` must be one of `allow`, `deny`, got `maybe`",
            None,
        ),
        (5, 5, "wrong-type", "`rules` must be a list, got `fine`", None),
    ]  # fmt: skip


def test_policy_and_case_files_report_a_misshapen_entry_alike(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("usepolicy: 1\nname: p\nrules:\n  - 3\n")
    (tmp_path / "p.test.yaml").write_text("policy: p.yaml\ncases:\n  - 3\n")
    with pytest.raises(PolicyError) as policy_error:
        load_policy(tmp_path / "p.yaml")
    with pytest.raises(PolicyError) as case_error:
        load_case_file(tmp_path / "p.test.yaml")
    (rule,) = policy_error.value.diagnostics
    (case,) = case_error.value.diagnostics
    assert (rule.line, rule.col, rule.code, rule.message) == (
        4, 5, "wrong-type", "a rule must be a mapping, got `3`",
    )  # fmt: skip
    assert (case.line, case.col, case.code, case.message) == (
        3, 5, "wrong-type", "a case must be a mapping, got `3`",
    )  # fmt: skip
