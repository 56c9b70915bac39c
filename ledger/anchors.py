"""Rollback and fork detection: each layer holds anchors of the other, and a chain that
disagrees with them was cut back or rewritten.

An anchor is a record, held outside a chain, of one of its blocks: a Type-II on the main chain
anchors a sub-chain block, a Type-III on a sub-chain anchors a main-chain block. An edge holds
its own peers' keys, so it can re-endorse a rewritten history that passes every check of its
own chain; only the other layer's anchors catch it. A main chain that still holds every block
the sub-chains' Type-IIIs name also extends each of those statuses by the later ones (it is
one hash chain), which is the continuity a sub-chain asks of the statuses it received.

What no anchor covers cannot be caught: a sub-chain's blocks after its last Type-II are
protected by its own peers only, the main chain's blocks after the last Type-III any
sub-chain holds likewise, and cutting back both layers together below every record the other
chains hold leaves nothing to compare. A peer that is merely shorter than the others is
lagging, not rolled back: the Network catches it up (after these checks, so it never receives
blocks of a refused history).

The rules are pure: copies of a chain and anchors in, an exception out, nothing read or
written but through the copies' `digest_at`. The embedded Network runs them on open and on
every interlock; a deployment of separate processes can run them on the headers it fetched.

>>> copy = ChainCopy("edge-0", "edge-0.peer0", 2, [b"\\xaa", b"\\xbb"].__getitem__)
>>> check_chain([copy], [Anchor("edge-0", 1, b"\\xbb", "main block 4")])
>>> check_chain([copy], [Anchor("edge-0", 1, b"\\xcc", "main block 4")])
Traceback (most recent call last):
...
ledger.errors.ForkDetected: edge-0 was rewritten: block 1 is bb on edge-0.peer0, but main block 4 anchored cc
>>> check_chain([copy], [Anchor("edge-0", 2, b"\\xcc", "main block 9")])
Traceback (most recent call last):
...
ledger.errors.RollbackDetected: edge-0 was cut back: no copy holds block 2 (longest: edge-0.peer0, 2 blocks), which main block 9 anchored as cc
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from ledger.errors import ForkDetected, RollbackDetected


@dataclass(frozen=True)
class Anchor:
    """A record that block `height` of `chain_id` has `digest`, and who holds that record."""

    chain_id: str
    height: int
    digest: bytes
    recorded_by: str


@dataclass(frozen=True)
class ChainCopy:
    """One copy of a chain (a peer's memory or its store): `height` blocks, and the digest
    of block h by `digest_at(h)` for 0 <= h < height (None when the copy lacks it)."""

    chain_id: str
    holder: str
    height: int
    digest_at: Callable[[int], bytes | None]


def anchors_from(records: Iterable, recorded_on: str, kind: str) -> list[Anchor]:
    """Anchors from committed status records (ledger.chain.StatusRecord) held by `recorded_on`."""
    return [Anchor(r.source_chain, r.source_height, r.source_digest, f"{recorded_on} block {r.height} ({kind})")
            for r in records]


def check_chain(copies: Sequence[ChainCopy], anchors: Iterable[Anchor]) -> None:
    """Raise unless the copies of one chain are consistent with each other and with the anchors:

    - two copies hold the same block at every height both hold (ForkDetected otherwise; a
      shorter copy is a lagging peer, not an error);
    - the longest copy holds every anchored height (RollbackDetected otherwise);
    - every copy holding an anchored height holds the anchored digest there (ForkDetected).

    Anchors are checked from the lowest height up, so the first divergence is the one named."""
    if not copies:
        return
    longest = max(copies, key=lambda c: c.height)
    chain_id = longest.chain_id
    for copy in copies:
        last = copy.height - 1
        if copy is longest or last < 0:
            continue
        mine, theirs = copy.digest_at(last), longest.digest_at(last)
        if mine != theirs:
            raise ForkDetected(f"{chain_id} forked: block {last} is {_hex(mine)} on {copy.holder} but "
                               f"{_hex(theirs)} on {longest.holder}",
                               chain_id=chain_id, height=last, expected=theirs, found=mine)
    for anchor in sorted(anchors, key=lambda a: a.height):
        if anchor.height >= longest.height:
            raise RollbackDetected(f"{chain_id} was cut back: no copy holds block {anchor.height} (longest: "
                                   f"{longest.holder}, {longest.height} blocks), which {anchor.recorded_by} "
                                   f"anchored as {_hex(anchor.digest)}",
                                   chain_id=chain_id, height=anchor.height, expected=anchor.digest, found=None)
        for copy in copies:
            if anchor.height >= copy.height:
                continue
            found = copy.digest_at(anchor.height)
            if found is None:
                raise RollbackDetected(f"{chain_id} was cut back: {copy.holder} lacks block {anchor.height}, which "
                                       f"{anchor.recorded_by} anchored as {_hex(anchor.digest)}",
                                       chain_id=chain_id, height=anchor.height, expected=anchor.digest, found=None)
            if found != anchor.digest:
                raise ForkDetected(f"{chain_id} was rewritten: block {anchor.height} is {_hex(found)} on "
                                   f"{copy.holder}, but {anchor.recorded_by} anchored {_hex(anchor.digest)}",
                                   chain_id=chain_id, height=anchor.height, expected=anchor.digest, found=found)


def _hex(digest: bytes | None) -> str:
    return digest.hex() if digest is not None else "missing"
