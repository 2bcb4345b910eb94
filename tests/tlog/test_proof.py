"""Inclusion and consistency proofs: the published vectors, the RFC's definitions for
random sizes, any change refused, strict JSON, and O(log n) reads."""

from __future__ import annotations

import base64
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usepolicy.tlog import (
    EMPTY_ROOT,
    ConsistencyProof,
    InclusionProof,
    ProofError,
    leaf_hash,
    prove_consistency,
    prove_inclusion,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

from .reference import Memory, mth, path, proof
from .test_hash import LEAVES, ROOTS


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# transparency-dev/merkle proof/verify_test.go (RFC 6962 data): (leaf 0-based, size, proof)
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]  # fmt: skip
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (1, 1, []),
]  # fmt: skip


@pytest.mark.parametrize(("index", "size", "hashes"), INCLUSION)
def test_published_inclusion_proofs(index: int, size: int, hashes: list[str]) -> None:
    made = prove_inclusion(index, size, Memory(LEAVES))
    assert [x.hex() for x in made.hashes] == hashes
    assert made.root_hash == h(ROOTS[size]) and made.leaf_hash == leaf_hash(LEAVES[index])
    verify_inclusion(leaf_hash(LEAVES[index]), index, size, [h(x) for x in hashes], h(ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "hashes"), CONSISTENCY)
def test_published_consistency_proofs(old: int, new: int, hashes: list[str]) -> None:
    made = prove_consistency(old, new, Memory(LEAVES))
    assert [x.hex() for x in made.hashes] == hashes
    verify_consistency(old, new, h(ROOTS[old]), h(ROOTS[new]), [h(x) for x in hashes])


