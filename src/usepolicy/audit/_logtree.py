"""A file log as a transparency log: signed checkpoints, proofs, and checking a log
against a checkpoint someone kept.

The tree is the log's sidecar (``LOG.tree``, ``usepolicy.tlog.TreeState``): a
checkpoint or a proof reads ``O(log n)`` hashes from it, after checking that it matches
the log's last record and hashing the records it lacks (all of them when it is missing
or stale), mostly while the log's writers go on (``open_tree``). ``verify_checkpoint``
never trusts the sidecar: it re-hashes every record up to the checkpoint's size, and
uses stored tree hashes only to name the record that changed, and only those that
reproduce the signed root.
"""

from __future__ import annotations

import errno
import glob
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

from .._errors import AuditError
from .._files import InputFileError, open_regular
from ..tlog import (
    Checkpoint,
    CheckpointError,
    ConsistencyProof,
    Growth,
    HashSource,
    InclusionProof,
    Mismatch,
    Note,
    NoteSigner,
    NoteVerifier,
    ProofError,
    TreeError,
    TreeState,
    b64,
    compare_leaves,
    leaf_hash,
    open_checkpoint,
    sidecar_path,
)
from ._fileops import current_size, locked
from ._verify import _Snapshot

__all__ = [
    "CheckpointVerdict",
    "checkpoint_log",
    "find_decision",
    "open_tree",
    "prove_consistency_log",
    "prove_inclusion_log",
    "verify_checkpoint",
]


def _temporary_tree(log: Path) -> TreeState:
    """A sidecar in a temporary folder, for a log whose own folder is read-only."""
    folder = tempfile.mkdtemp(prefix="usepolicy-tree-")
    return TreeState(log, path=Path(folder) / sidecar_path(log).name)


#: what is left to hash once the tree is this close to the log is hashed under the log's
#: lock (appends wait for it: about a millisecond)
LOCKED_BYTES: Final = 256 * 1024
#: how much of the log is hashed between two takes of the lock
ROUND_BYTES: Final = 64 << 20
#: rounds before the rest is hashed under the lock, whatever its size (a log growing
#: faster than it can be hashed)
ROUNDS: Final = 64


def _open_log(path: Path) -> int:
    try:
        return open_regular(path)  # a FIFO would block, a device never end
    except InputFileError as exc:
        raise AuditError(f"{path}: cannot read: {exc.reason}") from exc


def open_tree(log: str | os.PathLike[str]) -> TreeState:
    """The log's tree, caught up with the log (built from it when missing or stale).

    The records the tree lacks are hashed while appends go on: the log's lock is taken
    to read how far the log goes and to write the hashes, in rounds, and held only
    for the last few records (``LOCKED_BYTES``). A log rotated meanwhile is followed:
    the tree is the file's now at the path. A log whose folder cannot be written gets
    a temporary sidecar, built from the log each time.

    Raises:
        AuditError: the log cannot be read, or the tree cannot be built.
    """
    path = Path(log)
    fd = _open_log(path)
    tree: TreeState | None = None
    temporary: Path | None = None
    try:
        growth: Growth | None = None
        for round_ in itertools.count():
            with locked(fd):  # exclusive: nothing appends meanwhile
                end = current_size(path, fd)
                if end is not None:
                    if tree is None:
                        tree, temporary = _tree_of(path)
                    if growth is not None:
                        tree.take(growth)
                    if end - tree.covered <= LOCKED_BYTES or round_ >= ROUNDS:
                        tree.sync(fd, end)
                        return tree
                    growth = tree.ahead(fd, end)
            if end is None:  # moved: follow the path, whose sidecar is the new file's
                old, fd, growth = fd, -1, None
                os.close(old)
                fd = _open_log(path)
                if tree is not None:
                    tree.close()
                    tree = None
                if temporary is not None:
                    shutil.rmtree(temporary, ignore_errors=True)
                    temporary = None
            elif growth is not None:  # the lock is free: appends go on meanwhile
                growth.read(fd, end, most=ROUND_BYTES)
        raise AssertionError("unreachable")  # pragma: no cover
    except BaseException as exc:
        if tree is not None:
            tree.close()
        if isinstance(exc, TreeError):
            raise AuditError(f"{path}: cannot build its Merkle tree: {exc}") from exc
        raise
    finally:
        if fd >= 0:
            os.close(fd)
        if temporary is not None:  # the tree keeps its descriptor; the name can go
            shutil.rmtree(temporary, ignore_errors=True)


def _tree_of(path: Path) -> tuple[TreeState, Path | None]:
    """The log's sidecar, or a temporary one (and its folder) if its folder is
    read-only."""
    try:
        return TreeState(path), None
    except TreeError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
    tree = _temporary_tree(path)
    return tree, tree.path.parent


def checkpoint_log(
    log: str | os.PathLike[str], signer: NoteSigner, origin: str | None = None
) -> Note:
    """A checkpoint of the whole log, signed with the log's note key.

    Args:
        log: the log file.
        signer: the log's note key (``usepolicy keygen --note NAME``).
        origin: the log's name in the checkpoint (default: the key's name).

    Raises:
        AuditError: the log cannot be read.
    """
    with open_tree(log) as tree:
        checkpoint = Checkpoint(origin or signer.name, tree.size, tree.root())
    return checkpoint.sign(signer)


def _records(log: Path) -> Iterator[bytes]:
    """The log's complete lines (a torn last line is not a record)."""
    snapshot = _Snapshot(log)
    try:
        for line, terminated in snapshot.lines():
            if terminated:
                yield line
    finally:
        snapshot.close()


