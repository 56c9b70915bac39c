"""The peer of one chain: it admits and endorses transactions, stores blocks durably in its
SQLite store and commits them to its validated ledger.chain.ChainState.

Every block a peer accepts, whether freshly endorsed or read back from disk on open (above
the peer's signed checkpoint; below it, the bytes it validated before), passes the same
checks (ChainState.validate_block) and the chain's endorsement policy
(Deployment.check_endorsements).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

from cryptography.exceptions import InvalidSignature
from edgeacc.errors import EdgeaccError
from tqdm import tqdm

from ledger import checks
from ledger.anchors import Anchor
from ledger.block import GENESIS_PREVIOUS, Block, SignedHeader
from ledger.chain import (ChainState, Committed, Deployment, Receipt, StatusColumns, StatusRecords, check_fresh,
                          now_ms, replay_time, status_records)
from ledger.errors import (ChainIntegrityError, ConfigurationError, EncodingError, ForkDetected, LedgerError,
                           MerkleMismatch, NotFound, RollbackDetected, StorageError, ValidationError,
                           ValidationRejected, WrongHeight)
from ledger.encoding import DIGEST_BYTES, U64_MAX
from ledger.identity import Identity
from ledger.protocol1 import InclusionProof
from ledger.recent import Recent
from ledger.store import INDEX_BUCKETS, PeerStore, add_index_rows, sums_digest
from ledger.tx import Transaction, TxKind

CHECKPOINT_DOMAIN = b"edgeacc-ledger validated checkpoint/2\0"
CHECKPOINT_EVERY = 1024  # blocks between the checkpoints a committing peer records
STATUS_DOMAIN = b"edgeacc-ledger status records/1\0"
ADMITTED_KEPT = 1 << 17  # admitted transactions a peer remembers as verified (a queue's worth and more)
VALIDATED_KEPT = 64  # headers remembered as validated at one height, and parents with children validated on
                     # them: another peer's variants of one block must not grow memory (a header forgotten
                     # is validated again when it commits)


def chained_status(chain: bytes, height: int, position: int, record: bytes) -> bytes:
    """The hash chain over a chain's status records (StatusRecord.to_bytes), in height and
    position order, that a checkpoint signs: each link hashes the one before."""
    return hashlib.sha256(STATUS_DOMAIN + chain + height.to_bytes(8, "big") + position.to_bytes(4, "big")
                          + record).digest()


@dataclass(frozen=True)
class _Checkpoint:
    """What this peer's verified checkpoint vouches for, at block `height`."""

    height: int
    content: bytes  # PeerStore.content_digest(height)
    index: bytes  # PeerStore.index_digest(height)
    statuses: bytes  # chained_status over the status records up to height
    last_record: int  # the last block up to height holding a Type-I (-1: none)


def _rows(height: int, tx_ids: list[bytes]) -> list[tuple[bytes, int, int]]:
    return [(tx_id, height, position) for position, tx_id in enumerate(tx_ids)]


