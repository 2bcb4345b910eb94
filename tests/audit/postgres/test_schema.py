"""The store's schema migrations: a store made by an earlier release, with records in
it, upgraded by ``init_db`` (``usepolicy audit init-db``), still verifies and takes
outcome records, and the gateway role keeps only SELECT and INSERT."""

from __future__ import annotations

import pytest

from usepolicy import AuditError, Enforcer, Engine
from usepolicy.audit import PostgresSink, init_db, verify_db
from usepolicy.audit.postgres._schema import SCHEMA_VERSION

from ...conftest import RunCli
from ..conftest import ALLOWED
from ..pg_server import PgServer
from .old import old_store


def test_a_version_2_store_upgraded_by_init_db_verifies_and_takes_outcomes(
    server: PgServer, blank: str, engine: Engine, run_cli: RunCli
) -> None:
    old_store(blank, 2, engine, {"gw-old": 7, "gw-other": 3})
    before = verify_db(blank)
    assert before.ok and before.count == 10
    with (
        PostgresSink(blank, "gw-old", retry_interval=0) as sink,
        pytest.raises(AuditError, match="version 2, this usepolicy writes version 3: run"),
    ):
        sink.append(engine.evaluate(ALLOWED).record())

    upgraded = run_cli("audit", "init-db", blank, "--gateway-role")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "schema version 3 (applied 3)" in upgraded.stdout
    assert SCHEMA_VERSION == 3 and init_db(blank) == []
    after = verify_db(blank)
    assert after.ok and [(w.writer, w.count, w.head) for w in after.writers] == [
        (w.writer, w.count, w.head) for w in before.writers
    ]

    import psycopg

    # a gateway login (the role: SELECT and INSERT only) goes on with the old chain
    name = blank.rsplit("/", 1)[1]
    server.psql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gw_up') THEN "
        "CREATE ROLE gw_up LOGIN; END IF; END $$; GRANT usepolicy_gateway TO gw_up",
        name,
    )
    gateway = server.url(name, user="gw_up")
    with PostgresSink(gateway, "gw-old") as sink:
        guard = Enforcer(engine, audit_log=sink)
        decision = guard.check(ALLOWED)
        outcome = guard.record_outcome(decision.decision_id, "executed", status=200)
    assert decision.prev_digest == before.writers[0].head
    assert outcome.prev_digest == decision.record_digest
    result = verify_db(blank, "gw-old")
    assert result.ok and result.count == 9 and result.writers[0].head == outcome.record_digest
    with psycopg.connect(gateway, autocommit=True) as conn:
        for sql in (
            "UPDATE usepolicy_decisions SET outcome = 'refused'",
            "DELETE FROM usepolicy_decisions WHERE outcome IS NOT NULL",
            "ALTER TABLE usepolicy_decisions DROP CONSTRAINT usepolicy_decisions_kind",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)  # type: ignore[arg-type]
