"""Names resolved across a policy set: named conditions (``conditions:``) and named
lists as operands (``{list: NAME}``), their load-time checks, and what they resolve to."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from usepolicy import Engine, PolicyError, load_policy, loads_policy
from usepolicy.policy import AllOf, ListRef, Named

HEAD = "usepolicy: 1\nname: t\n"
ORG = {"organization": "Cell 7"}


def problems(text: str) -> list[tuple[int, int, str, str, str | None]]:
    """The diagnostics of ``HEAD`` + ``text`` (dedented)."""
    with pytest.raises(PolicyError) as info:
        loads_policy(HEAD + textwrap.dedent(text), path="p.yaml")
    return [(d.line, d.col, d.code, d.message, d.hint) for d in info.value.diagnostics]


def test_a_named_condition_is_used_wherever_a_condition_is() -> None:
    policy = loads_policy(
        HEAD
        + textwrap.dedent("""
        conditions:
          domestic-data: {data.subjects: {in: [domestic, mixed]}}
          bulk:
            any:
              - data.provenance: {in: [bulk, commercial]}
              - data.subject_count: {gt: 1000}
          mass-surveillance:
            all: [{condition: domestic-data}, {condition: bulk}]
        rules:
          - id: no-mass
            effect: deny
            reason: x
            when: {condition: mass-surveillance}
          - id: research
            effect: allow
            reason: y
            obligations:
              - {id: minimise, when: {condition: domestic-data}}
            when:
              purpose: {under: general}
              not: {condition: bulk}
        invariants:
          - {id: never-mass, never: allow, when: {condition: mass-surveillance}}
        """)
    )
    engine = Engine(policy)
    base = {"requester": ORG, "purpose": "general.research"}
    mass = engine.evaluate({**base, "data": {"subjects": "mixed", "subject_count": 5000}})
    assert mass.determining_rule == "no-mass"
    small = engine.evaluate({**base, "data": {"subjects": "domestic", "provenance": "targeted"}})
    assert small.determining_rule == "research"
    assert [o.id for o in small.obligations] == ["minimise"]
    assert engine.evaluate(base).obligations == ()
    # one shared object per name: the use points at its definition
    when = policy.rules[0].when
    assert isinstance(when, Named) and when.name == "mass-surveillance"
    assert when.cond is policy.conditions["mass-surveillance"].cond
    assert (policy.conditions["bulk"].line, policy.conditions["bulk"].col) == (6, 3)
    assert (when.line, when.col) == (16, 23)


def test_naming_a_condition_changes_neither_meaning_nor_digest() -> None:
    inline = loads_policy(
        HEAD + "rules:\n  - id: r\n    effect: deny\n    reason: x\n"
        "    when: {all: [{data.subjects: domestic}, {autonomy.lethal: true}]}\n"
    )
    named = loads_policy(
        HEAD + "conditions:\n  d: {data.subjects: domestic}\n  unused: {model: m}\n"
        "rules:\n  - id: r\n    effect: deny\n    reason: x\n"
        "    when: {all: [{condition: d}, {autonomy.lethal: true}]}\n"
    )
    assert named.digest == inline.digest
    assert named.document() == inline.document()


def test_conditions_are_shared_across_included_files(tmp_path: Path) -> None:
    (tmp_path / "common.yaml").write_text(
        HEAD + "conditions:\n  lethal: {autonomy.lethal: true}\n"
        "rules:\n  - {id: no-lethal, effect: deny, reason: x, when: {condition: armed}}\n"
    )
    (tmp_path / "org.yaml").write_text(
        "usepolicy: 1\nname: org\ninclude: [common.yaml]\n"
        "conditions:\n  armed: {any: [{condition: lethal}, {purpose: {under: weapons}}]}\n"
    )
    policy = load_policy(tmp_path / "org.yaml")
    decision = Engine(policy).evaluate({"requester": ORG, "purpose": "weapons.targeting"})
    assert decision.determining_rule == "no-lethal"
    assert sorted(policy.conditions) == ["armed", "lethal"]


def test_a_condition_defined_twice_in_a_set(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("usepolicy: 1\nname: b\nconditions:\n  x: {model: m}\n")
    (tmp_path / "a.yaml").write_text(
        "usepolicy: 1\nname: a\ninclude: [b.yaml]\nconditions:\n  x: {model: m}\n"
    )
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "a.yaml")
    [d] = info.value.diagnostics
    assert (Path(d.path).name, d.line, d.col, d.code) == ("a.yaml", 5, 3, "duplicate-condition")
    assert d.message.startswith("condition `x` is already defined at ")
    assert d.message.endswith("b.yaml:4")


def test_an_unknown_name_is_reported_at_each_use_with_the_closest_name() -> None:
    got = problems(
        """
        conditions:
          domestic-data: {data.subjects: domestic}
          outer: {condition: domestic_data}
        rules:
          - {id: r, effect: deny, reason: x, when: {condition: domestic-dat}}
          - {id: s, effect: deny, reason: x, when: {condition: nothing-like-it}}
        """
    )
    assert got == [
        (6, 22, "unknown-condition", "no condition named `domestic_data`",
         "did you mean `domestic-data`?"),
        (8, 56, "unknown-condition", "no condition named `domestic-dat`",
         "did you mean `domestic-data`?"),
        (9, 56, "unknown-condition", "no condition named `nothing-like-it`",
         "define it under `conditions:`"),
    ]  # fmt: skip


def test_a_cycle_is_reported_once_with_its_path() -> None:
    got = problems(
        """
        conditions:
          a: {all: [{model: m}, {condition: b}]}
          b: {not: {condition: c}}
          c: {any: [{condition: a}, {model: n}]}
          self: {condition: self}
        rules:
          - {id: r, effect: deny, reason: x, when: {condition: a}}
        """
    )
    assert [(line, col, code, message) for line, col, code, message, _ in got] == [
        (7, 25, "condition-cycle", "condition `a` uses itself: `a` -> `b` -> `c` -> `a`"),
        (8, 21, "condition-cycle", "condition `self` uses itself: `self` -> `self`"),
    ]


@pytest.mark.parametrize(
    ("when", "code", "message"),
    [
        ("{condition: [a, b]}", "wrong-type", "`condition` takes one name"),
        (
            "{condition: 3}",
            "wrong-type",
            "a condition name must be a string; YAML read `3` as a number",
        ),
        ("{condition: 'a b'}", "bad-value", "`a b` is not a valid condition name"),
    ],
)
def test_a_use_must_be_one_name(when: str, code: str, message: str) -> None:
    got = problems(f"rules:\n  - {{id: r, effect: deny, reason: x, when: {when}}}\n")
    assert [(line, col, c, m) for line, col, c, m, _ in got] == [(4, 56, code, message)]


def test_a_bad_definition_is_reported_once_not_again_at_its_uses() -> None:
    got = problems(
        """
        conditions:
          broken: {data.subject: domestic}
          9lives: {model: m}
        rules:
          - {id: r, effect: deny, reason: x, when: {condition: broken}}
        """
    )
    assert [(line, col, code) for line, col, code, _, _ in got] == [
        (5, 12, "unknown-field"),
        (6, 3, "bad-value"),
    ]


# -- named lists as operands ---------------------------------------------------------
LISTS = """
lists:
  allowed_categories: [location, communications]
  domestic_kinds: [domestic, mixed]
  partners: [Acme Corp, Beta Inc]
  watched_purposes: [weapons.targeting, surveillance.domestic]
