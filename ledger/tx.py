"""Transactions: Type-I records, Type-II sub-chain status, Type-III main-chain status.

Layout (version 1), all integers big-endian:

    body = "EATX" | u8 version=1 | u8 kind | u16 len | chain id (UTF-8) | 32 submitter fingerprint
           | u64 timestamp (ms) | u64 nonce | u32 len | payload | u8 len (0 or 32) | object digest
           | u16 len | object URL (UTF-8)
    tx   = body | 64-byte Ed25519 signature of "edgeacc/tx/v1" || tx id

The tx id is SHA-256(body): it names the chain, so a transaction cannot be replayed on
another chain, and it excludes the signature. A Type-III's payload is the main chain's signed
header (ledger.block.SignedHeader); a Type-II's is ledger.block.SubchainStatus (the sub-chain's
signed header and a witness that it contains the block it reported before).
"""
from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from functools import cached_property

from ledger.encoding import (DIGEST_BYTES, SIGNATURE_BYTES, Reader, Writer, check_chain_id)
from ledger.errors import EncodingError
from ledger.identity import Identity
from ledger.merkle import leaf_hash

TX_MAGIC = b"EATX"
TX_VERSION = 1
TX_SIGNATURE_DOMAIN = b"edgeacc/tx/v1"
MAX_PAYLOAD_BYTES = 1 << 20
MAX_URL_BYTES = 2048


class TxKind(enum.IntEnum):
    RECORD = 1           # Type-I: an ordinary record
    SUBCHAIN_STATUS = 2  # Type-II: a sub-chain's latest height and accumulator, on the main chain
    MAIN_STATUS = 3      # Type-III: the main chain's latest height and accumulator, on a sub-chain


@dataclass(frozen=True)
class Transaction:
    """A signed transaction; build with :meth:`create`, parse with :meth:`from_bytes`."""

    kind: TxKind
    chain_id: str
    submitter: bytes
    timestamp_ms: int
    nonce: int
    payload: bytes
    object_digest: bytes = b""
    object_url: str = ""
    signature: bytes = b""
    _body: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def create(cls, signer: Identity, kind: TxKind, chain_id: str, payload: bytes, *,
               timestamp_ms: int, nonce: int, object_digest: bytes = b"",
               object_url: str = "") -> "Transaction":
        """Encode the body and sign it with `signer`."""
        unsigned = cls(TxKind(kind), chain_id, signer.fingerprint, timestamp_ms, nonce,
                       bytes(payload), bytes(object_digest), object_url)
        body = unsigned.body_bytes()
        signature = signer.sign(TX_SIGNATURE_DOMAIN + hashlib.sha256(body).digest())
        return cls(unsigned.kind, chain_id, signer.fingerprint, timestamp_ms, nonce,
                   unsigned.payload, unsigned.object_digest, object_url, signature, body)

    def body_bytes(self) -> bytes:
        """The canonical encoding of everything but the signature."""
        if self._body:
            return self._body
        check_chain_id(self.chain_id)
        if len(self.payload) > MAX_PAYLOAD_BYTES:
            raise EncodingError(f"payload of {len(self.payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        if len(self.object_digest) not in (0, DIGEST_BYTES):
            raise EncodingError("object digest must be empty or 32 bytes")
        url = self.object_url.encode("utf-8")
        if len(url) > MAX_URL_BYTES or bool(url) != bool(self.object_digest):
            raise EncodingError("object URL must be given with a digest, at most 2048 bytes")
        body = (Writer().raw(TX_MAGIC).u8(TX_VERSION).u8(int(self.kind)).text16(self.chain_id)
                .raw(self.submitter, DIGEST_BYTES).u64(self.timestamp_ms).u64(self.nonce)
                .bytes32(self.payload).bytes8(self.object_digest).bytes16(url).getvalue())
        object.__setattr__(self, "_body", body)
        return body

    @cached_property
    def tx_id(self) -> bytes:
        """SHA-256 of the body: the transaction's id."""
        return hashlib.sha256(self.body_bytes()).digest()

    @cached_property
    def leaf(self) -> bytes:
        """The transaction's Merkle leaf hash, H(0x00 || encoding)."""
        return leaf_hash(self.to_bytes())

    def signed_message(self) -> bytes:
        """The bytes the submitter signs."""
        return TX_SIGNATURE_DOMAIN + self.tx_id

    def to_bytes(self) -> bytes:
        """The canonical encoding: body then signature."""
        if len(self.signature) != SIGNATURE_BYTES:
            raise EncodingError("transaction is not signed")
        return self.body_bytes() + self.signature

    @classmethod
    def from_bytes(cls, data: bytes) -> "Transaction":
        """Decode a transaction; EncodingError on anything malformed."""
        r = Reader(data, "transaction")
        r.magic(TX_MAGIC, TX_VERSION)
        try:
            kind = TxKind(r.u8())
        except ValueError:
            raise EncodingError("unknown transaction kind") from None
        chain_id = check_chain_id(r.text16())
        submitter = r.raw(DIGEST_BYTES)
        timestamp_ms, nonce = r.u64(), r.u64()
        payload = r.bytes32(MAX_PAYLOAD_BYTES)
        object_digest = r.bytes8()
        url_bytes = r.bytes16()
        body_end = r.position
        signature = r.raw(SIGNATURE_BYTES)
        r.end()
        if len(object_digest) not in (0, DIGEST_BYTES) or len(url_bytes) > MAX_URL_BYTES \
                or bool(url_bytes) != bool(object_digest):
            raise EncodingError("transaction has a malformed object pointer")
        try:
            url = url_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError("object URL is not UTF-8") from None
        return cls(kind, chain_id, submitter, timestamp_ms, nonce, payload, object_digest, url,
                   signature, bytes(data[:body_end]))
