"""The PostgreSQL audit store, against a real PostgreSQL server started for this module.

The server is a throwaway cluster (``pg_server.PgServer``, the Debian ``postgresql``
package's binaries). Where none can be started the tests skip, saying why, unless
``USEPOLICY_REQUIRE_POSTGRES=1`` (as in ``.ci/run``) turns that into a failure.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from usepolicy import AuditError, DecisionRecord, Enforcer, Engine
from usepolicy.audit import (
    PostgresSink,
    PostgresUnavailableError,
    Signer,
    collect_stats,
    export_db,
    init_db,
    query_db,
    verify_db,
    verify_log,
)
from usepolicy.audit.postgres._schema import display_url, is_db_url
from usepolicy.audit.postgres._sink import body_key

from ...conftest import REPO
from ..conftest import ALLOWED, DENIED
from ..pg_server import PgServer


def allowed(engine: Engine, **changes: Any) -> DecisionRecord:
    return engine.evaluate({**ALLOWED, **changes}).record()


def denied(engine: Engine) -> DecisionRecord:
    return engine.evaluate(DENIED).record()


def rows(server: PgServer, url: str, writer: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT seq, record, decision, prev_digest, record_digest FROM usepolicy_decisions "
            "WHERE writer_id = %s ORDER BY seq",
            (writer,),
        ).fetchall()


def fill(url: str, engine: Engine, writers: tuple[str, ...] = ("a", "b", "c"), n: int = 12) -> None:
    sinks = [PostgresSink(url, w) for w in writers]
    for i in range(n):
        for sink in sinks:
            sink.append(denied(engine) if i % 3 == 2 else allowed(engine))
    for sink in sinks:
        sink.close()


def tamper(server: PgServer, url: str, sql: str) -> None:
    """Run SQL as a superuser who switches the append-only trigger off first."""
    server.psql(f"SET session_replication_role = replica; {sql}", url.rsplit("/", 1)[1])


# -- without a server ------------------------------------------------------------------
def test_urls_are_recognised_and_passwords_masked() -> None:
    assert is_db_url("postgresql://gw@db/audit") and is_db_url("postgres://db/audit")
    assert not is_db_url("audit.jsonl") and not is_db_url("./postgresql://x")
    assert (
        display_url("postgresql://gw:s3cret@db:5432/audit") == "postgresql://gw:***@db:5432/audit"
    )
    assert display_url("postgresql://db/audit?user=gw&password=s3cret&sslmode=require") == (
        "postgresql://db/audit?user=gw&password=***&sslmode=require"
    )


def test_without_psycopg_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    for call in (
        lambda: PostgresSink("postgresql://db/audit", "gw-1"),
        lambda: verify_db("postgresql://db/audit"),
        lambda: init_db("postgresql://db/audit"),
    ):
        with pytest.raises(PostgresUnavailableError, match=r"pip install 'usepolicy\[postgres\]'"):
            call()


def test_a_bad_writer_id_is_refused() -> None:
    for bad in ("", "x" * 201, "tab\there"):
        with pytest.raises(ValueError, match="writer_id"):
            PostgresSink("postgresql://127.0.0.1:1/x", bad)


# -- schema ----------------------------------------------------------------------------
def test_init_db_is_idempotent_and_a_sink_checks_the_schema_version(
    server: PgServer, blank: str, engine: Engine
) -> None:
    with PostgresSink(blank, "gw-1", retry_interval=0) as sink:
        with pytest.raises(AuditError, match="run `usepolicy audit init-db URL`"):
            sink.append(allowed(engine))
        assert init_db(blank) == [1, 2, 3]
        assert init_db(blank) == []
        assert sink.append(allowed(engine)).prev_digest is None  # works once initialised
    tamper(server, blank, "INSERT INTO usepolicy_schema (version, description) VALUES (4, 'x')")
    with (
        PostgresSink(blank, "gw-1", retry_interval=0) as sink,
        pytest.raises(AuditError, match="newer than this usepolicy knows"),
    ):
        sink.append(allowed(engine))
    with pytest.raises(AuditError, match="newer"):
        init_db(blank)


def test_the_table_is_append_only_even_for_its_owner(server: PgServer, db: str, engine: Engine):
    import psycopg

    fill(db, engine, ("a",), 2)
    with psycopg.connect(db, autocommit=True) as conn:
        for sql in (
            "UPDATE usepolicy_decisions SET decision = 'deny'",
            "DELETE FROM usepolicy_decisions",
            "TRUNCATE usepolicy_decisions",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(sql)  # type: ignore[arg-type]
        # a retention job that says so may delete (see docs/fleet.md)
        with conn.transaction():
            conn.execute("SET LOCAL usepolicy.retention = 'on'")
            assert conn.execute("DELETE FROM usepolicy_decisions WHERE seq = 2").rowcount == 1


def test_the_gateway_role_may_insert_and_select_only(
    server: PgServer, blank: str, engine: Engine
) -> None:
    import psycopg

    init_db(blank, gateway_role="usepolicy_gateway")
    name = blank.rsplit("/", 1)[1]
    server.psql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gw_login') THEN "
        "CREATE ROLE gw_login LOGIN; END IF; END $$; GRANT usepolicy_gateway TO gw_login",
        name,
    )
    gateway_url = server.url(name, user="gw_login")
    with PostgresSink(gateway_url, "gw-1") as sink:
        first = sink.append(allowed(engine))
        assert sink.append(denied(engine)).prev_digest == first.record_digest
    with psycopg.connect(gateway_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM usepolicy_decisions").fetchone() == (2,)
        for sql in (
            "UPDATE usepolicy_decisions SET decision = 'allow'",
            "DELETE FROM usepolicy_decisions",
            "TRUNCATE usepolicy_decisions",
            "DELETE FROM usepolicy_schema",
            "SET session_replication_role = replica",  # only a superuser can skip triggers
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)  # type: ignore[arg-type]
    assert verify_db(gateway_url).ok


def test_commits_are_synchronous_even_where_the_database_says_otherwise(
    server: PgServer, db: str, engine: Engine
) -> None:
    import psycopg

    name = db.rsplit("/", 1)[1]
    server.psql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    with psycopg.connect(db) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
    with PostgresSink(db, "gw-1") as sink:
        sink.append(allowed(engine))
        assert sink._conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


# -- appending ----------------------------------------------------------------------------
def test_each_writer_has_its_own_chain_of_canonical_rows(
    server: PgServer, db: str, engine: Engine, tmp_path: Path
) -> None:
    with PostgresSink(db, "gw-a") as a, PostgresSink(db, "gw-b") as b:
        stored = [(a if i % 3 else b).append(allowed(engine)) for i in range(9)]
        assert (a.seq, b.seq) == (6, 3)
    for writer in ("gw-a", "gw-b"):
        found = rows(server, db, writer)
        assert [r[0] for r in found] == list(range(1, len(found) + 1))
        assert found[0][3] is None
        for before, after in itertools.pairwise(found):
            assert after[3] == before[4]
    by_digest = {r.record_digest: r for r in stored}
    for _seq, text, decision, _prev, digest in rows(server, db, "gw-a"):
        assert text == by_digest[digest].to_json() and decision == "allow"
    result = verify_db(db)
    assert result.ok and [(w.writer, w.count) for w in result.writers] == [("gw-a", 6), ("gw-b", 3)]

    # export: each chain, byte for byte, is a log that verify_log accepts
    with pytest.raises(ValueError, match=r"\{writer\}"):
        export_db(db, tmp_path / "all.jsonl")
    written = export_db(db, tmp_path / "{writer}.jsonl")
    assert [(w, p.name, n) for w, p, n in written] == [
        ("gw-a", "gw-a.jsonl", 6),
        ("gw-b", "gw-b.jsonl", 3),
    ]
    check = verify_log(tmp_path / "gw-a.jsonl")
    assert check.ok and check.count == 6 and check.head == result.writers[0].head
    (writer, path, count) = export_db(db, tmp_path / "b.jsonl", "gw-b")[0]
    assert verify_log(path).count == 3 == count


def test_eight_writers_with_500_records_each_concurrently(db: str, engine: Engine) -> None:
    records = [[denied(engine) if i % 4 == 0 else allowed(engine) for i in range(500)]
               for _ in range(8)]  # fmt: skip
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def write(number: int) -> None:
        try:
            with PostgresSink(db, f"gw-{number}") as sink:
                start.wait()
                for record in records[number]:
                    sink.append(record)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    result = verify_db(db)
    assert result.ok, str(result)
    assert [(w.writer, w.count) for w in result.writers] == [(f"gw-{n}", 500) for n in range(8)]
    total, matching = query_db(db, decision="deny", writer="gw-3")
    assert total == 4000
    assert sum(1 for _ in matching) == 125


def test_threads_sharing_one_sink_share_commits_and_one_chain(db: str, engine: Engine) -> None:
    stored: list[DecisionRecord] = []
    with PostgresSink(db, "gw-shared") as sink:

        def write() -> None:
            for _ in range(40):
                stored.append(sink.append(allowed(engine)))

        threads = [threading.Thread(target=write) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sink.seq == 320
    result = verify_db(db)
    assert result.ok and result.count == 320
    assert len({r.record_digest for r in stored}) == 320


def test_a_group_commit_is_one_copy_and_the_trigger_fills_the_tree(
    db: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appends waiting together go in as one COPY per transaction, chained in order;
    the row triggers fire for COPY, so the chain's tree is there (DESIGN.md: a batching
    writer)."""
    import psycopg

    from usepolicy.audit import checkpoint_db
    from usepolicy.tlog import NoteSigner, open_checkpoint

    copies: list[str] = []
    copy = psycopg.Cursor.copy

    def counted(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        copies.append(str(statement))
        return copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", counted)
    with PostgresSink(db, "gw-copy") as sink:
        start = threading.Barrier(8)

        def write() -> None:
            start.wait()
            for _ in range(25):
                sink.append(allowed(engine))

        threads = [threading.Thread(target=write) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert copies and all(c.startswith("COPY usepolicy_decisions") for c in copies)
    result = verify_db(db, "gw-copy")
    assert result.ok and result.count == 200, str(result)
    key = NoteSigner.generate("example.com/copy")
    checkpoint = open_checkpoint(checkpoint_db(db, "gw-copy", key), key.verifier()).checkpoint
    assert checkpoint.size == 200


def test_a_copy_batch_that_meets_a_moved_head_is_chained_again(db: str, engine: Engine) -> None:
    """A COPY batch refused by the primary key (another sink of the same writer id moved
    the head) is rolled back whole, chained after the new head, and sent again."""
    with PostgresSink(db, "gw-twice") as first, PostgresSink(db, "gw-twice") as second:
        first.append(allowed(engine))
        second.append(allowed(engine))  # the head moves under ``first``
        with first._cond:  # as if a commit were under way: the next appends queue up
            first._busy = True
        threads = [threading.Thread(target=first.append, args=(allowed(engine),)) for _ in range(6)]
        for thread in threads:
            thread.start()
        while len(first._queue) < 6:
            time.sleep(0.01)
        with first._cond:  # one of them now leads, with all six: one batch, one COPY
            first._pass_turn()
        for thread in threads:
            thread.join()
        assert first.seq == 8
    result = verify_db(db, "gw-twice")
    assert result.ok and result.count == 8, str(result)


def test_appends_queued_when_the_sink_closes_fail_and_return(db: str, engine: Engine) -> None:
    """Threads wait on their own ticket, not on a shared condition: closing the sink
    while appends are queued behind a commit answers each of them (no thread is left
    waiting for a leader)."""
    sink = PostgresSink(db, "gw-closing")
    sink.append(allowed(engine))
    with sink._cond:  # as if a commit were under way: the next appends queue up
        sink._busy = True
    errors: list[Exception] = []

    def append() -> None:
        try:
            sink.append(allowed(engine))
        except AuditError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append) for _ in range(3)]
    for thread in threads:
        thread.start()
    while len(sink._queue) < 3:
        time.sleep(0.01)
    closing = threading.Thread(target=sink.close)
    closing.start()
    while not sink._turn_waiters:
        time.sleep(0.01)
    with sink._cond:  # the commit under way ends: the turn goes to close, not to them
        sink._pass_turn()
    for thread in [*threads, closing]:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert len(errors) == 3 and all("closed" in str(e) for e in errors)
    with pytest.raises(AuditError, match="closed"):  # the turn is kept, nothing waits for it
        sink.replay()
    sink.close()  # twice: nothing left to do
    assert verify_db(db, "gw-closing").count == 1


