"""Transparency logs over audit logs: Merkle trees, signed checkpoints, proofs, witnesses.

The standards, so that any implementation can check what usepolicy produces:

- RFC 9162 §2.1 Merkle tree hashing: ``leaf_hash``, ``node_hash``; inclusion and
  consistency proofs (``InclusionProof``, ``ConsistencyProof``) and their verification
  from the proof alone (``verify_inclusion``, ``verify_consistency``).
- C2SP ``signed-note`` with Ed25519 keys (``Note``, ``NoteSigner``, ``NoteVerifier``).
- C2SP ``tlog-checkpoint`` (``Checkpoint``, ``open_checkpoint``).
- C2SP ``tlog-cosignature/v1`` and a witness that cosigns only consistent checkpoints
  (``Witness``).

``TreeState`` keeps a log's tree in a sidecar file beside it (``LOG.tree``): appends are
``O(log n)`` work, roots and proofs ``O(log n)`` reads; ``Growth`` hashes new lines apart
from writing them, so that a reader can catch a tree up without holding up the log's
writers. The operations on audit logs (checkpoint, prove, verify against a checkpoint)
are in ``usepolicy.audit``.

Signing and verifying notes needs ``cryptography`` (``pip install 'usepolicy[sign]'``).
"""

from ._checkpoint import Checkpoint, CheckpointError, OpenedCheckpoint, open_checkpoint
from ._compare import HashSource, Mismatch, compare_leaves
from ._grow import Growth
from ._hash import EMPTY_ROOT, HashReader, Node, leaf_hash, node_hash
from ._keyfile import generate_note_key
from ._note import (
    COSIGNATURE_V1,
    ED25519,
    MAX_NOTE_BYTES,
    Note,
    NoteError,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    read_key_text,
)
from ._proof import (
    ConsistencyProof,
    InclusionProof,
    ProofError,
    b64,
    prove_consistency,
    prove_inclusion,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)
from ._sidecar import TreeError, TreeState, sidecar_path
from ._witness import Cosigned, Witness, WitnessError

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "EMPTY_ROOT",
    "MAX_NOTE_BYTES",
    "Checkpoint",
    "CheckpointError",
    "ConsistencyProof",
    "Cosigned",
    "Growth",
    "HashReader",
    "HashSource",
    "InclusionProof",
    "Mismatch",
    "Node",
    "Note",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "OpenedCheckpoint",
    "ProofError",
    "TreeError",
    "TreeState",
    "Witness",
    "WitnessError",
    "b64",
    "compare_leaves",
    "generate_note_key",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "prove_consistency",
    "prove_inclusion",
    "read_key_text",
    "sidecar_path",
    "tree_hash",
    "verify_consistency",
    "verify_inclusion",
]
