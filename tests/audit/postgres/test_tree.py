"""Each writer chain of the PostgreSQL store as a transparency log: the tree the trigger
keeps is the RFC 9162 tree of the chain, whatever inserts the rows; checkpoints, proofs,
and checking a chain against a checkpoint."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from usepolicy import DecisionRecord, Engine
from usepolicy.audit import (
    AuditLog,
    PostgresSink,
    Signer,
    checkpoint_db,
    export_db,
    find_decision_db,
    init_db,
    prove_consistency_db,
    prove_inclusion_db,
    verify_checkpoint_db,
    verify_db,
)
from usepolicy.audit.postgres._schema import row_values
from usepolicy.tlog import NoteSigner, leaf_hash, open_checkpoint

from ...conftest import REPO
from ...tlog.reference import mth
from ..conftest import ALLOWED, DENIED
from ..pg_server import PgServer
from .old import old_store

LOG_KEY = NoteSigner.generate("example.com/fleet")


def append(url: str, engine: Engine, writer: str, n: int, signer: Signer | None = None) -> None:
    with PostgresSink(url, writer, signer=signer) as sink:
        for i in range(n):
            sink.append(engine.evaluate(DENIED if i % 3 == 2 else ALLOWED).record())


def chain(url: str, writer: str, tmp: Path) -> list[bytes]:
    """The writer's records, as the lines of an export."""
    out = tmp / f"{writer}.jsonl"
    export_db(url, out, writer)
    return out.read_bytes().splitlines()


def superuser(server: PgServer, url: str, sql: str) -> None:
    """SQL as a superuser with every trigger off (the append-only guard and the tree's)."""
    server.psql(f"SET session_replication_role = replica; {sql}", url.rsplit("/", 1)[1])


