"""Attributes declared in `vocabulary.attributes`: load-time and request-time checks."""

from __future__ import annotations

from pathlib import Path

import pytest

import usepolicy

HEAD = """\
usepolicy: 1
name: demo
vocabulary:
  attributes:
    setting: {type: string, values: [workplace, education, public_space]}
    authorised: {type: boolean, description: authorised in advance}
    tier: {type: integer}
    traits: {type: list, values: [race, age]}
"""


def diagnostics(text: str) -> list[tuple[str, str | None]]:
    with pytest.raises(usepolicy.PolicyError) as info:
        usepolicy.loads_policy(text, path="demo.yaml")
    return [(str(d), d.hint) for d in info.value.diagnostics]


def rule(when: str) -> str:
    return HEAD + f"rules:\n  - id: r\n    effect: deny\n    reason: x\n    when: {when}\n"


def test_unknown_key_in_a_declaration() -> None:
    text = "usepolicy: 1\nname: demo\nvocabulary:\n  attributes:\n    tier: {type: integer, valus: [a]}\n"
    assert diagnostics(text) == [
        (
            "demo.yaml:5:27: unknown-key: unknown key `valus` in attribute `tier`",
            "did you mean `values`?",
        )
    ]


def test_a_declaration_needs_a_type() -> None:
    text = "usepolicy: 1\nname: demo\nvocabulary:\n  attributes:\n    tier: {description: x}\n"
    assert diagnostics(text) == [
        ("demo.yaml:5:11: missing-key: attribute `tier` needs `type`", None)
    ]


def test_bad_type_name() -> None:
    text = "usepolicy: 1\nname: demo\nvocabulary:\n  attributes:\n    tier: {type: int}\n"
    [(message, hint)] = diagnostics(text)
    assert message.startswith("demo.yaml:5:18: bad-value: `type` must be one of `string`")
    assert hint == "did you mean `integer`?"


def test_values_only_for_string_and_list() -> None:
    text = "usepolicy: 1\nname: demo\nvocabulary:\n  attributes:\n    tier: {type: integer, values: [a]}\n"
    assert diagnostics(text) == [
        (
            "demo.yaml:5:35: bad-value: `values` applies to string and list attributes;"
            " attribute `tier` is integer",
            "remove `values`",
        )
    ]


def test_values_must_be_strings() -> None:
    text = "usepolicy: 1\nname: demo\nvocabulary:\n  attributes:\n    level: {type: string, values: [low, 2]}\n"
    assert diagnostics(text) == [
        (
            "demo.yaml:5:41: wrong-type: a value of attribute `level` must be a string;"
            " YAML read `2` as a number",
            'quote it: "2"',
        )
    ]


def test_the_key_must_be_an_attribute_key() -> None:
    text = "usepolicy: 1\nname: demo\nvocabulary:\n  attributes:\n    1tier: {type: integer}\n"
    [(message, _)] = diagnostics(text)
    assert message == "demo.yaml:5:5: bad-attribute-name: `1tier` is not an attribute key"


def test_a_tested_attribute_must_be_declared() -> None:
    assert diagnostics(rule("{attributes.setings: workplace}")) == [
        (
            "demo.yaml:13:12: unknown-attribute: attribute `setings` is not declared in"
            " `vocabulary.attributes`",
            "did you mean `attributes.setting`?",
        )
    ]


def test_operator_mismatch_against_the_declared_type() -> None:
    assert diagnostics(rule("{attributes.setting: {gt: 2}}")) == [
        (
            "demo.yaml:13:33: operator-mismatch: `gt` does not fit `attributes.setting`"
            " (declared string)",
            "use one of: eq, ne, in, not_in, under, in_list, matches, exists",
        )
    ]


def test_unknown_value_of_a_declared_attribute() -> None:
    assert diagnostics(rule("{attributes.traits: {contains_any: [race, rase]}}")) == [
        (
            "demo.yaml:13:53: unknown-value: `rase` is not a declared value of `attributes.traits`",
            "did you mean `race`?",
        )
    ]


def test_wrong_type_of_operand() -> None:
    assert diagnostics(rule('{attributes.tier: {in: [1, "2"]}}')) == [
        ("demo.yaml:13:38: wrong-type: `attributes.tier` is an integer, got `2`", None)
    ]


def test_ambiguous_boolean_for_a_declared_boolean() -> None:
    assert diagnostics(rule("{attributes.authorised: yes}")) == [
        (
            "demo.yaml:13:35: ambiguous-boolean: `yes` is a string here, not a boolean (YAML 1.2)",
            "write `true`",
        )
    ]


