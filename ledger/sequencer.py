"""A chain's sequencer (block cutter): it admits submitted transactions through the policy's
endorsers, cuts blocks, has them endorsed and stored by every peer, and answers submitters.

The sequencer thread takes every pending transaction (up to max_block_txs) into one block, so
under load many transactions share one Merkle root, one accumulator exponentiation and one
fsync per peer. Its leader (the first peer holding the longest chain) validates and
proposes, the policy's endorsers validate and sign, and every peer stores the block before
submitters are told.

Commit semantics. The quorum is the policy's endorsement threshold. A block durable on at
least the quorum of peers is committed: its transactions get a Receipt. A block durable on
fewer (but at least one) is on the chain yet not committed: its transactions get
CommitPending, never a failure that invites signing them again. A block durable on no peer
failed: its transactions are on no chain, and may be submitted again. Submitting a
transaction that is already on the chain (the same bytes) is idempotent: it answers with its
Receipt (or CommitPending) and adds nothing. Lagging peers catch up before every block
(catch_up) and on open.
"""
from __future__ import annotations

import concurrent.futures
import queue
import threading
from typing import Callable

from ledger import checks
from ledger.anchors import ChainCopy, check_chain
from ledger.block import Block
from ledger.chain import ChainConfig, Receipt
from ledger.errors import (CommitPending, EndorsementError, LedgerError, ReplayedTransaction, StorageError,
                           ValidationRejected)
from ledger.peer import Peer
from ledger.tx import Transaction

CATCH_UP_RETRY_SECONDS = 0.5


def catch_up(peers: list[Peer]) -> dict[str, LedgerError]:
    """A crash between two peers' commits, or a failed write, leaves a peer behind: replay the
    longest copy's extra blocks to the others (each validates them as usual). Peers holding
    different blocks, or a longest copy lacking (RollbackDetected) or contradicting
    (ForkDetected) the block a repaired peer's checkpoint vouches for (Peer.vouched_anchors),
    raise before anything is written. Returns the peers that could not store a block
    (name -> error): they stay behind until the next attempt."""
    check_chain([memory_copy(p) for p in peers], [a for p in peers for a in p.vouched_anchors()])
    longest = max(peers, key=lambda p: p.height)
    failed: dict[str, LedgerError] = {}
    for peer in peers:
        try:
            for height in range(peer.height, longest.height):
                peer._commit(longest.block(height), live=False)  # decoded from the store
        except LedgerError as exc:
            failed[peer.name] = exc
    return failed


def memory_copy(peer: Peer) -> ChainCopy:
    """The chain as `peer` validated it (its memory)."""
    return ChainCopy(peer.chain_id, peer.name, peer.height, peer.digest)


def store_copy(peer: Peer) -> ChainCopy:
    """The chain as `peer`'s store holds it now (digests read from disk)."""
    return ChainCopy(peer.chain_id, f"the store of {peer.name}", peer.store.height(), peer.store.record_digest)


class PendingTx:
    """A submitted transaction: `tx_id` now, `result()` -> Receipt once the policy's quorum of
    peers stored its block (CommitPending when fewer did; or the LedgerError that rejected it)."""

    def __init__(self, tx: Transaction) -> None:
        self.transaction = tx
        self.tx_id = tx.tx_id
        self.chain_id = tx.chain_id
        self._future: concurrent.futures.Future = concurrent.futures.Future()

    def result(self, timeout: float | None = 60.0) -> Receipt:
        """The Receipt once the quorum stored the transaction's block. Raises CommitPending
        when fewer peers (at least one) stored it: it is on the chain, so submit this same
        transaction again for its receipt, never a re-signed copy; the LedgerError that
        rejected it (then it is on no peer); or LedgerError after `timeout` seconds."""
        if timeout is not None:
            timeout = checks.number(timeout, "timeout")
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise LedgerError(f"transaction {self.tx_id.hex()} not committed within {timeout} s") from None

    def done(self) -> bool:
        """True once the transaction is committed or rejected."""
        return self._future.done()

    def add_done_callback(self, fn: Callable[["PendingTx"], None]) -> None:
        """Call fn(pending) when the transaction is committed or rejected (on the sequencer's thread)."""
        checks.function(fn, "fn")
        self._future.add_done_callback(lambda _f: fn(self))


