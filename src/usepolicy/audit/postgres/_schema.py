"""The PostgreSQL audit store's schema, its migrations, and connecting to it.

One table, ``usepolicy_decisions``, holds every record of every writer (gateway
instance): decision records and, since schema version 3, outcome records (what happened
after a decision, ``outcome`` set and ``decision`` null), in the same chains. Each writer keeps its own hash chain: ``(writer_id, seq)`` is the primary
key, ``seq`` counts that writer's records from 1, and ``prev_digest`` is the
``record_digest`` of the writer's record before. ``record`` is the record's canonical
JSON exactly as it was digested (text, not jsonb, which would reorder and respace it);
the other columns are copies of record fields for inspectors' queries, and
``verify_db`` checks that they agree with ``record``.

``usepolicy_schema`` lists the migrations applied; ``init_db`` applies the missing ones,
and a sink refuses a database whose schema version is not the one it was built for.

psycopg 3 (the ``usepolicy[postgres]`` extra) is imported only when a database is used.
"""

from __future__ import annotations

import math
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from ..._errors import AuditError
from .._dburl import PostgresUnavailableError, display_url, is_db_url, require_psycopg

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "GATEWAY_ROLE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "PostgresUnavailableError",
    "connect",
    "display_url",
    "init_db",
    "is_db_url",
    "require_psycopg",
    "row_values",
]

SCHEMA_VERSION: Final = 3
GATEWAY_ROLE: Final = "usepolicy_gateway"

#: the columns of a row, in the order ``row_values`` gives them
COLUMNS: Final = (
    "writer_id",
    "seq",
    "prev_digest",
    "record_digest",
    "record",
    "decision_id",
    "ts",
    "decision",
    "determining_rule",
    "purpose",
    "organization",
    "policy_digest",
    "outcome",
)

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS usepolicy_schema (
    version     integer     PRIMARY KEY,
    description text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    applied_by  text        NOT NULL DEFAULT current_user
)
"""

# Each migration runs once, in its own transaction, in version order. Never edit one
# that has shipped: add the next.
MIGRATIONS: Final[tuple[tuple[int, str, str], ...]] = (
    (
        1,
        "decision records in per-writer hash chains",
        """
CREATE TABLE usepolicy_decisions (
    writer_id        text        NOT NULL CHECK (writer_id <> '' AND length(writer_id) <= 200),
    seq              bigint      NOT NULL CHECK (seq >= 1),
    prev_digest      text,
    record_digest    text        NOT NULL,
    record           text        NOT NULL,
    decision_id      text        NOT NULL,
    ts               timestamptz NOT NULL,
    decision         text        NOT NULL CHECK (decision IN ('allow', 'deny')),
    determining_rule text,
    purpose          text,
    organization     text,
    policy_digest    text        NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT usepolicy_decisions_pkey PRIMARY KEY (writer_id, seq),
    CONSTRAINT usepolicy_decisions_digest_key UNIQUE (record_digest)
);
CREATE INDEX usepolicy_decisions_ts ON usepolicy_decisions (ts);
CREATE INDEX usepolicy_decisions_decision ON usepolicy_decisions (decision, ts);
CREATE INDEX usepolicy_decisions_rule ON usepolicy_decisions (determining_rule, ts);
CREATE INDEX usepolicy_decisions_purpose ON usepolicy_decisions (purpose, ts);
CREATE INDEX usepolicy_decisions_organization ON usepolicy_decisions (organization, ts);
CREATE INDEX usepolicy_decisions_policy ON usepolicy_decisions (policy_digest, ts);
CREATE INDEX usepolicy_decisions_decision_id ON usepolicy_decisions (decision_id);

