"""The peer of one chain: it admits and endorses transactions, stores blocks durably in its
SQLite store and commits them to its validated ledger.chain.ChainState.

Every block a peer accepts, whether freshly endorsed or read back from disk on open (above
the peer's signed checkpoint; below it, the bytes it validated before), passes the same
checks (ChainState.validate_block) and the chain's endorsement policy
(Deployment.check_endorsements).
"""
from __future__ import annotations

import hashlib
from collections import deque

from edgeacc.errors import EdgeaccError
from tqdm import tqdm

from ledger import checks
from ledger.block import GENESIS_PREVIOUS, Block, SignedHeader
from ledger.chain import ChainState, Deployment, Receipt, StatusRecord, now_ms
from ledger.errors import (ConfigurationError, EncodingError, LedgerError, MerkleMismatch, NotFound, StorageError,
                           ValidationError, ValidationRejected, WrongHeight)
from ledger.encoding import DIGEST_BYTES, U64_MAX
from ledger.identity import Identity
from ledger.protocol1 import InclusionProof
from ledger.store import PeerStore
from ledger.tx import TX_MAGIC, TX_VERSION, Transaction, TxKind

CHECKPOINT_DOMAIN = b"edgeacc-ledger validated checkpoint/1\0"
CHECKPOINT_EVERY = 1024  # blocks between the checkpoints a committing peer records
RECORD_CANDIDATES = 64  # the last blocks with a record's prefix open keeps to find the last Type-I
# The prefix of every encoded transaction of a kind (ledger.tx layout): a stored block holding
# one contains it (a record's payload may too: a candidate is decoded before it counts).
RECORD_MARKER = TX_MAGIC + bytes([TX_VERSION, TxKind.RECORD])
INDEX_BYTES = 256
INDEX_MODULUS = 1 << 8 * INDEX_BYTES
INDEX_DOMAIN = b"edgeacc-ledger index row/1\0"
TYPE_II_MARKER = TX_MAGIC + bytes([TX_VERSION, TxKind.SUBCHAIN_STATUS])
TYPE_III_MARKER = TX_MAGIC + bytes([TX_VERSION, TxKind.MAIN_STATUS])


