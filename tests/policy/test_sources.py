"""Where policies come from: files, folders, and ``pack:NAME`` wherever a policy path
is taken (``load_policy``, ``include``)."""

from __future__ import annotations

import pytest

import usepolicy
from usepolicy import PolicyError, load_policy, loads_policy
from usepolicy.policy import pack_names

HEAD = "usepolicy: 1\nname: t\n"


def test_the_shipped_packs_are_named() -> None:
    assert pack_names() == [
        "any-lawful-use", "eu-ai-act-prohibited", "national-security-safeguards"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "source", ["pack:national-security-safeguards", ["pack:eu-ai-act-prohibited"]]
)
def test_load_policy_takes_a_pack_by_name(source: str | list[str]) -> None:
    policy = load_policy(source)
    name = (source if isinstance(source, str) else source[0]).removeprefix("pack:")
    assert policy.name == name
    assert policy.digest == load_policy(usepolicy.policy.pack_path(name)).digest


def test_an_unknown_pack_names_the_closest() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy("pack:eu-ai-act")
    [d] = info.value.diagnostics
    assert (d.path, d.code, d.message, d.hint) == (
        "pack:eu-ai-act", "file-not-found", "no reference pack named `eu-ai-act`",
        "did you mean `pack:eu-ai-act-prohibited`?",
    )  # fmt: skip
    with pytest.raises(PolicyError) as info:
        loads_policy(HEAD + "include: ['pack:nothing']\n", path="p.yaml")
    [d] = info.value.diagnostics
    assert (d.line, d.col, d.code, d.message) == (
        3, 11, "include-not-found", "no reference pack named `nothing`"
    )  # fmt: skip
    assert d.hint is not None and "national-security-safeguards" in d.hint
