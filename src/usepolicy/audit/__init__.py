"""Audit: where decision records go, and how an inspector checks them later.

A sink is anything with one method, ``append(record) -> record``: it stores the
record and returns it as stored (chained to the previous record, possibly signed),
or raises ``AuditError`` when it cannot make it durable.

- ``open_sink(target, ...)``: the sink a log path or a ``postgresql://`` URL names.
- ``AuditLog``: the append-only, hash-chained, crash-safe JSON Lines log.
- ``MemorySink``: a chained in-memory sink for tests.
- ``PostgresSink``: records in PostgreSQL, one chain per writer (extra ``[postgres]``);
  ``init_db``, ``verify_db``, ``export_db``, ``query_db`` for its schema and inspectors.
  They live in ``usepolicy.audit.postgres`` and load on first use: without psycopg,
  using one raises ``PostgresUnavailableError`` saying what to install.
- ``log_files``: a rotated log's files in chain order (``AuditLog(rotate_bytes=...,
  rotate_every=...)`` rotates; the chain runs on across files).
- ``verify_log``: check a log offline (chain, digests, signatures, anchors), one file
  or a rotated set;
  ``read_records`` and ``RecordFilter`` (the one filter of file and database reads).
- ``collect_stats``: verify a log and count what it holds, in one pass (``AuditStats``);
  ``usepolicy.report`` draws it as an HTML page.
- ``Signer`` / ``Verifier`` / ``generate_keypair``: Ed25519 signing (extra ``[sign]``).
- ``redact`` / ``unredact``: store request fields only as digests, and prove them later
  (defined in ``usepolicy.record``).
- ``checkpoint_log`` / ``prove_inclusion_log`` / ``prove_consistency_log`` /
  ``verify_checkpoint`` (and the ``_db`` forms for a writer chain): each log as a
  transparency log (RFC 9162 Merkle tree, C2SP signed checkpoints; ``usepolicy.tlog``).

The sinks of this package are ``ChainedSink``s: they chain and seal record bodies with
``usepolicy.record.seal``, so a record is encoded and digested once, as it is stored.
"""

import typing

from ..record import redact, unredact
from ._dburl import PostgresUnavailableError, display_url, is_db_url
from ._filelog import AuditLog, Durability
from ._filter import RecordFilter
from ._logset import read_log, verify_log
from ._logtree import (
    CheckpointVerdict,
    checkpoint_log,
    find_decision,
    open_tree,
    prove_consistency_log,
    prove_inclusion_log,
    verify_checkpoint,
)
from ._open import open_sink
from ._rotate import log_files
from ._sign import Signer, SigningUnavailableError, Verifier, generate_keypair, key_id
from ._sink import ChainedSink, MemorySink, Sink
from ._stats import AuditStats, AuditSummary, collect_stats, purpose_tree
from ._tally import KINDS, Entry, Tally
from ._verify import PROBLEMS, PublicKey, VerifyResult, read_records

if typing.TYPE_CHECKING:
    from .postgres import (
        DbVerifyResult,
        PostgresSink,
        WriterResult,
        checkpoint_db,
        export_db,
        find_decision_db,
        init_db,
        prove_consistency_db,
        prove_inclusion_db,
        query_db,
        verify_checkpoint_db,
        verify_db,
    )

# the PostgreSQL store, loaded on first use (PEP 562): psycopg is an optional extra
_LAZY = {
    "DbVerifyResult": ".postgres",
    "PostgresSink": ".postgres",
    "WriterResult": ".postgres",
    "checkpoint_db": ".postgres",
    "export_db": ".postgres",
    "find_decision_db": ".postgres",
    "init_db": ".postgres",
    "prove_consistency_db": ".postgres",
    "prove_inclusion_db": ".postgres",
    "query_db": ".postgres",
    "verify_checkpoint_db": ".postgres",
    "verify_db": ".postgres",
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "KINDS",
    "PROBLEMS",
    "AuditLog",
    "AuditStats",
    "AuditSummary",
    "ChainedSink",
    "CheckpointVerdict",
    "DbVerifyResult",
    "Durability",
    "Entry",
    "MemorySink",
    "PostgresSink",
    "PostgresUnavailableError",
    "PublicKey",
    "RecordFilter",
    "Signer",
    "SigningUnavailableError",
    "Sink",
    "Tally",
    "Verifier",
    "VerifyResult",
    "WriterResult",
    "checkpoint_db",
    "checkpoint_log",
    "collect_stats",
    "display_url",
    "export_db",
    "find_decision",
    "find_decision_db",
    "generate_keypair",
    "init_db",
    "is_db_url",
    "key_id",
    "log_files",
    "open_sink",
    "open_tree",
    "prove_consistency_db",
    "prove_consistency_log",
    "prove_inclusion_db",
    "prove_inclusion_log",
    "purpose_tree",
    "query_db",
    "read_log",
    "read_records",
    "redact",
    "unredact",
    "verify_checkpoint",
    "verify_checkpoint_db",
    "verify_db",
    "verify_log",
]
