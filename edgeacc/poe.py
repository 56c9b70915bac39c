"""Non-interactive proof of exponentiation (Wesolowski; Boneh-Bunz-Fisch NI-PoE), and the
constant-work set-membership proof built on it (DESIGN.md section 2).

Statement: w^X = +-v (mod N) for a large X (the product of a set's representatives).
Challenge: l = the 128-bit hash-to-prime of (N, w, v, SHA-256 commitment to X) under the
domain "edgeacc/poe". Proof: Q = w^floor(X / l). Check: Q^l * w^(X mod l) = +-v, two
exponentiations by ~128-bit exponents however large X is.

>>> import edgeacc
>>> P = edgeacc.Params.rsa2048()
>>> acc = edgeacc.Accumulator(P, P.generator(b"poe-doc"))
>>> xs = [edgeacc.hash_to_prime(b"%d" % i)[0] for i in range(5)]
>>> _ = acc.add_many(xs)
>>> proof = prove_set_membership(acc, [1, 3])
>>> verify_set_membership(P, [xs[1], xs[3]], acc.value, proof)
True
>>> verify_set_membership(P, [xs[1], xs[2]], acc.value, proof)
False
>>> SetMembershipProof.from_bytes(P, proof.to_bytes(P)) == proof
True
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from edgeacc import _checks, _core
from edgeacc.encoding import decode_element, encode_element
from edgeacc.errors import EdgeaccTypeError, EncodingError, InvalidArgument
from edgeacc.params import Params

if TYPE_CHECKING:  # annotations only: prove_set_membership imports it when called
    from edgeacc.accumulator import Accumulator

POE_DOMAIN = b"edgeacc/poe"
CHALLENGE_BITS = 128
MAX_NONCE = 1 << 20
POE_MAGIC = b"EAPE"
SET_MAGIC = b"EASM"
VERSION = 1


def commit_exponent(X) -> bytes:
    """SHA-256 commitment to the exponent X > 0 (length-prefixed big-endian bytes)."""
    X = _checks.integer(X, "exponent")
    if X <= 0:
        raise InvalidArgument("exponent must be positive")
    raw = X.to_bytes((X.bit_length() + 7) // 8, "big")
    return hashlib.sha256(b"edgeacc/poe/X" + struct.pack(">Q", len(raw)) + raw).digest()


def challenge(params: Params, w, X, v) -> int:
    """The 128-bit prime l bound to (N, w, v, X). w and v enter in canonical form, so the
    challenge is a function of their classes in Z_N^*/{+-1}."""
    params = _checks.params(params)
    n_raw = params.n.to_bytes(params.element_bytes, "big")
    data = (hashlib.sha256(n_raw).digest() + encode_element(params, w)
            + encode_element(params, v) + commit_exponent(X))
    return _core.hash_to_prime(POE_DOMAIN, data, CHALLENGE_BITS, MAX_NONCE)[0]


@dataclass(frozen=True)
class PoEProof:
    """Q = w^floor(X / l), kept in canonical form min(Q, N - Q) by the provers here."""

    Q: int

    def to_bytes(self, params: Params) -> bytes:
        return POE_MAGIC + bytes([VERSION]) + encode_element(params, self.Q)

    @classmethod
    def from_bytes(cls, params: Params, data: bytes) -> "PoEProof":
        params = _checks.params(params)
        data = _checks.data_bytes(data)
        if len(data) != 5 + params.element_bytes:
            raise EncodingError("PoE proof has the wrong length")
        _header(data, POE_MAGIC, "PoE proof")
        return cls(decode_element(params, data[5:]))


@dataclass(frozen=True)
class SetMembershipProof:
    """An aggregated witness W with W^(prod of the set) = +-v, and a PoE of that equation."""

    witness: int
    poe: PoEProof

    def to_bytes(self, params: Params) -> bytes:
        if not isinstance(self.poe, PoEProof):
            raise EdgeaccTypeError("poe must be a PoEProof")
        return (SET_MAGIC + bytes([VERSION]) + encode_element(params, self.witness)
                + encode_element(params, self.poe.Q))

    @classmethod
    def from_bytes(cls, params: Params, data: bytes) -> "SetMembershipProof":
        params = _checks.params(params)
        data = _checks.data_bytes(data)
        k = params.element_bytes
        if len(data) != 5 + 2 * k:
            raise EncodingError("set membership proof has the wrong length")
        _header(data, SET_MAGIC, "set membership proof")
        return cls(decode_element(params, data[5:5 + k]),
                   PoEProof(decode_element(params, data[5 + k:])))


def _header(data: bytes, magic: bytes, what: str) -> None:
    if data[:4] != magic:
        raise EncodingError(f"not a {what} (bad magic)")
    if data[4] != VERSION:
        raise EncodingError(f"unsupported {what} version {data[4]}")


def prove(params: Params, w, X) -> tuple[int, PoEProof]:
    """(v, proof) with v = w^X mod N and the PoE that w^X = v. X must be >= 2^128."""
    params = _checks.params(params)
    X = _checks.integer(X, "exponent")
    if X.bit_length() <= CHALLENGE_BITS:
        raise InvalidArgument(f"exponent must exceed {CHALLENGE_BITS} bits (check it directly)")
    _core.check_element(w, params.n)
    v = _core.powm(w, X, params.n)
    return v, prove_known(params, w, X, v)


def prove_known(params: Params, w, X, v) -> PoEProof:
    """The PoE for a result v the prover already has (e.g. the accumulator value)."""
    params = _checks.params(params)
    X = _checks.integer(X, "exponent")
    if X.bit_length() <= CHALLENGE_BITS:
        raise InvalidArgument(f"exponent must exceed {CHALLENGE_BITS} bits (check it directly)")
    l = challenge(params, w, X, v)
    return PoEProof(_core.canonical(_core.poe_prove(w, X, l, params.n), params.n))


def verify(params: Params, w, X, v, proof: PoEProof) -> bool:
    """True iff proof shows w^X = +-v: Q^l * w^(X mod l) = +-v with l = challenge(w, X, v).
    Malformed w, v or Q raise InvalidElement, as edgeacc.verify_membership does."""
    if not isinstance(proof, PoEProof):
        raise EdgeaccTypeError("proof must be a PoEProof")
    params = _checks.params(params)
    X = _checks.integer(X, "exponent")
    if X.bit_length() <= CHALLENGE_BITS:
        raise InvalidArgument(f"exponent must exceed {CHALLENGE_BITS} bits (check it directly)")
    for y, what in ((w, "base"), (v, "result"), (proof.Q, "proof")):
        _core.check_element(y, params.n)
    l = challenge(params, w, X, v)
    return _core.poe_verify(w, X, v, proof.Q, l, params.n)


def prove_set_membership(acc: Accumulator, indices: Sequence[int]) -> SetMembershipProof:
    """Prove that the elements at ``indices`` are all in ``acc``: the aggregated witness of
    the set plus a PoE, checked by verify_set_membership with constant group work."""
    from edgeacc.accumulator import Accumulator

    if not isinstance(acc, Accumulator):
        raise EdgeaccTypeError("acc must be an edgeacc.Accumulator")
    indices = _checks.sequence(indices, "indices")
    W = _core.canonical(acc.aggregate_witness(indices), acc.params.n)
    X = _core.product([acc.elements[i] for i in sorted(set(indices))])
    return SetMembershipProof(W, prove_known(acc.params, W, X, acc.value))


def verify_set_membership(params: Params, elements: Sequence[int], value: int, proof: SetMembershipProof) -> bool:
    """True iff ``proof`` shows every element (prime representatives, pairwise distinct) is in
    the accumulator with value ``value``. Cost: one product of the elements and a PoE check."""
    if not isinstance(proof, SetMembershipProof):
        raise EdgeaccTypeError("proof must be a SetMembershipProof")
    if not isinstance(proof.poe, PoEProof):
        raise EdgeaccTypeError("proof.poe must be a PoEProof")
    params = _checks.params(params)
    # Each listed item is claimed as an element, so each must be prime: with a composite
    # a*b listed, the aggregated witness of {a, b} would "prove" a*b a member.
    xs = _checks.elements(elements, rule=_checks.RULE_PRIME)
    if not xs:
        raise InvalidArgument("elements must not be empty")
    if len(set(xs)) != len(xs):
        raise InvalidArgument("elements must be distinct")
    return verify(params, proof.witness, _core.product(xs), value, proof.poe)