-- A guard against mistakes by the table's owner: rows are never updated, and deleted
-- only by a retention job that says so (SET LOCAL usepolicy.retention = 'on'). The
-- gateway role has no UPDATE, DELETE or TRUNCATE grant at all; a superuser can still
-- do anything, which is what verification is for.
CREATE FUNCTION usepolicy_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('usepolicy.retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'usepolicy_decisions is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER usepolicy_decisions_append_only
    BEFORE UPDATE OR DELETE ON usepolicy_decisions
    FOR EACH ROW EXECUTE FUNCTION usepolicy_append_only();
CREATE TRIGGER usepolicy_decisions_no_truncate
    BEFORE TRUNCATE ON usepolicy_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION usepolicy_append_only();
""",
    ),
    (
        2,
        "each writer chain's Merkle tree (RFC 9162), kept by a trigger",
        """
-- One row per complete subtree of a writer's tree: (level, idx) covers the leaves
-- [idx * 2^level, (idx + 1) * 2^level), leaf i being the record at seq i + 1. The
-- trigger below adds a record's leaf and the parents it completes, in the transaction
-- that inserts the record, whatever inserts it; proofs read O(log n) rows.
CREATE TABLE usepolicy_tree (
    writer_id text     NOT NULL,
    level     smallint NOT NULL CHECK (level >= 0 AND level < 63),
    idx       bigint   NOT NULL CHECK (idx >= 0),
    hash      bytea    NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT usepolicy_tree_pkey PRIMARY KEY (writer_id, level, idx)
);

-- SECURITY DEFINER: gateways need no grant on the tree, and cannot write it directly.
CREATE FUNCTION usepolicy_tree_add(writer text, seq bigint, record text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    node    bytea    := sha256('\\x00'::bytea || convert_to(record, 'UTF8'));
    k       bigint   := seq - 1;
    lvl     smallint := 0;
    sibling bytea;
BEGIN
    INSERT INTO usepolicy_tree (writer_id, level, idx, hash) VALUES (writer, 0, k, node);
    WHILE k % 2 = 1 LOOP
        SELECT t.hash INTO sibling FROM usepolicy_tree t
            WHERE t.writer_id = writer AND t.level = lvl AND t.idx = k - 1;
        IF sibling IS NULL THEN  -- a gap in seq: no record goes in that the tree cannot hold
            RAISE EXCEPTION 'usepolicy_tree: writer % lacks the records before seq %',
                writer, seq USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        node := sha256('\\x01'::bytea || sibling || node);
        k := k / 2;
        lvl := lvl + 1;
        INSERT INTO usepolicy_tree (writer_id, level, idx, hash) VALUES (writer, lvl, k, node);
    END LOOP;
END
$$;

CREATE FUNCTION usepolicy_tree_append() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM usepolicy_tree_add(NEW.writer_id, NEW.seq, NEW.record);
    RETURN NULL;
END
$$;
CREATE TRIGGER usepolicy_decisions_tree
    AFTER INSERT ON usepolicy_decisions
    FOR EACH ROW EXECUTE FUNCTION usepolicy_tree_append();

-- Chains are deleted whole (retention): their trees go with them.
CREATE FUNCTION usepolicy_tree_forget() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM usepolicy_tree t USING (SELECT DISTINCT writer_id FROM gone) g
        WHERE t.writer_id = g.writer_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER usepolicy_decisions_tree_forget
    AFTER DELETE ON usepolicy_decisions REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION usepolicy_tree_forget();

CREATE TRIGGER usepolicy_tree_append_only
    BEFORE UPDATE OR DELETE ON usepolicy_tree
    FOR EACH ROW EXECUTE FUNCTION usepolicy_append_only();
CREATE TRIGGER usepolicy_tree_no_truncate
    BEFORE TRUNCATE ON usepolicy_tree
    FOR EACH STATEMENT EXECUTE FUNCTION usepolicy_append_only();

-- the chains stored before this migration, record by record in chain order
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT writer_id, seq, record FROM usepolicy_decisions ORDER BY writer_id, seq LOOP
        PERFORM usepolicy_tree_add(r.writer_id, r.seq, r.record);
    END LOOP;
END
$$;
""",
    ),
    (
        3,
        "outcome records in the same chains as decision records",
        """
-- An outcome record has no decision, rules, request or policy of its own: those
-- columns are null in its row, and ``outcome`` (null for a decision record) says
-- which kind a row is. Adding a nullable column rewrites no row; the constraint
-- reads the table once.
ALTER TABLE usepolicy_decisions
    ADD COLUMN outcome text CHECK (outcome IN ('executed', 'upstream-error', 'refused')),
    ALTER COLUMN decision DROP NOT NULL,
    ALTER COLUMN policy_digest DROP NOT NULL,
    ADD CONSTRAINT usepolicy_decisions_kind CHECK (
        CASE WHEN outcome IS NULL
            THEN decision IS NOT NULL AND policy_digest IS NOT NULL
            ELSE decision IS NULL AND policy_digest IS NULL
                 AND determining_rule IS NULL AND purpose IS NULL AND organization IS NULL
        END
    );
CREATE INDEX usepolicy_decisions_outcome ON usepolicy_decisions (outcome, ts)
    WHERE outcome IS NOT NULL;
""",
    ),
)
assert [m[0] for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))


def why(exc: BaseException) -> str:
    """One line saying why a database call failed."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]


def connect(url: str, *, timeout: float = 10.0, application_name: str = "usepolicy") -> Any:
    """An autocommit connection with timeouts, so that a dead server or network makes
    calls fail within about ``timeout`` seconds instead of hanging a gateway.

    Settings in ``url`` win over these defaults.

    Raises:
        PostgresUnavailableError: psycopg is not installed.
        AuditError: the URL is malformed or the server cannot be reached.
    """
    pg = require_psycopg()
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        given = conninfo_to_dict(url)
    except pg.Error as exc:
        raise AuditError(f"{display_url(url)}: not a database URL: {why(exc)}") from None
    defaults: dict[str, Any] = {
        "connect_timeout": max(2, math.ceil(timeout)),
        "application_name": application_name,
    }
    if sys.platform.startswith("linux"):
        defaults["tcp_user_timeout"] = int(timeout * 1000)
        defaults["keepalives_idle"] = max(1, int(timeout))
    extra = {key: value for key, value in defaults.items() if key not in given}
    try:
        conn = pg.connect(make_conninfo(url, **extra), autocommit=True)
    except pg.Error as exc:
        raise AuditError(f"{display_url(url)}: cannot connect: {why(exc)}") from exc
    try:
        conn.execute(
            "SELECT set_config('statement_timeout', %s, false)", (f"{int(timeout * 1000)}ms",)
        )
    except pg.Error as exc:
        conn.close()
        raise AuditError(f"{display_url(url)}: cannot connect: {why(exc)}") from exc
    return conn


def schema_version(conn: psycopg.Connection[Any], url: str) -> None:
    """Check that the database holds the schema this version of usepolicy writes.

    Raises:
        AuditError: no schema (run ``init-db``), an older one, or a newer one.
    """
    import psycopg

    try:
        row = conn.execute("SELECT max(version) FROM usepolicy_schema").fetchone()
    except psycopg.errors.UndefinedTable:
        raise AuditError(
            f"{display_url(url)}: no usepolicy audit tables: run `usepolicy audit init-db URL`"
        ) from None
    version = row[0] if row and row[0] is not None else 0
    if version < SCHEMA_VERSION:
        raise AuditError(
            f"{display_url(url)}: the audit schema is version {version}, this usepolicy "
            f"writes version {SCHEMA_VERSION}: run `usepolicy audit init-db URL` to upgrade"
        )
    if version > SCHEMA_VERSION:
        raise AuditError(
            f"{display_url(url)}: the audit schema is version {version}, newer than this "
            f"usepolicy knows ({SCHEMA_VERSION}): upgrade usepolicy"
        )


def read_columns(conn: psycopg.Connection[Any]) -> str:
    """The select list of ``COLUMNS`` for this store: a store not yet upgraded to
    version 3 (an inspector's usepolicy may be newer than the gateways') has no
    ``outcome`` column, and no outcome records either."""
    row = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'usepolicy_decisions' AND column_name = 'outcome'"
    ).fetchone()
    return ", ".join(COLUMNS if row is not None else (*COLUMNS[:-1], "NULL AS outcome"))


def init_db(url: str, *, gateway_role: str | None = None) -> list[int]:
    """Create or upgrade the audit tables; optionally create the gateway role.

    Safe to run again (it applies only missing migrations) and from several hosts at
    once (an advisory lock serialises them).

    Args:
        url: the database (``postgresql://...``), as a role that may create tables.
        gateway_role: create this role (NOLOGIN) if missing and grant it exactly
            SELECT and INSERT on the decisions table; grant it to gateway logins.

    Returns:
        The schema versions applied now (empty when the schema was current).

    Raises:
        AuditError: the database cannot be reached or refused a statement.
    """
    pg = require_psycopg()
    from psycopg import sql

    applied: list[int] = []
    with connect(url, timeout=60.0, application_name="usepolicy init-db") as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('usepolicy schema'))")
                conn.execute(_VERSION_TABLE)
            for version, description, statements in MIGRATIONS:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('usepolicy schema'))")
                    row = conn.execute("SELECT max(version) FROM usepolicy_schema").fetchone()
                    current = row[0] if row and row[0] is not None else 0
                    if current > SCHEMA_VERSION:
                        raise AuditError(
                            f"{display_url(url)}: the audit schema is version {current}, "
                            f"newer than this usepolicy knows ({SCHEMA_VERSION}): upgrade "
                            "usepolicy"
                        )
                    if version <= current:
                        continue
                    conn.execute(statements)
                    conn.execute(
                        "INSERT INTO usepolicy_schema (version, description) VALUES (%s, %s)",
                        (version, description),
                    )
                    applied.append(version)
            if gateway_role is not None:
                with conn.transaction():
                    _grant_gateway(conn, sql.Identifier(gateway_role), gateway_role)
        except pg.Error as exc:
            raise AuditError(f"{display_url(url)}: init-db failed: {why(exc)}") from exc
    return applied


