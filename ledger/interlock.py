"""Interlocking (paper section III): Type-II statuses carry each sub-chain's latest header to
the main chain, Type-III statuses carry the main chain's latest header to every sub-chain,
every K blocks or T seconds, whichever comes first, or on demand.

Rollback and fork detection (ledger.anchors). On open and before every interlocking round,
the main chain is checked against the Type-III statuses each sub-chain holds, and each
sub-chain against the Type-II statuses the main chain holds for it; the peers of a chain
must agree, and (on interlocking) every store still holds what its peer committed. A
mismatch raises RollbackDetected or ForkDetected, before anything is written.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import edgeacc

from ledger import checks
from ledger.anchors import Anchor, anchors_from, check_chain
from ledger.block import SubchainStatus
from ledger.chain import Receipt, now_ms
from ledger.errors import ChainIntegrityError, LedgerError
from ledger.identity import Identity
from ledger.peer import Peer
from ledger.sequencer import ChainService, memory_copy, store_copy
from ledger.tx import Transaction, TxKind


@dataclass(frozen=True)
class InterlockReport:
    """What one interlocking round committed: Type-II receipts and Type-III receipts."""

    type2: tuple[Receipt, ...]
    type3: tuple[Receipt, ...]


class LayerCheck:
    """ledger.anchors.check_chain for every chain against the other layer's anchors. A peer's
    memory only grows by validated blocks, so a status record checked against it once is not
    checked again: a check costs what was recorded since the last one (the first checks
    everything)."""

    def __init__(self, main_chain_id: str) -> None:
        self.main_chain_id = main_chain_id
        self._checked: dict[tuple[str, str], int] = {}  # (holder, anchored chain) -> records checked

    def __call__(self, peers_by_chain: Mapping[str, list[Peer]], *, stores: bool) -> None:
        """Check every chain's peers (and with `stores`, every store against its peer)."""
        main_id = self.main_chain_id
        subchains = [cid for cid in peers_by_chain if cid != main_id]
        longest = {cid: max(peers, key=lambda p: p.height) for cid, peers in peers_by_chain.items()}
        # (holder, anchored chain) -> the holder's status records of it: Type-III records of
        # the main chain on each sub-chain, Type-II records of each sub-chain on the main chain
        recorded = {(cid, main_id): longest[cid].statuses(main_id) for cid in subchains}
        recorded.update({(main_id, cid): longest[main_id].statuses(cid) for cid in subchains})

        def anchors(key: tuple[str, str], heads) -> list[Anchor]:
            return anchors_from(heads, key[0], "Type-II" if key[0] == main_id else "Type-III")

        # The main chain first: it holds the Type-II anchors the sub-chains are checked against.
        for chain in [main_id] + subchains:
            keys = [key for key in recorded if key[1] == chain]
            new = [a for key in keys for a in anchors(key, recorded[key].heads(self._checked.get(key, 0)))]
            copies = [memory_copy(p) for p in peers_by_chain[chain]]
            check_chain(copies, ())  # the peers agree at each one's last block: validated hash chains, so below too
            check_chain([max(copies, key=lambda c: c.height)], new)  # (the anchors once, not once per peer)
            if stores:
                for peer in peers_by_chain[chain]:
                    below = (recorded[key].last_below(peer.height) for key in keys)
                    held = [a for key, head in zip(keys, below) if head for a in anchors(key, [head])]
                    check_chain([store_copy(peer)], _store_anchors(peer, held))
        self._checked.update({key: len(records) for key, records in recorded.items()})


