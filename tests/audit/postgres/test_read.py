"""Reading the store out answers a filter as a file log does: ``query_db`` and
``audit show URL`` list the records that ``RecordFilter`` picks from the same records
in a file, in the same order, with the same rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from usepolicy import Engine
from usepolicy.audit import AuditLog, PostgresSink, RecordFilter, query_db, read_records

from ...conftest import RunCli
from ..test_filter import T0, records, shadow_records

FILTERS = [
    RecordFilter(),
    RecordFilter(decision="deny"),
    RecordFilter(rule="intelligence"),
    RecordFilter(rule="no-mass-domestic-surveillance", since=T0 + timedelta(hours=2)),
    RecordFilter(until=datetime(2026, 11, 22, 20, 0)),  # naive: UTC
    RecordFilter(decision="allow", since=T0, until=T0 + timedelta(hours=3)),
]


@pytest.fixture
def both(db: str, engine: Engine, tmp_path: Path) -> tuple[str, Path]:
    """The same six records in the database (one writer) and in a file log."""
    log = tmp_path / "audit.jsonl"
    with PostgresSink(db, "gw-1") as sink, AuditLog(log, durability="none") as file:
        for record in records(engine):
            sink.append(record)
            file.append(record)
    return db, log


@pytest.mark.parametrize("chosen", FILTERS, ids=repr)
def test_the_store_and_a_file_answer_a_filter_alike(
    both: tuple[str, Path], chosen: RecordFilter
) -> None:
    db, log = both
    in_file = [r.decision_id for _, r in read_records(log) if chosen.matches(r)]
    total, matching = query_db(
        db, decision=chosen.decision, rule=chosen.rule, since=chosen.since, until=chosen.until
    )
    assert total == 6
    assert [r.decision_id for _, _, r in matching] == in_file


def test_audit_show_prints_the_same_rows_for_both(both: tuple[str, Path], run_cli: RunCli) -> None:
    db, log = both
    args = ["--decision", "deny", "--since", (T0 + timedelta(hours=2)).isoformat()]
    from_file = run_cli("audit", "show", str(log), *args)
    from_db = run_cli("audit", "show", db, *args)
    assert from_file.returncode == from_db.returncode == 0, from_file.stderr + from_db.stderr
    file_rows = from_file.stdout.splitlines()
    db_rows = from_db.stdout.splitlines()
    assert file_rows[-1] == db_rows[-1] == "2 of 6 records"
    # the same columns after where each row is: line, or writer and seq
    assert [r.split()[1:] for r in file_rows[1:-1]] == [r.split()[2:] for r in db_rows[1:-1]]
    assert [r.split()[:2] for r in db_rows[1:-1]] == [["gw-1", "4"], ["gw-1", "6"]]
    assert [r.split()[0] for r in file_rows[1:-1]] == ["4", "6"]


def test_a_dryrun_rule_picks_the_same_records_in_the_store(
    db: str, tmp_path: Path, run_cli: RunCli
) -> None:
    log = tmp_path / "audit.jsonl"
    with PostgresSink(db, "gw-shadow") as sink, AuditLog(log, durability="none") as file:
        for record in shadow_records():
            sink.append(record)
            file.append(record)
    in_file = [r.decision_id for _, r in read_records(log) if RecordFilter(rule="trial").matches(r)]
    _, matching = query_db(db, rule="trial", writer="gw-shadow")
    assert [r.decision_id for _, _, r in matching] == in_file and len(in_file) == 1
    shown = run_cli("audit", "show", str(log), "--rule", "trial")
    assert shown.returncode == 0, shown.stderr
    assert "general [dry run: trial]" in shown.stdout and shown.stdout.endswith("1 of 2 records\n")


def test_outcome_rows_are_shown_as_the_file_log_shows_them(
    db: str, engine: Engine, tmp_path: Path, run_cli: RunCli
) -> None:
    from usepolicy.record import outcome_draft

    log = tmp_path / "audit.jsonl"
    with PostgresSink(db, "gw-1") as sink, AuditLog(log, durability="none") as file:
        for hour, record in enumerate(records(engine)[:3]):
            stored = sink.append(record)
            file.append(record)
            draft = outcome_draft(stored.decision_id, "upstream-error", status=502,
                                  now=T0 + timedelta(hours=hour, minutes=5))  # fmt: skip
            sink.store(draft)
            file.store(draft)
    from_file = run_cli("audit", "show", str(log))
    from_db = run_cli("audit", "show", db)
    assert from_file.returncode == from_db.returncode == 0, from_file.stderr + from_db.stderr
    file_rows, db_rows = from_file.stdout.splitlines(), from_db.stdout.splitlines()
    assert file_rows[-1] == db_rows[-1] == "6 of 6 records"
    outcome_rows = [r for r in db_rows if "upstream-error" in r]
    assert len(outcome_rows) == 3 and all("outcome" in r and "502" in r for r in outcome_rows)
    # the same columns after where each row is: line, or writer and seq
    assert [r.split()[1:] for r in file_rows[1:-1]] == [r.split()[2:] for r in db_rows[1:-1]]
    # a filter on the decision leaves the outcome records out, in both
    _, matching = query_db(db, decision="allow")
    in_file = [r.decision_id for _, r in read_records(log) if RecordFilter("allow").matches(r)]
    assert [r.decision_id for _, _, r in matching] == in_file
    # and the filters on kind, outcome and decision id pick the same records in both
    first = next(r for _, r in read_records(log)).decision_id
    for options in ({"kind": "outcome"}, {"kind": "decision"}, {"outcome": "upstream-error"},
                    {"decision_id": first}, {"outcome": "refused"}):  # fmt: skip
        _, matching = query_db(db, **options)
        chosen = RecordFilter(**options)
        in_file = [r.record_digest for _, r in read_records(log) if chosen.matches(r)]
        assert [r.record_digest for _, _, r in matching] == in_file, options
        assert bool(in_file) == (options != {"outcome": "refused"}), options