def test_two_sinks_with_one_writer_id_keep_one_chain(db: str, engine: Engine) -> None:
    with PostgresSink(db, "gw-twice") as first, PostgresSink(db, "gw-twice") as second:
        for i in range(10):
            (first if i % 3 else second).append(allowed(engine))
    result = verify_db(db, "gw-twice")
    assert result.ok and result.count == 10


def test_signed_records_verify_with_the_key_only(db: str, engine: Engine) -> None:
    signer = Signer.generate()
    with PostgresSink(db, "gw-signed", signer=signer) as sink:
        stored = sink.append(allowed(engine))
    assert stored.signature is not None
    good = verify_db(db, public_key=signer.verifier())
    assert good.ok and good.signatures_checked and good.writers[0].signed == 1
    bad = verify_db(db, public_key=Signer.generate().verifier())
    assert bad.first_bad is not None and bad.first_bad.problem == "bad-signature"


# -- tampering by a superuser is found, and named by (writer, seq) --------------------------
TAMPERING = {
    "json edited": (
        "UPDATE usepolicy_decisions SET record = replace(record, '\"decision\":\"deny\"', "
        "'\"decision\":\"allow\"') WHERE writer_id = 'b' AND seq = 6",
        6, "edited", "does not match its record_digest",
    ),
    "column edited": (
        "UPDATE usepolicy_decisions SET decision = 'allow' WHERE writer_id = 'b' AND seq = 6",
        6, "edited", "column `decision` does not match the record",
    ),
    "row deleted": (
        "DELETE FROM usepolicy_decisions WHERE writer_id = 'b' AND seq = 7",
        7, "deleted", "seq 7 missing",
    ),
    "row deleted and the rest renumbered": (
        "DELETE FROM usepolicy_decisions WHERE writer_id = 'b' AND seq = 7; "
        "UPDATE usepolicy_decisions SET seq = seq - 1 WHERE writer_id = 'b' AND seq > 7",
        7, "deleted", "the record before it is missing",
    ),
    "first row deleted and the rest renumbered": (
        "DELETE FROM usepolicy_decisions WHERE writer_id = 'b' AND seq = 1; "
        "UPDATE usepolicy_decisions SET seq = seq - 1 WHERE writer_id = 'b'",
        1, "deleted", "from the start",
    ),
    "rows swapped": (
        "UPDATE usepolicy_decisions SET seq = 1004 WHERE writer_id = 'b' AND seq = 4; "
        "UPDATE usepolicy_decisions SET seq = 4 WHERE writer_id = 'b' AND seq = 5; "
        "UPDATE usepolicy_decisions SET seq = 5 WHERE writer_id = 'b' AND seq = 1004",
        4, "reordered", "chains to seq 5, which comes after it",
    ),
    "a row of another writer inserted": (
        "UPDATE usepolicy_decisions SET seq = seq + 100 WHERE writer_id = 'b' AND seq > 8; "
        "UPDATE usepolicy_decisions SET seq = seq - 99 WHERE writer_id = 'b' AND seq > 100; "
        "INSERT INTO usepolicy_decisions (writer_id, seq, prev_digest, record_digest, record, "
        "decision_id, ts, decision, determining_rule, purpose, organization, policy_digest) "
        "SELECT 'b', 9, prev_digest, record_digest || 'x', record, decision_id, ts, decision, "
        "determining_rule, purpose, organization, policy_digest FROM usepolicy_decisions "
        "WHERE writer_id = 'a' AND seq = 9",
        9, "inserted", "seq 9 not in the chain: seq 10 follows seq 8",
    ),
    "an integer beyond 2^53": (
        "UPDATE usepolicy_decisions SET record = replace(record, '\"tier\":2', "
        "'\"tier\":9007199254740993') WHERE writer_id = 'b' AND seq = 5",
        5, "bad-record", "beyond ±(2^53 - 1)",
    ),
    "nested 300 deep": (
        "UPDATE usepolicy_decisions SET record = replace(record, '\"tier\":2', "
        "'\"tier\":' || repeat('[', 300) || repeat(']', 300)) WHERE writer_id = 'b' AND seq = 5",
        5, "bad-record", "depth",
    ),
    "a timestamp that is not a time": (
        "UPDATE usepolicy_decisions SET record = replace(record, '\"timestamp\":\"', "
        "'\"timestamp\":\"x') WHERE writer_id = 'b' AND seq = 5",
        5, "bad-record", "timestamp: not an ISO 8601 time",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(TAMPERING), ids=list(TAMPERING))
def test_tampering_is_found_at_the_first_bad_row(
    server: PgServer, db: str, engine: Engine, case: str
) -> None:
    sql, seq, problem, words = TAMPERING[case]
    fill(db, engine)
    assert verify_db(db).ok
    tamper(server, db, sql)
    result = verify_db(db)
    assert not result.ok
    by_writer = {w.writer: w for w in result.writers}
    assert by_writer["a"].ok and by_writer["c"].ok and by_writer["a"].count == 12
    bad = by_writer["b"]
    assert (bad.seq, bad.problem) == (seq, problem), bad
    assert words in (bad.message or "")
    assert bad.count == seq - 1
    assert str(result).startswith(f"{display_url(db)}: writer `b` seq {seq}: {problem}: ")
    only = verify_db(db, writer="b")
    assert [(w.writer, w.seq, w.problem) for w in only.writers] == [("b", seq, problem)]
    if problem in ("bad-record", "edited") and "column" not in words:
        # `audit show` reads each row as verify does, and names the bad one
        with pytest.raises(AuditError, match=rf"writer `b` seq {seq}: {problem}: "):
            list(query_db(db)[1])


def test_stats_and_the_report_read_every_writer_once(
    server: PgServer, db: str, engine: Engine, tmp_path: Path
) -> None:
    fill(db, engine)  # writers a, b, c: 12 records each, every third a deny
    seen: list[tuple[str, int]] = []
    assert verify_db(db, visit=lambda writer, seq, record: seen.append((writer, seq))).ok
    assert seen == [(w, n) for w in "abc" for n in range(1, 13)]
    summary = collect_stats(db)
    assert summary.ok and summary.stats.kinds == [24, 12, 0]
    assert {key: entry.total for key, entry in summary.stats.writers.top()} == dict.fromkeys(
        "abc", 12
    )
    assert [row[0] for row in summary.stats.rows][11:13] == ["a:12", "b:1"]
    assert [row[2] for row in summary.stats.rows[:3]] == ["allow", "allow", "deny"]

    tamper(server, db, TAMPERING["json edited"][0])  # writer b, seq 6
    summary = collect_stats(db)
    assert not summary.ok and summary.stats.read == 12 + 5 + 12
    pytest.importorskip("matplotlib", reason="the report needs pip install 'usepolicy[report]'")
    from usepolicy.report import write_report

    page = tmp_path / "report.html"
    assert not write_report(db, page).ok
    html = page.read_text()
    assert "NOT VERIFIED: writer b seq 6: edited" in html
    assert "Writer a: 12 records" in html and "Writer b, seq 6: edited" in html


def test_an_anchor_catches_records_cut_off_the_end(server: PgServer, db: str, engine: Engine):
    fill(db, engine, ("a",), 5)
    head = verify_db(db).writers[0].head
    assert verify_db(db, "a", expect_head=head, expect_count=5).ok
    tamper(server, db, "DELETE FROM usepolicy_decisions WHERE seq = 5")
    assert verify_db(db).ok  # a shorter chain is still a chain
    cut = verify_db(db, "a", expect_head=head, expect_count=5).writers[0]
    assert (cut.problem, cut.seq) == ("truncated", 5)


# -- the database down: deny, spool, replay --------------------------------------------------
def test_an_unreachable_database_denies_and_spools_then_replays_in_order(
    db: str, engine: Engine, tmp_path: Path
) -> None:
    spool = tmp_path / "spool.jsonl"
    nowhere = "postgresql://postgres@127.0.0.1:1/nothing"
    with PostgresSink(nowhere, "gw-1", spool=spool, retry_interval=0) as sink:
        assert not sink.online
        guard = Enforcer(engine, audit_log=sink)
        answers = [guard.check(ALLOWED if i % 2 else DENIED) for i in range(5)]
    assert all(a.decision == "deny" and a.errors[-1].code == "audit-error" for a in answers)
    assert "kept in the spool" in answers[0].errors[-1].message
    assert verify_log(spool).count == 5

    with PostgresSink(db, "gw-1", spool=spool) as sink:  # replays when it connects
        assert not sink.spooled and sink.seq == 5
        later = sink.append(allowed(engine))
    assert not spool.exists() and len(list(tmp_path.glob("spool.jsonl.replayed-*"))) == 1
    _, found = query_db(db, writer="gw-1")
    stored = [record for _, _, record in found]
    assert [r.decision_id for r in stored] == [a.decision_id for a in answers] + [later.decision_id]
    # the replayed records are exactly the denies the gateway answered, chained anew
    assert [body_key(r.to_dict()) for r in stored[:5]] == [body_key(a.to_dict()) for a in answers]
    assert verify_db(db).ok

    # a replay cut off before the spool was moved aside is not stored twice
    replayed = next(tmp_path.glob("spool.jsonl.replayed-*"))
    shutil.copy(replayed, spool)
    with PostgresSink(db, "gw-1", spool=spool) as sink:
        assert not sink.spooled and sink.seq == 6
    assert verify_db(db).count == 6


def test_a_damaged_spool_is_not_replayed(db: str, engine: Engine, tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    with PostgresSink("postgresql://127.0.0.1:1/x", "gw-1", spool=spool) as sink:
        for _ in range(3):
            with pytest.raises(AuditError):
                sink.append(allowed(engine))
    lines = spool.read_bytes().splitlines(keepends=True)
    spool.write_bytes(lines[0] + lines[2])
    with PostgresSink(db, "gw-1", spool=spool) as sink:
        assert sink.spooled
        with pytest.raises(AuditError, match="not replayed until it is repaired"):
            sink.append(allowed(engine))
    assert verify_db(db).writers == ()


def test_the_server_stopped_mid_stream(
    server: PgServer, db: str, engine: Engine, tmp_path: Path
) -> None:
    """Denies while the server is down, then the spool is replayed: every decision is in
    the database once, in the order it was made."""
    spool = tmp_path / "spool.jsonl"
    sink = PostgresSink(db, "gw-outage", spool=spool, timeout=5, retry_interval=0.05)
    guard = Enforcer(engine, audit_log=sink)
    answers: list[DecisionRecord] = []
    down, up, done = threading.Event(), threading.Event(), threading.Event()
    after_up: list[DecisionRecord] = []

    def gateway() -> None:
        while not (up.is_set() and len(after_up) >= 40):
            answer = guard.check(DENIED if len(answers) % 4 == 0 else ALLOWED)
            answers.append(answer)
            if up.is_set():
                after_up.append(answer)
            time.sleep(0.002)
        done.set()

    thread = threading.Thread(target=gateway)
    thread.start()
    try:
        while len(answers) < 60:
            time.sleep(0.01)
        server.stop()
        down.set()
        mark = len(answers)
        while len(answers) < mark + 30:
            time.sleep(0.01)
    finally:
        server.start()
        up.set()
        thread.join(120)
    assert done.is_set()
    sink.close()

    failed = [a for a in answers if a.errors and a.errors[-1].code == "audit-error"]
    assert len(failed) >= 30
    assert all(a.decision == "deny" for a in failed)  # no durable record, no allow
    assert not sink.spooled and not spool.exists()
    assert any(a.allowed for a in after_up)  # allowing again once the database is back
    result = verify_db(db)
    assert result.ok and result.count == len(answers), str(result)
    _, found = query_db(db, writer="gw-outage")
    stored = sorted((seq, record) for _, seq, record in found)
    assert [r.decision_id for _, r in stored] == [a.decision_id for a in answers]
    for (_, record), answer in zip(stored, answers, strict=True):
        assert body_key(record.to_dict()) == body_key(answer.to_dict())


# -- the command line ----------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "usepolicy", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_the_command_line(server: PgServer, blank: str, tmp_path: Path) -> None:
    init = _cli("audit", "init-db", blank, "--gateway-role")
    assert init.returncode == 0, init.stderr
    assert "schema version 3" in init.stdout and "usepolicy_gateway" in init.stdout
    requests = [str(REPO / "examples/requests" / name) for name in
                ("foreign_intercept_translation.json", "broker_location_data.json")]  # fmt: skip
    check = _cli("check", *requests, "--audit-db", blank, "--writer-id", "gw-cli")
    assert check.returncode == 2, check.stderr
    assert check.stdout.count(f"logged: {blank}") == 2

    verify = _cli("audit", "verify", blank)
    assert verify.returncode == 0, verify.stderr
    assert "ok: 1 writer, 2 records" in verify.stdout and "gw-cli: 2 records" in verify.stdout
    show = _cli("audit", "show", blank, "--decision", "deny")
    assert show.returncode == 0, show.stderr
    assert "gw-cli  2    " in show.stdout and "1 of 2 records" in show.stdout
    for rule, decisions in (
        ("no-mass-domestic-surveillance", ["deny"]),
        ("intelligence", ["allow", "deny"]),
    ):  # decided, or matched
        as_json = _cli("audit", "show", blank, "--format", "json", "--rule", rule)
        assert [json.loads(line)["decision"] for line in as_json.stdout.splitlines()] == decisions

    out = tmp_path / "fleet.jsonl"
    export = _cli("audit", "export", blank, "-o", str(out))
    assert export.returncode == 0, export.stderr
    assert _cli("audit", "verify", str(out)).returncode == 0

    tamper(server, blank, "UPDATE usepolicy_decisions SET record = record || ' ' WHERE seq = 2")
    bad = _cli("audit", "verify", blank, "--format", "json")
    assert bad.returncode == 1
    assert "writer `gw-cli` seq 2: edited: the line is not the canonical JSON" in bad.stderr
    assert json.loads(bad.stdout)["writers"][0]["seq"] == 2

    down = _cli("check", requests[0], "--audit-db", "postgresql://postgres@127.0.0.1:1/x")
    assert down.returncode == 1 and "cannot connect" in down.stderr and not down.stdout
    spooled = _cli("check", requests[0], "--audit-db", "postgresql://postgres@127.0.0.1:1/x",
                   "--spool", str(tmp_path / "spool.jsonl"))  # fmt: skip
    assert spooled.returncode == 1 and "DENY because the decision could not be logged" in (
        spooled.stdout
    )
    assert verify_log(tmp_path / "spool.jsonl").count == 1


def test_open_sink_opens_a_database(db: str, engine: Engine, tmp_path: Path) -> None:
    from usepolicy.audit import open_sink

    sink = open_sink(db, writer_id="gw-open")
    assert isinstance(sink, PostgresSink) and sink.online
    with sink:
        assert sink.append(allowed(engine)).prev_digest is None
    assert verify_db(db).ok
    down = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1"
    with pytest.raises(AuditError):  # unreachable, and no spool to keep the denies
        open_sink(down, writer_id="gw-down", timeout=1)
    spooled = open_sink(down, writer_id="gw-down", spool=tmp_path / "spool.jsonl", timeout=1)
    assert isinstance(spooled, PostgresSink) and not spooled.online
    spooled.close()


def test_outcome_records_go_into_the_writers_chain_by_every_path(
    server: PgServer, db: str, engine: Engine, tmp_path: Path
) -> None:
    """``store``, ``astore`` (a body or a function, batched into a COPY by the writer
    thread) and the ``Enforcer`` put outcome records after their decisions in one chain,
    which verifies, exports byte for byte as a log ``verify_log`` accepts, and counts
    them as ``audit stats`` does for a file."""
    import asyncio

    from usepolicy.record import OutcomeRecord, outcome_draft

    async def outcomes_of(sink: PostgresSink, ids: list[str]) -> list[Any]:
        drafts = [outcome_draft(i, "upstream-error", status=502) for i in ids]
        given = [d if n % 2 else (lambda d=d: d) for n, d in enumerate(drafts)]
        return list(await asyncio.gather(*(sink.astore(g) for g in given)))

    with PostgresSink(db, "gw-outcome", retry_interval=0) as sink:
        decision = sink.append(allowed(engine))
        first = sink.store(outcome_draft(decision.decision_id, "executed", status=200))
        assert first.body["prev_digest"] == decision.record_digest
        decisions = [sink.append(allowed(engine)) for _ in range(6)]
        batches = sink._writer.batches
        stored = asyncio.run(outcomes_of(sink, [d.decision_id for d in decisions]))
        assert sink._writer.batches - batches < 6  # some went in one COPY together
        guard = Enforcer(engine, audit_log=sink)
        refused = guard.record_outcome(decision.decision_id, "refused", errors=[
            {"code": "obligation-unmet", "message": "no handler"}])  # fmt: skip
        later = asyncio.run(guard.arecord_outcome(decision.decision_id, "executed", status=200))
        assert isinstance(refused, OutcomeRecord) and later.prev_digest == refused.record_digest
    assert len(stored) == 6

    result = verify_db(db, "gw-outcome")
    assert result.ok and result.count == 1 + 1 + 6 + 6 + 2, str(result)
    import psycopg

    with psycopg.connect(db) as conn:
        kinds = conn.execute(
            "SELECT outcome, count(*), count(decision), count(policy_digest) "
            "FROM usepolicy_decisions GROUP BY outcome ORDER BY outcome NULLS FIRST"
        ).fetchall()
    assert kinds == [(None, 7, 7, 7), ("executed", 2, 0, 0), ("refused", 1, 0, 0),
                     ("upstream-error", 6, 0, 0)]  # fmt: skip

    exported = tmp_path / "gw-outcome.jsonl"
    assert export_db(db, exported, "gw-outcome") == [("gw-outcome", exported, 16)]
    lines = [row[1].encode() + b"\n" for row in rows(server, db, "gw-outcome")]
    assert exported.read_bytes() == b"".join(lines)
    assert b'"record_kind":"outcome"' in lines[1]
    assert verify_log(exported).ok and verify_log(exported).count == 16
    in_db, in_file = collect_stats(db).stats.outcomes, collect_stats(exported).stats.outcomes
    assert in_db == in_file == {"executed": 2, "refused": 1, "upstream-error": 6}

    # a row is one kind or the other, and its columns are checked against its record
    with psycopg.connect(db, autocommit=True) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO usepolicy_decisions SELECT writer_id, 99, prev_digest, "
                     "'x', record, decision_id, ts, 'allow', NULL, NULL, NULL, NULL, now(), "
                     "'executed' FROM usepolicy_decisions WHERE seq = 2")  # fmt: skip
    tamper(server, db, "UPDATE usepolicy_decisions SET outcome = 'refused' "
           "WHERE writer_id = 'gw-outcome' AND seq = 2")  # fmt: skip
    broken = verify_db(db, "gw-outcome")
    assert (broken.first_bad.seq, broken.first_bad.problem) == (2, "edited"), str(broken)
    assert "column `outcome` does not match the record" in str(broken)


def test_an_outcome_record_waits_in_the_spool_as_it_is(
    db: str, engine: Engine, tmp_path: Path
) -> None:
    from usepolicy.record import outcome_draft

    spool = tmp_path / "spool.jsonl"
    with PostgresSink(db, "gw-1", spool=spool) as sink:
        decision = sink.append(allowed(engine))
    draft = outcome_draft(decision.decision_id, "executed", status=200)
    nowhere = "postgresql://postgres@127.0.0.1:1/nothing"
    with (
        PostgresSink(nowhere, "gw-1", spool=spool, retry_interval=0) as sink,
        pytest.raises(AuditError, match="the outcome record is kept in the spool"),
    ):
        sink.store(draft)
    (kept,) = [json.loads(line) for line in spool.read_bytes().splitlines()]
    assert kept["record_kind"] == "outcome" and kept["outcome"] == "executed"
    assert kept["errors"] == [] and kept["timestamp"] == draft.body["timestamp"]
    with PostgresSink(db, "gw-1", spool=spool) as sink:  # replayed after its decision
        assert sink.seq == 2
    assert body_key(json.loads(rows_of(db, "gw-1")[-1])) == body_key(kept)
    assert verify_db(db, "gw-1").ok


def rows_of(url: str, writer: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT record FROM usepolicy_decisions WHERE writer_id = %s ORDER BY seq", (writer,)
        ).fetchall()
    return [row[0] for row in found]


def test_a_thousand_tasks_share_copies_and_a_spooled_deny_is_the_one_answered(
    db: str, engine: Engine, tmp_path: Path
) -> None:
    """``acheck`` on a PostgreSQL sink: the sink's writer thread stores the waiting
    tasks' records in a few COPY batches, one chain; with the database down, each task
    gets the deny that is in the spool (same id), and the spool replays in order."""
    import asyncio

    async def many(guard: Enforcer, n: int) -> list[DecisionRecord]:
        return list(await asyncio.gather(*(guard.acheck(ALLOWED) for _ in range(n))))

    with PostgresSink(db, "gw-async") as sink:
        records = asyncio.run(many(Enforcer(engine, audit_log=sink), 1000))
        batches = sink._writer.batches
    assert all(r.decision == "allow" for r in records)
    assert batches < 1000
    result = verify_db(db, "gw-async")
    assert result.ok and result.count == 1000, str(result)

    spool = tmp_path / "spool.jsonl"
    nowhere = "postgresql://postgres@127.0.0.1:1/nothing"
    with PostgresSink(nowhere, "gw-down", spool=spool, retry_interval=0) as sink:
        answers = asyncio.run(many(Enforcer(engine, audit_log=sink), 5))
    assert all(
        a.decision == "deny" and "kept in the spool" in a.errors[-1].message for a in answers
    )
    with PostgresSink(db, "gw-down", spool=spool) as sink:
        assert sink.seq == 5
    _, found = query_db(db, writer="gw-down")
    assert sorted(r.decision_id for _, _, r in found) == sorted(a.decision_id for a in answers)
