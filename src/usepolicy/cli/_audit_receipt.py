"""``usepolicy audit verify LOG --checkpoint CP --key VKEY [--witness VKEY ...
--min-witnesses K]``: the checkpoint part of ``audit verify`` (a receipt kept elsewhere
against the log shown now)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .._errors import AuditError
from ._notekeys import KeyArgError, is_note_key, load_keys, note_verifier
from ._output import EXIT_ERROR, error

if TYPE_CHECKING:
    from ..audit import CheckpointVerdict, Verifier
    from ..tlog import NoteVerifier

__all__ = ["add_options", "check", "keys_and_receipt", "report"]


def add_options(verify: argparse.ArgumentParser) -> None:
    """The checkpoint options of ``audit verify``, ``report`` and ``stats``."""
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="a signed checkpoint kept earlier: the log must still hold its records "
        "(give the log's verifier key with --key)",
    )
    verify.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="VKEY",
        help="a witness's verifier key (or a file): count its cosignature (repeatable)",
    )
    verify.add_argument(
        "--min-witnesses",
        type=int,
        metavar="K",
        help="how many of the --witness keys must have cosigned (default: all of them)",
    )


def keys_and_receipt(
    args: argparse.Namespace,
) -> tuple[list[Verifier], CheckpointVerdict | None] | int:
    """The record-signature keys among ``--key`` and the verdict against ``--checkpoint``
    (None without one), or an exit code after an error.

    ``--key`` takes both kinds: a note verifier key (``name+hex+base64``, or a file
    holding one) checks the checkpoint; any other is a record-signature public key file.
    """
    note_keys = [note_verifier(value) for value in args.key or () if is_note_key(value)]
    if note_keys and args.checkpoint is None:
        error("a note verifier key (--key VKEY) is for checking a --checkpoint")
        return EXIT_ERROR
    receipt = None
    if args.checkpoint is not None:
        checked = check(args, note_keys)
        if isinstance(checked, int):
            return checked
        receipt = checked
    keys = load_keys([value for value in args.key or () if not is_note_key(value)])
    if keys is None:
        return EXIT_ERROR
    return keys, receipt


def check(args: argparse.Namespace, log_keys: list[NoteVerifier]) -> CheckpointVerdict | int:
    """The verdict on the log against ``--checkpoint``, or an exit code after an error."""
    from ..audit import PostgresUnavailableError, is_db_url, verify_checkpoint, verify_checkpoint_db
    from ..tlog import Note, NoteError

    if not log_keys:
        error("--checkpoint needs the log's verifier key: --key VKEY (keygen --note)")
        return EXIT_ERROR
    try:
        witnesses = [note_verifier(value) for value in args.witness]
        note = Note.read(args.checkpoint)
    except KeyArgError as exc:
        error(str(exc))
        return EXIT_ERROR
    except OSError as exc:  # InputFileError: missing, not a regular file, too large
        error(f"{args.checkpoint}: cannot read: {getattr(exc, 'reason', None) or exc}")
        return EXIT_ERROR
    except NoteError as exc:
        error(f"bad-checkpoint: {exc}")
        return EXIT_ERROR
    least = len(set(witnesses)) if args.min_witnesses is None else args.min_witnesses
    try:
        if is_db_url(args.log):
            return verify_checkpoint_db(
                args.log,
                getattr(args, "writer", None),
                note,
                log_keys,
                witnesses,
                min_witnesses=least,
            )
        return verify_checkpoint(args.log, note, log_keys, witnesses, min_witnesses=least)
    except (AuditError, PostgresUnavailableError, ImportError) as exc:
        error(str(exc))
        return EXIT_ERROR


def report(verdict: CheckpointVerdict) -> None:
    """The human lines of a checkpoint that held."""
    print(f"  checkpoint: {verdict.origin}, {verdict.size} records, root {verdict.root_hash}")
    print("    signed by the log key; the log holds those records unchanged")
    if verdict.witnesses:
        names = ", ".join(verdict.witnesses)
        print(f"    cosigned by {len(verdict.witnesses)} witness(es): {names}")
