"""Chains: the deployment's shared configuration and policy, and the validated state of one
chain with the rules a block must pass (ChainState; ledger.peer.Peer stores, endorses and
commits).

Every block a peer accepts, whether freshly endorsed or read back from disk on open (above
the peer's signed checkpoint; below it, the bytes it validated before), passes the same
checks: encoding, chain id, height, previous-digest link, timestamp order, Merkle root,
every transaction (certificate, signature, no replay, Type-II/III rules), the accumulator
element and value, and the chain's endorsement policy.
"""
from __future__ import annotations

import bisect
import struct
import threading
import time
from array import array
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Container, Iterable, Iterator, NamedTuple, Protocol

import edgeacc
from edgeacc.errors import EdgeaccError

from ledger import checks
from ledger.block import (GENESIS_PREVIOUS, Block, BlockHeader, SignedHeader, SubchainStatus,
                          check_element, reported_header)
from ledger.errors import (AccumulatorMismatch, BrokenLink, ConfigurationError, EncodingError,
                           EndorsementError, LedgerError, MerkleMismatch, NotFound,
                           ReplayedTransaction, SpeculationRefused, StaleStatus, StorageError, UnauthorizedSigner,
                           ValidationError, WrongChain, WrongHeight)
from ledger.encoding import DIGEST_BYTES, U16_MAX, Writer, check_chain_id
from ledger.identity import BEFORE_REVOCATIONS, TrustStore
from ledger.merkle import merkle_root
from ledger.tx import Transaction, TxKind

MAIN, SUB = "main", "sub"
MAX_CLOCK_SKEW_MS = 60_000
RECENT_BLOCKS = 4096  # blocks whose tx ids memory holds before the store's index answers for them,
RECENT_TXS = 1 << 16  # or fewer blocks once they hold this many tx ids (memory: per id, not per block)
HEADER_CACHE = 256  # the headers of the latest blocks applied and of stored ones read back once checked
STATUS_CACHE = 256  # status records kept once read back (a verification reads its covering ones more than once)
_U16, _HEIGHTS = struct.Struct(">H"), struct.Struct(">QQ")

# An application check an endorsing peer runs on a Type-I transaction before signing it:
# validator(peer_name, tx) returns to accept and raises to refuse.
Validator = Callable[[str, Transaction], None]


def now_ms() -> int:
    """Wall-clock time in milliseconds since the epoch (block and transaction timestamps)."""
    return time.time_ns() // 1_000_000


def check_fresh(header: BlockHeader, endorser: str) -> None:
    """An endorser signs only a block dated no earlier than its clock minus MAX_CLOCK_SKEW_MS
    (ValidationError otherwise; validate_block bounds the date ahead): endorsements and
    signatures count at the block's date, so a proposer dating a block back to its idle
    parent's time would make certificates expired or revoked since count again. Not a rule of
    commit or replay, which may run any time later."""
    if header.timestamp_ms < now_ms() - MAX_CLOCK_SKEW_MS:
        raise ValidationError(f"block {header.height} of {header.chain_id} is dated in the past: {endorser} "
                              "endorses fresh blocks only")


def check_link(header: BlockHeader, previous_digest: bytes | None) -> None:
    """BrokenLink unless `header` links to the block of digest `previous_digest` (None: it is
    the chain's first block)."""
    if header.previous != (GENESIS_PREVIOUS if previous_digest is None else previous_digest):
        raise BrokenLink(f"block {header.height} does not link to the chain's last block")


def replay_time(header: BlockHeader, live: bool, ordered: bool) -> int | None:
    """The time a block's certificates are checked at: now (None) when `live`, else the
    block's own timestamp, or with `ordered` a time before every revocation (revocation is
    judged by the log's order, not by this peer's CRL: ledger.cluster.ordered_crl)."""
    return None if live else BEFORE_REVOCATIONS if ordered else header.timestamp_ms


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
        unrevoked peer of the header's chain whose certificate is valid at the header's
        timestamp, no endorser counts twice (the same key or the same peer name under two
        certificates is one endorser, and refused), and there are at least the policy's
        threshold of distinct endorsers."""
        header = checks.decoded(signed, SignedHeader, "signed").header
        self.check_peer_signatures(header.chain_id, header.endorsement_message(), signed.endorsements,
                                   self.config(header.chain_id).endorsement_threshold, at_ms,
                                   f"block {header.height} of {header.chain_id}", "endorser",
                                   valid_at_ms=header.timestamp_ms)

    def check_peer_signatures(self, chain_id: str, message: bytes, signatures, needed: int, at_ms: int | None,
                              what: str, role: str, valid_at_ms: int | None = None) -> set[str]:
        """`signatures` ((fingerprint, signature) pairs) of `message` by at least `needed`
        distinct unrevoked peers of `chain_id` (a key or a peer name counts once; a repeat is
        refused) whose certificates are valid at `valid_at_ms` (TrustStore.resolve's default
        when None): EndorsementError otherwise. Returns the signers' names."""
        keys: set[bytes] = set()
        names: set[str] = set()
        for fp, sig in signatures:
            member = self.trust.resolve(fp, roles=("peer",), chain_id=chain_id, at_ms=at_ms, valid_at_ms=valid_at_ms)
            member.verify(sig, message)
            if member.key_bytes in keys or member.name in names:
                raise EndorsementError(f"{what}: {member.name} counts twice as {role} (one key or one peer "
                                       "under two certificates)")
            keys.add(member.key_bytes)
            names.add(member.name)
        if len(keys) < needed:
            raise EndorsementError(f"{what} has {len(keys)} distinct {role}s; the policy needs {needed}")
        return names