def find_decision(log: str | os.PathLike[str], decision_id: str) -> list[int]:
    """The 0-based indexes of the decision records with this ``decision_id`` (line =
    index + 1); the outcome records that follow a decision share its id, and are not
    counted."""
    needle = b'"decision_id":' + json.dumps(decision_id).encode("utf-8")
    found: list[int] = []
    for index, line in enumerate(_records(Path(log))):
        if needle in line:  # a cheap filter; the field itself decides
            try:
                body = json.loads(line)
            except ValueError:
                continue
            if (
                isinstance(body, dict)
                and body.get("decision_id") == decision_id
                and "record_kind" not in body
            ):
                found.append(index)
    return found


def prove_inclusion_log(
    log: str | os.PathLike[str], index: int, size: int | None = None
) -> InclusionProof:
    """The proof that record ``index`` (line ``index + 1``) is in the log's tree of
    ``size`` records (default: the whole log).

    Raises:
        AuditError: the log cannot be read, or has no such record or size.
    """
    with open_tree(log) as tree:
        try:
            return tree.inclusion_proof(index, size)
        except (TreeError, ProofError) as exc:
            raise AuditError(f"{log}: {_short(exc)}") from None


def prove_consistency_log(
    log: str | os.PathLike[str], old: int, new: int | None = None
) -> ConsistencyProof:
    """The proof that the log's first ``old`` records are a prefix of its first ``new``.

    Raises:
        AuditError: the log cannot be read, or is shorter than ``new``.
    """
    with open_tree(log) as tree:
        try:
            return tree.consistency_proof(old, new)
        except (TreeError, ProofError) as exc:
            raise AuditError(f"{log}: {_short(exc)}") from None


def _short(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


@dataclass(frozen=True, slots=True)
class CheckpointVerdict:
    """A log checked against a checkpoint.

    Attributes:
        path: the log (or database writer).
        origin, size, root_hash: the checkpoint (root in base64).
        witnesses: names of the witnesses whose cosignatures held.
        problem: None when the log holds the checkpointed records, else ``bad-checkpoint``,
            ``not-signed``, ``witness-quorum``, ``truncated``, ``rewritten`` or
            ``checkpoint-mismatch``.
        line: the first record (1-based) that differs or is missing, when known.
        message: what is wrong, in words.
    """

    path: str
    origin: str | None
    size: int | None
    root_hash: str | None
    witnesses: tuple[str, ...] = ()
    problem: str | None = None
    line: int | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        if self.ok:
            return f"{self.path}: ok: holds the {self.size} records of checkpoint {self.origin}"
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.problem}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["ok"] = self.ok
        body["witnesses"] = list(self.witnesses)
        return body


def with_mismatch(verdict: CheckpointVerdict, mismatch: Mismatch | None) -> CheckpointVerdict:
    """The verdict once the records were compared with the checkpoint (``compare_leaves``):
    unchanged when they hash to its root, else naming the first record that differs."""
    if mismatch is None:
        return verdict
    line = None if mismatch.index is None else mismatch.index + 1
    return replace(verdict, problem=mismatch.problem, line=line, message=mismatch.message)


def open_or_verdict(
    where: str,
    note: Note | bytes | str,
    log_key: NoteVerifier | Sequence[NoteVerifier],
    witnesses: Sequence[NoteVerifier],
    min_witnesses: int,
) -> tuple[Checkpoint | None, CheckpointVerdict]:
    """Check the checkpoint's signatures: (checkpoint, verdict so far)."""
    try:
        opened = open_checkpoint(note, log_key, witnesses, min_witnesses=min_witnesses)
    except CheckpointError as exc:
        return None, CheckpointVerdict(where, None, None, None, (), exc.code, None, str(exc))
    cp = opened.checkpoint
    names = tuple(w.name for w in opened.witnesses)
    return cp, CheckpointVerdict(where, cp.origin, cp.size, b64(cp.root_hash), names)


def _sources(log: Path) -> list[HashSource]:
    """The sidecar and any stale ones set aside: hashes that may name a changed record."""
    pattern = glob.escape(str(sidecar_path(log))) + ".stale-*"
    found: list[HashSource] = []
    for path in [sidecar_path(log), *sorted(Path(p) for p in glob.glob(pattern))]:
        try:
            found.append(TreeState(log, path=path, writable=False))
        except TreeError:
            continue
    return found


def verify_checkpoint(
    log: str | os.PathLike[str],
    note: Note | bytes | str,
    log_key: NoteVerifier | Sequence[NoteVerifier],
    witnesses: Sequence[NoteVerifier] = (),
    *,
    min_witnesses: int = 0,
) -> CheckpointVerdict:
    """Check that the log holds, unchanged, the records a signed checkpoint covers.

    The checkpoint must be signed by ``log_key`` and cosigned by at least
    ``min_witnesses`` of ``witnesses``. Then every record up to its size is hashed
    again: the log may have grown since, but a record removed from the end or changed
    (even re-chained and re-signed by the holder of the log's keys) fails. The first
    changed record is named when tree hashes matching the checkpoint are at hand (the
    sidecar, or one set aside as stale).

    Raises:
        AuditError: the log cannot be read.
    """
    path = Path(log)
    checkpoint, verdict = open_or_verdict(str(path), note, log_key, witnesses, min_witnesses)
    if checkpoint is None:
        return verdict
    sources = _sources(path)
    try:
        mismatch = compare_leaves(
            lambda: (leaf_hash(line) for line in _records(path)), checkpoint, sources
        )
    finally:
        for source in sources:
            if isinstance(source, TreeState):
                source.close()
    return with_mismatch(verdict, mismatch)
