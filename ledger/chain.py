"""Chains and the peers that keep them: validation, endorsement, commit, proofs.

Every block a peer accepts, whether freshly endorsed or read back from disk on open, passes
the same checks: encoding, chain id, height, previous-digest link, timestamp order, Merkle
root, every transaction (certificate, signature, no replay, Type-II/III rules), the
accumulator element and value, and the chain's endorsement policy.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import edgeacc
from edgeacc.errors import EdgeaccError
from tqdm import tqdm

from ledger import checks
from ledger.block import (GENESIS_PREVIOUS, Block, BlockHeader, SignedHeader, SubchainStatus,
                          check_element, reported_header)
from ledger.errors import (AccumulatorMismatch, BrokenLink, ConfigurationError,
                           EndorsementError, LedgerError, MerkleMismatch, NotFound,
                           ReplayedTransaction, StaleStatus, StorageError, UnauthorizedSigner,
                           ValidationError, ValidationRejected, WrongChain, WrongHeight)
from ledger.encoding import U16_MAX, check_chain_id
from ledger.identity import Identity, TrustStore
from ledger.merkle import merkle_root
from ledger.protocol1 import InclusionProof
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind

MAIN, SUB = "main", "sub"
MAX_CLOCK_SKEW_MS = 60_000

# An application check an endorsing peer runs on a Type-I transaction before signing it:
# validator(peer_name, tx) returns to accept and raises to refuse.
Validator = Callable[[str, Transaction], None]


def now_ms() -> int:
    """Wall-clock time in milliseconds since the epoch (block and transaction timestamps)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ChainConfig:
    """A chain of the deployment: its id, whether it is the main chain or a sub-chain, and its
    endorsement policy (`threshold` distinct peers of the chain, "k-of-any")."""

    chain_id: str
    kind: str
    endorsement_threshold: int = 2

    def __post_init__(self) -> None:
        check_chain_id(self.chain_id)
        if self.kind not in (MAIN, SUB):
            raise ConfigurationError(f"chain kind must be {MAIN!r} or {SUB!r}, not {checks.shown(self.kind)}")
        object.__setattr__(self, "endorsement_threshold",
                           checks.integer(self.endorsement_threshold, "endorsement_threshold", lo=1, hi=U16_MAX))


class Deployment:
    """What every peer shares: the public Params, the trust store, the chains and policies."""

    def __init__(self, params: edgeacc.Params, trust: TrustStore, chains: Iterable[ChainConfig]) -> None:
        self.params = checks.instance(params, edgeacc.Params, "params")
        self.trust = checks.instance(trust, TrustStore, "trust")
        chains = list(checks.instance(chains, (list, tuple), "chains"))
        for c in chains:
            checks.instance(c, ChainConfig, "each chain")
        self.chains = {c.chain_id: c for c in chains}
        mains = [c.chain_id for c in self.chains.values() if c.kind == MAIN]
        if len(mains) != 1:
            raise ConfigurationError("a deployment has exactly one main chain")
        self.main_chain_id = mains[0]
        self._generators = {cid: params.generator(cid.encode()) for cid in self.chains}
        self._validators: dict[str, tuple[Validator, ...]] = {}
        self._validators_lock = threading.Lock()

    def config(self, chain_id: str) -> ChainConfig:
        """The ChainConfig of `chain_id` (NotFound if there is none)."""
        try:
            return self.chains[checks.text(chain_id, "chain_id")]
        except KeyError:
            raise NotFound(f"no chain {checks.shown(chain_id)}") from None

    def generator(self, chain_id: str) -> int:
        """The chain's accumulator generator g, derived from its id."""
        return self._generators[self.config(chain_id).chain_id]

    def add_validator(self, chain_id: str, validator: Validator) -> None:
        """Have every endorsing peer of `chain_id` run `validator` on Type-I transactions."""
        self.config(chain_id)
        checks.function(validator, "validator")
        with self._validators_lock:  # peers read the tuple without the lock: replace, never mutate
            self._validators[chain_id] = self._validators.get(chain_id, ()) + (validator,)

    def validators(self, chain_id: str) -> tuple[Validator, ...]:
        """The application validators registered for `chain_id`, in registration order."""
        return self._validators.get(checks.text(chain_id, "chain_id"), ())

    def check_endorsed(self, signed: SignedHeader) -> None:
        """check_endorsements at the header's own time (a header fetched for Protocol 1)."""
        signed = checks.decoded(signed, SignedHeader, "signed")
        self.check_endorsements(signed, at_ms=signed.header.timestamp_ms)

    def check_endorsements(self, signed: SignedHeader, at_ms: int | None) -> None:
        """The endorsement policy, the one rule of every path (commit, catch-up, reopen, the
        headers Type-II/III statuses report): every endorsement is a valid signature by an
        unrevoked peer of the header's chain, no endorser counts twice (the same key or the
        same peer name under two certificates is one endorser, and refused), and there are at
        least the policy's threshold of distinct endorsers."""
        header = checks.decoded(signed, SignedHeader, "signed").header
        config = self.config(header.chain_id)
        message = header.endorsement_message()
        keys: set[bytes] = set()
        names: set[str] = set()
        for fp, sig in signed.endorsements:
            member = self.trust.resolve(fp, roles=("peer",), chain_id=header.chain_id, at_ms=at_ms)
            member.verify(sig, message)
            if member.key_bytes in keys or member.name in names:
                raise EndorsementError(f"block {header.height} of {header.chain_id}: {member.name} "
                                       "endorses twice (one key or one peer under two certificates)")
            keys.add(member.key_bytes)
            names.add(member.name)
        if len(keys) < config.endorsement_threshold:
            raise EndorsementError(f"block {header.height} of {header.chain_id} has "
                                   f"{len(keys)} distinct endorsers; the policy needs "
                                   f"{config.endorsement_threshold}")