@dataclass(frozen=True)
class Receipt:
    """Where a committed transaction is: chain, block height, position in the block."""

    tx_id: bytes
    chain_id: str
    height: int
    position: int
    block_digest: bytes


class Committed(NamedTuple):
    """A committed transaction read back (Ledger.transactions): the transaction, where it is,
    and the timestamp of the block holding it (when its signatures count)."""

    transaction: Transaction
    receipt: Receipt
    block_time_ms: int


@dataclass(frozen=True)
class StatusRecord:
    """A Type-II (on the main chain) or Type-III (on a sub-chain) that was committed."""

    source_chain: str
    source_height: int
    height: int       # height of the block that holds the status transaction
    tx_id: bytes
    source_element: int  # accumulator element of the reported block
    source_digest: bytes  # digest of the reported block (what a rollback check compares)

    def to_bytes(self) -> bytes:
        """The record's encoding in a peer's store (ledger.store statuses; Peer.load checks the
        stored ones against its signed checkpoint)."""
        element = self.source_element.to_bytes(max(1, (self.source_element.bit_length() + 7) // 8), "big")
        return (Writer().text16(self.source_chain).u64(self.source_height).u64(self.height)
                .raw(self.tx_id, DIGEST_BYTES).bytes16(element).raw(self.source_digest, DIGEST_BYTES).getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> "StatusRecord":
        """The record `to_bytes` encoded (EncodingError otherwise)."""
        chain_id, source_height, height, tx_id, element, digest = _status_fields(data)
        return cls(chain_id, source_height, height, tx_id, int.from_bytes(data[element], "big"), digest)


def _status_fields(data: bytes) -> tuple[str, int, int, bytes, slice, bytes]:
    """(source chain, source height, height, tx id, the slice of the element's bytes, source
    digest) of the record StatusRecord.to_bytes encoded as `data` (EncodingError otherwise);
    read with struct, not a Reader, the element left encoded: open reads one per interlocking
    round of the chain's age (StatusColumns.add_encoded)."""
    try:
        end = 2 + _U16.unpack_from(data)[0]
        chain_id, (source_height, height) = data[2:end].decode(), _HEIGHTS.unpack_from(data, end)
        tx_id, element_end = data[end + 16:end + 48], end + 50 + _U16.unpack_from(data, end + 48)[0]
    except (struct.error, UnicodeDecodeError, TypeError, AttributeError) as exc:
        raise EncodingError(f"status record does not decode: {type(exc).__name__}") from None
    digest = data[element_end:]
    if len(tx_id) != DIGEST_BYTES or len(digest) != DIGEST_BYTES:
        raise EncodingError("status record is truncated or has trailing bytes")
    return chain_id, source_height, height, tx_id, slice(end + 50, element_end), digest


def status_records(height: int, transactions: Iterable[Transaction]) -> list[tuple[int, StatusRecord]]:
    """(position, StatusRecord) of each Type-II/III transaction of block `height`."""
    return [(position, status_record(height, tx)) for position, tx in enumerate(transactions)
            if tx.kind != TxKind.RECORD]


def status_record(height: int, tx: Transaction) -> StatusRecord:
    """The StatusRecord of the Type-II/III transaction `tx` of block `height`."""
    anchor = reported_header(tx).header
    return StatusRecord(anchor.chain_id, anchor.height, height, tx.tx_id, anchor.acc_element, anchor.digest)


class StatusHead(NamedTuple):
    """The fields of a status record a rollback check compares (ledger.anchors.anchors_from)."""

    source_chain: str
    source_height: int
    height: int
    source_digest: bytes


class StatusColumns:
    """One source chain's status records as a chain state holds them: flat columns of what
    the lookups search and the rollback checks compare (52 bytes a record, no object per
    record), the latest record whole; any other record is read back from its block."""

    __slots__ = ("source_chain", "source_heights", "heights", "positions", "digests", "_last", "_last_encoded")

    def __init__(self, source_chain: str) -> None:
        self.source_chain = source_chain
        self.source_heights, self.heights, self.positions = array("q"), array("q"), array("I")
        self.digests = bytearray()  # DIGEST_BYTES per record: its source_digest
        self._last: StatusRecord | None = None
        self._last_encoded = b""  # (add_encoded's last record, decoded when asked for)

    @property
    def last(self) -> StatusRecord | None:
        """The latest record."""
        if self._last_encoded:
            self._last, self._last_encoded = StatusRecord.from_bytes(self._last_encoded), b""
        return self._last

    @staticmethod
    def _append(columns_by_source: dict[str, "StatusColumns"], source: str, source_height: int, height: int,
                position: int, source_digest: bytes) -> "StatusColumns":
        """Append a record's fields to the columns of `source` (added if it has none); returns them."""
        columns = columns_by_source.get(source)
        if columns is None:
            columns = columns_by_source[source] = StatusColumns(source)
        columns.source_heights.append(source_height)
        columns.heights.append(height)
        columns.positions.append(position)
        columns.digests += source_digest
        return columns

    @staticmethod
    def add(columns_by_source: dict[str, "StatusColumns"], position: int, record: StatusRecord) -> None:
        """Add `record`, at `position` of its block, to the columns of its source."""
        columns = StatusColumns._append(columns_by_source, record.source_chain, record.source_height, record.height,
                                        position, record.source_digest)
        columns._last, columns._last_encoded = record, b""

    @staticmethod
    def add_encoded(columns_by_source: dict[str, "StatusColumns"], height: int, position: int, data: bytes) -> None:
        """Add the record StatusRecord.to_bytes encoded as `data`, of block `height`, to the
        columns of its source, reading only the fields they hold (open reads one per round of
        the chain's age); EncodingError if it does not decode or names another block."""
        source, source_height, record_height, _, _, digest = _status_fields(data)
        if record_height != height:
            raise EncodingError(f"the status record of block {height} names block {record_height}")
        StatusColumns._append(columns_by_source, source, source_height, height, position, digest)._last_encoded = data

    def __len__(self) -> int:
        return len(self.heights)

    def head(self, i: int) -> StatusHead:
        return StatusHead(self.source_chain, self.source_heights[i], self.heights[i],
                          bytes(self.digests[i * DIGEST_BYTES:(i + 1) * DIGEST_BYTES]))


class StatusRecords(Sequence):
    """The status records of one source chain a chain state held when it was asked (later
    ones are not in this view), oldest first, without a copy: a record is read back from its
    block (ChainState.block checks it is the validated one), searches run on the columns."""

    def __init__(self, state: "ChainState", columns: StatusColumns) -> None:
        self._state, self._columns = state, columns
        with state.lock:
            self._len, self._last = len(columns), columns.last

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        index = checks.integer(index, "index", lo=-(1 << 63))
        index = checks.position(index + self._len if index < 0 else index, "status record", self._len,
                                f"the records of {self._columns.source_chain}")
        if index == self._len - 1:
            return self._last
        with self._state.lock:
            height, position = self._columns.heights[index], self._columns.positions[index]
        return self._state.status_at(height, position)

    def __iter__(self) -> Iterator[StatusRecord]:
        return (self[i] for i in range(self._len))

    def __reversed__(self) -> Iterator[StatusRecord]:
        return (self[i] for i in reversed(range(self._len)))

    def first_at_or_after(self, source_height: int) -> int:
        """The index of the first record reporting a block at or after `source_height` (len if none)."""
        with self._state.lock:
            return min(bisect.bisect_left(self._columns.source_heights, source_height, 0, self._len), self._len)

    def last_held_by(self, height: int) -> StatusRecord | None:
        """The last record in a block at or below `height` of the holding chain, or None."""
        with self._state.lock:
            i = bisect.bisect_right(self._columns.heights, height, 0, self._len)
        return self[i - 1] if i else None

    def heads(self, start: int = 0) -> Iterator[StatusHead]:
        """StatusHead of each record from index `start` on (from memory, no block read)."""
        for i in range(max(start, 0), self._len):
            with self._state.lock:
                head = self._columns.head(i)
            yield head

    def last_below(self, source_height: int) -> StatusHead | None:
        """StatusHead of the last record reporting a block below `source_height`, or None."""
        i = self.first_at_or_after(source_height)
        if not i:
            return None
        with self._state.lock:
            return self._columns.head(i - 1)


class ChainState:
    """The validated state of one chain and the rules a block must pass to extend it.

    Memory holds what does not grow with the chain's age: the height, the latest signed header
    and accumulator value, the transaction ids of the last blocks the store has not indexed
    yet (at most RECENT_BLOCKS blocks or RECENT_TXS ids beyond the store's batch), and of the
    Type-II/III status records flat columns (StatusColumns: 52 bytes per interlocking round,
    no object per round; the records themselves are read back from their blocks, the last
    STATUS_CACHE of them kept).
    Everything else is read back from the peer's store on demand (`stored`, a StoredChain),
    which checks every byte it reads against the hashes of what it read on open (and the peer
    checked against its signed checkpoint) or wrote since (ledger.store): a block's digest is
    the store's; an older header must hash to that digest (so its accumulator value and
    element are the validated ones), a block must also match its Merkle root, a transaction
    found through the stored index must carry the id asked for, and an absence from it counts
    only once the store checked the rows of its bucket (ledger.store.PeerStore.location).

    The chain's accumulator has one checkpoint per block: every header carries its value, v_0
    = g precedes block 0. A membership witness is built from one window, v_(height-1) and the
    elements up to the value it is against (block_witnesses): its cost grows with that span,
    not with the chain's age (Protocol 1 against historical anchors spans one interlocking
    interval, ledger.verifier).

    It stores nothing and signs nothing: ledger.peer.Peer does, and shares `lock` with it. The
    rules take `admitted`, the (tx_id, signature) pairs whose signatures the caller verified
    itself (an endorser's admission), so no signature is verified twice."""

    def __init__(self, deployment: Deployment, chain_id: str, stored: "StoredChain | None" = None) -> None:
        self.deployment = checks.instance(deployment, Deployment, "deployment")
        self._stored = stored
        self.config = deployment.config(chain_id)
        self.chain_id = self.config.chain_id
        self.params = deployment.params
        self.lock = threading.RLock()
        self._height = 0
        self._latest: SignedHeader | None = None
        self._generator = deployment.generator(self.chain_id)
        self._value = self._generator  # the accumulator after the latest block
        self._recent: dict[bytes, tuple[int, int]] = {}  # tx id -> where, of the blocks in _recent_blocks
        self._recent_blocks: deque[tuple[int, list[bytes]]] = deque()
        self._headers: OrderedDict[int, SignedHeader] = OrderedDict()  # checked stored headers (LRU)
        self._status_cache: OrderedDict[tuple[int, int], StatusRecord] = OrderedDict()  # status_at's, read back
        self._statuses: dict[str, StatusColumns] = {}
        self._last_record_height = -1

    # --- reading -----------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Number of blocks (the next block's height)."""
        return self._height

    def latest(self) -> SignedHeader | None:
        """The latest block's signed header, or None on an empty chain."""
        return self._latest

    def digest(self, height: int) -> bytes:
        """The digest of block `height` as this state validated it (NotFound if there is none):
        the latest HEADER_CACHE applied (or read back and checked) from memory, an older one
        from the store, checked (PeerStore.digest: a block of the store's incomplete group costs
        a read and hash of that group, so memory answers the receipts of recent blocks)."""
        with self.lock:
            height, latest = self.check_height(height), self._latest
            cached = self._headers.get(height)
        if height == latest.header.height:
            return latest.header.digest
        if cached is not None:
            return cached.header.digest
        digest = self._reader().digest(height)
        if digest is None:
            raise StorageError(f"the store of {self.chain_id} no longer holds the block {height} that was validated")
        return digest

    def signed_header(self, height: int) -> SignedHeader:
        """The signed header of block `height` (NotFound if there is none): the last
        HEADER_CACHE applied or read back from memory, an older one read back from the store,
        which must still hold the header this state validated (StorageError otherwise)."""
        with self.lock:
            height, latest = self.check_height(height), self._latest
        if height == latest.header.height:
            return latest
        with self.lock:
            cached = self._headers.get(height)
        if cached is not None:
            return cached
        signed = self._checked(height, lambda: self._reader().header(height), "header")
        if signed.header.digest != self.digest(height):
            raise StorageError(f"the store of {self.chain_id} no longer holds the block {height} that was validated")
        self._cache_header(signed)
        return signed

    def _cache_header(self, signed: SignedHeader) -> None:
        with self.lock:
            self._headers[signed.header.height] = signed
            while len(self._headers) > HEADER_CACHE:
                self._headers.popitem(last=False)

    def block(self, height: int) -> Block:
        """Block `height` as stored, which must still be the block this state validated (its
        digest, and the transactions its Merkle root binds): StorageError otherwise. Every
        block read back after open goes through here (proofs, the Type-III anchors a verifier
        trusts, revocation records, catch-up)."""
        height = self.check_height(height)
        block = self._checked(height, lambda: self._reader().block(height), "block")
        if block.digest != self.digest(height) or block.computed_merkle_root() != block.header.merkle_root:
            raise StorageError(f"the stored block {height} of {self.chain_id} is not the one this peer validated")
        return block

    def transaction_at(self, tx_id: bytes, height: int, position: int) -> Transaction:
        """The transaction at (height, position) of block `height` (checked by block), which
        must be `tx_id`: StorageError when a (stored) index points at another one."""
        tx_id = checks.identifier(tx_id, "tx_id", "transaction id")
        height, position = (checks.integer(v, name, lo=-(1 << 63)) for v, name in ((height, "height"),
                                                                                    (position, "position")))
        txs = self.block(height).transactions if 0 <= height < self.height else ()
        if not 0 <= position < len(txs) or txs[position].tx_id != tx_id:
            raise self._misplaced(tx_id, height, position)
        return txs[position]

    def _misplaced(self, tx_id: bytes, height: object, position: object) -> StorageError:
        return StorageError(f"the index of {self.chain_id} puts transaction {tx_id.hex()[:16]} at block "
                            f"{checks.shown(height)} position {checks.shown(position)}, which holds another")

    def transactions(self, tx_ids: Iterable[bytes | str]) -> dict[bytes, Committed]:
        """The committed transactions of this chain among `tx_ids` (bytes or hex), each with its
        Receipt and block time (Committed), keyed by the id's bytes; an id the chain does not hold (or a malformed one)
        is left out. Each id is located once (memory, else the store's index) and each block
        holding one is read once per call through block(), so it is checked as every read
        is (its digest the validated one, its transactions under its Merkle root: a block
        rewritten in the store is refused, StorageError), and the transaction there must
        carry the id (transaction_at's check). Nothing is kept across calls."""
        by_height: dict[int, list[tuple[bytes, int]]] = {}
        for tx_id in checks.identifiers(tx_ids, "tx_ids", "transaction id"):
            where = self._where(tx_id)[0]
            if where is not None:
                by_height.setdefault(where[0], []).append((tx_id, where[1]))
        out: dict[bytes, Committed] = {}
        for height, wanted in by_height.items():
            block = self.block(height)
            txs = block.transactions
            for tx_id, position in wanted:
                if not 0 <= position < len(txs) or txs[position].tx_id != tx_id:
                    raise self._misplaced(tx_id, height, position)
                out[tx_id] = Committed(txs[position], Receipt(tx_id, self.chain_id, height, position, block.digest),
                                       block.header.timestamp_ms)
        return out

    def _reader(self) -> "StoredChain":
        if self._stored is None:
            raise NotFound(f"{self.chain_id} keeps no store to read older blocks from")
        return self._stored

    def _checked(self, height: int, read: Callable, what: str):
        try:
            return read()
        except EncodingError as exc:
            raise StorageError(f"the stored {what} {height} of {self.chain_id} no longer decodes: {exc}") from None

    def check_height(self, height: int) -> int:
        """`height` if the chain has that block; NotFound (ArgumentError for a non-integer)."""
        return checks.position(height, "block", self.height, self.chain_id)

    def locate(self, tx_id: bytes | str) -> tuple[int, int] | None:
        """(height, position) of a committed transaction (id as bytes or hex), or None: the
        recent blocks from memory, the older ones from the store's index, checked (the block
        there holds that id: transaction_at)."""
        try:
            tx_id = checks.identifier(tx_id, "tx_id", "transaction id")
        except NotFound:  # a malformed id is on no chain
            return None
        where, stored = self._where(tx_id)
        if stored and where is not None:
            self.transaction_at(tx_id, *where)
        return where

    def _where(self, tx_id: bytes) -> tuple[tuple[int, int] | None, bool]:
        """((height, position) or None, whether the store's index gave it) of a committed id,
        unchecked: the recent blocks from memory, the older ones from the store's index."""
        with self.lock:
            where = self._recent.get(tx_id)
        if where is not None or self._stored is None:
            return where, False
        where = self._stored.tx_location(tx_id)
        if where is None or where[0] >= self.height:  # (a stored block load has not reached yet)
            return None, False
        return where, True

    @property
    def last_record_height(self) -> int:
        """Height of the last block holding a Type-I transaction (-1 if none)."""
        return self._last_record_height

    def statuses(self, source_chain: str) -> StatusRecords:
        """Committed Type-II records of `source_chain` (main chain) or Type-III records
        (sub-chain, source = the main chain), oldest first: a view (StatusRecords), not a copy."""
        source_chain = checks.text(source_chain, "source_chain")
        with self.lock:
            columns = self._statuses.get(source_chain) or StatusColumns(source_chain)
        return StatusRecords(self, columns)

    def status_at(self, height: int, position: int) -> StatusRecord:
        """The status record of the transaction at (height, position), from its block as this
        state validated it (block), kept once read (STATUS_CACHE)."""
        with self.lock:
            cached = self._status_cache.get((height, position))
        if cached is not None:
            return cached
        txs = self.block(height).transactions
        if not 0 <= position < len(txs) or txs[position].kind == TxKind.RECORD:
            raise StorageError(f"block {height} of {self.chain_id} holds no status transaction at {position}")
        record = status_record(height, txs[position])
        with self.lock:
            self._status_cache[height, position] = record
            while len(self._status_cache) > STATUS_CACHE:
                self._status_cache.popitem(last=False)
        return record

    def accumulator_value(self, height: int | None = None) -> int:
        """The accumulator after block `height` (the latest block when None): the value its
        header carries (signed_header checks it is the header this state validated)."""
        with self.lock:
            if height is None or (self._latest is not None and height == self._latest.header.height):
                return self._value
            height = self.check_height(height)
        return edgeacc.decode_element(self.params, self.signed_header(height).header.acc_value)

    def _value_before(self, height: int) -> int:
        return self._generator if height == 0 else self.accumulator_value(height - 1)

    def block_witness(self, height: int, against_height: int) -> int:
        """Membership witness of block `height`'s element in the accumulator after block
        `against_height`: v_(height-1) raised to the elements after it (block_witnesses)."""
        with self.lock:
            against_height = self.check_height(against_height)
        return self.block_witnesses([height], against_height)[height]

    def block_witnesses(self, heights: list[int], against_height: int) -> dict[int, int]:
        """block_witness of every block in `heights` (height -> witness), from one window: an
        edgeacc.Accumulator with generator v_(lo-1) (lo the lowest height) holding the elements
        of blocks lo..against_height, restored to the value after against_height without an
        exponentiation. Every value and element comes from a header this state validated
        (signed_header), so the window's values are the chain's; one RootFactory pass computes
        the witnesses (the work of about two, over the window's elements only; one witness is
        one exponentiation of v_(lo-1) by the elements after lo)."""
        with self.lock:
            against_height = self.check_height(against_height)
            wanted = sorted({checks.position(h, "block", against_height + 1, f"{self.chain_id} up to {against_height}")
                             for h in checks.items(heights, "heights")})
        if not wanted:
            return {}
        lo = wanted[0]
        before = self._value_before(lo)
        elements = [self.signed_header(h).header.acc_element for h in range(lo, against_height + 1)]
        if len(wanted) == 1:  # (one witness: one exponentiation by the later elements)
            return {lo: edgeacc.update_witness(self.params, before, elements[1:])}
        window = edgeacc.Accumulator(self.params, before)
        window.restore_checkpoint(elements, self.accumulator_value(against_height), verify=False)
        return dict(zip(wanted, window.witnesses([h - lo for h in wanted])))

    # --- the rules -----------------------------------------------------------------------

    def check_transaction(self, tx: Transaction, *, at_ms: int | None = None, pending: dict | None = None,
                          admitted: Container[tuple[bytes, bytes]] = (), valid_at_ms: int | None = None) -> None:
        """Raise unless `tx` (decoded) may go into this chain's next block. `pending` carries
        what the block under construction already holds (tx ids, status heights); `at_ms`
        checks revocation at that time (None: now, and `admitted` signatures are known);
        `valid_at_ms` is the time the signer's certificate must be valid at: the timestamp of
        the block that holds the transaction (None: at_ms, or now at admission)."""
        pending = {} if pending is None else checks.instance(pending, dict, "pending")
        seen: set = pending.setdefault("tx_ids", set())
        status_heights: dict = pending.setdefault("status", {})
        if tx.chain_id != self.chain_id:
            raise WrongChain(f"transaction is for chain {tx.chain_id}, not {self.chain_id}")
        tx_id = tx.tx_id
        if tx_id in seen or self.locate(tx_id) is not None:
            raise ReplayedTransaction(f"transaction {tx_id.hex()[:16]} is already on {self.chain_id}")
        trust = self.deployment.trust
        if tx.kind == TxKind.RECORD:
            signer = trust.resolve(tx.submitter, at_ms=at_ms, valid_at_ms=valid_at_ms)
            if signer.role == "device" and signer.chain_id not in (None, self.chain_id):
                raise UnauthorizedSigner(f"{signer.name} is a device of {signer.chain_id}, not of {self.chain_id}")
            self._verify_signature(signer, tx, at_ms, admitted)
        else:
            self._check_status(tx, at_ms, status_heights, admitted, valid_at_ms)
        seen.add(tx_id)

    @staticmethod
    def _verify_signature(member, tx: Transaction, at_ms: int | None, admitted: Container) -> None:
        if at_ms is None and (tx.tx_id, tx.signature) in admitted:
            return  # the caller verified exactly these bytes on admission
        member.verify(tx.signature, tx.signed_message())

    def _check_status(self, tx: Transaction, at_ms: int | None, status_heights: dict, admitted: Container,
                      valid_at_ms: int | None) -> None:
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
                                                             at_ms=at_ms, valid_at_ms=valid_at_ms), tx, at_ms, admitted)
        self.deployment.check_endorsements(anchor, at_ms)
        try:
            reported_value = edgeacc.decode_element(self.params, anchor.header.acc_value)
        except EdgeaccError as exc:
            raise AccumulatorMismatch(f"reported accumulator is invalid: {exc}") from None
        columns = self._statuses.get(source)
        last = columns.last if columns else None
        last_height, last_element = status_heights.get(
            source, (last.source_height, last.source_element) if last else (-1, None))
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
            witness = edgeacc.decode_element(self.params, status.continuity_witness)
            member = edgeacc.verify_membership(self.params, witness, last_element, reported_value)
        except EdgeaccError as exc:
            raise AccumulatorMismatch(f"the Type-II of {source} carries an invalid witness: {exc}") from None
        if not member:
            raise AccumulatorMismatch(f"the Type-II of {source} does not contain its block {last_height} "
                                      "reported before (a fork or a rewritten chain)")

    def validate_block(self, block: Block, *, live: bool, admitted: Container[tuple[bytes, bytes]] = (),
                       ordered: bool = False) -> None:
        """Every check of `block` (decoded) as the next block but the endorsements. `live`
        checks certificates against revocation now; otherwise at the block's timestamp, or
        with `ordered` not against the CRL at all (the caller judges revocation by the log's
        order: ledger.cluster.ordered_crl)."""
        if block.header.chain_id != self.chain_id:
            raise WrongChain(f"block is for chain {block.header.chain_id}, not {self.chain_id}")
        with self.lock:
            if block.header.height != self.height:
                raise WrongHeight(f"block height {block.header.height}; {self.chain_id} expects {self.height}")
            previous = self._latest.header if self._latest else None
            prev_value = self._value
        self._validate_on(block, previous, prev_value, {}, live=live, admitted=admitted, ordered=ordered)

    def validate_child(self, parent: Block, block: Block, admitted: Container[tuple[bytes, bytes]] = ()) -> None:
        """Every check of `block` (decoded) as the block after `parent` but the endorsements,
        live: as validate_block would decide once `parent` is applied. `parent` must be a
        block the caller validated as this state's next block (Peer: its _validated set), of
        Type-I transactions only (_on_parent's rules)."""
        if block.header.chain_id != self.chain_id:
            raise WrongChain(f"block is for chain {block.header.chain_id}, not {self.chain_id}")
        if block.header.height != parent.height + 1:
            raise WrongHeight(f"block height {block.header.height} on a parent at {parent.height}; "
                              f"{self.chain_id} expects {parent.height + 1}")
        previous, prev_value, pending = self._on_parent(parent, block.header.height)
        self._validate_on(block, previous, prev_value, pending, live=True, admitted=admitted)

    def _on_parent(self, parent: Block, child: int) -> tuple[BlockHeader, int, dict]:
        """What block `child` (a height) is checked or built on when it goes on top of `parent`,
        a block validated as this state's next one and not applied yet (validate_child, and
        next_block for the pipelined cutter): the parent's header, the accumulator value after
        it, and the parent's transaction ids as pending (a copy in the child is a replay).
        WrongHeight unless `parent` is at this state's height; SpeculationRefused when its
        transactions are not the ones its header binds, or it carries status transactions (a
        status moves the status columns the next block's statuses are checked against: the
        caller waits for the parent instead)."""
        with self.lock:
            if parent.height != self.height:
                raise WrongHeight(f"block height {child} on a parent at {parent.height}; "
                                  f"{self.chain_id} expects {self.height}")
        # (the caller knows `parent` by its header's digest: these must be the transactions it
        # binds; other ones - a copy swapped under a known header - are refused like a status
        # parent, so the cluster's Endorse reads the ordered parent instead of failing)
        if parent.computed_merkle_root() != parent.header.merkle_root:
            raise SpeculationRefused(f"block {parent.height}: transactions differ from the validated header: "
                                     f"block {child} waits for the ordered one")
        if any(tx.kind != TxKind.RECORD for tx in parent.transactions):
            raise SpeculationRefused(f"block {parent.height} carries status transactions: "
                                     f"block {child} waits for it")
        return (parent.header, edgeacc.decode_element(self.params, parent.header.acc_value),
                {"tx_ids": {tx.tx_id for tx in parent.transactions}})

    def _validate_on(self, block: Block, previous: BlockHeader | None, prev_value: int, pending: dict, *,
                     live: bool, admitted: Container[tuple[bytes, bytes]], ordered: bool = False) -> None:
        """validate_block's checks of `block` on top of the header `previous` (None: the
        genesis) and the accumulator value after it; `pending` as check_transaction takes it."""
        header = block.header
        check_link(header, previous.digest if previous else None)
        if previous and header.timestamp_ms < previous.timestamp_ms:
            raise ValidationError(f"block {header.height} is older than its predecessor")
        if live and header.timestamp_ms > now_ms() + MAX_CLOCK_SKEW_MS:
            raise ValidationError(f"block {header.height} is dated in the future")
        if block.computed_merkle_root() != header.merkle_root:  # (Block checks the count)
            raise MerkleMismatch(f"block {header.height}: Merkle root or count does not match its transactions")
        at_ms = replay_time(header, live, ordered)
        for tx in block.transactions:  # (signed at the block's time, live or not: every peer decides alike)
            self.check_transaction(tx, at_ms=at_ms, pending=pending, admitted=admitted, valid_at_ms=header.timestamp_ms)
        x, k = edgeacc.hash_to_prime(header.element_data())
        # (element_data names the chain and the height: two blocks' elements differ unless
        # SHA-256 collides, so no set of every element is kept to refuse a repeat)
        if (x, k) != (header.acc_element, header.acc_nonce):
            raise AccumulatorMismatch(f"block {header.height}: wrong accumulator element")
        value = edgeacc.update_witness(self.params, prev_value, [x])
        if edgeacc.encode_element(self.params, value) != header.acc_value:
            raise AccumulatorMismatch(f"block {header.height}: wrong accumulator value")

    def next_block(self, transactions: list[Transaction], admitted: Container[tuple[bytes, bytes]] = (),
                   term: int = 0, parent: Block | None = None) -> tuple[Block, list[tuple[int, LedgerError]]]:
        """An unendorsed block on top of this chain of the (decoded) transactions that pass
        check_transaction each, and (index, error) of the rest; `term`: the cluster's ordering
        term it is proposed in (BlockHeader.term; 0 in the embedded deployment). `parent`: a
        block validated as this chain's next one and not applied yet, to build on instead (the
        pipelined cutter: _on_parent's rules, the ones validate_child checks the block by)."""
        if parent is None:
            with self.lock:
                previous = self._latest.header if self._latest else None
                height = self.height
                prev_value = self._value
            pending: dict = {}
        else:
            height = parent.height + 1
            previous, prev_value, pending = self._on_parent(parent, height)
        ts = max(now_ms(), previous.timestamp_ms if previous else 0)
        accepted, rejected = [], []
        for i, tx in enumerate(transactions):
            try:
                self.check_transaction(tx, pending=pending, admitted=admitted, valid_at_ms=ts)
                accepted.append(tx)
            except LedgerError as exc:
                rejected.append((i, exc))
        tx_bytes = tuple(tx.to_bytes() for tx in accepted)
        leaves = tuple(tx.leaf for tx in accepted)
        content = BlockHeader(self.chain_id, height, previous.digest if previous else GENESIS_PREVIOUS,
                              ts, merkle_root(leaves), len(accepted), 0, 0, b"")
        x, k = edgeacc.hash_to_prime(content.element_data())
        value = edgeacc.update_witness(self.params, prev_value, [x])
        header = BlockHeader(content.chain_id, height, content.previous, ts, content.merkle_root,
                             len(accepted), x, k, edgeacc.encode_element(self.params, value), term)
        block = Block(SignedHeader(header, ()), tuple(accepted))
        block.__dict__.update(tx_bytes=tx_bytes, leaves=leaves)  # cached_property values
        return block, rejected

    def apply(self, block: Block, records: list[tuple[int, StatusRecord]] | None = None
              ) -> list[tuple[int, StatusRecord]]:
        """Extend the state by a block validate_block accepted (its header's value is the one
        validate_block recomputed, so the state takes it without exponentiating); returns its
        status records (`records`, when the caller has them: status_records)."""
        header = block.header
        value = edgeacc.decode_element(self.params, header.acc_value)
        records = status_records(header.height, block.transactions) if records is None else records
        with self.lock:
            self._height += 1
            self._latest, self._value = block.signed, value
            # (validated now: the interlock's witness window and Stored read it again, from memory)
            self._cache_header(block.signed)
            self._remember(header.height, block.transactions)
            if any(tx.kind == TxKind.RECORD for tx in block.transactions):
                self._last_record_height = header.height
            for position, record in records:
                StatusColumns.add(self._statuses, position, record)
        return records

    def restore(self, latest: Block, statuses: dict[str, StatusColumns], last_record_height: int) -> None:
        """Take the blocks up to `latest` as validated without checking them again, on an
        empty state: the caller (Peer.load) has checked that their stored bytes, `statuses`
        (their Type-II/III status records, added in height order) and
        `last_record_height` (the last one with a Type-I) are the ones this peer validated and
        signed in its checkpoint."""
        with self.lock:
            if self.height:
                raise StorageError(f"restore of {self.chain_id}: the state is not empty")
            self._height = latest.height + 1
            self._latest = latest.signed
            self._value = edgeacc.decode_element(self.params, latest.header.acc_value)
            self._statuses = statuses
            self._last_record_height = last_record_height

    def remember(self, height: int, tx_ids: list[bytes]) -> None:
        """Hold the transaction ids of a stored block the store has not indexed yet (Peer.load,
        for the blocks restored above the store's indexed height)."""
        with self.lock:
            self._remember_ids(height, tx_ids)

    def _remember(self, height: int, transactions: Iterable[Transaction]) -> None:
        self._remember_ids(height, [tx.tx_id for tx in transactions])

    def _remember_ids(self, height: int, tx_ids: list[bytes]) -> None:
        for position, tx_id in enumerate(tx_ids):
            self._recent[tx_id] = (height, position)
        self._recent_blocks.append((height, tx_ids))
        if self._stored is not None and (len(self._recent_blocks) > RECENT_BLOCKS or len(self._recent) > RECENT_TXS):
            indexed = self._stored.indexed_height()  # (the store answers for these from now on)
            while self._recent_blocks and self._recent_blocks[0][0] <= indexed:
                for tx_id in self._recent_blocks.popleft()[1]:
                    self._recent.pop(tx_id, None)


class StoredChain(Protocol):
    """What ChainState reads back from a peer's store: bytes the store checked against what it
    read on open or wrote (StorageError otherwise), decoded (EncodingError when they do not
    decode), their meaning checked by ChainState."""

    def digest(self, height: int) -> bytes | None:
        """The stored digest of block `height` (its record's), or None."""

    def header(self, height: int) -> SignedHeader:
        """The stored signed header of block `height`."""

    def block(self, height: int) -> Block:
        """The stored block `height`."""

    def tx_location(self, tx_id: bytes) -> tuple[int, int] | None:
        """(height, position) of `tx_id` in the stored index, up to indexed_height."""

    def indexed_height(self) -> int:
        """The height up to which the stored index is complete (-1: none)."""


from ledger.peer import Peer  # noqa: E402,F401  (re-exported: ledger.chain.Peer, as before the split)