def index_row_hash(tx_id: bytes, height: int, position: int) -> int:
    """The term of one transaction-index row in the checkpoint's index sum: a 2048-bit
    extendable-output hash, summed mod 2^2048 over the rows (an order-free multiset hash, so
    the store's rows in any order give the same sum; at this width a set of forged rows that
    sums to a deleted one's term is out of reach of generalized-birthday attacks)."""
    row = INDEX_DOMAIN + tx_id + height.to_bytes(8, "big") + position.to_bytes(4, "big")
    return int.from_bytes(hashlib.shake_256(row).digest(INDEX_BYTES), "big")


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
        self.state = ChainState(deployment, self.chain_id, _StoredBlocks(store, self))
        self._lock = self.state.lock
        self._validated: set[bytes] = set()  # digests of headers this peer validated at the next height
        self._admitted: set[tuple[bytes, bytes]] = set()  # (tx_id, signature) verified on admission
        self._content = hashlib.sha256()  # over every stored (digest, block bytes), in height order
        self._index_sum = 0  # index_row_hash summed over every (tx id, height, position) stored

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

    def statuses(self, source_chain: str) -> list[StatusRecord]:
        """Committed Type-II records of `source_chain` (main chain) or Type-III records
        (sub-chain, source = the main chain), oldest first."""
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

    def holds(self, tx: Transaction) -> bool:
        """Whether this chain holds exactly `tx` (not just a transaction with its id)."""
        checks.exact(tx, Transaction, "tx")
        where = self.locate(tx.tx_id)
        return where is not None and self.block(where[0]).tx_bytes[where[1]] == tx.to_bytes()

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

    def _validate_block(self, block: Block, *, live: bool) -> None:
        self.state.validate_block(block, live=live, admitted=self._admitted)

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

    def _propose(self, transactions: list[Transaction]) -> tuple[Block, list[tuple[int, LedgerError]]]:
        block, rejected = self.state.next_block(transactions, admitted=self._admitted)
        with self._lock:
            for i, _ in rejected:
                self._admitted.discard((transactions[i].tx_id, transactions[i].signature))
            self._validated.add(block.digest)
        return block, rejected

    def endorse(self, block: Block) -> tuple[bytes, bytes]:
        """Validate `block` (unless this peer proposed it), run the application validators on
        the Type-I transactions this peer did not admit, and sign the header:
        (fingerprint, signature)."""
        return self._endorse(checks.decoded(block, Block, "block"))

    def _endorse(self, block: Block) -> tuple[bytes, bytes]:
        with self._lock:
            known = block.digest in self._validated and block.height == self.height
        if not known:
            self._validate_block(block, live=True)
            with self._lock:
                self._validated.add(block.digest)
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
        earlier)."""
        self._commit(checks.decoded(block, Block, "block"), live=live)

    def _commit(self, block: Block, *, live: bool = True) -> None:
        at_ms = None if live else block.header.timestamp_ms
        with self._lock:
            if block.digest not in self._validated or block.height != self.height:
                self._validate_block(block, live=live)
            elif block.computed_merkle_root() != block.header.merkle_root:  # (Block checks the count)
                # the header was validated, but these are not the transactions it binds
                raise MerkleMismatch(f"block {block.height}: transactions differ from the endorsed header")
            self.deployment.check_endorsements(block.signed, at_ms=at_ms)
            try:
                self.store.append(block.height, block.digest, block.to_bytes(), [tx.tx_id for tx in block.transactions])
            except StorageError:
                if not self._stored(block):
                    raise
            self._apply(block)
            self._validated.clear()  # proposals at this height are stale now

    def _stored(self, block: Block) -> bool:
        """Whether the store holds exactly `block` at its height: a write whose commit reported
        an error may still have reached disk, and then the block is this peer's too (memory
        must not fall behind its own disk, and a submitter must not be told it failed)."""
        try:
            return self.store.get(block.height) == block.to_bytes()
        except StorageError:
            return False

    def _apply(self, block: Block, data: bytes | None = None, *, loading: bool = False) -> None:
        self.state.apply(block)
        data = block.to_bytes() if data is None else data
        self._content.update(len(data).to_bytes(8, "big") + block.digest)
        self._content.update(data)
        self._index_sum = (self._index_sum + sum(index_row_hash(tx.tx_id, block.height, i)
                                                 for i, tx in enumerate(block.transactions))) % INDEX_MODULUS
        for tx in block.transactions:
            self._admitted.discard((tx.tx_id, tx.signature))
        # (never while loading: the bytes below a checkpoint are only known good at its end)
        if not loading and self.height % CHECKPOINT_EVERY == 0:
            self.record_checkpoint()

    # --- the validated checkpoint -----------------------------------------------------------

    def _checkpoint_message(self, height: int, digest: bytes, content: bytes, index: int, at_ms: int) -> bytes:
        # The revocations effective at the checkpoint's time are signed with it: one added or
        # backdated since may invalidate blocks below it, so load validates everything again.
        # That time is at least the head block's timestamp (record_checkpoint): a re-validation
        # checks each block at its own timestamp, which may run ahead of the clock.
        revoked = hashlib.sha256(repr(self.deployment.trust.revocations_until(at_ms)).encode()).digest()
        return (CHECKPOINT_DOMAIN + self.chain_id.encode() + b"\0" + height.to_bytes(8, "big") + digest + content
                + index.to_bytes(INDEX_BYTES, "big") + at_ms.to_bytes(8, "big") + revoked)

    def record_checkpoint(self) -> None:
        """Sign and store "this peer validated every block up to its latest, and these are
        their bytes" (the height, the head's digest, a hash of every stored block, the sum of
        the index rows of their transactions, the time, not before the head's timestamp, and
        the revocations effective then): a reopen re-validates only the blocks above it
        (load), unless a revocation effective before that time was added since."""
        with self._lock:
            latest = self.latest()
            if latest is None:
                return
            height, digest, content = latest.header.height, latest.header.digest, self._content.copy().digest()
            index = self._index_sum
        at_ms = max(now_ms(), latest.header.timestamp_ms)  # (a block may be dated ahead: MAX_CLOCK_SKEW_MS)
        signature = self.identity.sign(self._checkpoint_message(height, digest, content, index, at_ms))
        self.store.set_checkpoint({"height": height, "digest": digest.hex(), "content": content.hex(),
                                   "index": f"{index:x}", "time_ms": at_ms, "signature": signature.hex()})

    def _trusted_checkpoint(self) -> tuple[int, bytes, int]:
        """(height, content hash, index sum) of this peer's own signed checkpoint, if it
        verifies and names a stored block; (-1, b"", 0) otherwise (then every block is
        validated)."""
        cp = self.store.checkpoint()
        try:
            # (the bounds of the signed message's u64 fields: anything else is not one)
            height, digest = checks.integer(cp["height"], "height", hi=U64_MAX), bytes.fromhex(cp["digest"])
            content, signature = bytes.fromhex(cp["content"]), bytes.fromhex(cp["signature"])
            at_ms = checks.integer(cp["time_ms"], "time_ms", hi=U64_MAX)
            index = checks.integer(int(cp["index"], 16), "index", hi=INDEX_MODULUS - 1)
            signer = self.deployment.trust.resolve(self.identity.fingerprint, roles=("peer",), chain_id=self.chain_id)
            signer.verify(signature, self._checkpoint_message(height, digest, content, index, at_ms))
        except (LedgerError, KeyError, TypeError, ValueError, AttributeError):
            return -1, b"", 0
        if self.store.digest(height) != digest:
            return -1, b"", 0
        return height, content, index

    def load(self, progress: bool = False, *, full: bool = False) -> None:
        """Rebuild the in-memory state from the store. Blocks above this peer's validated
        checkpoint (all of them with `full`, or without a checkpoint that verifies) are decoded
        and pass every check a commit applies (digests, links, accumulators, signatures,
        endorsements). The blocks at or below it are not decoded: their stored digests and
        bytes stream through the hash the checkpoint signed (the one _apply keeps), which must
        match, so any changed byte of any stored block is caught (_restore). StorageError
        names the first block that fails. It writes nothing (the opener records a checkpoint
        once the whole deployment passed: checkpoint_if_behind). The stored transaction index
        is checked for the blocks decoded here; below the checkpoint it is trusted for absence
        (a lookup that finds an id checks the block: ChainState.locate)."""
        with self._lock:
            if self.height:
                raise StorageError("load() runs once, on an empty peer")
            trusted, content, index = (-1, b"", 0) if full else self._trusted_checkpoint()
            indexed = self.store.indexed_height()
            rows = iter(tqdm(self.store.blocks(0), total=self.store.height(), desc=f"validating {self.name}",
                             unit="blk", disable=not progress, leave=False))
            # (index rows of the blocks above the stored index, restored or decoded: held by the
            # store once all passed, else it never writes its next batch)
            tail = self._restore(rows, trusted, content, index, indexed) if trusted >= 0 else []
            for expected_height, (height, digest, data) in enumerate(rows, start=trusted + 1):
                try:
                    if height != expected_height:
                        raise WrongHeight(f"stored heights jump from {expected_height - 1} to {height}")
                    block = Block.from_bytes(data)
                    if block.digest != bytes(digest) or block.height != height:
                        raise StorageError("stored digest or height differs from the block's")
                    self._validate_block(block, live=False)
                    self.deployment.check_endorsements(block.signed, at_ms=block.header.timestamp_ms)
                    self._apply(block, bytes(data), loading=True)
                except (LedgerError, EdgeaccError) as exc:
                    raise StorageError(f"{self.store.path}: block {height} fails re-validation: {exc}") from exc
                tx_ids = [tx.tx_id for tx in block.transactions]
                if height > indexed:
                    tail.append((height, tx_ids))
                elif any(self.store.location(t) != (height, i) for i, t in enumerate(tx_ids)):
                    raise StorageError(f"{self.store.path}: the transaction index differs from block {height}")
            for height, tx_ids in tail:  # (only now: a refused open writes nothing, not even on close)
                self.store.index_tail(height, tx_ids)

    def _restore(self, rows, trusted: int, content: bytes, index: int, indexed: int) -> list:
        """The blocks up to the checkpoint `trusted` from `rows` (height, digest, data): their
        digests and bytes hashed as _apply hashes them and compared with the signed `content`,
        the stored index rows up to there summed (with those of the blocks above the stored
        index) and compared with the signed `index` (a changed, added or deleted row is
        caught, so the store's index may answer for absence: ChainState.locate), then
        restored into the state undecoded (ChainState.restore). Decoded are only the last,
        those above the store's index (their ids are held again), those holding a status
        transaction (a candidate by TYPE_II_MARKER or TYPE_III_MARKER, kept only if decoding
        shows one), and the last candidate by RECORD_MARKER that decodes to a Type-I (read
        again from the store, and checked against the hashed digest). Returns (height, tx ids)
        of the restored blocks above the store's index."""
        digests, statuses, unindexed, head = bytearray(), [], [], b""
        records: deque[int] = deque(maxlen=RECORD_CANDIDATES)
        hasher = hashlib.sha256()
        for expected_height, (height, digest, data) in enumerate(rows):
            if height != expected_height:
                raise StorageError(f"{self.store.path}: stored heights jump from {expected_height - 1} to {height}")
            hasher.update(len(data).to_bytes(8, "big") + digest)
            hasher.update(data)
            digests += digest
            if TYPE_II_MARKER in data or TYPE_III_MARKER in data:
                statuses.append(bytes(data))
            if height > indexed:
                unindexed.append(bytes(data))
            if RECORD_MARKER in data:
                records.append(height)
            if height == trusted:
                head = bytes(data)
                break
        if hasher.digest() != content or len(digests) != (trusted + 1) * DIGEST_BYTES:
            raise StorageError(f"{self.store.path}: {self._first_changed(trusted) or 'the blocks'} up to {trusted} "
                               "differ from the ones this peer validated (its signed checkpoint)")
        try:  # (bytes this peer validated: a failure here is a bug or a hash collision)
            unindexed = [Block.from_bytes(data) for data in unindexed]
            stored_sum = self.store.index_sum(min(indexed, trusted), index_row_hash)
            if (stored_sum + sum(index_row_hash(tx.tx_id, b.height, i) for b in unindexed
                                 for i, tx in enumerate(b.transactions))) % INDEX_MODULUS != index:
                raise StorageError(f"{self.store.path}: the transaction index differs from the blocks up to "
                                   f"{trusted} (this peer's signed checkpoint)")
            last_record = next((h for h in reversed(records) if self._holds_record(h, digests)), None)
            if last_record is None:  # (only candidates whose marker sat in another field: look further back)
                start = records[0] - 1 if len(records) == records.maxlen else -1
                last_record = next((h for h in range(start, -1, -1) if self._holds_record(h, digests)), -1)
            # one status block decoded at a time (memory holds their bytes, not their objects)
            self.state.restore(bytes(digests), Block.from_bytes(head), (b for b in map(Block.from_bytes, statuses)
                               if any(tx.kind != TxKind.RECORD for tx in b.transactions)), last_record)
        except (EncodingError, EdgeaccError) as exc:
            raise StorageError(f"{self.store.path}: a block below the checkpoint {trusted} fails: {exc}") from exc
        self._content, self._index_sum = hasher, index
        tail = [(block.height, [tx.tx_id for tx in block.transactions]) for block in unindexed]
        for height, tx_ids in tail:
            self.state.remember(height, tx_ids)
        return tail

    def _first_changed(self, trusted: int) -> str | None:
        """Which block below a checkpoint whose content hash failed is the changed one, as far
        as the hash chain tells (decoding, the stored digest, the link, the Merkle root): only
        to name it in the refusal."""
        previous = GENESIS_PREVIOUS
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
        return None

    def _holds_record(self, height: int, digests: bytes) -> bool:
        block = Block.from_bytes(self.store.get(height) or b"")
        if (block.digest != digests[height * DIGEST_BYTES:(height + 1) * DIGEST_BYTES]
                or block.computed_merkle_root() != block.header.merkle_root):  # (its transactions too)
            raise StorageError(f"{self.store.path}: block {height} changed while the store was opened")
        return any(tx.kind == TxKind.RECORD for tx in block.transactions)

    def checkpoint_if_behind(self) -> None:
        """record_checkpoint unless this peer's own checkpoint, verified, is at the latest block
        already (one of another format or signer is replaced); best effort (a store that
        cannot be written only makes the next open validate more)."""
        try:
            if self.height and self._trusted_checkpoint()[0] != self.height - 1:
                self.record_checkpoint()
        except LedgerError:
            pass

    def close(self) -> None:
        """Close the peer's store."""
        self.store.close()


class _StoredBlocks:
    """The chain state's read access to a peer's store (ledger.chain.StoredChain): blocks and
    headers decoded from the stored bytes, unchecked (ChainState checks them); an absence from
    the stored index only while it holds the rows the peer checked (tx_location)."""

    def __init__(self, store: PeerStore, peer: Peer) -> None:
        self._store = store
        self._peer = peer

    def _data(self, height: int) -> bytes:
        data = self._store.get(height)
        if data is None:
            raise NotFound(f"{self._store.path} has no block {height}")
        return bytes(data)

    def header(self, height: int) -> SignedHeader:
        return Block.signed_header_of(self._data(height))

    def block(self, height: int) -> Block:
        return Block.from_bytes(self._data(height))

    def tx_location(self, tx_id: bytes) -> tuple[int, int] | None:
        """A row found is checked by ChainState.locate (the block there holds the id); an
        absence is believed only while the SQLite file is as the store wrote it (Peer.load
        checked its rows). After another writer touched it (PeerStore.changed_files) the rows
        must sum to the peer's own index sum again (once per change: the whole index), else a
        deleted row would let a committed transaction be committed again."""
        if self._store.indexed_height() < 0:  # (no batch written: the rows answer nothing)
            return None
        where = self._store.location(tx_id)
        if where is not None or (files := self._store.changed_files()) is None:
            return where
        with self._peer._lock:  # (a commit appends and applies under it: the sums agree)
            stored = self._store.index_sum(-1, index_row_hash, held=True) % INDEX_MODULUS
            if stored != self._peer._index_sum:
                raise StorageError(f"{self._store.path}: the transaction index was changed under the running peer "
                                   "(a row moved or deleted): it does not answer for absence")
            self._store.index_checked(files)
        where = self._store.location(tx_id)  # (again, in the rows as checked)
        if where is None and self._store.changed_files() is not None:
            raise StorageError(f"{self._store.path}: the transaction index keeps changing under the running peer")
        return where

    def indexed_height(self) -> int:
        return self._store.indexed_height()
