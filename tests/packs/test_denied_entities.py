"""Denied entities are matched as people mean them (issue 12, item 2): every way of
writing a listed name that a person reads as the same name is denied, in both shipped
packs, on `requester.organization` and `requester.entity_id`, through
`Engine.evaluate`, `Engine.explain` and the CLI; the record keeps the value as sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import usepolicy

from ..conftest import RunCli
from ..strategies import NAME_VARIANTS, name_variants

PACKS = Path(usepolicy.__file__).parent / "packs"
PACK_NAMES = ("national-security-safeguards", "any-lawful-use")
ENGINES = {
    name: usepolicy.Engine(usepolicy.load_policy(PACKS / f"{name}.yaml")) for name in PACK_NAMES
}
LISTED = sorted(ENGINES["any-lawful-use"].policy.lists["denied_entities"])
FIELDS = ("organization", "entity_id")
HUAWEI = "Huawei Technologies Co., Ltd."


def request_with(field: str, name: str) -> dict[str, Any]:
    requester = {"organization": "Regional Distributor Ltd.", "country": "CN", field: name}
    return {"requester": requester, "purpose": "general.assistant"}


def test_the_issue_lists_seventeen_variants_that_all_differ_from_the_name() -> None:
    assert len(NAME_VARIANTS) == 17
    assert all(variant(HUAWEI) != HUAWEI for variant in NAME_VARIANTS.values())


@pytest.mark.parametrize("pack", PACK_NAMES)
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("variant", sorted(NAME_VARIANTS))
def test_every_variant_of_a_listed_name_is_denied(pack: str, field: str, variant: str) -> None:
    name = NAME_VARIANTS[variant](HUAWEI)
    decision = ENGINES[pack].evaluate(request_with(field, name))
    assert (decision.effect, decision.determining_rule) == (usepolicy.Effect.DENY, "denied-entity")
    record = decision.record()
    assert record.request["requester"][field] == name  # the exact value sent, not its key
    assert record.computed_digest() == record.record_digest


@pytest.mark.parametrize("pack", PACK_NAMES)
def test_names_that_only_resemble_a_listed_one_are_not_denied(pack: str) -> None:
    for name in (
        "Huawei Technologies Co., Ltd. Reseller Program",
        "Huawei",
        "Army Intelligence Center",
        "Contemporary Amperex",
    ):
        decision = ENGINES[pack].evaluate(request_with("organization", name))
        assert decision.determining_rule != "denied-entity", name


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_mix_of_variations_of_any_listed_name_is_denied(data: st.DataObject) -> None:
    listed = data.draw(st.sampled_from(LISTED))
    name = data.draw(name_variants(listed))
    field = data.draw(st.sampled_from(FIELDS))
    for engine in ENGINES.values():
        decision = engine.evaluate(request_with(field, name))
        assert decision.determining_rule == "denied-entity", (listed, name)


def test_explain_names_the_list_entry_and_the_normalised_form() -> None:
    explanation = ENGINES["national-security-safeguards"].explain(
        request_with("organization", "HUAWEI  Technologies\u00a0Co., Ltd.\u200b")
    )
    [trace] = [t for t in explanation.rules if t.id == "denied-entity"]
    assert trace.matched
    assert trace.list_matches == (
        'requester.organization: "HUAWEI  Technologies\\u00a0Co., Ltd.\\u200b" matches list '
        'entry "Huawei Technologies Co., Ltd." of "denied_entities" '
        '(after normalisation: "huawei technologies co., ltd.")',
    )
    # a look-alike letter: the two forms differ, their confusable skeletons do not
    explanation = ENGINES["any-lawful-use"].explain(
        request_with("entity_id", "Hu\u0430wei Technologies Co., Ltd.")
    )
    [trace] = [t for t in explanation.rules if t.id == "denied-entity"]
    assert trace.list_matches == (
        'requester.entity_id: "Hu\\u0430wei Technologies Co., Ltd." matches list entry '
        '"Huawei Technologies Co., Ltd." of "denied_entities" (after normalisation '
        '"hu\\u0430wei technologies co., ltd." and "huawei technologies co., ltd." look '
        'alike: one confusable skeleton, "huawei technologies co., ltd.")',
    )


@pytest.mark.parametrize("pack", PACK_NAMES)
def test_the_cli_denies_a_variant_and_explains_the_match(
    pack: str, run_cli: RunCli, tmp_path: Path
) -> None:
    sent = "\u202eＨｕａｗｅｉ Technologies Co., Ltd.\x00"
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(request_with("entity_id", sent)))
    policy = str(PACKS / f"{pack}.yaml")
    human = run_cli("check", "-p", policy, "--explain", str(path))
    assert human.returncode == 2, human.stderr
    assert "DENY by rule denied-entity" in human.stdout
    assert (
        'requester.entity_id: "\\u202e\\uff28\\uff55\\uff41\\uff57\\uff45\\uff49 Technologies '
        'Co., Ltd.\\u0000" matches list entry "Huawei Technologies Co., Ltd." of '
        '"denied_entities" (after normalisation: "huawei technologies co., ltd.")'
    ) in human.stdout
    machine = run_cli("check", "-p", policy, "--format", "json", "--explain", str(path))
    assert machine.returncode == 2, machine.stderr
    body = json.loads(machine.stdout)
    assert body["request"]["requester"]["entity_id"] == sent
    [trace] = [t for t in body["explain"] if t["id"] == "denied-entity"]
    assert trace["matched"] and len(trace["list_matches"]) == 1
