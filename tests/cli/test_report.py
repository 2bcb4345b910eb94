"""``usepolicy audit report`` and ``usepolicy audit stats`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from usepolicy.audit import Signer, generate_keypair

from ..conftest import RunCli
from ..report.sample import write_sample
from .conftest import Grow


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("cli") / "audit.jsonl", count=24)


@pytest.fixture
def tampered(sample: Path, tmp_path: Path) -> Path:
    lines = sample.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"decision":"deny"', b'"decision":"allow"')
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def test_stats_prints_the_figures(run_cli: RunCli, sample: Path):
    result = run_cli("audit", "stats", str(sample))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"{sample}: chain verified: 24 records\n")
    assert "time span: 2026-03-02T08:00:00Z .. 2026-03-03T02:01:00Z" in out
    assert "decisions: 10 allow, 10 deny, 4 invalid" in out
    assert "determining rules:\n" in out and "no-mass-domestic-surveillance" in out
    assert (
        "  law_enforcement  " in out and "    law_enforcement.investigation  2 allow, 2 deny" in out
    )
    assert "minimize-incidental-domestic-data  2 allow" in out
    assert "unknown-purpose  2 invalid" in out
    denies = out[out.index("denies (rule or error code, then its reason; reference):\n") :]
    assert "  no-mass-domestic-surveillance           2 deny\n      AI analysis of bulk" in denies
    assert "; exclusion 1: mass domestic surveillance\n" in denies


def test_stats_json_is_the_summary(run_cli: RunCli, sample: Path):
    result = run_cli("audit", "stats", str(sample), "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["integrity"]["ok"] and body["integrity"]["count"] == 24
    assert body["stats"]["decisions"] == {"allow": 10, "deny": 10, "invalid": 4}
    orgs = {e["organization"]: e["total"] for e in body["stats"]["organizations"]["entries"]}
    assert orgs["Logistics Agency"] == 4


def test_stats_window(run_cli: RunCli, sample: Path):
    result = run_cli("audit", "stats", str(sample), "--format", "json",
                     "--since", "2026-03-02T09:00", "--until", "2026-03-02T10:00:00Z")  # fmt: skip
    body = json.loads(result.stdout)["stats"]
    assert (body["read"], body["counted"], body["first"]) == (24, 1, "2026-03-02T09:34:00Z")
    bad = run_cli("audit", "stats", str(sample), "--since", "tuesday")
    assert bad.returncode == 1 and "not an ISO 8601 time: `tuesday`" in bad.stderr


def test_report_writes_the_page(run_cli: RunCli, sample: Path, tmp_path: Path):
    out = tmp_path / "report.html"
    result = run_cli("audit", "report", str(sample), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{out}: report on 24 records, chain verified\n"
    page = out.read_text()
    assert "Chain verified: 24 records" in page and page.count("<svg ") == 6


def test_a_tampered_log_exits_1_naming_the_line(run_cli: RunCli, tampered: Path, tmp_path: Path):
    out = tmp_path / "report.html"
    result = run_cli("audit", "report", str(tampered), "-o", str(out))
    assert result.returncode == 1
    assert result.stdout == f"{out}: report on 1 record, chain NOT VERIFIED\n"
    assert result.stderr == (f"usepolicy: {tampered}:2: edited: the content does not match its "
                             "record_digest (1 good record before it)\n")  # fmt: skip
    assert "NOT VERIFIED: line 2: edited" in out.read_text()
    stats = run_cli("audit", "stats", str(tampered))
    assert stats.returncode == 1 and stats.stdout.startswith(f"{tampered}:2: edited: ")


def test_signatures_are_checked_with_key(run_cli: RunCli, tmp_path: Path):
    _, private, public = generate_keypair(tmp_path / "k.key")
    log = write_sample(tmp_path / "signed.jsonl", count=5, signer=Signer.from_file(private))
    good = run_cli("audit", "stats", str(log), "--key", str(public))
    assert good.returncode == 0 and "signatures: 5 signed, checked" in good.stdout
    _, _, other = generate_keypair(tmp_path / "other.key")
    out = tmp_path / "r.html"
    bad = run_cli("audit", "report", str(log), "-o", str(out), "--key", str(other))
    assert bad.returncode == 1 and f"{log}:1: bad-signature: signed with key" in bad.stderr
    assert "NOT VERIFIED: line 1: bad-signature" in out.read_text()
    nokey = run_cli("audit", "stats", str(log), "--key", str(tmp_path / "nope.pub"))
    assert nokey.returncode == 1 and "cannot read the key" in nokey.stderr


def test_errors_are_one_line(run_cli: RunCli, tmp_path: Path, sample: Path):
    missing = run_cli("audit", "stats", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "cannot read" in missing.stderr
    no_output = run_cli("audit", "report", str(sample))
    assert no_output.returncode == 1 and "-o/--output" in no_output.stderr
    folder = tmp_path / "dir.html"
    folder.mkdir()
    unwritable = run_cli("audit", "report", str(sample), "-o", str(folder))
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr
    assert not list(tmp_path.glob(".*partial"))


def test_values_from_the_log_cannot_forge_lines_or_drive_the_terminal(
    run_cli: RunCli, tmp_path: Path
):
    from usepolicy.audit import AuditLog

    from ..report.sample import records

    path = tmp_path / "audit.jsonl"
    forged = "Evil Corp\ndecisions: 0 allow\x1b[2J\u202e"
    with AuditLog(path, durability="none") as log:
        for record in records(1):
            request = {**record.request, "requester": {"organization": forged}}
            log.append(record.model_copy(update={"request": request}))
    out = run_cli("audit", "stats", str(path)).stdout
    assert "Evil Corp\\ndecisions: 0 allow\\x1b[2J\\u202e  1 allow" in out
    assert "\x1b" not in out
    assert [line for line in out.splitlines() if line.startswith("decisions:")] == [
        "decisions: 1 allow, 0 deny, 0 invalid"
    ]


def _receipt(log: Path, log_key: Path, tmp_path: Path) -> Path:
    from usepolicy.audit import checkpoint_log
    from usepolicy.tlog import NoteSigner

    receipt = tmp_path / "receipt"
    receipt.write_text(checkpoint_log(log, NoteSigner.from_file(log_key)).format())
    return receipt


def test_a_checkpoint_that_holds_anchors_the_end(
    run_cli: RunCli, small_log: Path, log_key: Path, tmp_path: Path, grow: Grow
):
    receipt = _receipt(small_log, log_key, tmp_path)
    grow(small_log, 2)  # the log went on after the receipt was kept
    anchor = ["--checkpoint", str(receipt), "--key", f"{log_key}.pub"]
    out = tmp_path / "report.html"
    made = run_cli("audit", "report", str(small_log), "-o", str(out), *anchor)
    assert made.returncode == 0, made.stderr
    page = out.read_text("utf-8")
    assert "Checkpoint: example.com/audit, 4 records, root " in page
    assert "not anchored" not in page and 'class="integrity bad"' not in page
    stats = run_cli("audit", "stats", str(small_log), "--format", "json", *anchor)
    assert stats.returncode == 0, stats.stderr
    body = json.loads(stats.stdout)
    assert body["ok"] and body["checkpoint"]["ok"] and body["checkpoint"]["size"] == 4
    text = run_cli("audit", "stats", str(small_log), *anchor)
    assert "  checkpoint: example.com/audit, 4 records, holds\n" in text.stdout


def test_records_cut_off_the_end_are_named_at_the_top(
    run_cli: RunCli, small_log: Path, log_key: Path, tmp_path: Path
):
    receipt = _receipt(small_log, log_key, tmp_path)
    lines = small_log.read_bytes().splitlines(keepends=True)
    small_log.write_bytes(b"".join(lines[:-1]))  # the chain still holds: only a receipt shows
    assert run_cli("audit", "verify", str(small_log)).returncode == 0
    anchor = ["--checkpoint", str(receipt), "--key", f"{log_key}.pub"]
    out = tmp_path / "report.html"
    made = run_cli("audit", "report", str(small_log), "-o", str(out), *anchor)
    assert made.returncode == 1
    assert made.stderr.count("\n") == 1 and ":4: truncated: " in made.stderr
    page = out.read_text("utf-8")
    top = page[page.index('<section id="integrity"') :][:1000]
    assert 'class="integrity bad"' in top
    assert '<p class="verdict">NOT VERIFIED: record 4: truncated' in top
    stats = run_cli("audit", "stats", str(small_log), "--format", "json", *anchor)
    assert stats.returncode == 1
    body = json.loads(stats.stdout)
    assert not body["ok"] and body["integrity"]["ok"]
    assert (body["checkpoint"]["problem"], body["checkpoint"]["line"]) == ("truncated", 4)


def test_a_note_key_needs_a_checkpoint_and_a_checkpoint_a_note_key(
    run_cli: RunCli, small_log: Path, log_key: Path, tmp_path: Path
):
    alone = run_cli("audit", "stats", str(small_log), "--key", f"{log_key}.pub")
    assert alone.returncode == 1 and "is for checking a --checkpoint" in alone.stderr
    receipt = _receipt(small_log, log_key, tmp_path)
    keyless = run_cli("audit", "stats", str(small_log), "--checkpoint", str(receipt))
    assert keyless.returncode == 1 and "needs the log's verifier key" in keyless.stderr


def test_stats_and_report_count_outcome_records(run_cli: RunCli, tmp_path: Path):
    from ..audit.test_verify import _mixed_log

    log = tmp_path / "gateway.jsonl"
    _mixed_log(log)
    result = run_cli("audit", "stats", str(log))
    assert result.returncode == 0, result.stderr
    assert f"{log}: chain verified: 3 records" in result.stdout
    assert "decisions: 1 allow, 1 deny, 0 invalid" in result.stdout
    assert "outcomes: 1 executed" in result.stdout
    body = json.loads(run_cli("audit", "stats", str(log), "--format", "json").stdout)
    assert body["stats"]["outcomes"] == {"executed": 1}
    assert body["stats"]["outcome_statuses"]["entries"][0]["status"] == "200"
    page = tmp_path / "report.html"
    result = run_cli("audit", "report", str(log), "-o", str(page))
    assert result.returncode == 0, result.stderr
    assert page.stat().st_size > 0
