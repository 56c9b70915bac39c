"""Blocks: a header bound into the chain's accumulator, endorsements, transactions.

Layout (version 1), all integers big-endian:

    content = "EABH" | u8 version=1 | u16 len | chain id | u64 height | 32 previous digest
              | u64 timestamp (ms) | 32 Merkle root | u32 transaction count
    header  = content | 32 accumulator element x | u32 its hash-to-prime nonce
              | u16 len | accumulator value after this block (edgeacc.encode_element)
              [| u64 term, >= 1: the cluster's ordering term the block was proposed in]
    signed  = "EASH" | u8 version=1 | u32 len | header | u16 n | n x (32 fingerprint | 64 signature)
    block   = "EABK" | u8 version=1 | u32 len | signed | u32 n | n x (u32 len | transaction)
    type2   = "EAS2" | u8 version=1 | u32 len | signed | u16 len | continuity witness (or empty)

A Type-II transaction's payload is `type2` (SubchainStatus); a Type-III's is `signed`.
The block digest is SHA-256(header); endorsements sign "edgeacc/endorse/v1" || digest and are
sorted by fingerprint. The accumulator element is hash_to_prime("edgeacc/block/v1" || content):
it binds the chain id, height and Merkle root, so a block cannot be replayed at another
height or on another chain.

The term (ledger.cluster.follower, "Terms") is present only in the cluster deployment, whose
cutters propose each block within a term the log orders; a header of term 0 (every embedded
block) has exactly the layout above without it, so the embedded chain's encodings and digests
are those of before. The term is in the digest (so the endorsements sign it) and not in the
content (the element binds what an inclusion proof proves, as before). Decoding reads the
term when 8 bytes follow the accumulator value; an encoded term of 0 is not canonical.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable

import edgeacc
from edgeacc.errors import EdgeaccError

from ledger import checks
from ledger.encoding import (DIGEST_BYTES, SIGNATURE_BYTES, U16_MAX, U32_MAX, U64_MAX, Reader, Writer,
                             check_chain_id)
from ledger.errors import AccumulatorMismatch, ArgumentError, EncodingError
from ledger.merkle import merkle_root
from ledger.tx import Transaction, TxKind

HEADER_MAGIC, SIGNED_MAGIC, BLOCK_MAGIC, STATUS_MAGIC = b"EABH", b"EASH", b"EABK", b"EAS2"
BLOCK_VERSION = 1
ELEMENT_DOMAIN = b"edgeacc/block/v1"
ENDORSE_DOMAIN = b"edgeacc/endorse/v1"
GENESIS_PREVIOUS = bytes(DIGEST_BYTES)
MAX_BLOCK_BYTES = 1 << 30
MAX_ELEMENT_BYTES = 1024
REPRESENTATIVE_BYTES = 32


@checks.signature_checked
@dataclass(frozen=True)
class BlockContent:
    """The header fields the accumulator element binds: what an inclusion proof proves about
    a block (its accumulator value and digest are not covered by the element)."""

    chain_id: str
    height: int
    previous: bytes
    timestamp_ms: int
    merkle_root: bytes
    tx_count: int

    def __post_init__(self) -> None:
        fields = {"chain_id": check_chain_id(self.chain_id),
                  "height": checks.integer(self.height, "height", hi=U64_MAX),
                  "previous": checks.data(self.previous, "previous"),
                  "timestamp_ms": checks.integer(self.timestamp_ms, "timestamp_ms", hi=U64_MAX),
                  "merkle_root": checks.data(self.merkle_root, "merkle_root"),
                  "tx_count": checks.integer(self.tx_count, "tx_count", hi=U32_MAX)}
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        content = (Writer().raw(HEADER_MAGIC).u8(BLOCK_VERSION).text16(self.chain_id).u64(self.height)
                   .raw(self.previous, DIGEST_BYTES).u64(self.timestamp_ms)
                   .raw(self.merkle_root, DIGEST_BYTES).u32(self.tx_count).getvalue())
        object.__setattr__(self, "_content", content)

    def content_bytes(self) -> bytes:
        """The canonical encoding of the fields the element binds (the start of a header's)."""
        return self._content

    def element_data(self) -> bytes:
        """The bytes whose hash-to-prime is the block's accumulator element."""
        return ELEMENT_DOMAIN + self._content


@checks.signature_checked
@dataclass(frozen=True)
class BlockHeader(BlockContent):
    """A block's header: its content and the accumulator after it. The constructor checks and
    encodes every field, so `encoded` and `digest` are exactly those fields."""

    acc_element: int
    acc_nonce: int
    acc_value: bytes
    term: int = 0  # the cluster's ordering term (0: none, as every embedded block; the module docstring)

    def __post_init__(self) -> None:
        super().__post_init__()
        fields = {"acc_element": checks.integer(self.acc_element, "acc_element",
                                                hi=(1 << 8 * REPRESENTATIVE_BYTES) - 1),
                  "acc_nonce": checks.integer(self.acc_nonce, "acc_nonce", hi=U32_MAX),
                  "acc_value": checks.data(self.acc_value, "acc_value"),
                  "term": checks.integer(self.term, "term", hi=U64_MAX)}
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        if len(self.acc_value) > MAX_ELEMENT_BYTES:
            raise EncodingError("accumulator value is too long")
        w = (Writer().raw(self._content).raw(self.acc_element.to_bytes(REPRESENTATIVE_BYTES, "big"))
             .u32(self.acc_nonce).bytes16(self.acc_value))
        if self.term:
            w.u64(self.term)
        object.__setattr__(self, "_encoded", w.getvalue())

    @cached_property
    def content(self) -> BlockContent:
        """The fields the accumulator element binds, without the accumulator."""
        return BlockContent(self.chain_id, self.height, self.previous, self.timestamp_ms,
                            self.merkle_root, self.tx_count)

    @property
    def encoded(self) -> bytes:
        """The canonical header encoding; SHA-256 of it is the block digest."""
        return self._encoded

    @cached_property
    def digest(self) -> bytes:
        """SHA-256 of the encoded header: the block's id and the next block's link."""
        return hashlib.sha256(self._encoded).digest()

    def endorsement_message(self) -> bytes:
        """The bytes an endorsing peer signs."""
        return ENDORSE_DOMAIN + self.digest

    def to_bytes(self) -> bytes:
        """The canonical header encoding (`encoded`)."""
        return self._encoded

    @classmethod
    def from_bytes(cls, data: bytes) -> "BlockHeader":
        """Decode a header; EncodingError on anything non-canonical."""
        r = Reader(data, "block header")
        r.magic(HEADER_MAGIC, BLOCK_VERSION)
        chain_id = r.text16()
        height, previous, ts = r.u64(), r.raw(DIGEST_BYTES), r.u64()
        root, count = r.raw(DIGEST_BYTES), r.u32()
        element = int.from_bytes(r.raw(REPRESENTATIVE_BYTES), "big")
        nonce, value = r.u32(), r.bytes16()
        term = r.u64() if len(data) - r.position == 8 else 0  # (a term of 0 is not encoded: canonical below)
        r.end()
        header = cls(chain_id, height, previous, ts, root, count, element, nonce, value, term)
        r.canonical(header.encoded)
        return header


def check_element(header: BlockHeader) -> None:
    """The one representative check of a block reported or proved elsewhere (Type-II/III
    anchors, Protocol 1): its element is the hash-to-prime representative of its content at
    the nonce it carries (one primality test); AccumulatorMismatch otherwise."""
    try:
        ok = edgeacc.check_representative(header.element_data(), header.acc_element, header.acc_nonce)
    except EdgeaccError as exc:
        raise AccumulatorMismatch(f"block {header.height} of {header.chain_id}: invalid element: {exc}") from None
    if not ok:
        raise AccumulatorMismatch(f"block {header.height} of {header.chain_id}: the element is not the "
                                  "representative of the block's content")


def _pairs(value) -> list[tuple[bytes, bytes]]:
    """(fingerprint, signature) pairs as bytes of the right sizes."""
    if not isinstance(value, (tuple, list)):
        raise ArgumentError(f"endorsements must be a tuple of (fingerprint, signature), not {type(value).__name__}")
    pairs = []
    for pair in value:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ArgumentError("each endorsement is a (fingerprint, signature) pair")
        fp, sig = checks.data(pair[0], "endorsement fingerprint"), checks.data(pair[1], "endorsement signature")
        if len(fp) != DIGEST_BYTES or len(sig) != SIGNATURE_BYTES:
            raise EncodingError(f"an endorsement is a {DIGEST_BYTES}-byte fingerprint and a "
                                f"{SIGNATURE_BYTES}-byte signature")
        pairs.append((fp, sig))
    return pairs


def _endorsements(value) -> tuple[tuple[bytes, bytes], ...]:
    """The canonical endorsements: sorted by fingerprint, each fingerprint once."""
    pairs = _pairs(value)
    fps = [fp for fp, _ in pairs]
    if fps != sorted(set(fps)):
        raise EncodingError("endorsements must be sorted by fingerprint without repeats")
    if len(pairs) > U16_MAX:
        raise EncodingError("too many endorsements")
    return tuple(pairs)


@checks.signature_checked
@dataclass(frozen=True)
class SignedHeader:
    """A header with its endorsements (fingerprint, signature), sorted by fingerprint, each
    fingerprint once."""

    header: BlockHeader
    endorsements: tuple[tuple[bytes, bytes], ...]

    def __post_init__(self) -> None:
        self._set(checks.decoded(self.header, BlockHeader, "header"), self.endorsements)

    def _set(self, header: BlockHeader, endorsements) -> None:
        object.__setattr__(self, "header", header)
        object.__setattr__(self, "endorsements", _endorsements(endorsements))

    @classmethod
    def _of_decoded(cls, header: BlockHeader, endorsements) -> "SignedHeader":
        """An instance of a header from_bytes has just decoded (it is nobody else's yet, so it
        is not decoded again); the endorsements are checked as the constructor checks them."""
        signed = object.__new__(cls)
        signed._set(header, endorsements)
        return signed

    def to_bytes(self) -> bytes:
        """The canonical encoding of the header with its endorsements."""
        w = Writer().raw(SIGNED_MAGIC).u8(BLOCK_VERSION).bytes32(self.header.encoded)
        w.u16(len(self.endorsements))
        for fp, sig in self.endorsements:
            w.raw(fp, DIGEST_BYTES).raw(sig, SIGNATURE_BYTES)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "SignedHeader":
        """Decode a signed header; endorsements must be sorted and distinct."""
        r = Reader(data, "signed header")
        r.magic(SIGNED_MAGIC, BLOCK_VERSION)
        header = BlockHeader.from_bytes(r.bytes32(MAX_BLOCK_BYTES))
        endorsements = tuple((r.raw(DIGEST_BYTES), r.raw(SIGNATURE_BYTES)) for _ in range(r.u16()))
        r.end()
        signed = cls._of_decoded(header, endorsements)
        r.canonical(signed.to_bytes())
        return signed


@checks.signature_checked
@dataclass(frozen=True)
class Block:
    """A signed header and the transactions it binds (as many as the header counts; whether
    they match its Merkle root is the chain's validation)."""

    signed: SignedHeader
    transactions: tuple[Transaction, ...]

    def __post_init__(self) -> None:
        self._set(checks.decoded(self.signed, SignedHeader, "signed"), self.transactions)

    def _set(self, signed: SignedHeader, transactions) -> None:
        object.__setattr__(self, "signed", signed)
        checks.instance(transactions, (tuple, list), "transactions")
        txs = tuple(checks.exact(tx, Transaction, "each transaction") for tx in transactions)
        if any(not tx.signature for tx in txs):
            raise EncodingError("a block holds signed transactions only")
        if len(txs) != self.signed.header.tx_count:
            raise EncodingError("block transaction count differs from its header")
        object.__setattr__(self, "transactions", txs)

    @property
    def header(self) -> BlockHeader:
        """The block's header."""
        return self.signed.header

    @property
    def height(self) -> int:
        """The block's height (0 for the first block)."""
        return self.signed.header.height

    @property
    def digest(self) -> bytes:
        """The block digest (SHA-256 of the header)."""
        return self.signed.header.digest

    @cached_property
    def tx_bytes(self) -> tuple[bytes, ...]:
        """The transactions' encodings, in block order."""
        return tuple(tx.to_bytes() for tx in self.transactions)

    @cached_property
    def leaves(self) -> tuple[bytes, ...]:
        """The Merkle leaf hashes of the transactions."""
        return tuple(tx.leaf for tx in self.transactions)

    def computed_merkle_root(self) -> bytes:
        """The Merkle root of the transactions (compare with header.merkle_root); computed once
        per block object (its transactions cannot change), however many checks ask."""
        return self._merkle_root

    @cached_property
    def _merkle_root(self) -> bytes:
        return merkle_root(self.leaves)

    def with_endorsements(self, endorsements: Iterable[tuple[bytes, bytes]]) -> "Block":
        """The same block with these (fingerprint, signature) endorsements, sorted."""
        ordered = tuple(sorted(dict(_pairs(endorsements)).items()))
        return self.with_signed(SignedHeader(self.header, ordered))

    def with_signed(self, signed: SignedHeader) -> "Block":
        """These transactions under `signed`, a signed header of this block's header (with
        other endorsements, maybe: an entry of the cluster's log names a body by its header)."""
        if checks.decoded(signed, SignedHeader, "signed").header.digest != self.digest:
            raise EncodingError("the signed header is not this block's")
        block = Block(signed, self.transactions)
        block.__dict__.update({k: v for k, v in self.__dict__.items() if k in ("tx_bytes", "leaves", "_merkle_root")})
        return block

    def to_bytes(self) -> bytes:
        """The canonical block encoding (what peers store)."""
        return self.encoded

    @cached_property
    def encoded(self) -> bytes:
        """The canonical block encoding, built once."""
        w = Writer().raw(BLOCK_MAGIC).u8(BLOCK_VERSION).bytes32(self.signed.to_bytes())
        w.u32(len(self.transactions))
        for b in self.tx_bytes:
            w.bytes32(b)
        return w.getvalue()

    @staticmethod
    def signed_header_of(data: bytes) -> SignedHeader:
        """The signed header of an encoded block, without decoding its transactions (whether
        they belong to it is the Merkle root's business)."""
        r = Reader(data, "block")
        r.magic(BLOCK_MAGIC, BLOCK_VERSION)
        return SignedHeader.from_bytes(r.bytes32(MAX_BLOCK_BYTES))

    @classmethod
    def _of_decoded(cls, signed: SignedHeader, raw: tuple[bytes, ...], transactions=None) -> "Block":
        """An instance of parts just decoded (nobody else's yet: not decoded again, as
        SignedHeader._of_decoded): `signed`, and the transactions of encodings `raw` (decoded
        here unless `transactions` are their decodings)."""
        block = object.__new__(cls)
        block._set(signed, tuple(Transaction.from_bytes(b) for b in raw) if transactions is None else transactions)
        block.__dict__["tx_bytes"] = raw  # cached_property: the wire bytes are the canonical ones
        return block

    @classmethod
    def _of_body(cls, signed: SignedHeader, data: bytes) -> "Block":
        """The transactions of `data`, an encoded block of `signed`'s header, under `signed`: a
        signed header the caller has just decoded (not decoded again, nor the header `data`
        carries: it must hash to signed's digest) - the body of an ordered header as a peer
        serves it, whose endorsements may be others (ledger.cluster.follower.body_of).
        EncodingError if `data` is malformed or of another header; whether the transactions
        are the ones the Merkle root binds is the caller's to check."""
        r = Reader(data, "block")
        r.magic(BLOCK_MAGIC, BLOCK_VERSION)
        inner = Reader(r.bytes32(MAX_BLOCK_BYTES), "signed header")
        inner.magic(SIGNED_MAGIC, BLOCK_VERSION)
        if hashlib.sha256(inner.bytes32(MAX_BLOCK_BYTES)).digest() != signed.header.digest:
            raise EncodingError(f"the block is not one of header {signed.header.digest.hex()[:16]}")
        if r.u32() != signed.header.tx_count:
            raise EncodingError("block transaction count differs from its header")
        raw = tuple(r.bytes32(MAX_BLOCK_BYTES) for _ in range(signed.header.tx_count))
        r.end()
        return cls._of_decoded(signed, raw)

    def _under(self, signed: SignedHeader) -> "Block":
        """with_signed(signed) of a `signed` the caller has just decoded (not decoded again)."""
        if signed.header.digest != self.digest:
            raise EncodingError("the signed header is not this block's")
        block = Block._of_decoded(signed, self.tx_bytes, self.transactions)
        if "leaves" in self.__dict__:
            block.__dict__["leaves"] = self.leaves
        return block

    @classmethod
    def from_bytes(cls, data: bytes) -> "Block":
        """Decode a block; EncodingError on anything malformed."""
        r = Reader(data, "block")
        r.magic(BLOCK_MAGIC, BLOCK_VERSION)
        signed = SignedHeader.from_bytes(r.bytes32(MAX_BLOCK_BYTES))
        n = r.u32()
        if n != signed.header.tx_count:
            raise EncodingError("block transaction count differs from its header")
        raw = tuple(r.bytes32(MAX_BLOCK_BYTES) for _ in range(n))
        r.end()
        block = cls._of_decoded(signed, raw)
        # every field read is fixed, length-prefixed or canonical (the signed header, each
        # transaction's bytes) and nothing is left over: the input is the block's encoding,
        # kept instead of joined again to be stored or sent
        block.__dict__["encoded"] = r.consumed()
        return block


@checks.signature_checked
@dataclass(frozen=True)
class SubchainStatus:
    """The payload of a Type-II transaction: the sub-chain's signed latest header and, from its
    second report on, the membership witness of the previously reported block's element in
    this header's accumulator, so a report cannot drop the chain reported before."""

    signed: SignedHeader
    continuity_witness: bytes = b""  # edgeacc.encode_element bytes, empty on a first report

    def __post_init__(self) -> None:
        object.__setattr__(self, "signed", checks.decoded(self.signed, SignedHeader, "signed"))
        object.__setattr__(self, "continuity_witness", checks.data(self.continuity_witness, "continuity_witness"))
        if len(self.continuity_witness) > MAX_ELEMENT_BYTES:
            raise EncodingError("continuity witness is too long")

    def to_bytes(self) -> bytes:
        """The canonical encoding."""
        return (Writer().raw(STATUS_MAGIC).u8(BLOCK_VERSION).bytes32(self.signed.to_bytes())
                .bytes16(self.continuity_witness).getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> "SubchainStatus":
        """Decode a Type-II payload; EncodingError on anything malformed."""
        r = Reader(data, "sub-chain status")
        r.magic(STATUS_MAGIC, BLOCK_VERSION)
        signed = SignedHeader.from_bytes(r.bytes32(MAX_BLOCK_BYTES))
        witness = r.bytes16()
        r.end()
        status = cls(signed, witness)
        r.canonical(status.to_bytes())
        return status


def reported_header(tx: Transaction) -> SignedHeader:
    """The signed header a Type-II or Type-III transaction reports."""
    tx = checks.decoded(tx, Transaction, "tx")
    if tx.kind == TxKind.SUBCHAIN_STATUS:
        return SubchainStatus.from_bytes(tx.payload).signed
    if tx.kind == TxKind.MAIN_STATUS:
        return SignedHeader.from_bytes(tx.payload)
    raise EncodingError("a Type-I record reports no header")