class Peer:
    """One peer of one chain: its identity, its SQLite store, and the validated chain state."""

    def __init__(self, deployment: Deployment, identity: Identity, store: PeerStore) -> None:
        checks.instance(deployment, Deployment, "deployment")
        checks.instance(identity, Identity, "identity")
        checks.instance(store, PeerStore, "store")
        if identity.role != "peer" or identity.chain_id not in deployment.chains:
            raise ConfigurationError(f"{identity.name} is not a peer of a known chain")
        self.deployment = deployment
        self.identity = identity
        self.chain_id = identity.chain_id
        self.config = deployment.config(self.chain_id)
        self.store = store
        self.state = ChainState(deployment, self.chain_id, _StoredBlocks(store))
        self._lock = self.state.lock
        self._validated = Recent(VALIDATED_KEPT)  # digests of headers this peer validated at the next height
        # parent digest -> digests this peer validated on top of that parent, not yet applied (endorse_on)
        self._validated_on: Recent[bytes, Recent] = Recent(VALIDATED_KEPT)
        # (tx_id, signature) verified on admission (one forgotten is verified again when proposed)
        self._admitted: Recent[tuple[bytes, bytes], None] = Recent(ADMITTED_KEPT)
        self._status_chain = bytes(DIGEST_BYTES)  # chained_status over every status record applied
        self._vouched: tuple[int, bytes] | None = None  # (height, digest) of a checkpoint a repair must reach

    @property
    def name(self) -> str:
        """The peer's certificate name."""
        return self.identity.name

    # --- reading (the chain state's, and the store's blocks) ------------------------------

    @property
    def height(self) -> int:
        """Number of blocks (the next block's height)."""
        return self.state.height

    @property
    def last_record_height(self) -> int:
        """Height of the last block holding a Type-I transaction (-1 if none)."""
        return self.state.last_record_height

    def latest(self) -> SignedHeader | None:
        """The latest block's signed header, or None on an empty chain."""
        return self.state.latest()

    def signed_header(self, height: int) -> SignedHeader:
        """The signed header of block `height` (NotFound if there is none)."""
        return self.state.signed_header(height)

    def digest(self, height: int) -> bytes:
        """The digest of block `height`, as this peer validated it."""
        return self.state.digest(height)

    def locate(self, tx_id: bytes | str) -> tuple[int, int] | None:
        """(height, position) of a committed transaction (id as bytes or hex), or None."""
        return self.state.locate(tx_id)

    def statuses(self, source_chain: str) -> StatusRecords:
        """Committed Type-II records of `source_chain` (main chain) or Type-III records
        (sub-chain, source = the main chain), oldest first (a view: ChainState.statuses)."""
        return self.state.statuses(source_chain)

    def accumulator_value(self, height: int | None = None) -> int:
        """The accumulator after block `height` (the latest block when None)."""
        return self.state.accumulator_value(height)

    def block_witness(self, height: int, against_height: int) -> int:
        """Membership witness of block `height`'s element in the accumulator after block
        `against_height`: v_(height-1) raised to the elements after it."""
        return self.state.block_witness(height, against_height)

    def block_witnesses(self, heights: list[int], against_height: int) -> dict[int, int]:
        """block_witness of every block in `heights` (height -> witness), computed together."""
        return self.state.block_witnesses(heights, against_height)

    def block(self, height: int) -> Block:
        """Block `height` as stored, which must still be the block this peer validated
        (ChainState.block: StorageError otherwise)."""
        return self.state.block(height)

    def receipt(self, tx_id: bytes | str) -> Receipt:
        """The Receipt of a committed transaction (NotFound if it is not on this chain)."""
        tx_id = checks.identifier(tx_id, "tx_id", "transaction id")
        where = self.locate(tx_id)
        if where is None:
            raise NotFound(f"transaction {tx_id.hex()} is not on {self.chain_id}")
        return Receipt(tx_id, self.chain_id, where[0], where[1], self.digest(where[0]))

    def transaction(self, tx_id: bytes) -> Transaction:
        """The committed transaction `tx_id`."""
        receipt = self.receipt(tx_id)
        return self.state.transaction_at(receipt.tx_id, receipt.height, receipt.position)

    def transactions(self, tx_ids: Iterable[bytes | str]) -> dict[bytes, Committed]:
        """The committed transactions of this chain among `tx_ids` with their Receipts, each
        block read and checked once (ChainState.transactions); ids not on it are left out."""
        return self.state.transactions(tx_ids)

    def holds(self, tx: Transaction) -> bool:
        """Whether this chain holds exactly `tx` (not just a transaction with its id)."""
        return id(tx) in self.held([tx])

    def held(self, txs: list[Transaction]) -> set[int]:
        """The id() of each of `txs` this chain holds exactly (holds), each block holding one
        read and checked once (ChainState.transactions): answering a batch of resubmissions
        reads a block per block, not per transaction."""
        txs = [checks.exact(tx, Transaction, "tx") for tx in checks.items(txs, "txs")]
        committed = self.state.transactions(tx.tx_id for tx in txs)
        return {id(tx) for tx in txs if tx.tx_id in committed and committed[tx.tx_id].transaction.to_bytes() == tx.to_bytes()}

    def inclusion_proof(self, tx_id: bytes, against_height: int | None = None) -> InclusionProof:
        """Merkle path plus accumulator witness for `tx_id` against the value after block
        `against_height` (the latest block when None)."""
        with self._lock:
            receipt = self.receipt(tx_id)
            height, position = receipt.height, receipt.position
            against = self.height - 1 if against_height is None else self.state.check_height(against_height)
            if height > against:
                raise NotFound(f"block {height} is after height {against}")
        return InclusionProof.for_transaction(self.block(height), position, self.block_witness(height, against), against)

    def inclusion_proofs(self, tx_ids: list[bytes], against_height: int) -> list[InclusionProof]:
        """inclusion_proof of each of `tx_ids` (in order) against the value after block
        `against_height`, the witnesses of all their blocks computed in one RootFactory pass
        and each block read once (one id: inclusion_proof itself)."""
        tx_ids, against_height = checks.items(tx_ids, "tx_ids"), self.state.check_height(against_height)
        if len(tx_ids) == 1:
            return [self.inclusion_proof(tx_ids[0], against_height)]
        receipts = [self.receipt(tx_id) for tx_id in tx_ids]
        by_height: dict[int, list[int]] = {}
        for i, receipt in enumerate(receipts):
            if receipt.height > against_height:
                raise NotFound(f"block {receipt.height} is after height {against_height}")
            by_height.setdefault(receipt.height, []).append(i)
        witnesses = self.block_witnesses(list(by_height), against_height)
        out: list = [None] * len(tx_ids)
        for height, indices in by_height.items():
            proofs = InclusionProof.for_transactions(self.block(height), [receipts[i].position for i in indices],
                                                     witnesses[height], against_height)
            for i, proof in zip(indices, proofs):
                out[i] = proof
        return out

    # --- validation --------------------------------------------------------------------

    # The public methods take signed objects from anyone and work on their decoding
    # (checks.decoded); the _-methods take objects already decoded (ChainService decodes a
    # submission once, and builds and replays blocks from decoded objects).

    def check_transaction(self, tx: Transaction, *, at_ms: int | None = None,
                          pending: dict | None = None) -> None:
        """Raise unless `tx` (the decoding of its bytes) may go into this chain's next block.
        `pending` carries what the block under construction already holds (tx ids, status
        heights)."""
        self.state.check_transaction(checks.decoded(tx, Transaction, "tx"), at_ms=at_ms, pending=pending,
                                     admitted=self._admitted)

    def validate_block(self, block: Block, *, live: bool = True) -> None:
        """Every check but the endorsements. `live`
        checks certificates against revocation now; otherwise at the block's timestamp."""
        self._validate_block(checks.decoded(block, Block, "block"), live=live)

    def _validate_block(self, block: Block, *, live: bool, ordered: bool = False) -> None:
        self.state.validate_block(block, live=live, admitted=self._admitted, ordered=ordered)

    def admit(self, tx: Transaction) -> None:
        """The endorser's check of one transaction when it is submitted (as in Fabric's
        endorsement phase, and on the submitter's thread): everything check_transaction checks
        now, then the chain's application validators on a Type-I transaction (ValidationRejected
        if one refuses). This peer remembers that it verified the signature and ran the
        validators, so validating the block that carries the transaction does not do either
        again (certificates are re-checked)."""
        self._admit(checks.decoded(tx, Transaction, "tx"))

    def _admit(self, tx: Transaction) -> None:
        self.state.check_transaction(tx, admitted=self._admitted)
        if tx.kind == TxKind.RECORD:
            self._run_validators(tx)
        with self._lock:
            self._admitted.add((tx.tx_id, tx.signature))

    def run_validators(self, tx: Transaction) -> None:
        """Run the chain's application validators on `tx`; ValidationRejected names this peer
        and the reason when one refuses."""
        self._run_validators(checks.decoded(tx, Transaction, "tx"))

    def _run_validators(self, tx: Transaction) -> None:
        for validator in self.deployment.validators(self.chain_id):
            try:
                validator(self.name, tx)
            except Exception as exc:  # a validator that crashes refuses too: sign only what passed
                raise ValidationRejected(f"{self.name} refuses transaction {tx.tx_id.hex()[:16]}: {exc}") from exc

    def forget(self, tx: Transaction) -> None:
        """Drop what admit() remembered about `tx` (it will not be proposed)."""
        checks.exact(tx, Transaction, "tx")
        with self._lock:
            self._admitted.discard((tx.tx_id, tx.signature))

    # --- endorse and commit ---------------------------------------------------------------

    def propose(self, transactions: list[Transaction]) -> tuple[Block, list[tuple[int, LedgerError]]]:
        """Validate each transaction on its own and build an unendorsed block on top of this
        peer's chain from those that pass; returns the block and (index, error) of the rest.
        The block counts as validated by this peer, so endorse() does not check it again."""
        checks.instance(transactions, (list, tuple), "transactions")
        return self._propose([checks.decoded(tx, Transaction, "each transaction") for tx in transactions])

    def _propose(self, transactions: list[Transaction], term: int = 0,
                 parent: Block | None = None) -> tuple[Block, list[tuple[int, LedgerError]]]:
        """propose() of decoded transactions; `term`: the cluster's ordering term of the block
        (BlockHeader.term). `parent`: a block this peer validated (proposed or endorsed) as its
        next one, not applied yet, to build on (the pipelined cutter proposes block h+1 while
        h is being ordered): WrongHeight when it is not such a block, SpeculationRefused when
        it carries status transactions (ChainState.next_block); the block counts as validated
        on `parent` (_endorse_on signs it without checking it again)."""
        if parent is not None:
            self._check_parent(parent)
        block, rejected = self.state.next_block(transactions, admitted=self._admitted, term=term, parent=parent)
        with self._lock:
            for i, _ in rejected:
                self._admitted.discard((transactions[i].tx_id, transactions[i].signature))
            if parent is None:
                self._validated.add(block.digest)
            else:
                self._validated_child(parent, block)
        return block, rejected

    def endorse(self, block: Block) -> tuple[bytes, bytes]:
        """Validate `block` (unless this peer proposed it), run the application validators on
        the Type-I transactions this peer did not admit, and sign the header:
        (fingerprint, signature)."""
        return self._endorse(checks.decoded(block, Block, "block"))

    def _endorse(self, block: Block) -> tuple[bytes, bytes]:
        with self._lock:
            known = block.digest in self._validated and block.height == self.height
        # (a header validated before is not checked again - with the transactions it binds only:
        # a digest names the header, not the body; the cluster's Endorse keeps the body it signs)
        if not known or block.computed_merkle_root() != block.header.merkle_root:
            self._validate_block(block, live=True)
            with self._lock:
                self._validated.add(block.digest)
        return self._sign_endorsement(block)

    def endorse_on(self, parent: Block, block: Block) -> tuple[bytes, bytes]:
        """Endorse `block` as the block after `parent`, a block this peer validated (endorsed or
        proposed) as its next one but has not applied yet: the cutter asks for a block as soon
        as etcd took its parent, which this endorser may not have read yet. Sound because the
        endorsement signs a header linking to `parent`'s digest: every peer skips the block
        unless `parent` is the ordered block at its height, and then the chain it extends is
        exactly the one checked here (ChainState.validate_child). WrongHeight when `parent` is
        not such a block (SpeculationRefused: it must be applied first)."""
        return self._endorse_on(checks.decoded(parent, Block, "parent"), checks.decoded(block, Block, "block"))

    def _endorse_on(self, parent: Block, block: Block) -> tuple[bytes, bytes]:
        self._check_parent(parent)
        with self._lock:
            known = block.digest in self._validated_on.get(parent.digest, ()) and self.height == parent.height
        # (one this peer proposed on `parent`, or endorsed there, is not checked again - if these
        # are the transactions its header binds: a digest names the header, not the body)
        if not known or block.computed_merkle_root() != block.header.merkle_root:
            self.state.validate_child(parent, block, admitted=self._admitted)
            with self._lock:  # (its parent may have been applied meanwhile: then it is the next block)
                self._validated_child(parent, block)
        return self._sign_endorsement(block)

    def _check_parent(self, parent: Block) -> None:
        """WrongHeight unless `parent` is a block this peer validated as its next one."""
        with self._lock:
            if parent.digest not in self._validated or parent.height != self.height:
                raise WrongHeight(f"{self.name} did not validate a block {parent.height} "
                                  f"{parent.digest.hex()[:16]} to build block {parent.height + 1} on")

    def _validated_child(self, parent: Block, block: Block) -> None:
        """Note `block`, just validated on `parent` (under the lock): validated on that parent
        while it is not applied, else at the next height if the chain took `parent`
        (WrongHeight if it took another block)."""
        if self.height == parent.height:
            children = self._validated_on.get(parent.digest)
            if children is None:
                self._validated_on[parent.digest] = children = Recent(VALIDATED_KEPT)
            children.add(block.digest)
        elif self.height == block.height and self.digest(parent.height) == parent.digest:
            self._validated.add(block.digest)
        else:
            raise WrongHeight(f"{self.chain_id} took another block {parent.height} than the one "
                              f"block {block.height} links to")

    def _sign_endorsement(self, block: Block) -> tuple[bytes, bytes]:
        """Run the application validators this peer did not run on admission, then sign a
        block dated now (check_fresh)."""
        check_fresh(block.header, self.name)
        if self.deployment.validators(self.chain_id):
            # A peer that did not admit a record (another peer endorsed at submission) runs
            # the application validators now: it signs nothing they did not accept.
            with self._lock:
                unchecked = [tx for tx in block.transactions if tx.kind == TxKind.RECORD
                             and (tx.tx_id, tx.signature) not in self._admitted]
            for tx in unchecked:
                self._run_validators(tx)
        return self.identity.fingerprint, self.identity.sign(block.header.endorsement_message())

    def commit(self, block: Block, *, live: bool = True) -> None:
        """Validate (unless this peer endorsed this exact header), check the endorsements,
        store durably, then apply. On any error the chain is unchanged, in memory and on disk
        (a write reported failed that nonetheless reached disk counts as stored). `live=False`
        checks revocation at the block's timestamp (replaying blocks other peers committed
        earlier); with `ordered` too, not at all (the caller judges revocation by the log's
        order: ledger.cluster.follower)."""
        self._commit(checks.decoded(block, Block, "block"), live=live)

    def _commit(self, block: Block, *, live: bool = True, ordered: bool = False, endorsed: bool = False) -> None:
        """commit() of a decoded block; `endorsed`: the caller checked block.signed's
        endorsements at replay_time(live, ordered) already (the follower checks them first),
        so they are not verified twice."""
        at_ms = replay_time(block.header, live, ordered)
        with self._lock:
            if block.digest not in self._validated or block.height != self.height:
                self._validate_block(block, live=live, ordered=ordered)
            elif block.computed_merkle_root() != block.header.merkle_root:  # (Block checks the count)
                # the header was validated, but these are not the transactions it binds
                raise MerkleMismatch(f"block {block.height}: transactions differ from the endorsed header")
            if not endorsed:
                self.deployment.check_endorsements(block.signed, at_ms=at_ms)
            self._store_and_apply(block)

    def _store_and_apply(self, block: Block) -> None:
        """The end of _commit, under the lock: store `block` (validated, its endorsements
        checked), then apply it. (bench/ledger_age.py's bulk build calls it directly.)"""
        records = status_records(block.height, block.transactions)
        try:
            self.store.append(block.height, block.digest, block.to_bytes(), [tx.tx_id for tx in block.transactions],
                              [(position, record.to_bytes()) for position, record in records])
        except StorageError:
            if not self._stored(block):
                raise
        self._apply(block, records=records)
        # proposals at this height are stale now; those validated on this block are the next
        self._validated = self._validated_on.pop(block.digest) or Recent(VALIDATED_KEPT)
        self._validated_on.clear()

    def _stored(self, block: Block) -> bool:
        """Whether the store holds exactly `block` at its height: a write whose commit reported
        an error may still have reached disk, and then the block is this peer's too (memory
        must not fall behind its own disk, and a submitter must not be told it failed)."""
        try:
            return self.store.get(block.height) == block.to_bytes()
        except StorageError:
            return False

    def _apply(self, block: Block, *, records: list | None = None, loading: bool = False) -> list:
        records = self.state.apply(block, records)
        for position, record in records:
            self._status_chain = chained_status(self._status_chain, block.height, position, record.to_bytes())
        for tx in block.transactions:
            self._admitted.discard((tx.tx_id, tx.signature))
        # (never while loading: the bytes below a checkpoint are only known good at its end)
        if not loading and self.height % CHECKPOINT_EVERY == 0:
            self.record_checkpoint()
        return records

    # --- the validated checkpoint -----------------------------------------------------------

    def _revoked_digest(self, at_ms: int) -> bytes:
        """The hash of the revocations effective at `at_ms` (a checkpoint signs it)."""
        return hashlib.sha256(repr(self.deployment.trust.revocations_until(at_ms)).encode()).digest()

    def _checkpoint_message(self, cp: _Checkpoint, digest: bytes, at_ms: int, revoked: bytes) -> bytes:
        # The revocations effective at the checkpoint's time are signed with it: one added or
        # backdated since may invalidate blocks below it, so load validates everything again.
        # That time is at least the head block's timestamp (record_checkpoint): a re-validation
        # checks each block at its own timestamp, which may run ahead of the clock.
        return (CHECKPOINT_DOMAIN + self.chain_id.encode() + b"\0" + cp.height.to_bytes(8, "big") + digest
                + cp.content + cp.index + cp.statuses + (cp.last_record + 1).to_bytes(8, "big")
                + at_ms.to_bytes(8, "big") + revoked)

    def record_checkpoint(self) -> None:
        """Sign and store "this peer validated every block up to its latest, and these are
        their bytes" (the height, the head's digest, the store's content_digest of every
        stored block, its index_digest of their transactions' index rows, the hash chain of
        their status records, the last block holding a Type-I, the time, not before the head's
        timestamp, and the revocations effective then): a reopen re-validates only the blocks
        above it (load), unless a revocation effective before that time was added since."""
        with self._lock:
            latest = self.latest()
            if latest is None or not self.holds_vouched():
                return  # (a checkpoint never replaces one this peer does not hold up to: holds_vouched)
            height = latest.header.height
            cp = _Checkpoint(height, self.store.content_digest(height), self.store.index_digest(height),
                             self._status_chain, self.last_record_height)
        at_ms = max(now_ms(), latest.header.timestamp_ms)  # (a block may be dated ahead: MAX_CLOCK_SKEW_MS)
        revoked = self._revoked_digest(at_ms)
        signature = self.identity.sign(self._checkpoint_message(cp, latest.header.digest, at_ms, revoked))
        self.store.set_checkpoint({"height": height, "digest": latest.header.digest.hex(), "content": cp.content.hex(),
                                   "index": cp.index.hex(), "statuses": cp.statuses.hex(),
                                   "last_record": cp.last_record, "time_ms": at_ms, "revoked": revoked.hex(),
                                   "signature": signature.hex()})

    def holds_vouched(self) -> bool:
        """Whether this peer holds the block its verified checkpoint names (always, but while
        a store cut back below it is repaired: load's `repair`; until then no checkpoint
        replaces that one, the evidence of the cut)."""
        with self._lock:
            if self._vouched is not None:
                height, digest = self._vouched
                if height >= self.height or self.digest(height) != digest:
                    return False
                self._vouched = None
            return True

    def vouched_anchors(self) -> list[Anchor]:
        """While a store cut back below this peer's checkpoint is repaired (holds_vouched), the
        block that checkpoint names, as an anchor every copy this peer catches up from must hold
        (sequencer.catch_up checks it before writing anything); else none."""
        with self._lock:
            if self._vouched is None:
                return []
            height, digest = self._vouched
            return [Anchor(self.chain_id, height, digest, f"{self.name}'s signed checkpoint")]

    def _trusted_checkpoint(self) -> _Checkpoint | None:
        """This peer's own signed checkpoint, if it verifies, is current (the revocations it
        signed are those effective now, the peer is not revoked) and names a stored block;
        None otherwise (then every block is validated)."""
        return self._standing(self._verified_checkpoint())

    def _standing(self, verified: tuple[_Checkpoint, bytes, bool] | None) -> _Checkpoint | None:
        """The checkpoint of `verified` (_verified_checkpoint) if it may stand for the blocks
        below it (_trusted_checkpoint), else None."""
        if verified is None or not verified[2]:
            return None
        trusted, digest, _ = verified
        try:
            if self.store.digest(trusted.height) != digest:
                return None
        except StorageError:  # (the record is damaged: validating every block names it)
            return None
        return trusted

    def _verified_checkpoint(self) -> tuple[_Checkpoint, bytes, bool] | None:
        """(this peer's own signed checkpoint, the head digest it names, whether it is current)
        if this peer's own key signed it, else None. It is this peer's word on what it held
        whatever was revoked since (the evidence of a cut-back log: _cut_back); it stands for
        the blocks below it only while current (_trusted_checkpoint)."""
        cp = self.store.checkpoint()
        try:
            # (the bounds of the signed message's fields: anything else is not one)
            height, digest = checks.integer(cp["height"], "height", hi=U64_MAX), bytes.fromhex(cp["digest"])
            hashes = [bytes.fromhex(cp[k]) for k in ("content", "index", "statuses")]
            if any(len(h) != DIGEST_BYTES for h in hashes + [digest]):
                return None
            trusted = _Checkpoint(height, *hashes, checks.integer(cp["last_record"], "last_record", lo=-1,
                                                                  hi=U64_MAX - 1))
            at_ms, signature = checks.integer(cp["time_ms"], "time_ms", hi=U64_MAX), bytes.fromhex(cp["signature"])
            now = self._revoked_digest(at_ms)
            revoked = bytes.fromhex(cp["revoked"]) if "revoked" in cp else now  # (checkpoints before it: now's)
            if len(revoked) != DIGEST_BYTES:
                return None
            self.identity.key.public_key().verify(signature, self._checkpoint_message(trusted, digest, at_ms, revoked))
        except (LedgerError, KeyError, TypeError, ValueError, AttributeError, InvalidSignature):
            return None
        try:
            self.deployment.trust.resolve(self.identity.fingerprint, roles=("peer",), chain_id=self.chain_id)
        except LedgerError:  # (revoked since)
            return trusted, digest, False
        return trusted, digest, revoked == now

    def _cut_back(self, verified: tuple[_Checkpoint, bytes, bool] | None,
                  rollback_hint: str) -> ChainIntegrityError | None:
        """None if the store holds the block this peer's verified checkpoint names (or there
        is none); otherwise the RollbackDetected saying it does not (its log was cut back, and
        `rollback_hint` says how to catch it up), or
        the ForkDetected saying it holds another block there (its log was swapped for another
        history: a valid one, its endorsers' keys being the same, validates, and the next
        checkpoint would erase the evidence, however stale the checkpoint is as a shortcut)."""
        if verified is None:
            return None
        height, digest = verified[0].height, verified[1]
        stored = self.store.height()
        if height < stored:
            try:
                found = self.store.digest(height)
            except StorageError:  # (the record is damaged: validating every block names it)
                return None
            if found == digest:
                return None
            return ForkDetected(f"{self.store.path}: its block {height} is {found.hex()}, but this peer's signed "
                                f"checkpoint vouches for block {height} ({digest.hex()}) of {self.chain_id}: the log "
                                "was rewritten; restore this peer's files from a copy that holds that block (a "
                                "repair refuses this store: it holds another block there)",
                                chain_id=self.chain_id, height=height, expected=digest, found=found)
        return RollbackDetected(f"{self.store.path}: its log holds {stored} block{'s' * (stored != 1)} (heights "
                                f"0..{stored - 1}), but this peer's signed checkpoint vouches for block {height} "
                                f"({digest.hex()}): the log was cut back; {rollback_hint}",
                                chain_id=self.chain_id, height=height, expected=digest, found=None)

    def load(self, progress: bool = False, *, full: bool = False, repair: bool = False, ordered: bool = False,
             rollback_hint: str | None = None) -> None:
        """Rebuild the in-memory state from the store. A store that lacks the block this peer's
        verified checkpoint names (its log cut back below a height this peer validated and
        signed) is refused with RollbackDetected naming both heights, one holding another
        block there with ForkDetected, even with `full`: never opened at the shorter height or
        on the other history, whose next checkpoint would erase the evidence. With `repair`
        it loads what it holds (every block validated) and keeps that checkpoint until the
        peer holds its block again (holds_vouched): the caller catches it up from its chain's
        other peers, whose copy must hold that block before anything is written
        (vouched_anchors; ledger.network.Network.open's `repair`). Blocks above this peer's
        validated checkpoint (all of them with `full`, or without a checkpoint that verifies) are decoded
        and pass every check a commit applies (digests, links, accumulators, signatures,
        endorsements). The blocks at or below it are not decoded (but those above the store's
        batches, for their index rows): the store's content_digest of their records must be
        the one the checkpoint signed, which catches any changed byte of any stored block on
        open (the store hashed every byte of the log when it opened: one SHA-256 per group,
        no record parsed, the only work proportional to the chain's length), and every later
        read is checked against those hashes (PeerStore, a byte changed under the running
        peer: StorageError on any read of its block). The stored status records must chain to
        the signed hash and the stored index sums to the signed index_digest (so an index row
        changed, added or deleted is caught on the first lookup it could answer wrongly:
        PeerStore.location), and the last Type-I block is the signed one. StorageError names
        the first block that fails. It writes nothing (the opener records a checkpoint once
        the whole deployment passed: checkpoint_if_behind). `ordered`: revocation is checked
        as commit(ordered=True) does (the cluster's log ordered it). `rollback_hint` ends the
        RollbackDetected message (how this deployment catches a peer up; the embedded one's
        `edgeacc repair` by default)."""
        if rollback_hint is None:
            rollback_hint = (f"catch it up from the chain's other peers: `edgeacc repair DIR {self.name}` "
                             f"(Network.open(..., repair=[{self.name!r}]))")
        with self._lock:
            if self.height:
                raise StorageError("load() runs once, on an empty peer")
            verified = self._verified_checkpoint()
            refusal = self._cut_back(verified, rollback_hint)
            if refusal and not repair:
                raise refusal
            if refusal:
                self._vouched = (verified[0].height, verified[1])
            cp = None if full or refusal else self._standing(verified)
            trusted, indexed = (cp.height if cp else -1), self.store.indexed_height()
            adjust = [0] * INDEX_BUCKETS  # the index sums at `trusted` less the stored ones, from the blocks
            tail = self._restore(cp, indexed, adjust) if cp else []
            rows = iter(tqdm(self.store.blocks(trusted + 1), total=self.store.height() - trusted - 1,
                             desc=f"validating {self.name}", unit="blk", disable=not progress, leave=False))
            at_indexed = self._status_chain
            for expected_height, (height, digest, data) in enumerate(rows, start=trusted + 1):
                try:
                    if height != expected_height:
                        raise WrongHeight(f"stored heights jump from {expected_height - 1} to {height}")
                    block = Block.from_bytes(data)
                    if block.digest != bytes(digest) or block.height != height:
                        raise StorageError("stored digest or height differs from the block's")
                    self._validate_block(block, live=False, ordered=ordered)
                    self.deployment.check_endorsements(block.signed, at_ms=replay_time(block.header, False, ordered))
                    records = self._apply(block, loading=True)
                except (LedgerError, EdgeaccError) as exc:
                    raise StorageError(f"{self.store.path}: block {height} fails re-validation: {exc}") from exc
                tx_ids = [tx.tx_id for tx in block.transactions]
                if height > indexed:
                    tail.append((height, tx_ids, records))
                    continue
                if self.store.digest(height) != block.digest:  # (the batched digests, not the record's)
                    raise StorageError(f"{self.store.path}: the stored digest of block {height} differs from the block's")
                if any(self.store.location(t) != (height, i) for i, t in enumerate(tx_ids)):
                    raise StorageError(f"{self.store.path}: the transaction index differs from block {height}")
                add_index_rows(adjust, _rows(height, tx_ids), -1)
                at_indexed = self._status_chain
            if indexed > trusted and self._stored_statuses(indexed) != at_indexed:
                raise StorageError(f"{self.store.path}: the stored status records differ from the blocks up to "
                                   f"{indexed}")
            if self.store.index_digest(indexed, adjust) != (cp.index if cp else sums_digest([0] * INDEX_BUCKETS)):
                raise StorageError(f"{self.store.path}: the transaction index differs from the blocks up to "
                                   f"{max(trusted, indexed)} (its index sums)")
            for height, tx_ids, records in tail:  # (only now: a refused open writes nothing, not even on close)
                self.store.index_tail(height, tx_ids, [(position, record.to_bytes()) for position, record in records])

    def _stored_statuses(self, up_to: int, into: dict[str, StatusColumns] | None = None) -> bytes:
        """chained_status over the stored status records up to `up_to` (streamed; what the
        caller compares with a signed or a computed hash), each added to `into`
        (StatusColumns.add_encoded) if given."""
        chain = bytes(DIGEST_BYTES)
        for height, position, data in self.store.statuses(up_to):
            if into is not None:
                try:
                    StatusColumns.add_encoded(into, height, position, data)
                except EncodingError as exc:
                    raise StorageError(f"{self.store.path}: the stored status record of block {height}: {exc}") from None
            chain = chained_status(chain, height, position, data)
        return chain

    def _restore(self, cp: _Checkpoint, indexed: int, adjust: list[int]) -> list:
        """The state at the checkpoint `cp`, without decoding the blocks below it: the store's
        content_digest must be the signed one (every byte of every block up to it), the head
        is decoded, the status records are the stored ones (those of the blocks above the
        store's batches decoded from them) and must chain to the signed hash. The blocks above
        the batches are decoded for their index rows (added to `adjust`) and status records.
        Returns (height, tx ids, status records) of those, to be held by the store."""
        trusted = cp.height
        if self.store.content_digest(trusted) != cp.content:
            raise StorageError(f"{self.store.path}: {self._first_changed(trusted) or 'the blocks'} up to {trusted} "
                               "differ from the ones this peer validated (its signed checkpoint)")
        try:  # (bytes this peer validated: a failure here is a bug or a hash collision)
            statuses: dict[str, StatusColumns] = {}
            chain = self._stored_statuses(trusted, statuses)
            tail, head = [], None
            for height, _, data in self.store.blocks(indexed + 1):
                if height > trusted:
                    break
                head = Block.from_bytes(data)
                found = status_records(height, head.transactions)
                for position, record in found:
                    chain = chained_status(chain, height, position, record.to_bytes())
                    StatusColumns.add(statuses, position, record)
                tx_ids = [tx.tx_id for tx in head.transactions]
                add_index_rows(adjust, _rows(height, tx_ids))
                tail.append((height, tx_ids, found))
            if chain != cp.statuses:
                raise StorageError(f"{self.store.path}: the stored status records differ from the blocks up to "
                                   f"{trusted} (this peer's signed checkpoint)")
            if head is None or head.height != trusted:
                head = Block.from_bytes(self.store.get(trusted) or b"")
            self.state.restore(head, statuses, cp.last_record)
        except (EncodingError, EdgeaccError) as exc:
            raise StorageError(f"{self.store.path}: a block below the checkpoint {trusted} fails: {exc}") from exc
        self._status_chain = chain
        for height, tx_ids, _ in tail:
            self.state.remember(height, tx_ids)
        return tail

    def _first_changed(self, trusted: int) -> str | None:
        """Which block below a checkpoint whose content hash failed is the changed one, as far
        as the hash chain tells (decoding, the stored digest, the link, the Merkle root): only
        to name it in the refusal."""
        previous = GENESIS_PREVIOUS
        try:
            for height, digest, data in self.store.blocks(0):
                if height > trusted:
                    break
                try:
                    block = Block.from_bytes(data)
                    if block.digest != bytes(digest) or block.header.previous != previous:
                        raise ValidationError("its digest or its link to the previous block differs")
                    if block.computed_merkle_root() != block.header.merkle_root:
                        raise MerkleMismatch("its Merkle root or count does not match its transactions")
                except LedgerError as exc:
                    return f"block {height} fails re-validation: {exc};"
                previous = block.digest
        except StorageError as exc:
            return f"{exc};"
        return None

    def checkpoint_if_behind(self) -> None:
        """record_checkpoint unless this peer's own checkpoint, verified, is at the latest block
        already (one of another format or signer is replaced); best effort (a store that
        cannot be written only makes the next open validate more)."""
        try:
            cp = self._trusted_checkpoint() if self.height else None
            if self.height and (cp is None or cp.height != self.height - 1):
                self.record_checkpoint()
        except LedgerError:
            pass

    def close(self) -> None:
        """Close the peer's store."""
        self.store.close()


class _StoredBlocks:
    """The chain state's read access to a peer's store (ledger.chain.StoredChain): blocks and
    headers decoded from the bytes the store checked (ChainState checks what they mean); the
    stored index's answers (PeerStore.location checks an absence against its index sums)."""

    def __init__(self, store: PeerStore) -> None:
        self._store = store

    def _data(self, height: int) -> bytes:
        data = self._store.get(height)
        if data is None:
            raise NotFound(f"{self._store.path} has no block {height}")
        return bytes(data)

    def digest(self, height: int) -> bytes | None:
        return self._store.digest(height)

    def header(self, height: int) -> SignedHeader:
        return Block.signed_header_of(self._data(height))

    def block(self, height: int) -> Block:
        return Block.from_bytes(self._data(height))

    def tx_location(self, tx_id: bytes) -> tuple[int, int] | None:
        """A row found is checked by ChainState.locate (the block there holds the id); an
        absence is the store's to vouch for (PeerStore.location)."""
        if self._store.indexed_height() < 0:  # (no batch written: the rows answer nothing)
            return None
        return self._store.location(tx_id)

    def indexed_height(self) -> int:
        return self._store.indexed_height()