"""


def test_named_lists_are_operands_of_every_membership_operator() -> None:
    policy = loads_policy(
        HEAD
        + LISTS
        + textwrap.dedent("""
        rules:
          - {id: in, effect: deny, reason: x, when: {data.subjects: {in: {list: domestic_kinds}}}}
          - {id: not_in, effect: deny, reason: x,
             when: {requester.organization: {not_in: {list: partners}}}}
          - {id: purpose, effect: deny, reason: x, when: {purpose: {in: {list: watched_purposes}}}}
          - {id: any, effect: deny, reason: x,
             when: {data.categories: {contains_any: {list: allowed_categories}}}}
          - {id: every, effect: deny, reason: x,
             when: {data.categories: {contains_all: {list: allowed_categories}}}}
          - {id: all_in, effect: deny, reason: x,
             when: {data.categories: {all_in: {list: allowed_categories}}}}
          - {id: none_in, effect: deny, reason: x,
             when: {data.categories: {none_in: {list: allowed_categories}}}}
        """)
    )
    engine = Engine(policy)

    def matched(**fields: object) -> set[str]:
        request = {"requester": {"organization": "Acme Corp"}, "purpose": "general.assistant"}
        request.update(fields)
        return {m.id for m in engine.evaluate(request).matched_rules}

    # no categories: `all_in` and `none_in` hold for an empty list
    assert matched() == {"all_in", "none_in"}
    assert matched(data={"subjects": "mixed"}) == {"in", "all_in", "none_in"}
    assert "not_in" in matched(requester={"organization": "Gamma"})
    assert "purpose" in matched(purpose="weapons.targeting")
    assert matched(data={"categories": ["location"]}) == {"any", "all_in"}
    assert matched(data={"categories": ["location", "communications"]}) == {
        "any", "every", "all_in"
    }  # fmt: skip
    assert matched(data={"categories": ["location", "biometric"]}) == {"any"}
    assert matched(data={"categories": ["biometric"]}) == {"none_in"}
    test = policy.rule("all_in").when
    assert test is not None and not isinstance(test, (AllOf, Named))
    assert test.operand == ListRef("allowed_categories")
    assert test.operand.items == frozenset({"location", "communications"})
    assert test.document() == {
        "field": "data.categories", "op": "all_in", "value": {"list": "allowed_categories"}
    }  # fmt: skip


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (
            "{data.subjects: {in: {list: partners}}}",
            (
                10,
                72,
                "unknown-value",
                "list `partners` holds `Acme Corp` and 1 more, not a value of `data.subjects`",
            ),
        ),
        (
            "{data.categories: {all_in: {list: domestic_kinds}}}",
            (
                10,
                78,
                "unknown-value",
                "list `domestic_kinds` holds `domestic` and 1 more, not a value of "
                "`data.categories`",
            ),
        ),
        (
            "{purpose: {in: {list: domestic_kinds}}}",
            (
                10,
                66,
                "unknown-purpose",
                "list `domestic_kinds` holds `domestic` and 1 more, not a purpose",
            ),
        ),
        (
            "{data.subject_count: {in: {list: partners}}}",
            (
                10,
                70,
                "wrong-type",
                "`data.subject_count` is an integer; a named list holds strings",
            ),
        ),
        (
            "{model: {in: {list: partner}}}",
            (10, 64, "unknown-list", "no list named `partner`"),
        ),
        (
            "{model: {in: {lists: partners}}}",
            (10, 58, "unknown-key", "unknown key `lists` in the operand of `in`"),
        ),
    ],
)
def test_a_named_list_must_fit_the_field(when: str, expected: tuple[int, int, str, str]) -> None:
    got = problems(LISTS + f"rules:\n  - {{id: r, effect: deny, reason: x, when: {when}}}\n")
    assert expected in [(line, col, code, message) for line, col, code, message, _ in got], got


def test_declared_attribute_checks_apply_to_named_lists_and_list_quantifiers() -> None:
    declared = textwrap.dedent("""
        vocabulary:
          attributes:
            traits: {type: list, values: [race, age_group, religion]}
            setting: {type: string, values: [workplace, online]}
            tier: {type: integer}
        lists:
          sensitive: [race, religion]
          places: [workplace, office]
        """)
    rule = "rules:\n  - {{id: r, effect: deny, reason: x, when: {{{}}}}}\n"
    ok = loads_policy(
        HEAD + declared + rule.format("attributes.traits: {all_in: {list: sensitive}}")
    )
    engine = Engine(ok)
    base = {"requester": ORG, "purpose": "general.assistant"}
    assert engine.evaluate({**base, "attributes": {"traits": ["race"]}}).determining_rule == "r"
    assert engine.evaluate({**base, "attributes": {"traits": ["age_group"]}}).allowed is False
    assert not engine.evaluate({**base, "attributes": {"traits": ["age_group"]}}).matched_rules
    cases = {
        "attributes.traits: {none_in: [race, eye_colour]}": (
            "unknown-value", "`eye_colour` is not a declared value of `attributes.traits`"
        ),
        "attributes.setting: {in: {list: places}}": (
            "unknown-value", "list `places` holds `office`, not a declared value of "
            "`attributes.setting`"
        ),
        "attributes.setting: {in_list: places}": (
            "unknown-value", "list `places` holds `office`, not a declared value of "
            "`attributes.setting`"
        ),
        "attributes.tier: {in: {list: places}}": (
            "wrong-type", "`attributes.tier` is declared integer; a named list holds strings"
        ),
        "attributes.setting: {all_in: [workplace]}": (
            "operator-mismatch", "`all_in` does not fit `attributes.setting` (declared string)"
        ),
    }  # fmt: skip
    for test, expected in cases.items():
        got = problems(declared + rule.format(test))
        assert [(code, message) for _, _, code, message, _ in got] == [expected], test


@pytest.mark.parametrize(
    ("value", "matched"),
    [
        ("ALPHA", {"in", "in_list"}),
        (1, {"not_in"}),  # typed: the list's strings are not numbers
        (["ALPHA"], {"not_in"}),
        (None, set()),  # absent: only `exists` holds
    ],
)
def test_a_named_list_on_an_undeclared_attribute_is_typed_like_in_list(
    value: object, matched: set[str]
) -> None:
    policy = loads_policy(
        HEAD
        + "lists:\n  codes: [ALPHA, '1']\nrules:\n"
        + "  - {id: in, effect: allow, reason: x, when: {attributes.code: {in: {list: codes}}}}\n"
        + "  - {id: not_in, effect: allow, reason: x,"
        + " when: {attributes.code: {not_in: {list: codes}}}}\n"
        + "  - {id: in_list, effect: allow, reason: x, when: {attributes.code: {in_list: codes}}}\n"
    )
    request: dict[str, object] = {"requester": ORG, "purpose": "general.assistant"}
    if value is not None:
        request["attributes"] = {"code": value}
    assert {m.id for m in Engine(policy).evaluate(request).matched_rules} == matched


def _chain(count: int, step: str) -> str:
    lines = ["conditions:", "  c0: {model: m}"]
    lines += [f"  c{i}: {step.format(prev=f'c{i - 1}')}" for i in range(1, count)]
    lines.append(
        f"rules:\n  - {{id: r, effect: deny, reason: x, when: {{condition: c{count - 1}}}}}"
    )
    return "\n".join(lines) + "\n"


def test_a_long_chain_of_names_is_too_deep_once_written_out() -> None:
    # regression: a chain longer than Python's recursion limit was a RecursionError
    got = problems(_chain(3000, "{{not: {{condition: {prev}}}}}"))
    assert got == [
        (36, 3, "too-deep", "condition `c32` nests 65 levels deep once the named conditions "
         "it uses are written out (at most 64)", None),
    ]  # fmt: skip
    assert loads_policy(HEAD + _chain(30, "{{not: {{condition: {prev}}}}}")).rules


def test_names_that_double_at_every_level_are_too_complex() -> None:
    # regression: 30 levels of a name used twice wrote out 2**30 tests: a hang
    got = problems(_chain(30, "{{any: [{{condition: {prev}}}, {{condition: {prev}}}]}}"))
    assert [(line, col, code) for line, col, code, _, _ in got] == [(35, 5, "too-complex")]
    policy = loads_policy(
        HEAD + _chain(12, "{{any: [{{condition: {prev}}}, {{condition: {prev}}}]}}")
    )
    assert (
        Engine(policy)
        .evaluate({"requester": ORG, "purpose": "general.assistant", "model": "m"})
        .determining_rule
        == "r"
    )


def test_a_named_list_matches_names_as_in_list_and_compares_everything_else_exactly() -> None:
    policy = loads_policy(
        HEAD
        + "lists:\n  partners: [ACME Corp]\n  codes: [ALPHA, Bravo]\n  kinds: [location]\n"
        + "rules:\n"
        + "  - {id: in, effect: allow, reason: x,"
        + " when: {requester.organization: {in: {list: partners}}}}\n"
        + "  - {id: not_in, effect: allow, reason: x,"
        + " when: {requester.organization: {not_in: {list: partners}}}}\n"
        + "  - {id: inline, effect: allow, reason: x,"
        + " when: {requester.organization: {in: [ACME Corp]}}}\n"
        + "  - {id: tags, effect: allow, reason: x,"
        + " when: {attributes.tags: {contains_any: {list: codes}}}}\n"
        + "  - {id: all-tags, effect: allow, reason: x,"
        + " when: {attributes.tags: {all_in: {list: codes}}}}\n"
        + "  - {id: no-tags, effect: allow, reason: x,"
        + " when: {attributes.tags: {none_in: {list: codes}}}}\n"
        + "  - {id: both-tags, effect: allow, reason: x,"
        + " when: {attributes.tags: {contains_all: {list: codes}}}}\n"
        + "  - {id: inline-tags, effect: allow, reason: x,"
        + " when: {attributes.tags: {contains_any: [ALPHA]}}}\n"
        + "  - {id: kinds, effect: allow, reason: x,"
        + " when: {data.categories: {contains_any: {list: kinds}}}}\n"
    )
    engine = Engine(policy)

    def matched(organization: str, tags: list[str]) -> set[str]:
        request = {
            "requester": {"organization": organization},
            "purpose": "general.assistant",
            "attributes": {"tags": tags},
            "data": {"categories": ["location"]},
        }
        return {m.id for m in engine.evaluate(request).matched_rules} - {"kinds"}

    # a name: normalised, as `in_list` (a no-break space, other case, fullwidth letters)
    assert matched("acme\u00a0corp", ["ALPHA"]) == {"in", "tags", "all-tags", "inline-tags"}
    assert matched("\uff21CME Corp", []) == {"in", "all-tags", "no-tags"}
    assert matched("ACME Corp", []) == {"in", "inline", "all-tags", "no-tags"}  # inline: exact
    # the items of a list attribute are names too, each matched as `in_list` matches
    assert matched("Acme Corporation", ["alpha"]) == {"not_in", "tags", "all-tags"}
    assert matched("X", ["alpha", "BRAVO "]) == {"not_in", "tags", "all-tags", "both-tags"}
    assert matched("X", ["alpha", "charlie"]) == {"not_in", "tags"}
    assert matched("X", ["charlie"]) == {"not_in", "no-tags"}
    # the enumerated categories compare exactly (their values are not names)
    assert "kinds" in {
        m.id
        for m in engine.evaluate(
            {"requester": {"organization": "X"}, "purpose": "general.assistant",
             "data": {"categories": ["location"]}}
        ).matched_rules
    }  # fmt: skip
    assert [getattr(r.when, "list_name", "?") for r in policy.rules] == [
        "partners", "partners", None, "codes", "codes", "codes", "codes", None, None
    ]  # fmt: skip
