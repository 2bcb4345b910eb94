"""``check --audit-log``, ``audit verify``, ``audit show`` and ``keygen`` through the real CLI."""

from __future__ import annotations

import itertools
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from usepolicy.audit import generate_keypair

from ..conftest import REPO, RunCli

ALLOW = "examples/requests/foreign_intercept_translation.json"
DENY = "examples/requests/broker_location_data.json"
INVALID = "examples/requests/invalid_unknown_field.json"


@pytest.fixture(scope="module")
def made_log(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A log of four decisions, by two runs: allow, deny, then invalid (a deny), allow."""

    def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "usepolicy", *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)

    path = tmp_path_factory.mktemp("log") / "audit.jsonl"
    first = run_cli("check", ALLOW, DENY, "--audit-log", str(path))
    assert first.returncode == 2, first.stderr
    second = run_cli("check", INVALID, ALLOW, "--audit-log", str(path))
    assert second.returncode == 3, second.stderr
    return path.read_bytes()


@pytest.fixture
def log(tmp_path: Path, made_log: bytes) -> Path:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(made_log)
    return path


def test_check_appends_each_decision_and_the_chain_goes_on(log: Path):
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["decision"] for r in records] == ["allow", "deny", "deny", "allow"]
    assert records[2]["request"] is None
    assert records[2]["errors"][0]["code"] == "invalid-request"
    assert records[0]["prev_digest"] is None
    for before, after in itertools.pairwise(records):
        assert after["prev_digest"] == before["record_digest"]


def test_check_json_prints_the_logged_record(tmp_path: Path, run_cli: RunCli):
    path = tmp_path / "audit.jsonl"
    result = run_cli("check", "--format", "json", ALLOW, "--audit-log", str(path))
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads(path.read_text())


def test_check_explain_logs_the_decision_it_explains(tmp_path: Path, run_cli: RunCli):
    path = tmp_path / "audit.jsonl"
    result = run_cli("check", "--explain", "--format", "json", DENY, "--audit-log", str(path))
    assert result.returncode == 2, result.stderr
    printed = json.loads(result.stdout)
    explain = printed.pop("explain")
    assert printed == json.loads(path.read_text())
    assert {t["id"] for t in explain if t["matched"]} >= {printed["determining_rule"]}


def test_human_check_names_the_logged_record(tmp_path: Path, run_cli: RunCli):
    result = run_cli("check", ALLOW, "--audit-log", str(tmp_path / "a.jsonl"))
    assert f"  logged: {tmp_path / 'a.jsonl'} (record sha256:" in result.stdout


def test_verify_counts_good_records(log: Path, run_cli: RunCli):
    result = run_cli("audit", "verify", str(log))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{log}: ok: 4 records\n")
    as_json = json.loads(run_cli("audit", "verify", "--format", "json", str(log)).stdout)
    assert (as_json["ok"], as_json["count"]) == (True, 4)


@pytest.mark.parametrize(
    ("tamper", "line", "kind"),
    [
        (lambda ls: [ls[0], ls[1].replace('"deny"', '"allow"', 1), *ls[2:]], 2, "edited"),
        (lambda ls: [ls[0], *ls[2:]], 2, "deleted"),
        (lambda ls: [ls[0], ls[2], ls[1], ls[3]], 2, "reordered"),
        (lambda ls: [ls[0], ls[3], *ls[1:]], 2, "inserted"),
        (lambda ls: [*ls[:3], ls[3][:50]], 4, "torn-tail"),
    ],
    ids=["edited", "deleted", "reordered", "inserted", "torn-tail"],
)
def test_verify_names_the_first_bad_line(log: Path, run_cli: RunCli, tamper, line, kind):
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(tamper(lines)))
    result = run_cli("audit", "verify", str(log))
    assert result.returncode == 1
    assert result.stderr.startswith(f"usepolicy: {log}:{line}: {kind}: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "value",
    [b"9007199254740993", b"[" * 300 + b"]" * 300, b'"\\ud800"'],
    ids=["integer beyond 2^53", "nested 300 deep", "lone surrogate"],
)
def test_verify_and_show_name_a_line_no_writer_could_write(log: Path, run_cli: RunCli, value):
    lines = log.read_bytes().splitlines(keepends=True)
    count = re.compile(rb'"subject_count":\d+')
    lines[1] = count.sub(lambda _: b'"subject_count":' + value, lines[1], count=1)
    log.write_bytes(b"".join(lines))
    for action in ("verify", "show"):
        result = run_cli("audit", action, str(log))
        assert result.returncode == 1
        assert result.stderr.startswith(f"usepolicy: {log}:2: bad-record: not a decision record")
        assert "internal error" not in result.stderr


def test_verify_with_anchors_detects_truncation(log: Path, run_cli: RunCli):
    head = json.loads(log.read_text().splitlines()[-1])["record_digest"]
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:3]))
    assert run_cli("audit", "verify", str(log)).returncode == 0
    by_count = run_cli("audit", "verify", str(log), "--expect-count", "4")
    assert by_count.returncode == 1
    assert f"{log}:4: truncated: " in by_count.stderr
    by_head = run_cli("audit", "verify", str(log), "--expect-head", head)
    assert by_head.returncode == 1
    assert "truncated" in by_head.stderr


def test_keygen_sign_and_verify(tmp_path: Path, run_cli: RunCli):
    key = tmp_path / "usepolicy.key"
    made = run_cli("keygen", "-o", str(key))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "key id:" in made.stdout
    again = run_cli("keygen", "-o", str(key))
    assert again.returncode == 1 and "exists" in again.stderr
    path = tmp_path / "audit.jsonl"
    checked = run_cli("check", ALLOW, DENY, "--audit-log", str(path), "--sign-key", str(key))
    assert checked.returncode == 2, checked.stderr
    good = run_cli("audit", "verify", str(path), "--key", f"{key}.pub")
    assert good.returncode == 0, good.stderr
    assert "signatures: 2 good" in good.stdout
    generate_keypair(tmp_path / "other.key")
    bad = run_cli("audit", "verify", str(path), "--key", str(tmp_path / "other.key.pub"))
    assert bad.returncode == 1
    assert f"{path}:1: bad-signature: " in bad.stderr
    private = run_cli("audit", "verify", str(path), "--key", str(key))
    assert private.returncode == 1 and "private key" in private.stderr


def test_show_lists_and_filters(log: Path, run_cli: RunCli):
    table = run_cli("audit", "show", str(log))
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["line", "time", "(UTC)", "decision", "rule", "purpose", "requester"]
    assert lines[-1] == "4 of 4 records"
    assert "no-mass-domestic-surveillance" in table.stdout
    assert "error: invalid-request" in table.stdout
    denied = run_cli("audit", "show", str(log), "--decision", "deny", "--format", "json")
    records = [json.loads(line) for line in denied.stdout.splitlines()]
    assert [r["decision"] for r in records] == ["deny", "deny"]
    by_rule = run_cli("audit", "show", str(log), "--rule", "intelligence")
    assert by_rule.stdout.splitlines()[-1] == "3 of 4 records"  # decided, or matched
    future = run_cli("audit", "show", str(log), "--since", "2999-01-01")
    assert future.stdout.splitlines()[-1] == "0 of 4 records"
    past = run_cli("audit", "show", str(log), "--until", "2000-01-01T00:00:00Z")
    assert past.stdout.splitlines()[-1] == "0 of 4 records"
    bad_time = run_cli("audit", "show", str(log), "--since", "yesterday")
    assert bad_time.returncode == 1 and "ISO 8601" in bad_time.stderr


def test_show_stops_at_a_bad_line(log: Path, run_cli: RunCli):
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join([lines[0], "garbage\n", *lines[1:]]))
    result = run_cli("audit", "show", str(log))
    assert result.returncode == 1
    assert f"usepolicy: {log}:2: bad-json: " in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("output", ["human", "json"])
def test_a_decision_that_cannot_be_logged_is_never_allowed(run_cli: RunCli, output: str):
    result = run_cli("check", "--format", output, ALLOW, "--audit-log", "/dev/full")
    assert result.returncode == 1
    assert "ALLOW" not in result.stdout
    assert "audit-error" in result.stderr and "No space left" in result.stderr
    if output == "json":
        assert json.loads(result.stdout)["decision"] == "deny"
    else:
        assert "DENY because the decision could not be logged" in result.stdout


def test_an_unopenable_log_stops_before_deciding(tmp_path: Path, run_cli: RunCli):
    (tmp_path / "file").write_text("")
    result = run_cli("check", ALLOW, "--audit-log", str(tmp_path / "file" / "a.jsonl"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot open" in result.stderr


def test_signing_options_need_a_log(run_cli: RunCli, tmp_path: Path):
    result = run_cli("check", ALLOW, "--redact", "description")
    assert result.returncode == 1
    assert "--audit-log" in result.stderr
    missing = run_cli("check", ALLOW, "--audit-log", str(tmp_path / "a"), "--sign-key", "nope")
    assert missing.returncode == 1
    assert "cannot load the signing key" in missing.stderr


def test_verify_of_a_missing_log(run_cli: RunCli, tmp_path: Path):
    result = run_cli("audit", "verify", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 1
    assert "cannot read" in result.stderr
    assert run_cli("audit").returncode == 1


def test_verify_of_a_folder_is_a_clean_cannot_read(run_cli: RunCli, tmp_path: Path):
    # once: "internal error: IsADirectoryError"; a folder holding a rotated log is read
    result = run_cli("audit", "verify", str(tmp_path))
    assert result.returncode == 1
    assert (
        result.stderr == f"usepolicy: {tmp_path}: cannot read: is a folder holding no audit log\n"
    )


@pytest.mark.parametrize("action", ["verify", "show"])
def test_a_log_that_is_not_a_regular_file_is_refused(run_cli: RunCli, tmp_path: Path, action):
    os.mkfifo(tmp_path / "fifo")  # once: waited forever for a writer
    for path in (str(tmp_path / "fifo"), "/dev/zero"):  # /dev/zero once "verified" ok
        result = run_cli("audit", action, path)
        assert result.returncode == 1
        assert result.stderr.startswith(f"usepolicy: {path}: cannot read: is a ")
        assert result.stderr.endswith(", not a regular file\n")


def test_key_files_that_are_not_regular_files_are_refused(log: Path, run_cli: RunCli):
    fifo = log.parent / "key.pub"
    os.mkfifo(fifo)
    result = run_cli("audit", "verify", str(log), "--key", str(fifo))
    assert result.returncode == 1
    assert result.stderr == (
        f"usepolicy: {fifo}: cannot read the key: is a named pipe (FIFO), not a regular file\n"
    )
    result = run_cli("check", ALLOW, "--audit-log", str(log), "--sign-key", "/dev/zero")
    assert result.returncode == 1
    assert "/dev/zero: cannot load the signing key: is a character device" in result.stderr


def test_show_and_verify_read_outcome_records(run_cli: RunCli, tmp_path: Path):
    from ..audit.test_verify import _mixed_log

    log = tmp_path / "gateway.jsonl"
    _mixed_log(log)
    assert run_cli("audit", "verify", str(log)).returncode == 0
    shown = run_cli("audit", "show", str(log))
    assert shown.returncode == 0, shown.stderr
    rows = shown.stdout.splitlines()
    outcome = next(row for row in rows if " outcome " in row)
    assert "executed 200" in outcome and "of " in outcome
    assert rows[-1] == "3 of 3 records"
    only_denies = run_cli("audit", "show", str(log), "--decision", "deny")
    assert "outcome" not in only_denies.stdout
    assert only_denies.stdout.splitlines()[-1] == "1 of 3 records"
    as_json = run_cli("audit", "show", str(log), "--format", "json").stdout.splitlines()
    assert json.loads(as_json[1])["record_kind"] == "outcome"


def test_show_picks_records_by_kind_outcome_and_decision_id(run_cli: RunCli, tmp_path: Path):
    from ..audit.test_verify import _mixed_log

    log = tmp_path / "gateway.jsonl"
    _mixed_log(log)  # allow, its outcome (executed), deny

    def shown(*options: str) -> list[dict[str, object]]:
        result = run_cli("audit", "show", str(log), "--format", "json", *options)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    everything = shown()
    allowed, outcome, denied = everything
    assert [r.get("record_kind") for r in shown("--kind", "outcome")] == ["outcome"]
    assert shown("--kind", "decision") == [allowed, denied]
    assert shown("--outcome", "executed") == [outcome]
    assert shown("--outcome", "refused") == []
    assert shown("--decision-id", str(allowed["decision_id"])) == [allowed, outcome]
    assert shown("--decision-id", str(denied["decision_id"])) == [denied]
    assert shown("--kind", "decision", "--outcome", "executed") == []  # asks for none
    human = run_cli("audit", "show", str(log), "--kind", "outcome").stdout.splitlines()
    assert human[-1] == "1 of 3 records" and "executed 200" in human[1]
    bad = run_cli("audit", "show", str(log), "--outcome", "exploded")
    assert bad.returncode == 1 and "invalid choice: 'exploded'" in bad.stderr  # usage: 1


# -- a rotated log -----------------------------------------------------------------------
@pytest.fixture
def rotated(tmp_path: Path, log: Path) -> list[Path]:
    """The four records of ``log`` written again by a writer that rotates after each."""
    from usepolicy import DecisionRecord
    from usepolicy.audit import AuditLog, log_files

    folder = tmp_path / "rotated"
    folder.mkdir()
    with AuditLog(folder / "audit.jsonl", rotate_bytes=1) as writer:
        for line in log.read_text().splitlines():
            writer.append(DecisionRecord.from_json(line))
    return log_files(folder / "audit.jsonl")


def test_verify_reads_a_rotated_log_as_one_chain(rotated: list[Path], run_cli: RunCli):
    for target in ([str(rotated[-1])], [str(rotated[0].parent)], [str(f) for f in rotated]):
        result = run_cli("audit", "verify", *target)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"{target[0]}: ok: 4 records\n")
        assert f"  files: 4, in chain order, {rotated[0].name} .. audit.jsonl\n" in result.stdout
    as_json = json.loads(run_cli("audit", "verify", "--format", "json", str(rotated[-1])).stdout)
    assert as_json["files"] == [str(f) for f in rotated]


def test_verify_names_a_missing_or_misplaced_file(rotated: list[Path], run_cli: RunCli):
    files = [str(f) for f in rotated]
    result = run_cli("audit", "verify", files[0], files[2], files[1], files[3])
    assert result.returncode == 1
    assert result.stderr.startswith(f"usepolicy: {files[2]}:1: reordered: {rotated[2].name} ")
    rotated[1].unlink()
    result = run_cli("audit", "verify", str(rotated[-1]))
    assert result.returncode == 1
    assert result.stderr.startswith(f"usepolicy: {files[2]}:1: deleted: {rotated[2].name} ")
    assert "a file is missing between" in result.stderr


def test_show_and_stats_read_a_rotated_log(rotated: list[Path], run_cli: RunCli):
    shown = run_cli("audit", "show", str(rotated[-1]), "--decision", "deny")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == [
        f"{rotated[1].name}:1",
        f"{rotated[2].name}:1",
    ]
    assert lines[-1] == "2 of 4 records"
    stats = run_cli("audit", "stats", str(rotated[0].parent), "--format", "json")
    assert stats.returncode == 0, stats.stderr
    body = json.loads(stats.stdout)
    assert body["integrity"]["count"] == 4 and len(body["integrity"]["files"]) == 4


def test_check_rotates_its_log_by_size_and_the_chain_goes_on(run_cli: RunCli, tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    for _ in range(3):  # each run appends two records; a file holds at most about one run
        result = run_cli("check", ALLOW, DENY, "--audit-log", str(path), "--rotate-bytes", "4000")
        assert result.returncode == 2, result.stderr
    from usepolicy.audit import log_files

    files = log_files(path)  # the archives, in chain order, then the file itself
    assert len(files) >= 3 and files[-1] == path
    assert all(f.stat().st_size <= 4000 for f in files)
    checked = run_cli("audit", "verify", str(path))
    assert checked.returncode == 0 and "6 records" in checked.stdout, checked.stdout
    wrong = run_cli("check", ALLOW, "--rotate-bytes", "4000")
    assert wrong.returncode == 1
    assert wrong.stderr == "usepolicy: --rotate-bytes and --rotate-every are for --audit-log FILE\n"
