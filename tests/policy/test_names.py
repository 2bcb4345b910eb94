"""The name key behind `in_list`: each step of the documented normalisation, the TS #39
skeleton examples, and the ASCII fast path against ICU itself."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import usepolicy
from usepolicy.policy import _names
from usepolicy.policy._names import SCHEME, fold, is_listed, listed_as, name_keys, name_lists

from ..strategies import NAME_VARIANTS


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # the examples of Unicode TS #39's skeleton: mathematical, Greek, Cyrillic,
        # Hebrew and APL letters that look like "paypal"
        ("paypal", "𝔭𝒶ỿ𝕡𝕒ℓ"),
        ("paypal", "ρ⍺у𝓅𝒂ן"),
        ("ρ⍺у𝓅𝒂ן", "𝔭𝒶ỿ𝕡𝕒ℓ"),
        # look-alikes within ASCII and across scripts
        ("scope", "ѕсоре"),  # all Cyrillic
        ("Huawei", "Huаwei"),  # Cyrillic а
        ("modern", "rnodern"),  # rn looks like m
        ("Hikvision", "HIKVlSION"),  # l for I, whatever the case of the list item
        ("360", "З6O"),  # Cyrillic Ze, Latin O
        ("Ꭺcme", "acme"),  # Cherokee A: its prototype is a capital, folded after
        # capital look-alikes, which only the capitals key sees
        ("HIKVISION", "HIKVlSION"),  # l for I
        ("BGI Genomics", "ВGI GENOMICS"),  # Cyrillic Ve
        ("BGI Genomics", "вgi genomics"),  # ... and its small letter
        ("HESAI", "НЕЅАІ"),  # all Cyrillic capitals
        # small look-alikes whose capitals differ, which only the small key sees
        ("vivo", "νiνo"),  # Greek nu
    ],
)
def test_confusable_names_match(a: str, b: str) -> None:
    assert is_listed(a, name_lists({"l": [b]})["l"])
    assert is_listed(b, name_lists({"l": [a]})["l"])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("paypal", "pàỳpąl"),  # diacritics are letters of their own
        ("Acme Corp", "AcmeCorp"),  # a space is not nothing
        ("Acme Corp", "Acme-Corp"),
        ("Huawei", "Huawe"),
    ],
)
def test_distinct_names_do_not_match(a: str, b: str) -> None:
    assert not is_listed(a, name_lists({"l": [b]})["l"])


def test_each_step_of_the_pipeline() -> None:
    # 1: controls and format characters go; whitespace controls become spaces
    assert fold("Ac\x00me\u200b\u202e\u00ad Corp") == "acme corp"
    assert fold("Acme\tCorp\r\n") == "acme corp"
    # 2: NFKC_Casefold: compatibility forms, case, default-ignorables (variation selector)
    assert fold("ＡＣＭＥ\ufb03\ufe0f") == "acmeffi"
    assert fold("STRASSE") == fold("straße") == "strasse"
    # 3: runs of white space, of any kind, are one space; none at either end
    assert fold("\u3000Acme \u00a0\u2003 Corp\u205f") == "acme corp"
    # the small key: the skeleton, folded again (`0` has the prototype `O`); the
    # capitals key: the skeleton in capitals, where `I` looks like `l`
    assert name_keys("Acme 0 Hill") == ("acrne o hill", "acrne o hlll")
    assert name_keys("ACME O HILL") == name_keys("acme 0 hill")


@pytest.mark.parametrize("variant", sorted(NAME_VARIANTS))
def test_the_issue_variants_share_the_key_of_the_name(variant: str) -> None:
    name = "Huawei Technologies Co., Ltd."
    assert name_keys(NAME_VARIANTS[variant](name)) == name_keys(name)


def test_the_ascii_fast_path_is_built_from_icu() -> None:
    assert _names._ASCII_SMALL is not None  # this ICU's data allows it
    assert _names._ASCII_CAPITALS is not None
    assert dict(_names._ASCII_SMALL)["m"] == "rn"
    assert dict(_names._ASCII_CAPITALS)["i"] == "l"
    assert "i" not in dict(_names._ASCII_SMALL)


def icu_keys(text: str) -> tuple[str, str]:
    return _names._icu_small(text), _names._icu_capitals(text)


def test_the_ascii_fast_path_gives_icus_keys_for_every_pair_of_characters() -> None:
    chars = [chr(c) for c in range(128)]
    for a, b in itertools.product(chars, repeat=2):
        text = f"{a}{b} {b}{a}  x"
        assert _names._keys(text) == icu_keys(text), repr(text)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_the_ascii_fast_path_gives_icus_keys(text: str) -> None:
    assert _names._keys(text) == icu_keys(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_any_text_has_keys_and_keys_are_cached_by_value(text: str) -> None:
    keys = name_keys(text)
    assert keys == icu_keys(text)
    assert name_keys(text) is keys or len(text) > 256
    for key in keys:
        assert key == key.strip() and "  " not in key


def test_odd_strings_have_keys_and_never_raise() -> None:
    class Sneaky(str):
        def __hash__(self) -> int:
            return hash("Army Intelligence Center")

        def __eq__(self, other: object) -> bool:
            return True

    assert name_keys(Sneaky("Huawei")) == ("huawei", "huawel")  # its characters only
    assert name_keys("a\ud800b")[0] == "a\ud800b"  # a lone surrogate passes through
    long = "Huawei " * 2000  # past the cached length: keyed, not cached
    assert name_keys(long)[0] == ("huawei " * 2000).strip()
    assert name_keys("") == ("", "")


def test_lists_keep_the_first_item_of_each_key() -> None:
    lists = name_lists({"l": frozenset({"ACME Corp", "Acme Corp", " acme  corp", "Other"})})
    assert lists == {"l": {"acrne corp": " acme  corp", "other": "Other"}}
    assert listed_as("ACME\u00a0CORP", lists["l"]) == (" acme  corp", "acrne corp")
    assert listed_as("Acme", lists["l"]) is None


def test_a_policy_keys_its_lists_once() -> None:
    policy = usepolicy.load_policy()
    first = policy.name_lists
    assert policy.name_lists is first
    assert listed_as("HUAWEI TECHNOLOGIES CO., LTD.", first["denied_entities"]) == (
        "Huawei Technologies Co., Ltd.",
        "huawei technologies co., ltd.",
    )


def test_the_scheme_names_the_unicode_data() -> None:
    import icu

    assert f"usepolicy-names/2 icu-{icu.ICU_VERSION} unicode-{icu.UNICODE_VERSION}" == SCHEME
