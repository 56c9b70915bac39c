"""Canonical serialisation of group elements and membership proofs.

Group elements live in Z_N^*/{+-1}: an element is written as min(y, N - y), big-endian, in
exactly the width of N. Decoding rejects every other byte string, so each element has one
encoding.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from edgeacc import _checks, _core
from edgeacc.errors import EncodingError, InvalidArgument
from edgeacc.params import Params
from edgeacc.accumulator import verify_membership
from edgeacc.primes import REPRESENTATIVE_BITS, check_representative

PROOF_MAGIC = _core.MEMBERSHIP_PROOF_MAGIC      # csrc/ea_protocol.h
PROOF_VERSION = _core.MEMBERSHIP_PROOF_VERSION
_REP_BYTES = REPRESENTATIVE_BITS // 8


def encode_element(params: Params, y: int) -> bytes:
    """min(y, N - y) as element_bytes big-endian bytes."""
    params = _checks.params(params)
    return _core.canonical(y, params.n).to_bytes(params.element_bytes, "big")


def decode_element(params: Params, data: bytes) -> int:
    """Inverse of encode_element; raises EncodingError on anything non-canonical."""
    params = _checks.params(params)
    data = _checks.data_bytes(data)
    if len(data) != params.element_bytes:
        raise EncodingError(f"element must be {params.element_bytes} bytes, got {len(data)}")
    y = int.from_bytes(data, "big")
    try:
        _core.check_element(y, params.n)
    except InvalidArgument as exc:
        raise EncodingError(f"not a group element: {exc}") from None
    if y > params.n - y:
        raise EncodingError("element is not in canonical form min(y, N - y)")
    return y


@dataclass(frozen=True)
class MembershipProof:
    """A membership proof: the representative x, its hash-to-prime nonce, the witness."""

    element: int
    nonce: int
    witness: int

    def to_bytes(self, params: Params) -> bytes:
        element = _checks.small_int(self.element, "element", 1, (1 << REPRESENTATIVE_BITS) - 1)
        nonce = _checks.small_int(self.nonce, "nonce", 0, (1 << 32) - 1)
        return (
            PROOF_MAGIC
            + struct.pack(">BI", PROOF_VERSION, nonce)
            + element.to_bytes(_REP_BYTES, "big")
            + encode_element(params, self.witness)
        )

    @classmethod
    def from_bytes(cls, params: Params, data: bytes) -> "MembershipProof":
        params = _checks.params(params)
        data = _checks.data_bytes(data)
        header = len(PROOF_MAGIC) + 5
        if len(data) != header + _REP_BYTES + params.element_bytes:
            raise EncodingError("membership proof has the wrong length")
        if data[:4] != PROOF_MAGIC:
            raise EncodingError("not a membership proof (bad magic)")
        version, nonce = struct.unpack(">BI", data[4:header])
        if version != PROOF_VERSION:
            raise EncodingError(f"unsupported membership proof version {version}")
        element = int.from_bytes(data[header:header + _REP_BYTES], "big")
        witness = decode_element(params, data[header + _REP_BYTES:])
        return cls(element, nonce, witness)

    def verify(self, params: Params, data: bytes, value: int) -> bool:
        """True iff element is data's representative (nonce checked) and witness^element = +-value."""
        return check_representative(data, self.element, self.nonce) and verify_membership(
            params, self.witness, self.element, value
        )