def test_the_trigger_keeps_each_chains_rfc_tree(db: str, engine: Engine, tmp_path: Path):
    append(db, engine, "gw-1", 23)
    sink = PostgresSink(db, "gw-2")  # threads share a sink: rows arrive in multi-row commits
    threads = [
        threading.Thread(
            target=lambda: [sink.append(engine.evaluate(ALLOWED).record()) for _ in range(15)]
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    for writer, size in (("gw-1", 23), ("gw-2", 60)):
        lines = chain(db, writer, tmp_path)
        checkpoint = open_checkpoint(
            checkpoint_db(db, writer, LOG_KEY), LOG_KEY.verifier()
        ).checkpoint
        assert (checkpoint.origin, checkpoint.size) == (f"example.com/fleet/{writer}", size)
        assert checkpoint.root_hash == mth(lines)


def test_a_copy_batch_keeps_the_tree_too(db: str, engine: Engine, tmp_path: Path) -> None:
    """A bulk COPY of a chain (as a batching writer would send it) fires the trigger row
    by row, in order."""
    import psycopg

    bodies = []
    with AuditLog(tmp_path / "chain.jsonl", durability="none", tree=False) as log:
        for _ in range(19):
            bodies.append(log.append(engine.evaluate(ALLOWED).record()).to_dict())
    lines = (tmp_path / "chain.jsonl").read_bytes().splitlines()
    rows = [row_values("bulk", seq, body, line.decode()) for seq, (body, line)
            in enumerate(zip(bodies, lines, strict=True), 1)]  # fmt: skip
    from usepolicy.audit.postgres._schema import COLUMNS

    statement = f"COPY usepolicy_decisions ({', '.join(COLUMNS)}) FROM STDIN"
    with psycopg.connect(db) as conn, conn.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
    checkpoint = open_checkpoint(checkpoint_db(db, "bulk", LOG_KEY), LOG_KEY.verifier()).checkpoint
    assert checkpoint.size == 19 and checkpoint.root_hash == mth(lines)


def test_the_migration_builds_the_trees_of_chains_stored_before_it(
    blank: str, engine: Engine, tmp_path: Path
) -> None:
    old_store(blank, 1, engine, {"old-1": 13, "old-2": 4})  # a database of schema version 1
    assert init_db(blank) == [2, 3]
    for writer in ("old-1", "old-2"):
        note = checkpoint_db(blank, writer, LOG_KEY)
        root = open_checkpoint(note, LOG_KEY.verifier()).checkpoint.root_hash
        assert root == mth(chain(blank, writer, tmp_path))
    append(blank, engine, "old-1", 2)  # and the trigger goes on from there
    note = checkpoint_db(blank, "old-1", LOG_KEY)
    assert open_checkpoint(note, LOG_KEY.verifier()).checkpoint.root_hash == mth(
        chain(blank, "old-1", tmp_path)
    )


def test_proofs_and_a_checkpoint_that_holds(db: str, engine: Engine, tmp_path: Path) -> None:
    append(db, engine, "gw-1", 9)
    old = checkpoint_db(db, "gw-1", LOG_KEY)  # one writer: the writer may go unnamed
    assert old.text == checkpoint_db(db, None, LOG_KEY).text
    append(db, engine, "gw-1", 8)
    append(db, engine, "gw-2", 1)
    note = checkpoint_db(db, "gw-1", LOG_KEY, origin="example.com/gw-1")
    checkpoint = open_checkpoint(note, LOG_KEY.verifier()).checkpoint
    lines = chain(db, "gw-1", tmp_path)
    decision_id = DecisionRecord.from_json(lines[11]).decision_id
    assert find_decision_db(db, None, decision_id) == [("gw-1", 11)]
    proof = prove_inclusion_db(db, "gw-1", 11)
    proof.verify(checkpoint.root_hash, leaf_hash(lines[11]))
    old_root = open_checkpoint(old, LOG_KEY.verifier()).checkpoint.root_hash
    prove_consistency_db(db, "gw-1", 9).verify(old_root, checkpoint.root_hash)
    verdict = verify_checkpoint_db(db, "gw-1", old, LOG_KEY.verifier())
    assert verdict.ok and verdict.size == 9
    from usepolicy import AuditError

    with pytest.raises(AuditError, match="there are 2: give the writer"):
        checkpoint_db(db, None, LOG_KEY)
    with pytest.raises(AuditError, match="no records of writer `nobody`"):
        checkpoint_db(db, "nobody", LOG_KEY)


def test_a_superusers_rewrite_re_signed_with_the_gateways_key_is_named(
    server: PgServer, db: str, engine: Engine, tmp_path: Path
) -> None:
    signer = Signer.generate()
    append(db, engine, "gw-1", 14, signer)
    note = checkpoint_db(db, "gw-1", LOG_KEY)
    # rewrite seq 6, chain and sign everything after it again, put it all back in place
    forged = tmp_path / "forged.jsonl"
    with AuditLog(forged, durability="none", signer=signer, tree=False) as log:
        for seq, line in enumerate(chain(db, "gw-1", tmp_path), 1):
            record = DecisionRecord.from_json(line)
            if seq == 6:
                record = record.model_copy(update={"decision": "deny", "determining_rule": None})
            log.append(record)
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn, conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        for seq, line in enumerate(forged.read_bytes().splitlines(), 1):
            body = DecisionRecord.from_json(line).to_dict()
            values = row_values("gw-1", seq, body, line.decode())
            conn.execute(
                "UPDATE usepolicy_decisions SET prev_digest = %s, record_digest = %s, record = %s, "
                "decision_id = %s, ts = %s, decision = %s, determining_rule = %s, purpose = %s, "
                "organization = %s, policy_digest = %s, outcome = %s WHERE writer_id = %s AND seq = %s",
                (*values[2:], "gw-1", seq),
            )
    assert verify_db(db, "gw-1", signer.verifier()).ok  # chain and signatures all hold
    verdict = verify_checkpoint_db(db, "gw-1", note, LOG_KEY.verifier())
    assert (verdict.problem, verdict.line) == ("rewritten", 6), verdict
    assert "seq 6 is not the record the checkpoint covers" in str(verdict)
    assert "usepolicy_tree" in str(verdict)

    superuser(server, db, "DELETE FROM usepolicy_decisions WHERE seq > 10")
    verdict = verify_checkpoint_db(db, "gw-1", note, LOG_KEY.verifier())
    assert verdict.problem == "rewritten" and verdict.line == 6  # the first change first


def test_truncation_below_a_checkpoint(server: PgServer, db: str, engine: Engine) -> None:
    append(db, engine, "gw-1", 10)
    note = checkpoint_db(db, "gw-1", LOG_KEY)
    superuser(server, db, "DELETE FROM usepolicy_decisions WHERE seq > 7")
    verdict = verify_checkpoint_db(db, "gw-1", note, LOG_KEY.verifier())
    assert (verdict.problem, verdict.line) == ("truncated", 8)


def test_the_tree_is_the_databases_to_write(server: PgServer, blank: str, engine: Engine):
    import psycopg

    init_db(blank, gateway_role="usepolicy_gateway")
    name = blank.rsplit("/", 1)[1]
    server.psql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gw_tree') THEN "
        "CREATE ROLE gw_tree LOGIN; END IF; END $$; GRANT usepolicy_gateway TO gw_tree",
        name,
    )
    gateway = server.url(name, user="gw_tree")
    append(gateway, engine, "gw-1", 3)  # the trigger writes the tree for it
    with psycopg.connect(gateway, autocommit=True) as conn:
        for sql in (
            "INSERT INTO usepolicy_tree VALUES ('gw-1', 0, 3, sha256('x'))",
            "SELECT count(*) FROM usepolicy_tree",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)  # type: ignore[arg-type]
    with psycopg.connect(blank, autocommit=True) as conn:  # the owner
        # three leaves and the parent of the first two
        assert conn.execute("SELECT count(*) FROM usepolicy_tree").fetchone() == (4,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("UPDATE usepolicy_tree SET hash = sha256('x')")
        with conn.transaction():  # retention deletes a chain, and its tree with it
            conn.execute("SET LOCAL usepolicy.retention = 'on'")
            conn.execute("DELETE FROM usepolicy_decisions WHERE writer_id = 'gw-1'")
        assert conn.execute("SELECT count(*) FROM usepolicy_tree").fetchone() == (0,)


def test_the_command_line_with_a_database(db: str, engine: Engine, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "usepolicy", *args], capture_output=True,
                              text=True, cwd=REPO, timeout=120)  # fmt: skip

    append(db, engine, "gw-1", 6)
    key = tmp_path / "log.key"
    assert cli("keygen", "--note", "example.com/fleet", "-o", str(key)).returncode == 0
    made = cli("audit", "checkpoint", db, "--sign-key", str(key), "--writer", "gw-1")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("example.com/fleet/gw-1\n6\n")
    (tmp_path / "cp").write_text(made.stdout)
    verify = cli("audit", "verify", db, "--writer", "gw-1", "--checkpoint", str(tmp_path / "cp"),
                 "--key", f"{key}.pub")  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    assert "checkpoint: example.com/fleet/gw-1, 6 records" in verify.stdout
    proof = cli("audit", "prove", db, "--writer", "gw-1", "--index", "2")
    assert proof.returncode == 0 and '"tree_size": 6' in proof.stdout
    consistency = cli("audit", "prove", db, "--from", "2", "--to", "5")
    assert consistency.returncode == 0 and '"old_size": 2' in consistency.stdout


def test_outcome_records_are_leaves_and_prove_names_the_decision(
    db: str, engine: Engine, tmp_path: Path
) -> None:
    """The trigger keeps the tree for outcome records as for decisions (the tree is the
    file log's, line for line), and ``--decision-id`` proves the decision, not the
    outcome that shares its id."""
    import asyncio

    from usepolicy.record import outcome_draft

    with PostgresSink(db, "gw-1") as sink:
        decisions = [sink.append(engine.evaluate(ALLOWED).record()) for _ in range(3)]
        drafts = [outcome_draft(d.decision_id, "executed", status=200) for d in decisions]

        async def batch() -> None:  # one COPY, whose rows the trigger adds one by one
            await asyncio.gather(*(sink.astore(d) for d in drafts))

        asyncio.run(batch())
        sink.store(outcome_draft(decisions[0].decision_id, "refused"))
    lines = chain(db, "gw-1", tmp_path)
    note = checkpoint_db(db, "gw-1", LOG_KEY)
    checkpoint = open_checkpoint(note, LOG_KEY.verifier()).checkpoint
    assert checkpoint.size == 7 and checkpoint.root_hash == mth(lines)
    assert verify_checkpoint_db(db, "gw-1", note, LOG_KEY.verifier()).ok
    second = decisions[1].decision_id
    assert find_decision_db(db, None, second) == [("gw-1", 1)]
    assert find_decision_db(db, None, decisions[0].decision_id) == [("gw-1", 0)]
    proof = subprocess.run(
        [sys.executable, "-m", "usepolicy", "audit", "prove", db, "--decision-id", second],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert proof.returncode == 0, proof.stderr
    assert '"index": 1' in proof.stdout and '"tree_size": 7' in proof.stdout
    prove_inclusion_db(db, "gw-1", 1).verify(checkpoint.root_hash, leaf_hash(lines[1]))