class Interlocker:
    """The interlocking role over the chains' services: rounds on demand (interlock()) and,
    once started, automatically when a sub-chain has `blocks` new blocks or `seconds` passed
    since the last round (0 disables a trigger). `layer_check(peers_by_chain, stores=...)`
    is the rollback and fork check run before every round (a LayerCheck by default)."""

    def __init__(self, services: Mapping[str, ChainService], main_chain_id: str, params: edgeacc.Params, *,
                 blocks: int, seconds: float, layer_check: Callable[..., None] | None = None,
                 nonce: Iterator[int] | None = None) -> None:
        self.services = services
        self.main_chain_id = main_chain_id
        self.params = params
        self.blocks, self.seconds = blocks, seconds
        self.layer_check = layer_check or LayerCheck(main_chain_id)
        self._nonce = nonce or itertools.count(time.time_ns())
        self._lock = threading.RLock()
        self._wake = threading.Condition()
        self._closed = False
        self._last_round = time.monotonic()
        self.thread: threading.Thread | None = None

    @property
    def subchain_ids(self) -> list[str]:
        """The sub-chains, in the services' order."""
        return [cid for cid in self.services if cid != self.main_chain_id]

    def start(self) -> None:
        """Run rounds automatically on a thread of its own (when a trigger is set)."""
        if self.blocks > 0 or self.seconds > 0:
            self.thread = threading.Thread(target=self._loop, name="interlocker", daemon=True)
            self.thread.start()

    def close(self) -> None:
        """Stop the automatic rounds (a round under way finishes first)."""
        self._closed = True
        with self._wake:
            self._wake.notify_all()
        if self.thread is not None:
            self.thread.join()

    def committed(self, chain_id: str) -> None:
        """A sequencer committed a block of `chain_id`: wake the loop to see if a round is due."""
        if chain_id != self.main_chain_id and self.thread is not None:
            with self._wake:
                self._wake.notify_all()

    def check_layers(self) -> None:
        """Check every chain against the other layer's anchors, its peers against each other,
        and every store against what its peer committed (the check interlock() runs first):
        RollbackDetected or ForkDetected names the chain, the height and both digests."""
        with self._lock:
            self.layer_check({cid: s.peers for cid, s in self.services.items()}, stores=True)

    def interlock(self, timeout: float = 60.0) -> InterlockReport:
        """One round now: check_layers(), then every sub-chain with new records sends its
        latest header to the main chain (Type-II); then the main chain's latest header goes to
        every sub-chain (Type-III). Returns the receipts."""
        timeout = checks.number(timeout, "timeout")
        with self._lock:
            self.check_layers()
            main = self.services[self.main_chain_id]
            type2 = []
            for cid in self.subchain_ids:
                leader = self.services[cid].leader
                latest = leader.latest()
                anchored = main.leader.statuses(cid)
                if latest is None or leader.last_record_height <= (anchored[-1].source_height if anchored else -1):
                    continue
                witness = b""
                if anchored:  # prove the block reported last time is inside the new accumulator
                    w = leader.block_witness(anchored[-1].source_height, latest.header.height)
                    witness = edgeacc.encode_element(self.params, w)
                payload = SubchainStatus(latest, witness).to_bytes()
                type2.append(main.submit(self._status_tx(leader.identity, TxKind.SUBCHAIN_STATUS,
                                                         self.main_chain_id, payload)))
            type2_receipts = tuple(p.result(timeout) for p in type2)
            latest_main = main.leader.latest()
            type3 = []
            for cid in self.subchain_ids:
                if latest_main is None:
                    break
                seen = self.services[cid].leader.statuses(self.main_chain_id)
                if seen and seen[-1].source_height >= latest_main.header.height:
                    continue
                type3.append(self.services[cid].submit(self._status_tx(main.leader.identity, TxKind.MAIN_STATUS,
                                                                       cid, latest_main.to_bytes())))
            type3_receipts = tuple(p.result(timeout) for p in type3)
            self._last_round = time.monotonic()
            return InterlockReport(type2_receipts, type3_receipts)

    def _status_tx(self, signer: Identity, kind: TxKind, chain_id: str, payload: bytes) -> Transaction:
        return Transaction.create(signer, kind, chain_id, payload, timestamp_ms=now_ms(),
                                  nonce=next(self._nonce))

    def _due(self) -> bool:
        main = self.services[self.main_chain_id].leader
        for cid in self.subchain_ids:
            leader = self.services[cid].leader
            anchored = main.statuses(cid)
            anchored_height = anchored[-1].source_height if anchored else -1
            if leader.last_record_height <= anchored_height:
                continue
            if self.blocks and leader.height - 1 - anchored_height >= self.blocks:
                return True
            if self.seconds and time.monotonic() - self._last_round >= self.seconds:
                return True
        return False

    def _loop(self) -> None:
        while not self._closed:
            with self._wake:
                self._wake.wait(timeout=min(self.seconds, 1.0) if self.seconds else 1.0)
            if self._closed:
                return
            try:
                if self._due():
                    self.interlock()
            except ChainIntegrityError:
                return  # never anchor a forked or rolled-back chain; interlock() raises it again
            except LedgerError:
                time.sleep(0.1)  # a closing network or a failed round: the next wake retries



def _store_anchors(peer: Peer, held: list[Anchor]) -> list[Anchor]:
    """What `peer`'s store must still hold: the block its memory ends with, and the highest
    of `held` (the other layer's latest anchors among the blocks the peer holds)."""
    latest = peer.latest()
    if latest is None:
        return []
    own = Anchor(peer.chain_id, latest.header.height, latest.header.digest, f"{peer.name} (committed in memory)")
    return ([max(held, key=lambda a: a.height)] if held else []) + [own]
