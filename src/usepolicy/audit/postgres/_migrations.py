"""The PostgreSQL audit store's schema migrations, in version order.

Each migration runs once, in its own transaction (``init_db``); ``SCHEMA_VERSION`` is
the last, the version a sink of this release writes.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

SCHEMA_VERSION: Final = 3

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
