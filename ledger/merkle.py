"""Binary SHA-256 Merkle tree over a block's transactions.

Leaves are H(0x00 || tx bytes), inner nodes H(0x01 || left || right) (domain-separated as in
RFC 6962, so a leaf can never pass for a node); an odd node at the end of a level is promoted
unchanged. The root of zero transactions is H(b"").
"""
from __future__ import annotations

import hashlib
from typing import Sequence

from ledger import checks
from ledger.encoding import DIGEST_BYTES
from ledger.errors import ArgumentError

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(tx_bytes: bytes) -> bytes:
    """H(0x00 || transaction bytes)."""
    h = hashlib.sha256(b"\x00")
    h.update(checks.data(tx_bytes, "tx_bytes"))  # no copy of a large transaction
    return h.digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    out = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        out.append(level[-1])
    return out


def _leaves(leaves: Sequence[bytes]) -> list[bytes]:
    checks.instance(leaves, (tuple, list), "leaves")
    level = [checks.data(leaf, "leaf") for leaf in leaves]
    if any(len(leaf) != DIGEST_BYTES for leaf in level):
        raise ArgumentError(f"a leaf hash is {DIGEST_BYTES} bytes")
    return level


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root over leaf hashes."""
    level = _leaves(leaves)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from leaf `index` up to the root (promoted levels contribute none)."""
    return merkle_paths(leaves, [index])[0]


def merkle_paths(leaves: Sequence[bytes], indices: Sequence[int]) -> list[list[bytes]]:
    """merkle_path of each of `indices`, the tree's levels built once (receipts for a whole
    block cost one tree, not one per transaction)."""
    level = _leaves(leaves)
    positions = [checks.position(i, "leaf", len(level), "the tree") for i in indices]
    paths: list[list[bytes]] = [[] for _ in positions]
    while len(level) > 1:
        for k, (path, index) in enumerate(zip(paths, positions)):
            if index ^ 1 < len(level):
                path.append(level[index ^ 1])
            positions[k] = index // 2
        level = _next_level(level)
    return paths


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root implied by a path, or None when the path has the wrong shape.

    >>> leaves = [leaf_hash(b"tx-%d" % i) for i in range(5)]
    >>> path = merkle_path(leaves, 4)
    >>> root_from_path(leaves[4], 4, 5, path) == merkle_root(leaves)
    True
    >>> root_from_path(leaf_hash(b"forged"), 4, 5, path) == merkle_root(leaves)
    False
    >>> root_from_path(leaves[4], 4, 5, path + path) is None
    True
    """
    leaf = checks.data(leaf, "leaf")
    index = checks.integer(index, "index", lo=-(1 << 64), hi=1 << 64)
    size = checks.integer(size, "size", lo=-(1 << 64), hi=1 << 64)
    checks.instance(path, (tuple, list), "path")
    path = [checks.data(node, "path node") for node in path]
    if not 0 <= index < size or len(leaf) != DIGEST_BYTES:
        return None
    node, used = leaf, 0
    while size > 1:
        sibling = index ^ 1
        if sibling < size:
            if used >= len(path) or len(path[used]) != DIGEST_BYTES:
                return None
            node = _node(path[used], node) if index & 1 else _node(node, path[used])
            used += 1
        index //= 2
        size = (size + 1) // 2
    return node if used == len(path) else None
