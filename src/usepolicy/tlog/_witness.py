"""A witness: cosigns a log's checkpoints, never two that contradict each other.

For each log (origin) it follows, a witness keeps the last checkpoint it cosigned, in
``STATE/<origin>.json``. It cosigns a new checkpoint only if the log's key signed it
and it extends that one: same size and root (a re-cosign), or larger with a
consistency proof from the old size to the new. A smaller size is a rollback, the same
size with another root or a proof that fails is a fork: both are refused, and the
refused checkpoint is kept beside the state (``.refused-<UTC time>``) as evidence, since
two inconsistent checkpoints signed by one log key prove the log misbehaved.

The state is written (fsynced, renamed into place) before the cosignature is returned,
so a witness never signs what it will not remember.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from urllib.parse import quote

from .._errors import UsePolicyError
from .._files import InputFileError, read_bytes
from ._checkpoint import Checkpoint, CheckpointError, open_checkpoint
from ._note import Note, NoteError, NoteSigner, NoteVerifier
from ._proof import ConsistencyProof, ProofError

if sys.platform != "win32":
    import fcntl

__all__ = ["Cosigned", "Witness", "WitnessError"]

_STATE_LIMIT: Final = 1 << 20


class WitnessError(UsePolicyError, ValueError):
    """The witness refuses to cosign. ``code`` says why: ``rollback``, ``fork``,
    ``needs-proof``, ``bad-proof``, ``wrong-log-key``, ``bad-checkpoint``,
    ``not-signed``, ``bad-state``."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Cosigned:
    """A checkpoint the witness cosigned: the note with its line, and what it followed."""

    note: Note
    checkpoint: Checkpoint
    previous: Checkpoint | None


def _file_name(origin: str) -> str:
    name = quote(origin, safe="")
    return name if len(name) <= 200 else hashlib.sha256(origin.encode()).hexdigest()


class Witness:
    """A witness with its key and its state folder.

    Args:
        state: the folder holding the last cosigned checkpoint of each log (created).
        signer: the witness's note key (``usepolicy keygen --note NAME --witness``).
    """

    def __init__(self, state: str | os.PathLike[str], signer: NoteSigner) -> None:
        self.state = Path(state)
        self.signer = signer

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.state.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd = os.open(self.state / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            if sys.platform != "win32":  # pragma: no branch
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _path(self, origin: str) -> Path:
        return self.state / f"{_file_name(origin)}.json"

    def last(self, origin: str) -> tuple[Checkpoint, str] | None:
        """The last checkpoint cosigned for ``origin`` and the log key it was under.

        Raises:
            WitnessError: the state file is damaged (``bad-state``).
        """
        path = self._path(origin)
        try:
            data = read_bytes(path, _STATE_LIMIT)
        except InputFileError as exc:
            if exc.code == "file-not-found":
                return None
            raise WitnessError(f"{exc}", "bad-state") from None
        try:
            body = json.loads(data)
            checkpoint = Checkpoint.parse(Note.parse(body["checkpoint"]).text)
            log_key = str(body["log_key"])
        except (ValueError, KeyError, TypeError, NoteError) as exc:
            raise WitnessError(f"{path}: damaged state: {exc}", "bad-state") from None
        if checkpoint.origin != origin:
            raise WitnessError(f"{path}: holds origin `{checkpoint.origin}`", "bad-state")
        return checkpoint, log_key

    def cosign(
        self,
        note: Note | bytes | str,
        log_key: NoteVerifier,
        proof: ConsistencyProof | None = None,
        *,
        now: int | None = None,
    ) -> Cosigned:
        """Cosign ``note`` if the log signed it and it extends what this witness saw.

        Args:
            note: the signed checkpoint.
            log_key: the log's verifier key.
            proof: a consistency proof from the last cosigned size to this one
                (``usepolicy audit prove LOG --from OLD --to NEW``).
            now: the cosignature's time (POSIX seconds; default: the clock).

        Raises:
            WitnessError: refused, and why (see the class).
        """
        try:
            opened = open_checkpoint(note, log_key)
        except CheckpointError as exc:
            raise WitnessError(str(exc), exc.code) from None
        new = opened.checkpoint
        with self._locked():
            last = self.last(new.origin)
            if last is not None and last[1] != log_key.vkey:
                raise WitnessError(
                    f"this witness follows `{new.origin}` under the log key {last[1]}, "
                    f"not {log_key.vkey}",
                    "wrong-log-key",
                )
            previous = None if last is None else last[0]
            if previous is not None:
                self._check_extends(previous, new, proof, opened.note)
            stamp = int(time.time()) if now is None else now
            cosigned = opened.note.signed(self.signer.cosign(new.text().encode("utf-8"), stamp))
            self._save(new.origin, cosigned, log_key)
        return Cosigned(cosigned, new, previous)

    def _check_extends(
        self, old: Checkpoint, new: Checkpoint, proof: ConsistencyProof | None, note: Note
    ) -> None:
        if new.size < old.size:
            self._refuse(note, f"size {new.size} is below {old.size}, cosigned before", "rollback")
        if new.size == old.size:
            if new.root_hash != old.root_hash:
                self._refuse(note, f"another root for size {new.size}, cosigned before", "fork")
            return
        if proof is None:
            if old.size:
                raise WitnessError(
                    f"give a consistency proof from size {old.size} (cosigned before) to "
                    f"{new.size}: usepolicy audit prove LOG --from {old.size} --to {new.size}",
                    "needs-proof",
                )
            proof = ConsistencyProof(0, new.size, ())
        if (proof.old_size, proof.new_size) != (old.size, new.size):
            raise WitnessError(
                f"the proof is from size {proof.old_size} to {proof.new_size}, not from "
                f"{old.size} (cosigned before) to {new.size}",
                "bad-proof",
            )
        try:
            proof.verify(old.root_hash, new.root_hash)
        except ProofError as exc:
            why = f"not consistent with size {old.size}, cosigned before: {exc}"
            self._refuse(note, why, "fork")

    def _refuse(self, note: Note, message: str, code: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        origin = Checkpoint.parse(note.text).origin
        evidence = self.state / f"{_file_name(origin)}.refused-{stamp}"
        with contextlib.suppress(OSError):  # the refusal stands even if the copy fails
            evidence.write_text(note.format(), encoding="utf-8")
        raise WitnessError(f"{message} (kept as {evidence.name})", code)

    def _save(self, origin: str, note: Note, log_key: NoteVerifier) -> None:
        path = self._path(origin)
        temp = path.with_name(f".{path.name}.partial")
        body = json.dumps({"log_key": log_key.vkey, "checkpoint": note.format()}, indent=2)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        try:
            os.write(fd, body.encode("utf-8") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        folder = os.open(self.state, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
