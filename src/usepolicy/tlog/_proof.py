"""Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4): made from stored
subtree hashes, checked from the proof alone.

``prove_inclusion`` and ``prove_consistency`` walk the RFC's recursive definitions
(``PATH`` and ``SUBPROOF``) to find which subtrees a proof holds, then read them in one
batch from a ``HashReader``: at most one of them is not a complete subtree, so a proof
costs ``O(log n)`` reads. ``verify_inclusion`` and ``verify_consistency`` are the
RFC's verification algorithms (§2.1.3.2, §2.1.4.2); they need nothing but the proof,
the sizes and the root hashes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import UsePolicyError
from ._hash import (
    EMPTY_ROOT,
    HASH_SIZE,
    HashReader,
    Node,
    fold,
    node_hash,
    range_nodes,
    split,
)

__all__ = [
    "ConsistencyProof",
    "InclusionProof",
    "ProofError",
    "b64",
    "prove_consistency",
    "prove_inclusion",
    "tree_hash",
    "unb64",
    "verify_consistency",
    "verify_inclusion",
]


class ProofError(UsePolicyError, ValueError):
    """A proof does not hold, or is not a proof (malformed JSON, bad sizes)."""

    code = "bad-proof"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any, what: str, *, size: int | None = HASH_SIZE) -> bytes:
    """Strict standard base64 (canonical, padded) of ``size`` bytes.

    Raises:
        ProofError: not a string, not base64, or the wrong length.
    """
    if not isinstance(text, str):
        raise ProofError(f"{what}: expected a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ProofError(f"{what}: not base64: `{text[:60]}`") from None
    if b64(data) != text:  # one encoding per value: no stray bits, no missing padding
        raise ProofError(f"{what}: not canonical base64: `{text[:60]}`")
    if size is not None and len(data) != size:
        raise ProofError(f"{what}: {len(data)} bytes, expected {size}")
    return data


# -- making proofs ---------------------------------------------------------------------
def _read(reader: HashReader, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """The hash of each leaf range, from one batched read of its complete subtrees."""
    parts = [range_nodes(lo, hi) for lo, hi in ranges]
    wanted: list[Node] = sorted({node for nodes in parts for node in nodes})
    found = dict(zip(wanted, reader.read_hashes(wanted), strict=True))
    return [fold([found[node] for node in nodes]) for nodes in parts]


def tree_hash(size: int, reader: HashReader) -> bytes:
    """The root hash of the first ``size`` leaves (popcount(size) reads)."""
    return _read(reader, [(0, size)])[0] if size else EMPTY_ROOT


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 ``PATH(index, D[0:size])``, as the leaf ranges whose hashes it lists."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index - lo < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    return ranges[::-1]  # PATH lists the sibling nearest the leaf first


def _consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """RFC 9162 ``SUBPROOF(old, D[0:new], true)``, as leaf ranges (0 < old < new)."""
    ranges: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, new, old, True
    while hi - lo != m:
        k = split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            m -= k
            whole = False
    if not whole:
        ranges.append((lo, hi))
    return ranges[::-1]


def prove_inclusion(
    index: int, size: int, reader: HashReader, leaf: bytes | None = None
) -> InclusionProof:
    """The proof that leaf ``index`` is in the tree of the first ``size`` leaves.

    Raises:
        ProofError: ``index`` is not below ``size``.
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of {size} leaves")
    ranges = _inclusion_ranges(index, size)
    hashes = _read(reader, [*ranges, (0, size), (index, index + 1)])
    return InclusionProof(
        index=index,
        tree_size=size,
        leaf_hash=hashes[-1] if leaf is None else leaf,
        root_hash=hashes[-2],
        hashes=tuple(hashes[:-2]),
    )


def prove_consistency(old: int, new: int, reader: HashReader) -> ConsistencyProof:
    """The proof that the tree of the first ``old`` leaves is a prefix of the first ``new``.

    Raises:
        ProofError: ``old`` is above ``new``.
    """
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from size {old} to the smaller size {new}")
    hashes = _read(reader, _consistency_ranges(old, new)) if 0 < old < new else []
    return ConsistencyProof(old_size=old, new_size=new, hashes=tuple(hashes))


# -- checking proofs (RFC 9162 §2.1.3.2, §2.1.4.2) -------------------------------------
def _sized(hashes: Sequence[bytes], *named: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in (*hashes, *named))


