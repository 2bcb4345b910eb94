"""The PostgreSQL audit store's schema, its migrations, and connecting to it.

One table, ``usepolicy_decisions``, holds every record of every writer (gateway
instance): decision records and, since schema version 3, outcome records (what happened
after a decision, ``outcome`` set and ``decision`` null), in the same chains. Each
writer keeps its own hash chain: ``(writer_id, seq)`` is the primary key, ``seq``
counts that writer's records from 1, and ``prev_digest`` is the ``record_digest`` of
the writer's record before. ``record`` is the record's canonical
JSON exactly as it was digested (text, not jsonb, which would reorder and respace it);
the other columns are copies of record fields for inspectors' queries, and
``verify_db`` checks that they agree with ``record``.

``usepolicy_schema`` lists the migrations applied (``_migrations``); ``init_db``
applies the missing ones, and a sink refuses a database whose schema version is not
the one it was built for.

psycopg 3 (the ``usepolicy[postgres]`` extra) is imported only when a database is used.
"""

from __future__ import annotations

import math
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from ..._errors import AuditError
from .._dburl import PostgresUnavailableError, display_url, is_db_url, require_psycopg
from ._migrations import _VERSION_TABLE, MIGRATIONS, SCHEMA_VERSION

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
    # the chain and the record, the same columns for either kind
    stored = (
        writer_id,
        seq,
        body.get("prev_digest"),
        body["record_digest"],
        text,
        body["decision_id"],
        datetime.fromisoformat(body["timestamp"]),
    )
    if "record_kind" in body:
        # decision, determining_rule, purpose, organization, policy_digest; outcome
        return (*stored, *(None,) * 5, body["outcome"])
    request = body.get("request")
    request = request if isinstance(request, dict) else {}
    requester = request.get("requester")
    organization = requester.get("organization") if isinstance(requester, dict) else None
    purpose = request.get("purpose")
    return (
        *stored,
        body["decision"],
        body.get("determining_rule"),
        purpose if isinstance(purpose, str) else None,
        organization if isinstance(organization, str) else None,
        body["policy"]["digest"],
        None,
    )