def test_declarations_merge_across_includes(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "usepolicy: 1\nname: base\nvocabulary:\n  attributes:\n    tier: {type: integer}\n"
    )
    (tmp_path / "same.yaml").write_text(
        "usepolicy: 1\nname: same\ninclude: [base.yaml]\nvocabulary:\n  attributes:\n"
        "    tier: {type: integer}\n"
        "rules:\n  - {id: r, effect: deny, reason: x, when: {attributes.tier: {gt: 2}}}\n"
    )
    policy = usepolicy.load_policy(tmp_path / "same.yaml")
    assert policy.vocabulary.attributes is not None
    assert list(policy.vocabulary.attributes) == ["tier"]
    (tmp_path / "other.yaml").write_text(
        "usepolicy: 1\nname: other\ninclude: [base.yaml]\nvocabulary:\n  attributes:\n"
        "    tier: {type: number}\n"
    )
    with pytest.raises(usepolicy.PolicyError) as info:
        usepolicy.load_policy(tmp_path / "other.yaml")
    [d] = info.value.diagnostics
    assert (d.line, d.col, d.code) == (6, 5, "duplicate-attribute")
    assert d.path.endswith("other.yaml")


def test_an_included_declaration_covers_the_includer(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "usepolicy: 1\nname: base\nvocabulary:\n  attributes:\n    tier: {type: integer}\n"
    )
    (tmp_path / "main.yaml").write_text(
        "usepolicy: 1\nname: main\ninclude: [base.yaml]\n"
        "rules:\n  - {id: r, effect: deny, reason: x, when: {attributes.teir: 1}}\n"
    )
    with pytest.raises(usepolicy.PolicyError) as info:
        usepolicy.load_policy(tmp_path / "main.yaml")
    [d] = info.value.diagnostics
    assert (d.line, d.col, d.code, d.hint) == (
        5,
        45,
        "unknown-attribute",
        "did you mean `attributes.tier`?",
    )


# -- request time ----------------------------------------------------------------------

ENGINE = usepolicy.Engine(
    usepolicy.loads_policy(
        rule("{attributes.setting: workplace, not: {attributes.authorised: true}}")
    )
)


def request(**attributes: object) -> dict[str, object]:
    return {
        "requester": {"organization": "Acme"},
        "purpose": "general.assistant",
        "attributes": attributes,
    }


@pytest.mark.parametrize(
    ("attributes", "path"),
    [
        ({"setting": "school"}, "attributes.setting"),
        ({"setting": 1}, "attributes.setting"),
        ({"authorised": "true"}, "attributes.authorised"),
        ({"tier": 2.5}, "attributes.tier"),
        ({"tier": True}, "attributes.tier"),
        ({"traits": ["race", "Age"]}, "attributes.traits"),
        ({"traits": "race"}, "attributes.traits"),
    ],
)
def test_a_declared_attribute_with_a_wrong_value_is_rejected(
    attributes: dict[str, object], path: str
) -> None:
    with pytest.raises(usepolicy.RequestError) as info:
        ENGINE.evaluate(request(**attributes))
    assert [(e.path, e.code) for e in info.value.errors] == [(path, "bad-attribute-value")]
    # the public model says the same, given the policy's vocabulary
    with pytest.raises(ValueError, match=r"must be"):
        usepolicy.UseRequest.model_validate(
            request(**attributes), context={"vocabulary": ENGINE.policy.vocabulary}
        )


def test_declared_values_and_undeclared_attributes_pass() -> None:
    decision = ENGINE.evaluate(
        request(setting="workplace", tier=3, traits=["age"], ticket="T-1", anything=[])
    )
    assert decision.determining_rule == "r"
    assert ENGINE.evaluate(request(setting="education", authorised=True)).allowed is False
    assert ENGINE.evaluate(request()).determining_rule is None


def test_a_policy_without_declarations_is_unaffected() -> None:
    policy = usepolicy.loads_policy(
        "usepolicy: 1\nname: free\nrules:\n"
        "  - {id: r, effect: deny, reason: x, when: {attributes.setting: {gt: 2}}}\n"
    )
    assert policy.vocabulary.attributes is None
    assert "attributes" not in policy.document()["vocabulary"]
    decision = usepolicy.Engine(policy).evaluate(request(setting="school"))
    assert [e.code for e in decision.errors] == ["evaluation-error"]


def test_the_digest_includes_the_declarations() -> None:
    base = usepolicy.loads_policy(HEAD)
    assert base.document()["vocabulary"]["attributes"]["traits"] == {
        "type": "list",
        "values": ["age", "race"],
        "description": None,
    }
    reordered = usepolicy.loads_policy(HEAD.replace("[race, age]", "[age, race]"))
    assert reordered.digest == base.digest
    changed = usepolicy.loads_policy(HEAD.replace("[race, age]", "[race, age, sex]"))
    assert changed.digest != base.digest
    undeclared = usepolicy.loads_policy("usepolicy: 1\nname: demo\n")
    assert undeclared.digest != base.digest