@dataclass(frozen=True)
class Receipt:
    """Where a committed transaction is: chain, block height, position in the block."""

    tx_id: bytes
    chain_id: str
    height: int
    position: int
    block_digest: bytes


@dataclass(frozen=True)
class StatusRecord:
    """A Type-II (on the main chain) or Type-III (on a sub-chain) that was committed."""

    source_chain: str
    source_height: int
    height: int       # height of the block that holds the status transaction
    tx_id: bytes
    source_element: int  # accumulator element of the reported block
    source_digest: bytes  # digest of the reported block (what a rollback check compares)


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
        self._params = deployment.params
        self._lock = threading.RLock()
        self._signed: list[SignedHeader] = []
        # The chain's accumulator, block by block: every header carries its value, so the
        # validated values are kept instead of recomputing them (v_0 = g precedes block 0).
        self._generator = deployment.generator(self.chain_id)
        self._elements: list[int] = []
        self._values: list[int] = []
        self._tx_index: dict[bytes, tuple[int, int]] = {}
        self._statuses: dict[str, list[StatusRecord]] = {}
        self._last_record_height = -1
        self._validated: set[bytes] = set()
        self._admitted: set[tuple[bytes, bytes]] = set()

    @property
    def name(self) -> str:
        """The peer's certificate name."""
        return self.identity.name

    # --- reading -----------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Number of blocks (the next block's height)."""
        return len(self._signed)

    def latest(self) -> SignedHeader | None:
        """The latest block's signed header, or None on an empty chain."""
        with self._lock:
            return self._signed[-1] if self._signed else None

    def signed_header(self, height: int) -> SignedHeader:
        """The signed header of block `height` (NotFound if there is none)."""
        with self._lock:
            return self._signed[self._check_height(height)]

    def block(self, height: int) -> Block:
        """Block `height` as stored (it was validated when committed and on open)."""
        with self._lock:
            height = self._check_height(height)
        data = self.store.get(height)
        if data is None:
            raise NotFound(f"{self.chain_id} has no block {height}")
        return Block.from_bytes(data)

    def locate(self, tx_id: bytes | str) -> tuple[int, int] | None:
        """(height, position) of a committed transaction (id as bytes or hex), or None."""
        try:
            return self._tx_index.get(checks.identifier(tx_id, "tx_id", "transaction id"))
        except NotFound:  # a malformed id is on no chain
            return None

    def receipt(self, tx_id: bytes | str) -> Receipt:
        """The Receipt of a committed transaction (NotFound if it is not on this chain)."""
        tx_id = checks.identifier(tx_id, "tx_id", "transaction id")
        where = self.locate(tx_id)
        if where is None:
            raise NotFound(f"transaction {tx_id.hex()} is not on {self.chain_id}")
        return Receipt(tx_id, self.chain_id, where[0], where[1], self.signed_header(where[0]).header.digest)

    def transaction(self, tx_id: bytes) -> Transaction:
        """The committed transaction `tx_id`."""
        receipt = self.receipt(tx_id)
        return self.block(receipt.height).transactions[receipt.position]

    @property
    def last_record_height(self) -> int:
        """Height of the last block holding a Type-I transaction (-1 if none)."""
        return self._last_record_height

    def statuses(self, source_chain: str) -> list[StatusRecord]:
        """Committed Type-II records of `source_chain` (main chain) or Type-III records
        (sub-chain, source = the main chain), oldest first."""
        with self._lock:
            return list(self._statuses.get(checks.text(source_chain, "source_chain"), ()))

    def accumulator_value(self, height: int | None = None) -> int:
        """The accumulator after block `height` (the latest block when None)."""
        with self._lock:
            if height is None:
                return self._values[-1] if self._values else self._generator
            return self._values[self._check_height(height)]

    def _check_height(self, height: int) -> int:
        return checks.position(height, "block", len(self._signed), self.chain_id)

    def inclusion_proof(self, tx_id: bytes, against_height: int | None = None) -> InclusionProof:
        """Merkle path plus accumulator witness for `tx_id` against the value after block
        `against_height` (the latest block when None)."""
        with self._lock:
            receipt = self.receipt(tx_id)
            height, position = receipt.height, receipt.position
            against = len(self._signed) - 1 if against_height is None else self._check_height(against_height)
            if height > against:
                raise NotFound(f"block {height} is after height {against}")
        return InclusionProof.for_transaction(self.block(height), position, self.block_witness(height, against), against)

    def block_witness(self, height: int, against_height: int) -> int:
        """Membership witness of block `height`'s element in the accumulator after block
        `against_height`: v_(height-1) raised to the elements after it."""
        with self._lock:
            against_height = self._check_height(against_height)
            height = checks.position(height, "block", against_height + 1, f"{self.chain_id} up to {against_height}")
            base = self._values[height - 1] if height else self._generator
            later = self._elements[height + 1:against_height + 1]
        return edgeacc.update_witness(self._params, base, later)

    # --- validation ----------------------------------------------------------------------

    def check_transaction(self, tx: Transaction, *, at_ms: int | None = None,
                          pending: dict | None = None) -> None:
        """Raise unless `tx` (the decoding of its bytes) may go into this chain's next block.
        `pending` carries what the block under construction already holds (tx ids, status
        heights)."""
        self._check_transaction(checks.decoded(tx, Transaction, "tx"), at_ms=at_ms, pending=pending)

    def _check_transaction(self, tx: Transaction, *, at_ms: int | None = None,
                           pending: dict | None = None) -> None:
        pending = {} if pending is None else checks.instance(pending, dict, "pending")
        seen: set = pending.setdefault("tx_ids", set())
        status_heights: dict = pending.setdefault("status", {})
        if tx.chain_id != self.chain_id:
            raise WrongChain(f"transaction is for chain {tx.chain_id}, not {self.chain_id}")
        tx_id = tx.tx_id
        if tx_id in self._tx_index or tx_id in seen:
            raise ReplayedTransaction(f"transaction {tx_id.hex()[:16]} is already on {self.chain_id}")
        trust = self.deployment.trust
        if tx.kind == TxKind.RECORD:
            signer = trust.resolve(tx.submitter, at_ms=at_ms)
            if signer.role == "device" and signer.chain_id not in (None, self.chain_id):
                raise UnauthorizedSigner(f"{signer.name} is a device of {signer.chain_id}, not of {self.chain_id}")
            self._verify_signature(signer, tx, at_ms)
        else:
            self._check_status(tx, at_ms, status_heights)
        seen.add(tx_id)

    def admit(self, tx: Transaction) -> None:
        """The endorser's check of one transaction when it is submitted (as in Fabric's
        endorsement phase, and on the submitter's thread): everything check_transaction checks
        now, then the chain's application validators on a Type-I transaction (ValidationRejected
        if one refuses). This peer remembers that it verified the signature and ran the
        validators, so validating the block that carries the transaction does not do either
        again (certificates are re-checked)."""
        self._admit(checks.decoded(tx, Transaction, "tx"))

    # The public methods take signed objects from anyone and work on their decoding
    # (checks.decoded); the _-methods take objects already decoded (ChainService decodes a
    # submission once, and builds and replays blocks from decoded objects).

    def _admit(self, tx: Transaction) -> None:
        self._check_transaction(tx)
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

    def _verify_signature(self, member, tx: Transaction, at_ms: int | None) -> None:
        if at_ms is None and (tx.tx_id, tx.signature) in self._admitted:
            return  # this peer verified exactly these bytes in admit()
        member.verify(tx.signature, tx.signed_message())

    def _check_status(self, tx: Transaction, at_ms: int | None, status_heights: dict) -> None:
        main_id = self.deployment.main_chain_id
        if tx.kind == TxKind.SUBCHAIN_STATUS and self.config.kind != MAIN:
            raise ValidationError("a Type-II status goes to the main chain only")
        if tx.kind == TxKind.MAIN_STATUS and self.config.kind != SUB:
            raise ValidationError("a Type-III status goes to sub-chains only")
        if tx.object_digest:
            raise ValidationError("a status transaction carries no object")
        status = SubchainStatus.from_bytes(tx.payload) if tx.kind == TxKind.SUBCHAIN_STATUS else None
        anchor = status.signed if status else SignedHeader.from_bytes(tx.payload)
        check_element(anchor.header)  # the representative check Protocol 1 applies to the same header
        source = anchor.header.chain_id
        if tx.kind == TxKind.SUBCHAIN_STATUS and (source == main_id or source not in self.deployment.chains):
            raise WrongChain(f"a Type-II must report a sub-chain, not {source!r}")
        if tx.kind == TxKind.MAIN_STATUS and source != main_id:
            raise WrongChain(f"a Type-III must report the main chain, not {source!r}")
        # The signer must be a peer of the chain it reports on: no chain speaks for another.
        self._verify_signature(self.deployment.trust.resolve(tx.submitter, roles=("peer",), chain_id=source,
                                                             at_ms=at_ms), tx, at_ms)
        self.deployment.check_endorsements(anchor, at_ms)
        try:
            reported_value = edgeacc.decode_element(self._params, anchor.header.acc_value)
        except EdgeaccError as exc:
            raise AccumulatorMismatch(f"reported accumulator is invalid: {exc}") from None
        records = self._statuses.get(source)
        last_height, last_element = status_heights.get(
            source, (records[-1].source_height, records[-1].source_element) if records else (-1, None))
        if anchor.header.height <= last_height:
            raise StaleStatus(f"status of {source} at height {anchor.header.height} does not advance past {last_height}")
        if status is not None and last_element is not None:
            self._check_continuity(status, source, last_height, last_element, reported_value)
        status_heights[source] = (anchor.header.height, anchor.header.acc_element)

    def _check_continuity(self, status: SubchainStatus, source: str, last_height: int, last_element: int,
                          reported_value: int) -> None:
        """The block a sub-chain reported before must be a member of the accumulator it reports now."""
        if not status.continuity_witness:
            raise ValidationError(f"the Type-II of {source} lacks the witness of its block {last_height}")
        try:
            witness = edgeacc.decode_element(self._params, status.continuity_witness)
            member = edgeacc.verify_membership(self._params, witness, last_element, reported_value)
        except EdgeaccError as exc:
            raise AccumulatorMismatch(f"the Type-II of {source} carries an invalid witness: {exc}") from None
        if not member:
            raise AccumulatorMismatch(f"the Type-II of {source} does not contain its block {last_height} "
                                      "reported before (a fork or a rewritten chain)")

    def validate_block(self, block: Block, *, live: bool = True) -> None:
        """Every check but the endorsements. `live`
        checks certificates against revocation now; otherwise at the block's timestamp."""
        self._validate_block(checks.decoded(block, Block, "block"), live=live)

    def _validate_block(self, block: Block, *, live: bool) -> None:
        header = block.header
        if header.chain_id != self.chain_id:
            raise WrongChain(f"block is for chain {header.chain_id}, not {self.chain_id}")
        with self._lock:
            if header.height != len(self._signed):
                raise WrongHeight(f"block height {header.height}; {self.chain_id} expects {len(self._signed)}")
            previous = self._signed[-1].header if self._signed else None
            prev_value = self._values[-1] if self._values else self._generator
        if header.previous != (previous.digest if previous else GENESIS_PREVIOUS):
            raise BrokenLink(f"block {header.height} does not link to the chain's last block")
        if previous and header.timestamp_ms < previous.timestamp_ms:
            raise ValidationError(f"block {header.height} is older than its predecessor")
        if live and header.timestamp_ms > now_ms() + MAX_CLOCK_SKEW_MS:
            raise ValidationError(f"block {header.height} is dated in the future")
        if block.computed_merkle_root() != header.merkle_root:  # (Block checks the count)
            raise MerkleMismatch(f"block {header.height}: Merkle root or count does not match its transactions")
        pending: dict = {}
        at_ms = None if live else header.timestamp_ms
        for tx in block.transactions:
            self._check_transaction(tx, at_ms=at_ms, pending=pending)
        x, k = edgeacc.hash_to_prime(header.element_data())
        if (x, k) != (header.acc_element, header.acc_nonce):
            raise AccumulatorMismatch(f"block {header.height}: wrong accumulator element")
        value = edgeacc.update_witness(self._params, prev_value, [x])
        if edgeacc.encode_element(self._params, value) != header.acc_value:
            raise AccumulatorMismatch(f"block {header.height}: wrong accumulator value")

    # --- endorse and commit ---------------------------------------------------------------

    def propose(self, transactions: list[Transaction]) -> tuple[Block, list[tuple[int, LedgerError]]]:
        """Validate each transaction on its own and build an unendorsed block on top of this
        peer's chain from those that pass; returns the block and (index, error) of the rest.
        The block counts as validated by this peer, so endorse() does not check it again."""
        checks.instance(transactions, (list, tuple), "transactions")
        return self._propose([checks.decoded(tx, Transaction, "each transaction") for tx in transactions])

    def _propose(self, transactions: list[Transaction]) -> tuple[Block, list[tuple[int, LedgerError]]]:
        accepted, rejected = [], []
        pending: dict = {}
        for i, tx in enumerate(transactions):
            try:
                self._check_transaction(tx, pending=pending)
                accepted.append(tx)
            except LedgerError as exc:
                rejected.append((i, exc))
                with self._lock:
                    self._admitted.discard((tx.tx_id, tx.signature))
        with self._lock:
            previous = self._signed[-1].header if self._signed else None
            height = len(self._signed)
            prev_value = self._values[-1] if self._values else self._generator
        ts = max(now_ms(), previous.timestamp_ms if previous else 0)
        tx_bytes = tuple(tx.to_bytes() for tx in accepted)
        leaves = tuple(tx.leaf for tx in accepted)
        content = BlockHeader(self.chain_id, height, previous.digest if previous else GENESIS_PREVIOUS,
                              ts, merkle_root(leaves), len(accepted), 0, 0, b"")
        x, k = edgeacc.hash_to_prime(content.element_data())
        value = edgeacc.update_witness(self._params, prev_value, [x])
        header = BlockHeader(content.chain_id, height, content.previous, ts, content.merkle_root,
                             len(accepted), x, k, edgeacc.encode_element(self._params, value))
        block = Block(SignedHeader(header, ()), tuple(accepted))
        block.__dict__.update(tx_bytes=tx_bytes, leaves=leaves)  # cached_property values
        with self._lock:
            self._validated.add(header.digest)
        return block, rejected

    def endorse(self, block: Block) -> tuple[bytes, bytes]:
        """Validate `block` (unless this peer proposed it), run the application validators on
        the Type-I transactions this peer did not admit, and sign the header:
        (fingerprint, signature)."""
        return self._endorse(checks.decoded(block, Block, "block"))

    def _endorse(self, block: Block) -> tuple[bytes, bytes]:
        with self._lock:
            known = block.digest in self._validated and block.height == len(self._signed)
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
            if block.digest not in self._validated or block.height != len(self._signed):
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

    def _apply(self, block: Block) -> None:
        """Extend the in-memory state by a block validate_block accepted."""
        header = block.header
        self._elements.append(header.acc_element)
        self._values.append(edgeacc.decode_element(self._params, header.acc_value))
        self._signed.append(block.signed)
        for position, tx in enumerate(block.transactions):
            self._tx_index[tx.tx_id] = (header.height, position)
            self._admitted.discard((tx.tx_id, tx.signature))
            if tx.kind == TxKind.RECORD:
                self._last_record_height = header.height
            else:
                anchor = reported_header(tx).header
                self._statuses.setdefault(anchor.chain_id, []).append(
                    StatusRecord(anchor.chain_id, anchor.height, header.height, tx.tx_id, anchor.acc_element,
                                 anchor.digest))

    def load(self, progress: bool = False) -> None:
        """Re-validate every stored block (digests, links, accumulators, signatures) and
        rebuild the in-memory state; StorageError names the first block that fails."""
        with self._lock:
            if self._signed:
                raise StorageError("load() runs once, on an empty peer")
            total = self.store.height()
            rows = self.store.blocks(0)
            bar = tqdm(rows, total=total, desc=f"validating {self.name}", unit="blk",
                       disable=not progress, leave=False)
            for expected_height, (height, digest, data) in enumerate(bar):
                try:
                    if height != expected_height:
                        raise WrongHeight(f"stored heights jump from {expected_height - 1} to {height}")
                    block = Block.from_bytes(data)
                    if block.digest != bytes(digest) or block.height != height:
                        raise StorageError("stored digest or height differs from the block's")
                    self._validate_block(block, live=False)
                    self.deployment.check_endorsements(block.signed, at_ms=block.header.timestamp_ms)
                except (LedgerError, EdgeaccError) as exc:
                    raise StorageError(f"{self.store.path}: block {height} fails re-validation: {exc}") from exc
                self._apply(block)
            if self.store.tx_index() != self._tx_index:
                raise StorageError(f"{self.store.path}: the transaction index differs from the blocks")

    def close(self) -> None:
        """Close the peer's store."""
        self.store.close()
