"""Non-interactive PoKE2 (Boneh-Bunz-Fisch): a constant-size proof that the prover knows an
integer x with u^x = +-w (mod N), however large x is (DESIGN.md section 2).

The base is h, hashed into the group from (N, g, u, w, context), never the chain's generator g
itself: accumulator values are u = g^X with X public, and a prover who knows discrete logs of
u and w to the base forges a proof for any w. Then z = h^x, the challenge (l, alpha) hashes
(N, g, u, w, z, context) in C (csrc/ea_poke.h has the exact layout), q = x div l,
r = x mod l, Q = (u h^alpha)^q. The verifier checks r < l and Q^l (u h^alpha)^r = +-w z^alpha.
The context names the statement, so a proof made for one context does not verify for another.

>>> import edgeacc
>>> P = edgeacc.Params.rsa2048()
>>> g = P.generator(b"poke-doc")
>>> u = P.generator(b"poke-doc/u")
>>> w, proof = prove(P, g, u, 2**200 + 235, b"ctx")
>>> verify(P, g, u, w, proof, b"ctx"), verify(P, g, u, w, proof, b"other")
(True, False)
>>> PoKE2Proof.from_bytes(P, proof.to_bytes(P)) == proof
True
"""
from __future__ import annotations

from dataclasses import dataclass

from edgeacc import _checks, _core
from edgeacc.encoding import decode_element, encode_element
from edgeacc.errors import EdgeaccTypeError, EncodingError, InvalidArgument, InvalidExponent
from edgeacc.poe import _header as check_header  # magic + version byte, shared with PoE proofs

MAGIC = _core.POKE2_PROOF_MAGIC             # csrc/ea_protocol.h
VERSION = _core.ACC_PROOF_VERSION
CHALLENGE_BITS = _core.POKE2_CHALLENGE_BITS
R_BYTES = CHALLENGE_BITS // 8               # r < l < 2^128: a fixed 16-byte field
MAX_CONTEXT = _core.POKE2_MAX_CONTEXT


@dataclass(frozen=True)
class PoKE2Proof:
    """(z, Q, r): z = h^x and Q in canonical form min(y, N - y), 0 <= r < l < 2^128."""

    z: int
    Q: int
    r: int

    SIZE_FIXED = 5 + R_BYTES    # magic, version, r; plus two elements of N's width

    def encode_fields(self, params) -> bytes:
        """z | Q | r, the proof's fields in a fixed width (also inside larger proofs)."""
        r = _checks.small_int(self.r, "proof r", 0, (1 << CHALLENGE_BITS) - 1)
        return encode_element(params, self.z) + encode_element(params, self.Q) + r.to_bytes(R_BYTES, "big")

    @classmethod
    def decode_fields(cls, params, data: bytes) -> "PoKE2Proof":
        k = params.element_bytes
        if len(data) != 2 * k + R_BYTES:
            raise EncodingError("PoKE2 fields have the wrong length")
        return cls(decode_element(params, data[:k]), decode_element(params, data[k:2 * k]),
                   int.from_bytes(data[2 * k:], "big"))

    def to_bytes(self, params) -> bytes:
        return MAGIC + bytes([VERSION]) + self.encode_fields(_checks.params(params))

    @classmethod
    def from_bytes(cls, params, data: bytes) -> "PoKE2Proof":
        params = _checks.params(params)
        data = _checks.data_bytes(data)
        if len(data) != cls.SIZE_FIXED + 2 * params.element_bytes:
            raise EncodingError("PoKE2 proof has the wrong length")
        check_header(data, MAGIC, "PoKE2 proof")
        return cls.decode_fields(params, data[5:])


def _context(context) -> bytes:
    context = _checks.data_bytes(context, "context")
    if len(context) > MAX_CONTEXT:
        raise InvalidArgument(f"context must be at most {MAX_CONTEXT} bytes")
    return context


def _exponent(x) -> int:
    x = _checks.integer(x, "exponent")
    if x.bit_length() <= CHALLENGE_BITS or x < 0:
        raise InvalidExponent(f"exponent must exceed {CHALLENGE_BITS} bits (show a small one directly)")
    return x


def prove_known(params, g, u, w, x, context: bytes = b"") -> PoKE2Proof:
    """The PoKE2 for u^x = w when the prover already has w (x > 2^128)."""
    P = _checks.params(params)
    z, Q, r = _core.poke2_prove(g, u, w, _exponent(x), _context(context), P.n)
    return PoKE2Proof(z, Q, r)


def prove(params, g, u, x, context: bytes = b"") -> tuple[int, PoKE2Proof]:
    """(w, proof) with w = u^x mod N and the PoKE2 that the prover knows x."""
    P = _checks.params(params)
    x = _exponent(x)
    _core.check_element(u, P.n)
    w = _core.canonical(_core.powm(u, x, P.n), P.n)
    return w, prove_known(P, g, u, w, x, context)


def verify(params, g, u, w, proof: PoKE2Proof, context: bytes = b"") -> bool:
    """True iff ``proof`` shows knowledge of an x with u^x = +-w (against the generator g).
    Malformed g, u, w or proof elements raise InvalidElement."""
    if not isinstance(proof, PoKE2Proof):
        raise EdgeaccTypeError("proof must be a PoKE2Proof")
    P = _checks.params(params)
    r = _checks.integer(proof.r, "proof r")
    return _core.poke2_verify(g, u, w, proof.z, proof.Q, r, _context(context), P.n)