def _flips(hashes: tuple[bytes, ...]) -> list[list[bytes]]:
    """Every proof that differs from ``hashes`` in one bit (a sample of bits per hash)."""
    out = []
    for i, value in enumerate(hashes):
        for bit in (0, 7, 100, 255):
            changed = bytearray(value)
            changed[bit // 8] ^= 1 << (bit % 8)
            out.append([*hashes[:i], bytes(changed), *hashes[i + 1 :]])
    return out


def _rejected(check: object) -> bool:
    try:
        check()  # type: ignore[operator]
    except ProofError:
        return True
    return False


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 70), st.data())
def test_every_inclusion_proof_verifies_and_any_change_fails(size: int, data: st.DataObject):
    leaves = [bytes([i % 256, i // 256]) * (i % 5) for i in range(size)]
    index = data.draw(st.integers(0, size - 1))
    made = prove_inclusion(index, size, Memory(leaves))
    root = mth(leaves)
    assert list(made.hashes) == path(index, leaves)  # the RFC's PATH, exactly
    assert made.root_hash == root
    made.verify(root, leaf_hash(leaves[index]))
    leaf = made.leaf_hash
    for bad in _flips(made.hashes):
        assert _rejected(lambda bad=bad: verify_inclusion(leaf, index, size, bad, root))
    # (a wrong size can verify: the size and root come together from a signed checkpoint)
    for wrong in ({"index": index ^ 1}, {"index": index + 1}, {"root": EMPTY_ROOT},
                  {"leaf": leaf_hash(b"other")}, {"hashes": [*made.hashes, root]},
                  {"hashes": [root, *made.hashes]}, {"hashes": list(made.hashes)[:-1]}):  # fmt: skip
        args = {"leaf": leaf, "index": index, "size": size, "hashes": list(made.hashes),
                "root": root, **wrong}  # fmt: skip
        if args == {"leaf": leaf, "index": index, "size": size,
                    "hashes": list(made.hashes), "root": root}:  # fmt: skip
            continue  # the change was no change (e.g. a one-leaf tree's empty proof)
        if "index" in wrong and args["index"] < size and leaves[args["index"]] == leaves[index]:
            continue  # two equal leaves: the other one's proof is this one
        assert _rejected(lambda a=args: verify_inclusion(
            a["leaf"], a["index"], a["size"], a["hashes"], a["root"]
        )), wrong  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 70), st.data())
def test_every_consistency_proof_verifies_and_any_change_fails(new: int, data: st.DataObject):
    leaves = [bytes([i % 256, 7]) for i in range(new)]
    old = data.draw(st.integers(1, new - 1))
    made = prove_consistency(old, new, Memory(leaves))
    assert list(made.hashes) == proof(old, leaves)  # the RFC's PROOF, exactly
    old_root, new_root = mth(leaves[:old]), mth(leaves)
    made.verify(old_root, new_root)
    for bad in _flips(made.hashes):
        assert _rejected(lambda bad=bad: verify_consistency(old, new, old_root, new_root, bad))
    hashes = list(made.hashes)
    for args in ((old, new, new_root, old_root, hashes),  # swapped roots
                 (old, new, old_root, new_root, []),
                 (old, new, old_root, new_root, hashes[:-1]),
                 (old, new, old_root, new_root, [*hashes, old_root]),
                 (old, new, old_root, new_root, [new_root, *hashes]),
                 (new, old, new_root, old_root, hashes),  # a rollback
                 (old, new, leaf_hash(b"x"), new_root, hashes)):  # fmt: skip
        if args[0] == args[1] == old:
            continue
        assert _rejected(lambda a=args: verify_consistency(*a)), args[:2]


def test_trivial_consistency() -> None:
    root = mth(LEAVES[:3])
    verify_consistency(0, 3, EMPTY_ROOT, root, [])  # everything extends the empty tree
    verify_consistency(3, 3, root, root, [])
    for args in ((3, 3, root, EMPTY_ROOT, []), (0, 3, root, root, []),
                 (3, 3, root, root, [root]), (0, 0, EMPTY_ROOT, EMPTY_ROOT, [root])):  # fmt: skip
        assert _rejected(lambda a=args: verify_consistency(*a))
    assert prove_consistency(0, 5, Memory(LEAVES)).hashes == ()
    with pytest.raises(ProofError, match="smaller"):
        prove_consistency(5, 3, Memory(LEAVES))
    with pytest.raises(ProofError, match="not in a tree"):
        prove_inclusion(3, 3, Memory(LEAVES))


def test_hashes_of_the_wrong_length_are_refused() -> None:
    root = mth(LEAVES[:2])
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(leaf_hash(LEAVES[0]), 0, 2, [b"short"], root)
    with pytest.raises(ProofError, match="32 bytes"):
        verify_consistency(1, 2, root[:31], root, [root])


def test_a_proof_reads_log_n_stored_hashes() -> None:
    for size in (1, 2, 3, 1000, 4095, 4096, 65537):
        memory = Memory([b""] * 0)
        memory.leaves = _Lazy(size)  # type: ignore[assignment]
        bound = 2 * math.ceil(math.log2(size + 1)) + 2
        for index in {0, size // 3, size - 1}:
            memory.reads = 0
            prove_inclusion(index, size, memory)
            assert memory.reads <= bound, (size, index, memory.reads)
        memory.reads = 0
        prove_consistency(max(1, size // 3), size, memory)
        assert memory.reads <= bound
        memory.reads = 0
        tree_hash(size, memory)
        assert memory.reads == bin(size).count("1")


class _Lazy:
    """Leaf data of a big tree without building it: only the count of reads matters."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __getitem__(self, item: slice) -> list[bytes]:
        return [b"x"] * min(len(range(*item.indices(self.size))), 1)


def _stray_bits(text: str) -> str:
    """The same bytes in base64 with a padding bit set (decoders that are not strict
    accept it: two texts for one hash)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(text[-2])
    return text[:-2] + alphabet[last | 1] + "="


def test_json_round_trip_and_strict_parsing() -> None:
    made = prove_inclusion(5, 8, Memory(LEAVES))
    assert InclusionProof.from_json(made.to_json()) == made
    assert (
        json.loads(made.to_json())["hashes"][0] == base64.b64encode(h(INCLUSION[1][2][0])).decode()
    )
    cons = prove_consistency(2, 5, Memory(LEAVES))
    assert ConsistencyProof.from_json(cons.to_json()) == cons
    good = made.to_dict()
    for bad, message in (
        ("[]", "expected a JSON object"),
        ("{", "not JSON"),
        ({**good, "extra": 1}, "unknown `extra`"),
        ({k: v for k, v in good.items() if k != "index"}, "missing `index`"),
        ({**good, "index": -1}, "non-negative integer"),
        ({**good, "index": True}, "non-negative integer"),
        ({**good, "hashes": "x"}, "list"),
        ({**good, "leaf_hash": "AAAA"}, "3 bytes, expected 32"),
        ({**good, "root_hash": "not base64!"}, "not base64"),
        ({**good, "root_hash": _stray_bits(good["root_hash"])}, "not canonical"),
        ({**good, "hashes": [1]}, "base64 string"),
    ):
        with pytest.raises(ProofError, match=message):
            InclusionProof.from_json(bad)  # type: ignore[arg-type]
