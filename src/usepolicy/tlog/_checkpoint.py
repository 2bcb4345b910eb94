"""C2SP ``tlog-checkpoint``: a log's signed statement of its size and root hash.

The note text is the origin (the log's name, e.g. ``example.com/audit``), the tree size
in decimal, the base64 root hash, and optional extension lines; the log signs it with
its note key, witnesses add ``cosignature/v1`` lines. ``open_checkpoint`` checks the
log's signature and counts the witnesses that cosigned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from .._errors import UsePolicyError
from ._note import COSIGNATURE_V1, ED25519, Note, NoteError, NoteSigner, NoteVerifier
from ._proof import ProofError, b64, unb64

__all__ = ["Checkpoint", "CheckpointError", "OpenedCheckpoint", "open_checkpoint"]

_SIZE: Final = re.compile(r"0|[1-9][0-9]{0,18}")


class CheckpointError(UsePolicyError, ValueError):
    """A checkpoint is malformed, unsigned by the log, or short of witnesses.

    ``code`` says which: ``bad-checkpoint`` (malformed, or a signature does not hold),
    ``not-signed`` (no signature by the log's key), ``witness-quorum`` (too few
    witnesses cosigned).
    """

    def __init__(self, message: str, code: str = "bad-checkpoint") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: which log, how many leaves, which root."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The note text (three lines, then any extension lines)."""
        lines = [self.origin, str(self.size), b64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint's note text.

        Raises:
            CheckpointError: not a checkpoint.
        """
        if not text.endswith("\n"):
            raise CheckpointError("a checkpoint's text ends in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or not all(lines):
            raise CheckpointError("a checkpoint is at least 3 non-empty lines")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size):
            raise CheckpointError(f"tree size `{size[:40]}` is not a decimal without leading zeros")
        try:
            root_hash = unb64(root, "root hash")
        except ProofError as exc:
            raise CheckpointError(str(exc)) from None
        return cls(origin, int(size), root_hash, tuple(extensions))

    def sign(self, signer: NoteSigner) -> Note:
        """The checkpoint as a note signed by the log's key."""
        text = self.text()
        return Note(text).signed(signer.sign(text.encode("utf-8")))


@dataclass(frozen=True, slots=True)
class OpenedCheckpoint:
    """A checkpoint whose log signature held, and the witnesses whose cosignature did."""

    checkpoint: Checkpoint
    note: Note
    witnesses: tuple[NoteVerifier, ...]


def open_checkpoint(
    note: Note | bytes | str,
    log_key: NoteVerifier | Sequence[NoteVerifier],
    witnesses: Sequence[NoteVerifier] = (),
    *,
    min_witnesses: int = 0,
) -> OpenedCheckpoint:
    """Check a signed checkpoint: the log's signature, then the witness quorum.

    Args:
        note: the signed checkpoint.
        log_key: the log's verifier key (type 0x01); several for a rotated key.
        witnesses: the witnesses' keys (type 0x04; a type 0x01 key is taken as the same
            key's cosigner key).
        min_witnesses: how many distinct witnesses must have cosigned.

    Raises:
        CheckpointError: malformed; not signed by the log key; a known key's signature
            does not hold; fewer than ``min_witnesses`` witnesses.
    """
    try:
        parsed = note if isinstance(note, Note) else Note.parse(note)
        checkpoint = Checkpoint.parse(parsed.text)
        logs = [log_key] if isinstance(log_key, NoteVerifier) else list(log_key)
        if any(key.key_type != ED25519 for key in logs):
            raise CheckpointError("a log key is a type 0x01 (Ed25519) verifier key")
        # distinct witnesses: the same key given twice is one witness
        cosigners = list(
            dict.fromkeys(w if w.key_type == COSIGNATURE_V1 else w.as_cosigner() for w in witnesses)
        )
        good = parsed.verify([*logs, *cosigners])
    except NoteError as exc:
        raise CheckpointError(str(exc)) from None
    if not any(key in good for key in logs):
        names = ", ".join(f"`{key.name}` ({key.key_id:08x})" for key in logs)
        raise CheckpointError(f"the checkpoint is not signed by the log key {names}", "not-signed")
    cosigned = tuple(w for w in cosigners if w in good)
    if len(cosigned) < min_witnesses:
        raise CheckpointError(
            f"{len(cosigned)} of the {len(cosigners)} known witnesses cosigned, "
            f"{min_witnesses} required",
            "witness-quorum",
        )
    return OpenedCheckpoint(checkpoint, parsed, cosigned)
