"""Human output shows control, bidi and other invisible characters as escapes, whatever
string carries them (request, record, policy, file name); machine output stays exact."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from usepolicy.cli._output import escape

from ..conftest import REPO, RunCli

HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
ESC = "\x1b"
# an organisation that would clear the screen, turn text red, reverse it, and forge a row
FORGER = "Acme\x1b[2J\x1b[31m\u202eevil\u200b\nforged  2026-01-01T00:00:00Z  allow  x\r"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text, é 中 ✓", "plain text, é 中 ✓"),
        ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
        ("\x1b[31mred\x07", "\\x1b[31mred\\x07"),
        ("\x7f\x85\x9b", "\\x7f\\x85\\x9b"),  # DEL, and C1 controls (NEL, CSI)
        ("\u202eevil\u2066x\u2069\u200f", "\\u202eevil\\u2066x\\u2069\\u200f"),  # bidi
        ("a\u200bb\u00adc\ufeffd", "a\\u200bb\\xadc\\ufeffd"),  # zero-width, soft hyphen, BOM
        ("\u2028\u2029", "\\u2028\\u2029"),  # line and paragraph separators
        ("\ud800", "\\ud800"),  # a lone surrogate (not even writable as UTF-8)
        ("\U000e0041", "\\U000e0041"),  # a tag character
        ("back\\slash, non\u00a0breaking", "back\\slash, non\u00a0breaking"),
    ],
)
def test_escape(text: str, shown: str) -> None:
    assert escape(text) == shown


def test_escape_can_keep_line_feeds() -> None:
    assert escape("one\ntwo\x1b", newlines=False) == "one\ntwo\\x1b"


@given(st.text(st.characters(exclude_categories=())))  # surrogates too
def test_escaped_text_has_nothing_hidden_left(text: str) -> None:
    shown = escape(text)
    assert not [c for c in shown if unicodedata.category(c) in HIDDEN]
    assert escape(shown) == shown
    if text.isprintable():
        assert shown == text


# -- through the command line ------------------------------------------------------------
@pytest.fixture
def forged_log(tmp_path: Path, run_cli: RunCli) -> Path:
    """A log whose second record's organisation is the forger's."""
    log = tmp_path / "audit.jsonl"
    for organization in ("Plain", FORGER):
        request = {"requester": {"organization": organization}, "purpose": "cyber.defense"}
        result = run_cli("check", "-", "--audit-log", str(log), stdin=json.dumps(request))
        assert result.returncode == 0, result.stderr
    return log


def test_audit_show_keeps_each_record_on_its_row(forged_log: Path, run_cli: RunCli) -> None:
    result = run_cli("audit", "show", str(forged_log))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4  # header, two records, count
    assert ESC not in result.stdout and "\u202e" not in result.stdout and "\r" not in result.stdout
    assert lines[2].endswith("Acme\\x1b[2J\\x1b[31m\\u202eevil\\u200b\\nforged  "
                             "2026-01-01T00:00:00Z  allow  x\\r")  # fmt: skip
    assert lines[3] == "2 of 2 records"


def test_audit_show_json_is_the_exact_record(forged_log: Path, run_cli: RunCli) -> None:
    result = run_cli("audit", "show", "--format", "json", str(forged_log))
    assert result.stdout.encode() == forged_log.read_bytes()
    assert json.loads(result.stdout.splitlines()[1])["request"]["requester"]["organization"] == (
        FORGER
    )


def test_check_escapes_policy_strings_and_errors(tmp_path: Path, run_cli: RunCli) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "usepolicy: 1\nname: p\nversion: '1'\ndefault: deny\ncombine: deny-overrides\n"
        "rules:\n  - id: all\n    effect: allow\n"
        '    reason: "cleared \\e[2J\\e[31m, reversed \\u202eby a bidi override"\n'
    )
    request = json.dumps({"requester": {"organization": "X"}, "purpose": "cyber.defense"})
    human = run_cli("check", "-p", str(policy), "-", stdin=request)
    assert human.returncode == 0, human.stderr
    assert "  reason: cleared \\x1b[2J\\x1b[31m, reversed \\u202eby a bidi override\n" in (
        human.stdout
    )
    as_json = run_cli("check", "-p", str(policy), "--format", "json", "-", stdin=request)
    reason = json.loads(as_json.stdout)["matched_rules"][0]["reason"]
    assert reason == "cleared \x1b[2J\x1b[31m, reversed \u202eby a bidi override"
    bad = json.dumps({"requester": {"organization": "X"}, "purpose": "cyber.defense", ESC: 1})
    for output in ("human", "json"):
        invalid = run_cli("check", "--format", output, "-", stdin=bad)
        assert invalid.returncode == 3
        assert "unknown field `\\x1b`" in invalid.stderr and ESC not in invalid.stderr


def test_machine_output_is_not_escaped(run_cli: RunCli) -> None:
    rego = run_cli("export", "rego", str(REPO / "policies" / "national-security-safeguards.yaml"))
    assert rego.returncode == 0 and "\n\t" in rego.stdout  # Rego's tabs, as written
    assert json.loads(run_cli("schema").stdout)["title"] == "usepolicy request"
