"""Verifiable batch updates (Boneh-Bunz-Fisch): a proof that an accumulator went from v_old to
v_new by adding (or deleting) a batch of elements, checked in constant time (DESIGN.md 2).

The proof names its kind (add or delete), the number of elements and a SHA-256 commitment to
their product X, and carries
- a PoKE2 (context: kind, count, commitment) that the prover knows an integer e with
  v_old^e = v_new (add) or v_new^e = v_old (delete). A light client that checks only this
  learns, without the elements, that every member of v_old stays a member of v_new (its
  witness w becomes w^e) for an add, or that every member of v_new was one of v_old for a
  delete - not which elements, nor that e is a product of new primes;
- a PoE that the base raised to exactly X gives the result: a verifier holding the elements
  checks that the update is exactly that batch (commitment, count, PoE), in constant group work.

>>> import edgeacc
>>> P = edgeacc.Params.rsa2048()
>>> acc = edgeacc.Accumulator(P, P.generator(b"updates-doc"))
>>> xs = [edgeacc.hash_to_prime(b"%d" % i)[0] for i in range(4)]
>>> v0 = acc.value
>>> v1, proof = acc.add_many_with_proof(xs)
>>> verify_update(P, acc.g, v0, v1, proof), verify_update(P, acc.g, v0, v1, proof, elements=xs)
(True, True)
>>> verify_update(P, acc.g, v0, v1, proof, elements=xs[:3])
False
>>> BatchUpdateProof.from_bytes(P, proof.to_bytes(P)) == proof
True
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Sequence

from edgeacc import _checks, _core, poe, poke
from edgeacc.encoding import decode_element, encode_element
from edgeacc.errors import EdgeaccTypeError, EncodingError, InvalidArgument
from edgeacc.params import Params

MAGIC = _core.UPDATE_PROOF_MAGIC        # csrc/ea_protocol.h
KINDS = {"add": _core.UPDATE_ADD, "delete": _core.UPDATE_DELETE}
CONTEXT = _core.UPDATE_CONTEXT
COMMITMENT_BYTES = 32
MAX_COUNT = (1 << 32) - 1
_HEAD = 5 + 1 + 4 + COMMITMENT_BYTES    # magic, version, kind, be32 count, commitment


@dataclass(frozen=True)
class BatchUpdateProof:
    kind: str                   # "add" | "delete"
    count: int                  # number of elements in the batch
    commitment: bytes           # edgeacc.poe.commit_exponent(product of the elements)
    poe: poe.PoEProof
    poke: poke.PoKE2Proof

    def context(self) -> bytes:
        return update_context(self.kind, self.count, self.commitment)

    def to_bytes(self, params: Params) -> bytes:
        """magic | version | u8 kind | be32 count | commitment | PoE Q | PoKE2 z | Q | r."""
        if not isinstance(self.poke, poke.PoKE2Proof) or not isinstance(self.poe, poe.PoEProof):
            raise EdgeaccTypeError("poke must be a PoKE2Proof and poe a PoEProof")
        ctx = self.context()
        return (MAGIC + bytes([poke.VERSION]) + ctx[len(CONTEXT):] + encode_element(params, self.poe.Q)
                + self.poke.encode_fields(params))

    @classmethod
    def from_bytes(cls, params: Params, data: bytes) -> "BatchUpdateProof":
        params = _checks.params(params)
        data = _checks.data_bytes(data)
        k = params.element_bytes
        if len(data) != _HEAD + 3 * k + poke.R_BYTES:
            raise EncodingError("batch update proof has the wrong length")
        poke.check_header(data, MAGIC, "batch update proof")
        kind_byte, count = struct.unpack(">BI", data[5:10])
        kinds = {v: name for name, v in KINDS.items()}
        if kind_byte not in kinds or count == 0:
            raise EncodingError("batch update proof has an unknown kind or a zero count")
        return cls(kinds[kind_byte], count, data[10:_HEAD], poe.PoEProof(decode_element(params, data[_HEAD:_HEAD + k])),
                   poke.PoKE2Proof.decode_fields(params, data[_HEAD + k:]))


def update_context(kind: str, count: int, commitment: bytes) -> bytes:
    """The PoKE2 context of an update: kind, count and commitment, so a proof made for one
    statement fails for any other."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidArgument(f"kind must be one of {sorted(KINDS)}")
    count = _checks.small_int(count, "count", 1, MAX_COUNT)
    commitment = _checks.data_bytes(commitment, "commitment")
    if len(commitment) != COMMITMENT_BYTES:
        raise InvalidArgument(f"commitment must be {COMMITMENT_BYTES} bytes")
    return CONTEXT + struct.pack(">BI", KINDS[kind], count) + commitment


def _statement(kind: str, v_old: int, v_new: int) -> tuple[int, int]:
    """(base, result) of the update's exponentiation: add v_old^X = v_new, delete v_new^X = v_old."""
    return (v_old, v_new) if kind == "add" else (v_new, v_old)


def prove_update(params: Params, g: int, kind: str, v_old: int, v_new: int,
                 elements: Sequence[int]) -> BatchUpdateProof:
    """The proof of an update the prover made (the accumulator's add/delete_many_with_proof)."""
    P = _checks.params(params)
    xs = _checks.elements(elements, rule=_checks.RULE_PRIME)
    if not xs:
        raise InvalidArgument("elements must not be empty")
    X = _core.product(xs)
    commitment = poe.commit_exponent(X)
    ctx = update_context(kind, len(xs), commitment)
    base, result = _statement(kind, v_old, v_new)
    return BatchUpdateProof(kind, len(xs), commitment, poe.prove_known(P, base, X, result),
                            poke.prove_known(P, g, base, result, X, ctx))


def verify_update(params: Params, g: int, v_old: int, v_new: int, proof: BatchUpdateProof, *,
                  elements: Sequence[int] | None = None) -> bool:
    """True iff ``proof`` shows the transition v_old -> v_new (generator g). Without
    ``elements``: the PoKE2 only (what the module docstring says a light client learns). With
    them (prime representatives, pairwise distinct): also that the update is exactly that
    batch - its count, the commitment to its product, and the PoE."""
    if not isinstance(proof, BatchUpdateProof):
        raise EdgeaccTypeError("proof must be a BatchUpdateProof")
    if not isinstance(proof.poke, poke.PoKE2Proof) or not isinstance(proof.poe, poe.PoEProof):
        raise EdgeaccTypeError("proof.poke must be a PoKE2Proof and proof.poe a PoEProof")
    P = _checks.params(params)
    ctx = proof.context()
    base, result = _statement(proof.kind, v_old, v_new)
    if not poke.verify(P, g, base, result, proof.poke, ctx):
        return False
    if elements is None:
        return True
    xs = _checks.elements(elements, rule=_checks.RULE_PRIME)
    if len(set(xs)) != len(xs):
        raise InvalidArgument("elements must be distinct")
    if len(xs) != proof.count:
        return False
    X = _core.product(xs)
    return poe.commit_exponent(X) == proof.commitment and poe.verify(P, base, X, result, proof.poe)
