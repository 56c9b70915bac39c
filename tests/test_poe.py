"""NI-PoE and set-membership proofs: completeness, soundness against tampering, canonical
fixed-width serialisation."""
import doctest

import pytest
from hypothesis import given, strategies as st

import edgeacc
from helpers import reps
import edgeacc.poe as poe
from edgeacc import _core
from edgeacc.errors import EdgeaccTypeError, EncodingError, InvalidArgument, InvalidElement



@pytest.fixture(scope="module")
def acc(P):
    a = edgeacc.Accumulator(P, P.generator(b"poe"))
    a.add_many(reps(b"e", 20))
    return a


def test_prove_verify_roundtrip(P):
    w = P.generator(b"poe-w")
    X = _core.product(reps(b"x", 6))
    v, proof = poe.prove(P, w, X)
    assert v == pow(w, X, P.n)
    assert poe.verify(P, w, X, v, proof)
    assert poe.verify(P, w, X, P.n - v, proof)               # +-v: one group element
    assert poe.verify(P, w, X, v, poe.PoEProof(P.n - proof.Q))  # odd l: -Q works too
    data = proof.to_bytes(P)
    assert len(data) == 5 + P.element_bytes
    assert poe.PoEProof.from_bytes(P, data) == proof
    assert poe.PoEProof(P.n - proof.Q).to_bytes(P) == data    # canonical min(Q, N - Q)


def test_challenge_is_a_128_bit_prime_bound_to_the_statement(P):
    w = P.generator(b"c")
    X = _core.product(reps(b"c", 3))
    v = pow(w, X, P.n)
    l = poe.challenge(P, w, X, v)
    assert l.bit_length() == 128 and _core.is_probable_prime(l)
    assert l == poe.challenge(P, P.n - w, X, P.n - v)        # classes, not representatives
    assert l != poe.challenge(P, w, X + 2, v)
    assert l != poe.challenge(P, w, X, v * v % P.n)
    assert l != poe.challenge(P, w * w % P.n, X, v)