def verify_inclusion(
    leaf: bytes, index: int, size: int, hashes: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` whose
    root is ``root``, from the proof ``hashes`` alone.

    Raises:
        ProofError: it is not.
    """
    if not _sized(hashes, leaf, root):
        raise ProofError("hashes must be 32 bytes each")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in hashes:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError(f"leaf {index} with this proof gives the root {b64(r)}, not {b64(root)}")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, hashes: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` leaves with root ``old_root`` is a prefix of
    the tree of ``new_size`` leaves with root ``new_root``, from the proof alone.

    Raises:
        ProofError: it is not (a fork, a rollback, or a bad proof).
    """
    if not _sized(hashes, old_root, new_root):
        raise ProofError("hashes must be 32 bytes each")
    if not 0 <= old_size <= new_size:
        raise ProofError(f"size {new_size} is smaller than {old_size}: a rollback")
    if old_size in (0, new_size):
        if hashes:
            raise ProofError(f"a proof from size {old_size} to {new_size} must be empty")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("a tree of size 0 has the empty root")
        if old_size == new_size and old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}: a fork")
        return
    path = list(hashes)
    if not path:
        raise ProofError(f"a proof from size {old_size} to {new_size} cannot be empty")
    if old_size & (old_size - 1) == 0:  # the old tree is a complete subtree of the new
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError(f"the proof does not lead to the old root of size {old_size}")
    if sr != new_root:
        raise ProofError(
            f"the tree of size {new_size} does not extend the tree of size {old_size}: a fork"
        )


# -- the proofs as JSON ----------------------------------------------------------------
def _int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"`{key}`: expected a non-negative integer")
    return value


def _object(data: str | bytes | dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    if isinstance(data, dict):
        body = data
    else:
        try:
            body = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise ProofError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ProofError("expected a JSON object")
    missing = [key for key in keys if key not in body]
    unknown = sorted(set(body) - set(keys))
    if missing or unknown:
        what = [f"missing `{k}`" for k in missing] + [f"unknown `{k}`" for k in unknown]
        raise ProofError(", ".join(what))
    hashes = body["hashes"]
    if not isinstance(hashes, list):
        raise ProofError("`hashes`: expected a list of base64 strings")
    return body


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """That one leaf is in a tree of a given size (RFC 9162 §2.1.3).

    ``index`` is 0-based: the record on line ``index + 1`` of a log.
    """

    index: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    hashes: tuple[bytes, ...]

    def verify(self, root_hash: bytes | None = None, leaf: bytes | None = None) -> None:
        """Check the proof. Give the root from a checkpoint you trust (and, if you hold
        the record, its leaf hash): the proof's own ``root_hash`` proves nothing alone.

        Raises:
            ProofError: it does not hold, or the given root or leaf is not the proof's.
        """
        root = self.root_hash if root_hash is None else root_hash
        if leaf is not None and leaf != self.leaf_hash:
            raise ProofError("the record's leaf hash is not the one the proof is for")
        verify_inclusion(self.leaf_hash, self.index, self.tree_size, self.hashes, root)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "leaf_hash": b64(self.leaf_hash),
            "root_hash": b64(self.root_hash),
            "hashes": [b64(h) for h in self.hashes],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> InclusionProof:
        """Parse (strictly) what ``to_json`` wrote.

        Raises:
            ProofError: not such a proof.
        """
        keys = ("index", "tree_size", "leaf_hash", "root_hash", "hashes")
        body = _object(data, keys)
        return cls(
            index=_int(body, "index"),
            tree_size=_int(body, "tree_size"),
            leaf_hash=unb64(body["leaf_hash"], "`leaf_hash`"),
            root_hash=unb64(body["root_hash"], "`root_hash`"),
            hashes=tuple(unb64(h, f"`hashes[{i}]`") for i, h in enumerate(body["hashes"])),
        )


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """That the tree of ``old_size`` leaves is a prefix of the tree of ``new_size``
    (RFC 9162 §2.1.4). It holds no roots: they come from the checkpoints compared."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]

    def verify(self, old_root: bytes, new_root: bytes) -> None:
        """Check the proof between two roots (from two checkpoints).

        Raises:
            ProofError: the new tree does not extend the old one, or the proof is bad.
        """
        verify_consistency(self.old_size, self.new_size, old_root, new_root, self.hashes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "hashes": [b64(h) for h in self.hashes],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> ConsistencyProof:
        """Parse (strictly) what ``to_json`` wrote.

        Raises:
            ProofError: not such a proof.
        """
        body = _object(data, ("old_size", "new_size", "hashes"))
        return cls(
            old_size=_int(body, "old_size"),
            new_size=_int(body, "new_size"),
            hashes=tuple(unb64(h, f"`hashes[{i}]`") for i, h in enumerate(body["hashes"])),
        )