def _grant_gateway(conn: psycopg.Connection[Any], role: Any, name: str) -> None:
    from psycopg import sql

    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    if exists is None:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(role))
    row = conn.execute("SELECT current_schema()").fetchone()
    schema = sql.Identifier(row[0] if row else "public")
    for statement in (
        "GRANT USAGE ON SCHEMA {schema} TO {role}",
        "REVOKE ALL ON usepolicy_decisions, usepolicy_schema FROM {role}",
        "GRANT SELECT, INSERT ON usepolicy_decisions TO {role}",
        "GRANT SELECT ON usepolicy_schema TO {role}",
    ):
        conn.execute(sql.SQL(statement).format(schema=schema, role=role))


def row_values(writer_id: str, seq: int, body: dict[str, Any], text: str) -> tuple[Any, ...]:
    """The column values (``COLUMNS`` order) of a stored record's row.

    The query columns are copies of record fields; a redacted field is copied as its
    digest, as the record holds it. An outcome record (``record_kind``) has only its
    ``decision_id``, time and ``outcome`` to copy.
    """
    if "record_kind" in body:
        return (
            writer_id,
            seq,
            body.get("prev_digest"),
            body["record_digest"],
            text,
            body["decision_id"],
            datetime.fromisoformat(body["timestamp"]),
            *(None,) * 5,  # decision, determining_rule, purpose, organization, policy_digest
            body["outcome"],
        )
    request = body.get("request")
    request = request if isinstance(request, dict) else {}
    requester = request.get("requester")
    organization = requester.get("organization") if isinstance(requester, dict) else None
    purpose = request.get("purpose")
    return (
        writer_id,
        seq,
        body.get("prev_digest"),
        body["record_digest"],
        text,
        body["decision_id"],
        datetime.fromisoformat(body["timestamp"]),
        body["decision"],
        body.get("determining_rule"),
        purpose if isinstance(purpose, str) else None,
        organization if isinstance(organization, str) else None,
        body["policy"]["digest"],
        None,
    )
