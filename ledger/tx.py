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
from dataclasses import dataclass
from functools import cached_property

from ledger import checks
from ledger.encoding import (DIGEST_BYTES, SIGNATURE_BYTES, U64_MAX, Reader, Writer, check_chain_id)
from ledger.errors import EncodingError
from ledger.identity import Identity
from ledger.merkle import leaf_hash
from ledger.objects import check_object_pointer

TX_MAGIC = b"EATX"
TX_VERSION = 1
TX_SIGNATURE_DOMAIN = b"edgeacc/tx/v1"
MAX_PAYLOAD_BYTES = 1 << 20


class TxKind(enum.IntEnum):
    RECORD = 1           # Type-I: an ordinary record
    SUBCHAIN_STATUS = 2  # Type-II: a sub-chain's latest height and accumulator, on the main chain
    MAIN_STATUS = 3      # Type-III: the main chain's latest height and accumulator, on a sub-chain


@checks.signature_checked
@dataclass(frozen=True)
class Transaction:
    """A signed transaction; build with :meth:`create`, parse with :meth:`from_bytes`.

    The object is its encoding: the constructor checks every field and encodes the body
    from them once, and every id, hash and byte string comes from that body, so what a peer
    validates is what it signs and stores. A signature that does not cover the body is
    caught by the peers (BadSignature)."""

    kind: TxKind
    chain_id: str
    submitter: bytes
    timestamp_ms: int
    nonce: int
    payload: bytes
    object_digest: bytes = b""
    object_url: str = ""
    signature: bytes = b""

    def __post_init__(self) -> None:
        fields = {"kind": checks.integer(self.kind, "kind"),
                  "chain_id": self.chain_id,
                  "submitter": checks.data(self.submitter, "submitter"),
                  "timestamp_ms": checks.integer(self.timestamp_ms, "timestamp_ms", hi=U64_MAX),
                  "nonce": checks.integer(self.nonce, "nonce", hi=U64_MAX),
                  "payload": checks.data(self.payload, "payload"),
                  "object_digest": checks.data(self.object_digest, "object_digest"),
                  "object_url": checks.text(self.object_url, "object_url"),
                  "signature": checks.data(self.signature, "signature")}
        self._set_checked(fields)
        body = (Writer().raw(TX_MAGIC).u8(TX_VERSION).u8(int(self.kind)).text16(self.chain_id)
                .raw(self.submitter, DIGEST_BYTES).u64(self.timestamp_ms).u64(self.nonce)
                .bytes32(self.payload).bytes8(self.object_digest).text16(self.object_url).getvalue())
        object.__setattr__(self, "_body", body)

    def _set_checked(self, fields: dict) -> None:
        """Set the fields (of their exact types already) under the rules on their values: the
        one place for them, whether the fields come from a caller or from decoding."""
        try:
            fields["kind"] = TxKind(fields["kind"])
        except ValueError:
            raise EncodingError(f"unknown transaction kind {checks.shown(fields['kind'])}") from None
        check_chain_id(fields["chain_id"])
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        if len(self.payload) > MAX_PAYLOAD_BYTES:
            raise EncodingError(f"payload of {len(self.payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        if len(self.signature) not in (0, SIGNATURE_BYTES):
            raise EncodingError(f"a signature is {SIGNATURE_BYTES} bytes (or empty before signing)")
        check_object_pointer(self.object_digest, self.object_url)

    @classmethod
    def create(cls, signer: Identity, kind: TxKind, chain_id: str, payload: bytes, *,
               timestamp_ms: int, nonce: int, object_digest: bytes = b"",
               object_url: str = "") -> "Transaction":
        """Encode the body and sign it with `signer`."""
        checks.instance(signer, Identity, "signer")
        tx = cls(kind, chain_id, signer.fingerprint, timestamp_ms, nonce, payload, object_digest, object_url)
        signature = signer.sign(tx.signed_message())
        if len(signature) != SIGNATURE_BYTES:
            raise EncodingError(f"a signature is {SIGNATURE_BYTES} bytes")
        # the body (and its id) does not cover the signature: the checked, encoded, hashed
        # object is kept, not built and hashed again
        object.__setattr__(tx, "signature", bytes(signature))
        return tx

    def body_bytes(self) -> bytes:
        """The canonical encoding of everything but the signature."""
        return self._body

    @cached_property
    def tx_id(self) -> bytes:
        """SHA-256 of the body: the transaction's id."""
        return hashlib.sha256(self._body).digest()

    @cached_property
    def leaf(self) -> bytes:
        """The transaction's Merkle leaf hash, H(0x00 || encoding)."""
        return leaf_hash(self.to_bytes())

    def signed_message(self) -> bytes:
        """The bytes the submitter signs."""
        return TX_SIGNATURE_DOMAIN + self.tx_id

    def to_bytes(self) -> bytes:
        """The canonical encoding: body then signature."""
        if not self.signature:
            raise EncodingError("transaction is not signed")
        return self._encoding

    @cached_property
    def _encoding(self) -> bytes:
        # built once: a 32 KiB payload is not copied (and hashed into sets) again on every use
        return self._body + self.signature

    @classmethod
    def from_bytes(cls, data: bytes) -> "Transaction":
        """Decode a transaction; EncodingError on anything malformed or non-canonical."""
        r = Reader(data, "transaction")
        r.magic(TX_MAGIC, TX_VERSION)
        fields = {"kind": r.u8(), "chain_id": r.text16(), "submitter": r.raw(DIGEST_BYTES),
                  "timestamp_ms": r.u64(), "nonce": r.u64(), "payload": r.bytes32(MAX_PAYLOAD_BYTES),
                  "object_digest": r.bytes8(), "object_url": r.text16()}
        body = r.consumed()
        fields["signature"] = r.raw(SIGNATURE_BYTES)
        r.end()
        tx = cls.__new__(cls)
        tx._set_checked(fields)
        # Every field read is length-prefixed or fixed and its text strict UTF-8, so what was
        # read has this one encoding: the input is the body and the encoding, not built again
        # (tests/test_ledger_encoding.py checks the constructor's re-encoding agrees)
        object.__setattr__(tx, "_body", body)
        tx.__dict__["_encoding"] = r.consumed()
        return tx

