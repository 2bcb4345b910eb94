"""``usepolicy check`` through the real entry point, on every shipped example."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import EXAMPLES, REPO, RunCli
from ..hostile import INVALID_TEXT, many_unknown_keys

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))
EXPECTED = EXAMPLES / "expected"  # kept apart, so that `examples/requests/*.json` is requests only


def test_there_are_enough_examples() -> None:
    assert len(EXAMPLE_FILES) >= 14


def test_every_example_has_its_expectation_and_no_other() -> None:
    assert sorted(p.name for p in EXPECTED.glob("*.json")) == [p.name for p in EXAMPLE_FILES]


def test_the_readme_glob_checks_requests_only(run_cli: RunCli) -> None:
    # README: `usepolicy check examples/requests/*.json`: one verdict or error per request
    rels = [str(p.relative_to(EXAMPLES.parent.parent)) for p in EXAMPLE_FILES]
    result = run_cli("check", *rels)
    invalid = [rel for rel in rels if "/invalid_" in rel]
    assert result.returncode == 3
    verdicts = [line for line in result.stdout.splitlines() if not line.startswith("  ")]
    assert [line.partition(":")[0] for line in verdicts] == [r for r in rels if r not in invalid]
    errors = result.stderr.splitlines()
    assert sorted({line.split(":")[1].strip() for line in errors}) == invalid


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_matches_its_expected_outcome(example: Path, run_cli: RunCli) -> None:
    expected = json.loads((EXPECTED / example.name).read_text())
    rel = str(example.relative_to(EXAMPLES.parent.parent))
    result = run_cli("check", "--format", "json", rel)
    assert result.returncode == expected["exit_code"], result.stderr
    if expected["decision"] is None:
        assert result.stdout == ""
        assert expected["stderr_contains"] in result.stderr
        assert result.stderr.startswith("usepolicy: ")
        assert "Traceback" not in result.stderr
        return
    record = json.loads(result.stdout)
    assert record["decision"] == expected["decision"]
    assert record["determining_rule"] == expected["determining_rule"]
    assert [o["id"] for o in record["obligations"]] == expected.get("obligations", [])
    human = run_cli("check", rel)
    assert human.returncode == expected["exit_code"]
    verdict = "ALLOW" if expected["decision"] == "allow" else "DENY"
    assert human.stdout.startswith(f"{rel}: {verdict}")


def test_several_files_exit_with_the_worst_outcome(run_cli: RunCli) -> None:
    allow = "examples/requests/network_defense.json"
    deny = "examples/requests/broker_location_data.json"
    bad = "examples/requests/invalid_unknown_field.json"
    assert run_cli("check", allow).returncode == 0
    assert run_cli("check", allow, deny).returncode == 2
    result = run_cli("check", allow, deny, bad)
    assert result.returncode == 3
    assert result.stdout.count(": ALLOW") == 1 and result.stdout.count(": DENY") == 1


def test_stdin_and_explain(run_cli: RunCli) -> None:
    request = json.dumps(
        {
            "requester": {"organization": "X"},
            "purpose": "weapons.engagement",
            "autonomy": {"level": "human_on_the_loop", "lethal": True},
        }
    )
    result = run_cli("check", "--explain", "-", stdin=request)
    assert result.returncode == 2
    assert "<stdin>: DENY by rule lethal-force-requires-human-in-the-loop" in result.stdout
    assert (
        '- no-fully-autonomous-weapons (deny): autonomy.level: "human_on_the_loop" is not == "fully_autonomous"'
        in result.stdout
    )
    # why the deciding rule matched: each condition that held, with the request's value
    assert (
        "    + lethal-force-requires-human-in-the-loop (deny) matched\n"
        '        purpose: "weapons.engagement" == "weapons.engagement"\n'
        '        autonomy.level: "human_on_the_loop" in ["human_on_the_loop", "fully_autonomous"]\n'
    ) in result.stdout
    data = json.loads(run_cli("check", "--explain", "--format", "json", "-", stdin=request).stdout)
    assert {t["id"] for t in data["explain"] if t["matched"]} == {
        "lethal-force-requires-human-in-the-loop",
        "weapons-with-human-control",
    }
    [lethal] = [t for t in data["explain"] if t["id"] == "lethal-force-requires-human-in-the-loop"]
    assert [(b["field"], b["op"], b["value"], b["holds"]) for b in lethal["because"]] == [
        ("purpose", "eq", "weapons.engagement", True),
        ("autonomy.level", "in", "human_on_the_loop", True),
    ]
    assert all(t["because"] == [] for t in data["explain"] if not t["matched"])


def test_pack_by_name_wherever_a_policy_is_taken(run_cli: RunCli, tmp_path: Path) -> None:
    request = "examples/requests/network_defense.json"
    named = run_cli("check", "-p", "pack:any-lawful-use", request)
    assert named.returncode == 0 and "ALLOW by rule any-lawful-use" in named.stdout
    assert run_cli("validate", "pack:eu-ai-act-prohibited").returncode == 0
    assert run_cli("lint", "pack:national-security-safeguards").returncode == 0
    assert run_cli("export", "rego", "pack:any-lawful-use").returncode == 0
    diff = run_cli("diff", "pack:any-lawful-use", "pack:national-security-safeguards")
    assert diff.returncode == 1 and "6 changes of decision" in diff.stdout
    bad = run_cli("check", "-p", "pack:any-lawful", request)
    assert bad.returncode == 3
    assert bad.stderr.strip() == (
        "usepolicy: pack:any-lawful:1:1: file-not-found: no reference pack named `any-lawful`; "
        "hint: did you mean `pack:any-lawful-use`?"
    )


def test_invalid_request_names_file_line_and_field(run_cli: RunCli) -> None:
    result = run_cli("check", "examples/requests/invalid_unknown_purpose.json")
    assert result.returncode == 3
    line = result.stderr.strip()
    assert line.startswith("usepolicy: examples/requests/invalid_unknown_purpose.json:")
    assert ":8:3: unknown-purpose: purpose: unknown purpose `intelligence.foriegn`" in line
    assert "\n" not in line


def test_invalid_policy_exits_3(run_cli: RunCli, tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("usepolicy: 1\nname: bad\nrules:\n  - {id: r, effect: alow, reason: x}\n")
    result = run_cli("check", "-p", str(policy), "examples/requests/network_defense.json")
    assert result.returncode == 3
    assert "bad.yaml:4:21: bad-value:" in result.stderr
    assert "hint: did you mean `allow`?" in result.stderr


def test_policy_option_is_repeatable_and_takes_folders(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "usepolicy: 1\nname: a\ndefault: deny\nrules:\n  - {id: cyber, effect: allow, reason: x, when: {purpose: {under: cyber}}}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "usepolicy: 1\nname: b\nrules:\n  - {id: no-bulk, effect: deny, reason: x, when: {data.provenance: bulk}}\n"
    )
    (tmp_path / "b.test.yaml").write_text("not: a policy\n")
    result = run_cli("check", "-p", str(tmp_path), "examples/requests/network_defense.json")
    assert result.returncode == 0, result.stderr
    assert "policy: a+b" in result.stdout
    result = run_cli(
        "check",
        "-p",
        str(tmp_path / "b.yaml"),
        "-p",
        str(tmp_path / "a.yaml"),
        "examples/requests/network_defense.json",
    )
    assert "policy: b+a" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["check"],
        ["frobnicate"],
        ["check", "--format", "xml", "x.json"],
        ["check", "--nope", "x"],
    ],
)
def test_usage_errors_exit_1_with_one_line(run_cli: RunCli, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert any(line.startswith("usepolicy: ") for line in result.stderr.splitlines())


def test_missing_request_file_is_reported(run_cli: RunCli) -> None:
    result = run_cli("check", "nowhere.json")
    assert result.returncode == 3
    assert result.stderr.startswith("usepolicy: nowhere.json: cannot read")


def test_dev_zero_as_a_request_is_refused_not_swallowed(run_cli: RunCli) -> None:
    # Once a MemoryError: the whole "file" was read before the 1 MiB limit was checked.
    result = run_cli("check", "/dev/zero")
    assert result.returncode == 3
    assert result.stderr == (
        "usepolicy: /dev/zero: cannot read: is a character device, not a regular file\n"
    )
    with open("/dev/zero", "rb") as zeros:  # stdin may be anything: read 1 MiB + 1 at most
        piped = subprocess.run(
            [sys.executable, "-m", "usepolicy", "check", "-"],
            stdin=zeros,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
    assert piped.returncode == 3
    assert piped.stderr == (
        "usepolicy: <stdin>:1:1: too-large: $: request is over the limit of "
        "1,048,576 bytes (1 MiB)\n"
    )


def test_a_request_file_over_1_mib_is_refused_whole(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (1024 * 1024) + b"{}")
    result = run_cli("check", str(path))
    assert result.returncode == 3
    assert result.stderr == (
        f"usepolicy: {path}:1:1: too-large: $: request is 1,048,578 bytes; the limit is "
        "1,048,576 bytes (1 MiB)\n"
    )


def test_unreadable_request_paths_are_one_line_each(run_cli: RunCli, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.json")  # once: check waited forever for a writer
    (tmp_path / "loop.json").symlink_to(tmp_path / "loop.json")
    allow = "examples/requests/network_defense.json"
    names = ["fifo.json", "loop.json", "x" * 300, "."]
    result = run_cli("check", allow, *(str(tmp_path / name) for name in names))
    assert result.returncode == 3
    assert result.stdout.startswith(f"{allow}: ALLOW")
    assert [line.rpartition(": cannot read: ")[2] for line in result.stderr.splitlines()] == [
        "is a named pipe (FIFO), not a regular file",
        "is a symbolic link loop (too many levels of links)",
        "has a name too long for the system",
        "is a folder, not a file",
    ]


def test_validate_and_schema(run_cli: RunCli, tmp_path: Path) -> None:
    ok = run_cli(
        "validate", "policies/national-security-safeguards.yaml", "policies/any-lawful-use.yaml"
    )
    assert ok.returncode == 0 and ok.stdout.count(": ok: ") == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "usepolicy: 1\nname: bad\nrules:\n  - id: r\n    effect: deny\n    reason: x\n"
        "    when:\n      data.subject: domestic\n      autonomy.lethal: yes\n"
    )
    result = run_cli("validate", str(bad))
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert [line.split(": ")[1:4] for line in lines] == [
        [f"{bad}:8:7", "unknown-field", "unknown field `data.subject`; hint"],
        [
            f"{bad}:9:24",
            "ambiguous-boolean",
            "`yes` is a string here, not a boolean (YAML 1.2); hint",
        ],
    ]
    schema = json.loads(run_cli("schema").stdout)
    assert schema["title"] == "usepolicy request"
    assert set(schema["required"]) == {"requester", "purpose"}


def test_hostile_requests_are_invalid_requests_never_internal_errors(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Issue 12, item 5: lone surrogates, a 5,000-digit integer and deep nesting each
    stopped `check` with "internal error" (exit 1)."""
    files = []
    for case, text in INVALID_TEXT:
        path = tmp_path / f"{case}.json"
        path.write_text(text)
        files.append(str(path))
    log = tmp_path / "audit.jsonl"
    result = run_cli("check", "--audit-log", str(log), *files)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.splitlines()
    assert {line.split(":")[1].strip() for line in lines} == set(files)
    for line in lines:
        assert line.startswith("usepolicy: ") and line.isprintable()
        assert "internal" not in line
    huge = next(line for line in lines if "huge-integer.json" in line)
    assert re.search(r"huge-integer\.json:1:96: number-too-long: \$: an integer of 5000", huge)
    assert "data.subjects: " in next(line for line in lines if "surrogate-enum" in line)
    assert run_cli("audit", "verify", str(log)).returncode == 0


