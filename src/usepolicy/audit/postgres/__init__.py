"""The PostgreSQL audit store (extra ``[postgres]``): one hash chain per writer.

Importing it without psycopg 3 raises ``PostgresUnavailableError`` (an ``ImportError``)
saying what to install; ``usepolicy.audit`` loads it only when one of its names is used.

- ``PostgresSink``: records in PostgreSQL, with a local spool while the database is down.
- ``init_db``, ``verify_db``, ``export_db``, ``query_db``: its schema and inspectors.
- ``checkpoint_db`` / ``prove_inclusion_db`` / ``prove_consistency_db`` /
  ``verify_checkpoint_db``: each writer chain as a transparency log.
"""

from .._dburl import require_psycopg as _require_psycopg

_require_psycopg()  # the guard: without the driver, say what to install, once, here

from ._read import export_db, query_db, writers  # noqa: E402
from ._schema import PostgresUnavailableError, display_url, init_db, is_db_url  # noqa: E402
from ._sink import PostgresSink, body_key  # noqa: E402
from ._tree import (  # noqa: E402
    checkpoint_db,
    find_decision_db,
    prove_consistency_db,
    prove_inclusion_db,
    verify_checkpoint_db,
)
from ._verify import DbVerifyResult, WriterResult, verify_db  # noqa: E402

__all__ = [
    "DbVerifyResult",
    "PostgresSink",
    "PostgresUnavailableError",
    "WriterResult",
    "body_key",
    "checkpoint_db",
    "display_url",
    "export_db",
    "find_decision_db",
    "init_db",
    "is_db_url",
    "prove_consistency_db",
    "prove_inclusion_db",
    "query_db",
    "verify_checkpoint_db",
    "verify_db",
    "writers",
]
