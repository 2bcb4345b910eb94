"""RFC 9162 hashing against the published test vectors, and the stored-hash order."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from usepolicy.tlog import EMPTY_ROOT, leaf_hash, node_hash, tree_hash
from usepolicy.tlog._hash import fold, range_nodes, split, stored_count, stored_index

from .reference import Memory, mth

# The Certificate Transparency reference leaves and their tree heads for sizes 0..8
# (RFC 6962 test data, as published in transparency-dev/merkle testonly/constants.go).
LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# the hashes of every complete subtree of those 8 leaves, by level
NODES = [
    ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"],
    ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"],
    ["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]  # fmt: skip


def test_the_empty_tree_and_the_published_roots() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    memory = Memory(LEAVES)
    for size, root in enumerate(ROOTS):
        assert tree_hash(size, memory).hex() == root
        assert mth(LEAVES[:size]).hex() == root  # the oracle agrees with the vectors too


def test_leaf_and_node_hashes_are_the_published_ones() -> None:
    leaves = [leaf_hash(data) for data in LEAVES]
    assert [h.hex() for h in leaves] == NODES[0]
    level = leaves
    for expected in NODES[1:]:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        assert [h.hex() for h in level] == expected


def test_the_split_is_the_largest_power_of_two_below_n() -> None:
    # not the midpoint: both make a tree, only this one is RFC 9162's
    for n, k in {2: 1, 3: 2, 4: 2, 5: 4, 7: 4, 8: 4, 9: 8, 1000: 512, 2**40 + 1: 2**40}.items():
        assert split(n) == k


def test_stored_hashes_are_numbered_in_the_order_they_are_completed() -> None:
    order: list[tuple[int, int]] = []
    for m in range(300):
        order.append((0, m))
        level, k = 0, m
        while k & 1:
            k >>= 1
            level += 1
            order.append((level, k))
        assert stored_count(m + 1) == len(order)
    assert [stored_index(level, k) for level, k in order] == list(range(len(order)))
    assert stored_count(0) == 0


@given(st.integers(0, 2**20), st.integers(1, 2**20))
def test_a_range_is_its_complete_subtrees(start: int, length: int) -> None:
    # ranges as RFC 9162 makes them: aligned to the largest power of two in them
    align = 1 << length.bit_length()
    lo = start // align * align
    nodes = range_nodes(lo, lo + length)
    covered = [(k << level, (k + 1) << level) for level, k in nodes]
    assert covered[0][0] == lo and covered[-1][1] == lo + length
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))
    assert len(nodes) == bin(length).count("1")


def test_fold_nests_to_the_right_as_the_rfc_splits() -> None:
    memory = Memory(LEAVES[:7])
    parts = memory.read_hashes(range_nodes(0, 7))
    assert fold(parts) == mth(LEAVES[:7])
    assert fold([]) == EMPTY_ROOT
