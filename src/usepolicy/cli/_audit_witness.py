"""``usepolicy audit witness CHECKPOINT --log-key VKEY --key KEYFILE --state DIR``:
cosign a log's checkpoint if it extends the last one this witness cosigned."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._files import InputFileError, read_bytes, read_stdin
from ._notekeys import KeyArgError, note_signer, note_verifier
from ._output import EXIT_ALLOWED, EXIT_ERROR, error

__all__ = ["configure"]


def configure(actions: Any) -> None:
    """Add ``audit witness`` to the ``audit`` actions."""
    parser = actions.add_parser(
        "witness",
        help="cosign a checkpoint that extends the last one cosigned (C2SP cosignature/v1)",
        description="Act as a witness: check the log's signature on CHECKPOINT with the "
        "log's verifier key, check that it extends the last checkpoint this witness "
        "cosigned for the same origin (same root at the same size, or a larger size "
        "with a consistency proof from `usepolicy audit prove LOG --from OLD --to NEW`), "
        "record it in DIR, and print the checkpoint with the witness's cosignature line "
        "added. A rollback (smaller size) or a fork (another root, or a proof that "
        "fails) is refused (exit 1) and the refused checkpoint kept in DIR as evidence.",
    )
    parser.add_argument(
        "checkpoint", metavar="CHECKPOINT", help="the signed checkpoint (- for stdin)"
    )
    parser.add_argument(
        "--log-key", required=True, metavar="VKEY", help="the log's verifier key (or a file)"
    )
    parser.add_argument(
        "--key",
        required=True,
        metavar="KEYFILE",
        help="the witness's note key (keygen --note NAME --witness)",
    )
    parser.add_argument("--state", required=True, metavar="DIR", help="the witness's state folder")
    parser.add_argument(
        "--proof", metavar="FILE", help="a consistency proof (JSON) from the last cosigned size"
    )
    parser.set_defaults(run=run)


def _read(path: str, limit: int) -> bytes:
    return read_stdin(limit) if path == "-" else read_bytes(path, limit)


def run(args: argparse.Namespace) -> int:
    from ..tlog import (
        MAX_NOTE_BYTES,
        ConsistencyProof,
        NoteError,
        ProofError,
        Witness,
        WitnessError,
    )

    try:
        log_key = note_verifier(args.log_key)
        witness = Witness(args.state, note_signer(args.key))
    except (KeyArgError, ImportError) as exc:
        error(str(exc))
        return EXIT_ERROR
    try:
        data = _read(args.checkpoint, MAX_NOTE_BYTES)
        proof = None
        if args.proof is not None:  # a proof is 64 hashes at most: 4 KiB, give or take
            proof = ConsistencyProof.from_json(read_bytes(args.proof, 1 << 16))
    except InputFileError as exc:
        error(f"{exc.path}: cannot read: {exc.reason}")
        return EXIT_ERROR
    except ProofError as exc:
        error(f"{args.proof}: bad-proof: {exc}")
        return EXIT_ERROR
    try:
        cosigned = witness.cosign(data, log_key, proof)
    except WitnessError as exc:
        error(f"{args.checkpoint}: {exc.code}: {exc}")
        return EXIT_ERROR
    except (NoteError, OSError) as exc:
        error(f"{args.checkpoint}: {exc}")
        return EXIT_ERROR
    sys.stdout.write(cosigned.note.format())
    return EXIT_ALLOWED