class ChainService:
    """A chain's peers and its sequencer thread."""

    def __init__(self, config: ChainConfig, peers: list[Peer], max_block_txs: int,
                 on_commit: Callable[[str], None]) -> None:
        self.config = config
        self.deployment = peers[0].deployment
        self.chain_id = config.chain_id
        self.peers = peers
        self.max_block_txs = max_block_txs
        self._queue: queue.Queue = queue.Queue()
        self._on_commit = on_commit
        self._stop = threading.Event()
        self._committers = concurrent.futures.ThreadPoolExecutor(len(peers), thread_name_prefix=f"commit-{self.chain_id}")
        self._thread = threading.Thread(target=self._run, name=f"sequencer-{self.chain_id}", daemon=True)
        self._thread.start()

    @property
    def leader(self) -> Peer:
        """The peer that proposes blocks: the first one holding the longest chain (a peer that
        failed to store a block and cannot catch up does not stop the others)."""
        return max(self.peers, key=lambda p: p.height)

    @property
    def quorum(self) -> int:
        """How many peers must hold a block durably before it is reported committed."""
        return self.config.endorsement_threshold

    def submit(self, tx: Transaction) -> PendingTx:
        """Have the policy's endorsers check `tx` now, on the caller's thread (signature checks
        release the GIL, so submitters check in parallel), then queue it for the next block.
        A transaction they refuse comes back as a PendingTx holding the error."""
        return self.submit_many([tx])[0]

    def submit_many(self, txs: list[Transaction]) -> list[PendingTx]:
        """submit() for several transactions that are queued together, so they share blocks
        (max_block_txs per block)."""
        txs = [checks.decoded(tx, Transaction, "tx") for tx in checks.instance(txs, (list, tuple), "txs")]
        return self._submit_decoded(txs)

    def _submit_decoded(self, txs: list[Transaction]) -> list[PendingTx]:
        # The trust boundary: peers check, sign and store the decoding of the submitted
        # bytes (checks.decoded), never fields an object carries beside them.
        if self._stop.is_set():
            raise LedgerError("the network is closed")
        admitted, out = [], []
        for tx in txs:
            pending = PendingTx(tx)
            out.append(pending)
            # one already on the chain is answered by the sequencer (idempotent resubmission)
            if self.leader.locate(tx.tx_id) is not None or self._admit(tx, pending):
                admitted.append(pending)
        for start in range(0, len(admitted), self.max_block_txs):
            self._queue.put(admitted[start:start + self.max_block_txs])
        return out

    def _admit(self, tx: Transaction, pending: PendingTx) -> bool:
        """Ask the peers in order until the policy's threshold admit `tx` (k of any). A broken
        ledger rule fails at once (every peer checks the same rules); a peer whose application
        validator refuses only does not endorse, and the next peer is asked."""
        threshold = self.config.endorsement_threshold
        admitted: list[Peer] = []
        refusals: list[ValidationRejected] = []
        try:
            tx.leaf  # hashed here, off the sequencer's thread
            for peer in self.peers:
                if len(admitted) == threshold:
                    break
                try:
                    peer._admit(tx)  # decoded by submit_many
                    admitted.append(peer)
                except ValidationRejected as exc:
                    refusals.append(exc)
            if len(admitted) < threshold:
                raise ValidationRejected(
                    f"{self.chain_id}: {len(admitted)} of the {threshold} endorsements the policy needs "
                    f"({'; '.join(map(str, refusals))})") from (refusals[0] if refusals else None)
        except LedgerError as exc:
            for peer in admitted:
                peer.forget(tx)
            pending._future.set_exception(exc)
            return False
        return True

    def _lagging(self) -> bool:
        return len({peer.height for peer in self.peers}) > 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:  # while a peer lags, retry its catch-up when idle too
                first = self._queue.get(timeout=CATCH_UP_RETRY_SECONDS if self._lagging() else None)
            except queue.Empty:
                try:
                    catch_up(self.peers)
                except LedgerError:
                    pass  # peers that disagree: the next block reports it to its submitters
                continue
            if first is None:  # close() wakes the thread
                break
            batch = list(first)
            while len(batch) < self.max_block_txs:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.extend(item)
            try:
                self._commit_batch(batch)
            except Exception as exc:  # never let the sequencer die with submitters waiting
                failure = exc if isinstance(exc, LedgerError) else LedgerError(f"internal error: {exc!r}")
                for p in batch:
                    if not p.done():
                        p._future.set_exception(failure)
        for p in self._drain():
            p._future.set_exception(LedgerError("the network closed before the transaction was committed"))

    def _drain(self) -> list[PendingTx]:
        out = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return out
            if item is not None:
                out.extend(item)

    def _commit_batch(self, batch: list[PendingTx]) -> None:
        """Propose, endorse and store one block of the batch's new transactions, then answer
        every submitter from what the peers hold (see the module docstring)."""
        if self._lagging():
            catch_up(self.peers)  # best effort: a peer whose store still fails stays behind
        leader = self.leader
        fresh = [p for p in batch if leader.locate(p.tx_id) is None]
        refused: dict[int, LedgerError] = {}
        stored: set[int] = set()
        failure: LedgerError | None = None
        if fresh:
            block, rejected = leader._propose([p.transaction for p in fresh])  # decoded on submission
            refused = {id(fresh[i]): exc for i, exc in rejected}
            if len(refused) < len(fresh):
                try:
                    self._store(self._endorsed(block))
                    stored = {id(p) for p in fresh if id(p) not in refused}
                except LedgerError as exc:
                    failure = exc
        held = self.leader.held([p.transaction for p in batch if id(p) not in stored])
        for p in batch:
            if id(p) in stored or id(p.transaction) in held:
                self._answer(p)
            elif id(p) in refused:
                p._future.set_exception(refused[id(p)])
            elif self.leader.locate(p.tx_id) is not None:  # another transaction with this id
                p._future.set_exception(ReplayedTransaction(
                    f"another transaction with id {p.tx_id.hex()[:16]} is already on {self.chain_id}"))
            else:
                p._future.set_exception(failure or LedgerError(f"{self.chain_id}: block not stored"))
        if stored:
            self._on_commit(self.chain_id)

    def _endorsed(self, block: Block) -> Block:
        endorsements, refusals = [], []
        for peer in self.peers:
            if len(endorsements) == self.config.endorsement_threshold:
                break
            try:
                # A peer whose own certificate was revoked may still sign; skip it, as the
                # committing side would refuse its endorsement.
                self.deployment.trust.resolve(peer.identity.fingerprint, roles=("peer",), chain_id=self.chain_id)
                endorsements.append(peer._endorse(block))  # built by the leader from decoded txs
            except LedgerError as exc:
                refusals.append(f"{peer.name}: {exc}")
        if len(endorsements) < self.config.endorsement_threshold:
            raise EndorsementError(f"{self.chain_id}: endorsement policy not met ({'; '.join(refusals)})")
        return block.with_endorsements(endorsements)

    def _store(self, block: Block) -> None:
        """Every peer stores `block`, in parallel (SQLite releases the GIL while it writes and
        syncs); StorageError when none did, so the block is on no peer."""
        commits = [self._committers.submit(peer._commit, block) for peer in self.peers]
        concurrent.futures.wait(commits)
        if all(future.exception() is not None for future in commits):
            reasons = "; ".join(f"{peer.name}: {future.exception()}" for peer, future in zip(self.peers, commits))
            raise StorageError(f"{self.chain_id}: block {block.height} was stored on no peer, its transactions "
                               f"are on no chain ({reasons})")

    def _answer(self, pending: PendingTx) -> None:
        """Receipt when the quorum holds the transaction's block, CommitPending when fewer do."""
        receipt = self.leader.receipt(pending.tx_id)
        durable = sum(peer.height > receipt.height for peer in self.peers)  # copies agree below their heights
        if durable >= self.quorum:
            pending._future.set_result(receipt)
            return
        pending._future.set_exception(CommitPending(
            f"transaction {pending.tx_id.hex()} is in block {receipt.height} of {self.chain_id}, stored on "
            f"{durable} of {len(self.peers)} peers, below the quorum of {self.quorum}: it is not lost; submit "
            "the same transaction again for its receipt once the lagging peers caught up",
            receipt=receipt, durable=durable, quorum=self.quorum))

    def close(self) -> None:
        """Stop the sequencer (queued transactions fail), record the peers' checkpoints and
        close their stores."""
        self._stop.set()
        self._queue.put(None)
        self._thread.join()
        self._committers.shutdown()
        for peer in self.peers:
            peer.checkpoint_if_behind()
            peer.close()

