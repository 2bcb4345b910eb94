"""Without psycopg (the ``[postgres]`` extra) the PostgreSQL store is a room that says
what to install: importing ``usepolicy.audit.postgres`` raises
``PostgresUnavailableError``; ``usepolicy.audit`` and file logs work as before; every
database action of the CLI ends in one line naming the extra, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from usepolicy.audit import display_url, is_db_url

REPO = Path(__file__).resolve().parents[2]
HINT = "pip install 'usepolicy[postgres]'"
_NO_PSYCOPG = "import sys; sys.modules['psycopg'] = None\n"  # import psycopg raises


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _NO_PSYCOPG + code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_the_store_is_import_guarded() -> None:
    result = _python(
        "try:\n"
        "    import usepolicy.audit.postgres\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    assert result.stdout.strip() == (
        "PostgresUnavailableError the PostgreSQL audit store needs psycopg 3: " + HINT
    ), result.stderr


def test_audit_and_file_logs_need_no_driver(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    result = _python(
        "import usepolicy, usepolicy.audit as audit\n"
        f"sink = audit.open_sink({str(log)!r})\n"
        "engine = usepolicy.Engine(usepolicy.load_policy())\n"
        "sink.append(engine.evaluate({'requester': {'organization': 'A'},"
        " 'purpose': 'cyber.defense'}).record())\n"
        "sink.close()\n"
        f"print(audit.verify_log({str(log)!r}).ok, 'usepolicy.audit.postgres' in sys.modules)\n"
        "try:\n"
        "    audit.PostgresSink\n"
        "except audit.PostgresUnavailableError as exc:\n"
        "    print('guarded')\n"
    )
    assert result.stdout.split() == ["True", "False", "guarded"], result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "verify", "postgresql://u@localhost/db"],
        ["audit", "show", "postgresql://u@localhost/db"],
        ["audit", "init-db", "postgresql://u@localhost/db"],
        ["audit", "export", "postgresql://u@localhost/db", "-o", "out.jsonl"],
        ["audit", "prove", "postgresql://u@localhost/db", "--index", "0"],
        [
            "check",
            "--audit-db",
            "postgresql://u@localhost/db",
            "examples/requests/network_defense.json",
        ],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_each_database_action_says_what_to_install(args: list[str]) -> None:
    result = _python(f"from usepolicy.cli import main\nraise SystemExit(main({args!r}))\n")
    assert result.returncode == 1, result.stdout + result.stderr
    assert HINT in result.stderr
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr


def test_urls_are_told_and_shown_without_the_driver() -> None:
    assert is_db_url("postgresql://a/b") and is_db_url("postgres://a/b")
    assert not is_db_url("audit.jsonl")
    assert display_url("postgresql://u:secret@h/db?password=x") == (
        "postgresql://u:***@h/db?password=***"
    )
