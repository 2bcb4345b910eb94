"""``usepolicy audit prove LOG|URL``: print an inclusion proof (``--index N`` or
``--decision-id ID``, in the tree of ``--size N``) or a consistency proof (``--from OLD
--to NEW``) as JSON."""

from __future__ import annotations

import argparse
from typing import Any

from .._errors import AuditError
from ._output import EXIT_ALLOWED, EXIT_ERROR, error

__all__ = ["configure"]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: `{text}`") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: `{text}`")
    return value


def configure(actions: Any) -> None:
    """Add ``audit prove`` to the ``audit`` actions."""
    parser = actions.add_parser(
        "prove",
        help="print an inclusion or consistency proof (RFC 9162) as JSON",
        description="Print, as JSON with base64 hashes, the proof that a record is in "
        "the log's Merkle tree of SIZE records (index, tree_size, leaf_hash, root_hash, "
        "hashes), or that the tree of OLD records is a prefix of the tree of NEW "
        "(old_size, new_size, hashes). Anyone can check them against a signed "
        "checkpoint of that size without the log (usepolicy.tlog.InclusionProof.verify, "
        "ConsistencyProof.verify). INDEX is 0-based: the record on line INDEX + 1 "
        "(seq INDEX + 1 in a database).",
    )
    parser.add_argument("log", metavar="LOG", help="a log file or postgresql://... URL")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--index", type=_count, metavar="N", help="the record's 0-based index")
    which.add_argument("--decision-id", metavar="ID", help="the record with this decision_id")
    which.add_argument(
        "--from", dest="old", type=_count, metavar="OLD", help="consistency: old size"
    )
    parser.add_argument(
        "--size", type=_count, metavar="N", help="inclusion: the tree size (default: all)"
    )
    parser.add_argument(
        "--to", dest="new", type=_count, metavar="NEW", help="consistency: new size (default: all)"
    )
    parser.add_argument("--writer", metavar="ID", help="database: the writer's chain")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..audit import (
        PostgresUnavailableError,
        find_decision,
        find_decision_db,
        is_db_url,
        prove_consistency_db,
        prove_consistency_log,
        prove_inclusion_db,
        prove_inclusion_log,
    )

    database = is_db_url(args.log)
    if args.writer is not None and not database:
        error("--writer applies to a database URL, not to a log file")
        return EXIT_ERROR
    consistency = args.old is not None
    if (args.new is not None and not consistency) or (args.size is not None and consistency):
        error("--from goes with --to; --index and --decision-id go with --size")
        return EXIT_ERROR
    try:
        if args.old is not None:
            if database:
                proof: Any = prove_consistency_db(args.log, args.writer, args.old, args.new)
            else:
                proof = prove_consistency_log(args.log, args.old, args.new)
            print(proof.to_json())
            return EXIT_ALLOWED
        index, writer = args.index, args.writer
        if args.decision_id is not None:
            found: list[tuple[str | None, int]]
            if database:
                found = list(find_decision_db(args.log, args.writer, args.decision_id))
                places = [f"writer `{w}` seq {i + 1}" for w, i in found]
            else:
                found = [(None, i) for i in find_decision(args.log, args.decision_id)]
                places = [f"line {i + 1}" for _, i in found]
            if len(found) != 1:
                where = ", ".join(places) if found else "no record"
                error(f"{args.log}: decision id `{args.decision_id}`: {where}; give --index")
                return EXIT_ERROR
            writer, index = found[0]
        if database:
            proof = prove_inclusion_db(args.log, writer, index, args.size)
        else:
            proof = prove_inclusion_log(args.log, index, args.size)
    except (AuditError, PostgresUnavailableError) as exc:
        error(str(exc))
        return EXIT_ERROR
    print(proof.to_json())
    return EXIT_ALLOWED