def test_tampered_proofs_rejected(P):
    w = P.generator(b"t")
    xs = reps(b"t", 5)
    X = _core.product(xs)
    v, proof = poe.prove(P, w, X)
    assert not poe.verify(P, w, X, v, poe.PoEProof(proof.Q * 2 % P.n))
    assert not poe.verify(P, w, X, v, poe.PoEProof(proof.Q + 1))
    assert not poe.verify(P, w, X * xs[0], v, proof)          # an extra element
    assert not poe.verify(P, w, X // xs[0], v, proof)         # a missing element
    assert not poe.verify(P, w, X, v * w % P.n, proof)
    assert not poe.verify(P, w * w % P.n, X, v, proof)
    # the naive forgery Q' = v^(1/l) is not computable; Q' from another statement fails
    v2, other = poe.prove(P, w, X * xs[0])
    assert not poe.verify(P, w, X, v, other)


def test_a_proof_for_the_wrong_challenge_fails(P):
    """Q computed for another l (as if the prover chose l) does not verify."""
    w = P.generator(b"l")
    X = _core.product(reps(b"l", 4))
    v = pow(w, X, P.n)
    l = poe.challenge(P, w, X, v)
    other = int(_core.hash_to_prime(b"edgeacc/other", b"x", 128, 1 << 20)[0])
    assert other != l
    Q = _core.poe_prove(w, X, other, P.n)
    assert _core.poe_verify(w, X, v, Q, other, P.n)            # valid for its own l ...
    assert not poe.verify(P, w, X, v, poe.PoEProof(Q))          # ... not for the bound one


@pytest.mark.parametrize("mutate,exc", [
    (lambda d: d[:-1], EncodingError),
    (lambda d: d + b"\x00", EncodingError),
    (lambda d: b"XXXX" + d[4:], EncodingError),
    (lambda d: d[:4] + b"\x02" + d[5:], EncodingError),
    (lambda d: d[:5] + b"\x00" * (len(d) - 5), EncodingError),     # y = 0
    (lambda d: d[:5] + b"\xff" * (len(d) - 5), EncodingError),     # y >= N
    (lambda d: "text", EdgeaccTypeError),
])
def test_malformed_bytes_rejected(P, mutate, exc):
    w = P.generator(b"m")
    v, proof = poe.prove(P, w, _core.product(reps(b"m", 2)))
    with pytest.raises(exc):
        poe.PoEProof.from_bytes(P, mutate(proof.to_bytes(P)))


def test_non_canonical_encoding_rejected(P):
    w = P.generator(b"nc")
    v, proof = poe.prove(P, w, _core.product(reps(b"nc", 2)))
    big = P.n - proof.Q                                      # > N/2: the non-canonical twin
    data = b"EAPE\x01" + big.to_bytes(P.element_bytes, "big")
    with pytest.raises(EncodingError, match="canonical"):
        poe.PoEProof.from_bytes(P, data)


@given(subset=st.sets(st.integers(0, 19), min_size=1, max_size=20))
def test_set_membership_proof(P, acc, subset):
    idx = sorted(subset)
    proof = poe.prove_set_membership(acc, idx)
    members = [acc.elements[i] for i in idx]
    assert poe.verify_set_membership(P, members, acc.value, proof)
    assert poe.verify_set_membership(P, members[::-1], acc.value, proof)  # order-free
    data = proof.to_bytes(P)
    assert len(data) == 5 + 2 * P.element_bytes
    again = poe.SetMembershipProof.from_bytes(P, data)
    assert again == proof and poe.verify_set_membership(P, members, acc.value, again)


def test_set_membership_rejects_non_members_and_tampering(P, acc):
    idx = [2, 5, 11]
    proof = poe.prove_set_membership(acc, idx)
    members = [acc.elements[i] for i in idx]
    outsider = edgeacc.hash_to_prime(b"not in the set")[0]
    assert not poe.verify_set_membership(P, members + [outsider], acc.value, proof)
    assert not poe.verify_set_membership(P, members[:2] + [outsider], acc.value, proof)
    assert not poe.verify_set_membership(P, members[:2], acc.value, proof)
    assert not poe.verify_set_membership(P, members, acc.value_at(19), proof)
    tampered = poe.SetMembershipProof(proof.witness * 4 % P.n, proof.poe)
    assert not poe.verify_set_membership(P, members, acc.value, tampered)
    data = bytearray(proof.to_bytes(P))
    data[-1] ^= 1
    try:
        flipped = poe.SetMembershipProof.from_bytes(P, bytes(data))
    except EncodingError:
        pass                                                 # flipped into non-canonical form
    else:
        assert not poe.verify_set_membership(P, members, acc.value, flipped)
    with pytest.raises(InvalidArgument):
        poe.verify_set_membership(P, members + members[:1], acc.value, proof)
    with pytest.raises(InvalidArgument):
        poe.verify_set_membership(P, [], acc.value, proof)
    with pytest.raises(EdgeaccTypeError):
        poe.verify_set_membership(P, members, acc.value, proof.poe)


def test_bad_input(P):
    w = P.generator(b"bad")
    X = _core.product(reps(b"bad", 2))
    v, proof = poe.prove(P, w, X)
    with pytest.raises(InvalidArgument):
        poe.prove(P, w, 12345)                              # too small for a PoE
    with pytest.raises(InvalidElement):
        poe.prove(P, 1, X)
    with pytest.raises(InvalidElement):
        poe.verify(P, w, X, 0, proof)
    with pytest.raises(InvalidElement):
        poe.verify(P, w, X, v, poe.PoEProof(P.n - 1))
    with pytest.raises(EdgeaccTypeError):
        poe.verify(P, w, X, v, proof.Q)
    with pytest.raises(EdgeaccTypeError):
        poe.prove(P.n, w, X)


def test_poe_module_doctests():
    result = doctest.testmod(poe)
    assert result.attempted > 0 and result.failed == 0
