"""``usepolicy lint`` through the real entry point."""

from __future__ import annotations

from pathlib import Path

from ..conftest import RunCli

NSS = "policies/national-security-safeguards.yaml"
ALU = "policies/any-lawful-use.yaml"


def test_lint_warnings_and_exit_codes(run_cli: RunCli, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "usepolicy: 1\nname: p\ncombine: first-match\nlists:\n  spare: [a]\nrules:\n"
        "  - id: all-weapons\n    effect: deny\n    reason: r\n"
        "    when: {purpose: {under: weapons}}\n"
        "  - id: engagement\n    effect: allow\n    reason: r\n"
        "    when: {purpose: weapons.engagement}\n"
    )
    result = run_cli("lint", "p.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "usepolicy: p.yaml:5:3: unused-list: list `spare` is never used "
        "(no `in_list: spare`, no `{list: spare}`)",
        "usepolicy: p.yaml:11:5: shadowed-rule: rule `engagement` never decides: every request "
        "it matches is decided by an earlier rule (`all-weapons`)",
    ]
    clean = run_cli("lint", NSS, ALU)
    assert clean.returncode == 0, clean.stdout
    assert clean.stdout.count("ok: no warnings") == 2
    helptext = " ".join(run_cli("lint", "--help").stdout.split())
    assert "Exit 0 without warnings, 1 with warnings, 3 when a policy is invalid" in helptext
