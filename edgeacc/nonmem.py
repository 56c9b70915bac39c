"""Non-membership witnesses (Li-Li-Xue, Bezout) and their updates, witness updates after
deletions, and the constant-size non-membership proof for many elements (Boneh-Bunz-Fisch:
PoKE2 + PoE); DESIGN.md section 2. The arithmetic is in C (csrc/ea_nonmem.h).

For y not accumulated in v = g^X: a*X + b*y = 1 with 0 <= a < y; the witness is (a, B = g^b)
and verifies as v^a * B^y = +-g. Under the strong RSA assumption nobody finds one when y
shares a factor with X (it would give a root of g), so y need only be an odd integer >= 3: a
witness for a composite y shows that none of its factors is accumulated.

>>> import edgeacc
>>> P = edgeacc.Params.rsa2048()
>>> acc = edgeacc.Accumulator(P, P.generator(b"nonmem-doc"))
>>> xs = [edgeacc.hash_to_prime(b"%d" % i)[0] for i in range(3)]
>>> y = edgeacc.hash_to_prime(b"absent")[0]
>>> _ = acc.add_many(xs)
>>> nw = acc.nonmembership_witness(y)
>>> acc.verify_nonmembership(y, nw), acc.verify_nonmembership(xs[0], nw)
(True, False)
>>> acc.nonmembership_witness(xs[1])
Traceback (most recent call last):
...
edgeacc.errors.InvalidArgument: element is accumulated: it has no non-membership witness
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Sequence

from edgeacc import _checks, _core, poe, poke
from edgeacc.batch import DEFAULT_SECURITY, MAX_SECURITY, MIN_SECURITY, _first_of_statement, _weights
from edgeacc.encoding import decode_element, encode_element
from edgeacc.errors import EdgeaccTypeError, EncodingError, InvalidArgument
from edgeacc.params import Params
from edgeacc.primes import REPRESENTATIVE_BITS

if TYPE_CHECKING:  # annotations only
    from edgeacc.accumulator import Accumulator

WITNESS_MAGIC = _core.NONMEM_PROOF_MAGIC        # csrc/ea_protocol.h
SET_MAGIC = _core.NONMEM_SET_PROOF_MAGIC
A_BYTES = REPRESENTATIVE_BITS // 8              # a < y, a representative: a fixed 32-byte field
SET_CONTEXT = b"edgeacc/nonmem-set"


class NonMembershipWitness(NamedTuple):
    """(a, B) with v^a * B^y = +-g and 0 <= a < y; a tuple, so ``a, B = nw`` works."""

    a: int
    B: int

    def to_bytes(self, params: Params) -> bytes:
        """magic | version | a (32 bytes) | B (canonical, N's width): for representatives y."""
        a = _checks.small_int(self.a, "witness part a", 0, (1 << REPRESENTATIVE_BITS) - 1)
        return WITNESS_MAGIC + bytes([poke.VERSION]) + a.to_bytes(A_BYTES, "big") + encode_element(params, self.B)

    @classmethod
    def from_bytes(cls, params: Params, data: bytes) -> "NonMembershipWitness":
        params = _checks.params(params)
        data = _checks.data_bytes(data)
        if len(data) != 5 + A_BYTES + params.element_bytes:
            raise EncodingError("non-membership witness has the wrong length")
        poke.check_header(data, WITNESS_MAGIC, "non-membership witness")
        return cls(int.from_bytes(data[5:5 + A_BYTES], "big"), decode_element(params, data[5 + A_BYTES:]))


def _witness(nw, what: str = "witness") -> NonMembershipWitness:
    if not isinstance(nw, tuple) or len(nw) != 2:
        raise EdgeaccTypeError(f"{what} must be an (a, B) non-membership witness")
    return NonMembershipWitness(_checks.integer(nw[0], f"{what} part a"), _checks.integer(nw[1], f"{what} part B"))


def nonmembership_witness(params: Params, g: int, X: int, y: int) -> NonMembershipWitness:
    """The witness of y against v = g^X, for X the product of the accumulated elements (a
    party that keeps X, not an Accumulator): one exponentiation by about X's size.
    InvalidArgument if y shares a factor with X (it is accumulated)."""
    P = _checks.params(params)
    X = _checks.integer(X, "accumulated product")
    a, B = _core.nonmem_create(g, X, _checks.element(y), P.n)
    if B == 1:      # X = 1: the empty accumulator
        raise InvalidArgument("nothing is accumulated: nothing to prove absent from")
    return NonMembershipWitness(a, _core.canonical(B, P.n))


def verify_nonmembership(params: Params, g: int, v: int, y: int, nw) -> bool:
    """True iff nw = (a, B) shows y is not accumulated in v (generator g): 0 <= a < y and
    v^a * B^y = +-g (mod N). Malformed g, v, B raise InvalidElement, a y that is not an odd
    integer >= 3 InvalidExponent."""
    P = _checks.params(params)
    a, B = _witness(nw)
    return _core.nonmem_verify(g, v, _checks.element(y), a, B, P.n)


def batch_verify_nonmembership(params: Params, g: int, v: int, items: Sequence[tuple[int, tuple]], *,
                               security: int = DEFAULT_SECURITY) -> list[int]:
    """The indices of the items (y, (a, B)) that do not show y absent from v; [] when all hold.

    One weighted multi-exponentiation prod_j (v^a_j B_j^y_j g^-1)^r_j = +-1 with fresh random
    odd ``security``-bit weights from os.urandom (as edgeacc.batch_verify), bisection on
    failure; repeated statements are checked once."""
    P = _checks.params(params)
    security = _checks.small_int(security, "security", MIN_SECURITY, MAX_SECURITY)
    pairs = _checks.pairs(items, "items", ("y", "witness"))
    ys = _checks.elements([y for y, _ in pairs])
    nws = [_witness(nw, f"witness {j}") for j, (_, nw) in enumerate(pairs)]
    if not ys:
        return []
    first = _first_of_statement(P.n, [nw.B for nw in nws], ys, [nw.a for nw in nws])
    distinct = sorted(set(first))
    failed = _core.nonmem_batch_verify(g, v, [ys[j] for j in distinct], [nws[j].a for j in distinct],
                                       [nws[j].B for j in distinct], _weights(len(distinct), security), P.n)
    bad = {distinct[i] for i in failed}
    return [j for j in range(len(ys)) if first[j] in bad]


def _product(elements, what: str) -> int:
    xs = _checks.elements(elements, what)
    if not xs:
        raise InvalidArgument(f"{what}s must not be empty")
    return _core.product(xs)


def update_nonmembership_witness(params: Params, y: int, nw, v_old: int, v_new: int,
                                 added: Sequence[int]) -> NonMembershipWitness:
    """y's witness against v_new = v_old^(prod added) from its witness against v_old (one
    exponentiation by about the size of the added product). InvalidArgument if y was added."""
    P = _checks.params(params)
    a, B = _witness(nw)
    return NonMembershipWitness(*_core.nonmem_update_add(a, B, _checks.element(y), v_old, v_new,
                                                         _product(added, "added element"), P.n))


def update_nonmembership_after_delete(params: Params, y: int, nw, v_new: int,
                                      deleted: Sequence[int]) -> NonMembershipWitness:
    """y's witness against v_new after the elements ``deleted`` were removed
    (v_new^(prod deleted) = v_old)."""
    P = _checks.params(params)
    a, B = _witness(nw)
    return NonMembershipWitness(*_core.nonmem_update_delete(a, B, _checks.element(y), v_new,
                                                            _product(deleted, "deleted element"), P.n))


def update_witness_after_delete(params: Params, w: int, x: int, v_new: int, deleted: Sequence[int]) -> int:
    """The membership witness of a remaining x after the elements ``deleted`` were removed:
    from w^x = +-v_old and v_new^D = +-v_old (D = prod deleted), Shamir's trick gives w' with
    w'^x = +-v_new exactly (w' = w^b v_new^a for a*x + b*D = 1). InvalidArgument if x was
    deleted itself. The inputs are not verified: a false w gives a w' that does not verify."""
    P = _checks.params(params)
    D = _product(deleted, "deleted element")
    return _core.shamir_trick(w, _checks.element(x), v_new, D, P.n)


@dataclass(frozen=True)
class SetNonMembershipProof:
    """Constant-size proof that no element of a set Y is in v: V = v^A, B with V * B^Y = +-g,
    a PoKE2 that the prover knows A (v^A = V) and a PoE that B^Y = g / V."""

    V: int
    B: int
    poke: poke.PoKE2Proof
    poe: poe.PoEProof

    def to_bytes(self, params: Params) -> bytes:
        """magic | version | V | B | PoE Q | PoKE2 z | PoKE2 Q | PoKE2 r (16 bytes)."""
        if not isinstance(self.poke, poke.PoKE2Proof) or not isinstance(self.poe, poe.PoEProof):
            raise EdgeaccTypeError("poke must be a PoKE2Proof and poe a PoEProof")
        return (SET_MAGIC + bytes([poke.VERSION]) + encode_element(params, self.V) + encode_element(params, self.B)
                + encode_element(params, self.poe.Q) + self.poke.encode_fields(params))

    @classmethod
    def from_bytes(cls, params: Params, data: bytes) -> "SetNonMembershipProof":
        params = _checks.params(params)
        data = _checks.data_bytes(data)
        k = params.element_bytes
        if len(data) != 5 + 5 * k + poke.R_BYTES:
            raise EncodingError("set non-membership proof has the wrong length")
        poke.check_header(data, SET_MAGIC, "set non-membership proof")
        V, B, Q = (decode_element(params, data[5 + i * k:5 + (i + 1) * k]) for i in range(3))
        return cls(V, B, poke.PoKE2Proof.decode_fields(params, data[5 + 3 * k:]), poe.PoEProof(Q))


def _set_context(params: Params, B: int, Y: int) -> bytes:
    return SET_CONTEXT + encode_element(params, B) + poe.commit_exponent(Y)


def prove_set_nonmembership(acc: Accumulator, elements: Sequence[int]) -> SetNonMembershipProof:
    """Prove that none of ``elements`` is in ``acc`` with a proof of constant size."""
    from edgeacc.accumulator import Accumulator

    if not isinstance(acc, Accumulator):
        raise EdgeaccTypeError("acc must be an edgeacc.Accumulator")
    P, n, g, v = acc.params, acc.params.n, acc.g, acc.value
    Y = _product(elements, "element")
    if Y.bit_length() <= poe.CHALLENGE_BITS:
        raise InvalidArgument(f"the elements' product must exceed {poe.CHALLENGE_BITS} bits")
    A, B = _core.nonmem_create(g, acc._product(), Y, n)
    B = _core.canonical(B, n)
    V = _core.canonical(_core.powm(v, A, n), n)
    target = _core.canonical(g * pow(V, -1, n) % n, n)
    return SetNonMembershipProof(V, B, poke.prove_known(P, g, v, V, A, _set_context(P, B, Y)),
                                 poe.prove_known(P, B, Y, target))


def verify_set_nonmembership(params: Params, g: int, v: int, elements: Sequence[int],
                             proof: SetNonMembershipProof) -> bool:
    """True iff ``proof`` shows that no element of ``elements`` is accumulated in v: cost one
    product of the elements and two constant-size checks (PoKE2, PoE)."""
    if not isinstance(proof, SetNonMembershipProof):
        raise EdgeaccTypeError("proof must be a SetNonMembershipProof")
    P = _checks.params(params)
    Y = _product(elements, "element")
    if Y.bit_length() <= poe.CHALLENGE_BITS:
        raise InvalidArgument(f"the elements' product must exceed {poe.CHALLENGE_BITS} bits")
    n, g = P.n, _checks.integer(g, "g")
    _core.check_element(g, n)
    _core.check_element(proof.V, n)
    _core.check_element(proof.B, n)
    target = g * pow(proof.V, -1, n) % n
    if not 1 < target < n - 1:     # V = +-g: B^Y = +-1 proves nothing
        return False
    return (poke.verify(P, g, v, proof.V, proof.poke, _set_context(P, proof.B, Y))
            and poe.verify(P, proof.B, Y, target, proof.poe))