def test_many_unknown_keys_are_located_in_one_pass_and_capped(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Issue 12, item 3: 8,000 unknown keys (64 KB) took 85 s, one walk of the text per
    error, and printed 8,000 lines."""
    path = tmp_path / "keys.json"
    text = many_unknown_keys(8000)
    path.write_text(text)
    result = run_cli("check", str(path))
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 101
    first, hundredth = text.index('"0"') + 1, text.index('"63"') + 1
    assert lines[0] == (
        f"usepolicy: {path}:1:{first}: unknown-field: 0: unknown field `0`;"
        " known fields: request_id, requester, model, purpose, description, data, autonomy,"
        " environment, attributes"
    )
    assert lines[99].startswith(f"usepolicy: {path}:1:{hundredth}: unknown-field: 63: ")
    assert lines[100] == (
        f"usepolicy: {path}:1:1: too-many-errors: $: 7900 more errors left out"
        " (at most 100 are reported)"
    )


def test_a_policy_option_takes_a_shipped_pack_by_name(run_cli: RunCli) -> None:
    request = '{"requester": {"organization": "X"}, "purpose": "weapons.engagement",' + (
        ' "autonomy": {"level": "fully_autonomous"}}'
    )
    allowed = run_cli("check", "-p", "pack:any-lawful-use", "-", stdin=request)
    denied = run_cli("check", "-p", "pack:national-security-safeguards", "-", stdin=request)
    assert (allowed.returncode, denied.returncode) == (0, 2), allowed.stderr + denied.stderr
    assert "any-lawful-use" in allowed.stdout
    assert "no-fully-autonomous-weapons" in denied.stdout
    typo = run_cli("check", "-p", "pack:any-lawfull-use", "-", stdin=request)
    assert typo.returncode == 3
    assert typo.stderr.strip() == (
        "usepolicy: pack:any-lawfull-use:1:1: file-not-found: no reference pack named "
        "`any-lawfull-use`; hint: did you mean `pack:any-lawful-use`?"
    )


def test_check_says_what_a_dryrun_rule_would_have_denied(tmp_path: Path, run_cli: RunCli) -> None:
    policy = tmp_path / "shadow.yaml"
    policy.write_text(
        "usepolicy: 1\nname: shadow\nversion: '1'\ndefault: deny\ncombine: deny-overrides\n"
        "rules:\n"
        "  - {id: trial, effect: deny, reason: being rolled out, enforcement: dryrun,"
        " when: {data.subjects: domestic}}\n"
        "  - {id: general, effect: allow, reason: general use}\n"
    )
    request = '{"requester": {"organization": "X"}, "purpose": "general.assistant",'
    request += ' "data": {"subjects": "domestic"}}'
    log = tmp_path / "audit.jsonl"
    result = run_cli("check", "-p", str(policy), "-", "--audit-log", str(log), stdin=request)
    assert result.returncode == 0, result.stderr  # allowed: a dry run never decides
    assert "  dry run would deny: trial (being rolled out)\n" in result.stdout
    assert [d["id"] for d in json.loads(log.read_text())["dryrun"]] == ["trial"]
