"""Loading policy sets: includes, shipped packs, lists, vocabulary, order, folders."""

from __future__ import annotations

from pathlib import Path

import pytest

import usepolicy
from usepolicy import Engine, load_policy


def test_include_a_shipped_pack_by_name(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text(
        "usepolicy: 1\nname: org\ninclude: ['pack:national-security-safeguards']\n"
        "vocabulary:\n  purposes:\n    intelligence.geoint: geospatial intelligence\n"
        "rules:\n  - {id: geoint-on-private, effect: deny, reason: x,\n"
        "     when: {purpose: intelligence.geoint, environment.network: internet}}\n"
    )
    policy = load_policy(tmp_path / "org.yaml")
    assert [r.id for r in policy.rules][-1] == "geoint-on-private"
    assert next(r.id for r in policy.rules) == "denied-entity"  # included rules come first
    engine = Engine(policy)
    base = {"requester": {"organization": "NGA"}, "purpose": "intelligence.geoint"}
    assert (
        engine.evaluate({**base, "environment": {"network": "air_gapped"}}).determining_rule
        == "intelligence"
    )
    assert engine.evaluate(base).determining_rule == "geoint-on-private"


def test_inline_and_file_lists(tmp_path: Path) -> None:
    (tmp_path / "models.txt").write_text("# approved models\nclaude-gov\n\n  claude-air  \n")
    (tmp_path / "p.yaml").write_text(
        "usepolicy: 1\nname: p\nlists:\n  approved: {file: models.txt}\n  banned: [evil-corp]\n"
        "rules:\n  - {id: ok, effect: allow, reason: x, when: {model: {in_list: approved}}}\n"
        "  - {id: banned, effect: deny, reason: x, when: {requester.organization: {in_list: banned}}}\n"
    )
    policy = load_policy(tmp_path / "p.yaml")
    assert policy.lists["approved"] == frozenset({"claude-gov", "claude-air"})
    engine = Engine(policy)
    req = {"requester": {"organization": "a"}, "purpose": "general.assistant"}
    assert engine.evaluate({**req, "model": "claude-air"}).allowed
    assert not engine.evaluate({**req, "model": "other"}).allowed
    assert not engine.evaluate(req).allowed  # absent model is in no list
    assert not engine.evaluate(
        {**req, "model": "claude-gov", "requester": {"organization": "evil-corp"}}
    ).allowed


def test_yaml_1_1_words_stay_strings(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "usepolicy: 1\nname: p\nrules:\n"
        "  - {id: norway, effect: allow, reason: x, when: {requester.country: NO}}\n"
    )
    engine = Engine(load_policy(tmp_path / "p.yaml"))
    assert engine.evaluate(
        {"requester": {"organization": "a", "country": "NO"}, "purpose": "general.assistant"}
    ).allowed


def test_default_policy_is_the_shipped_reference_pack() -> None:
    assert load_policy().digest == load_policy(usepolicy.policy.pack_path()).digest
    assert load_policy().name == "national-security-safeguards"


def test_a_list_file_too_large_or_not_utf8_is_refused_where_it_is_named(tmp_path: Path) -> None:
    from usepolicy.policy._load import MAX_LIST_FILE_BYTES

    (tmp_path / "big.txt").write_bytes(b"a\n" * (MAX_LIST_FILE_BYTES // 2) + b"b")
    (tmp_path / "latin1.txt").write_bytes("Müller GmbH\n".encode("latin-1"))
    (tmp_path / "p.yaml").write_text(
        "usepolicy: 1\nname: p\nlists:\n  big: {file: big.txt}\n  names: {file: latin1.txt}\n"
    )
    with pytest.raises(usepolicy.PolicyError) as info:
        load_policy(tmp_path / "p.yaml")
    assert [(d.line, d.col, d.code, d.message) for d in info.value.diagnostics] == [
        (
            4,
            15,
            "too-large",
            "list file `big.txt` is 16,777,217 bytes; the limit is 16,777,216 bytes (16 MiB)",
        ),
        (
            5,
            17,
            "bad-encoding",
            "list file `latin1.txt` is not UTF-8 (invalid start byte at byte 1)",
        ),
    ]
