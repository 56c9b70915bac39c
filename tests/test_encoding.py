import pytest
from hypothesis import given, strategies as st

import edgeacc
from edgeacc.errors import EncodingError


@given(st.integers(min_value=2, max_value=2**2048))
def test_element_round_trip(P, y):
    y = y % P.n
    if y < 2 or y > P.n - 2:
        return
    b = edgeacc.encode_element(P, y)
    assert len(b) == 256
    assert edgeacc.decode_element(P, b) == min(y, P.n - y)


def test_decode_rejects_non_canonical_and_malformed(P):
    y = 12345
    good = edgeacc.encode_element(P, P.n - y)
    assert edgeacc.decode_element(P, good) == y
    with pytest.raises(EncodingError):
        edgeacc.decode_element(P, (P.n - y).to_bytes(256, "big"))   # the larger representative
    with pytest.raises(EncodingError):
        edgeacc.decode_element(P, good[1:])                          # truncated
    with pytest.raises(EncodingError):
        edgeacc.decode_element(P, b"\x00" + good)                    # too long
    with pytest.raises(EncodingError):
        edgeacc.decode_element(P, (1).to_bytes(256, "big"))          # the identity class
    with pytest.raises(EncodingError):
        edgeacc.decode_element(P, P.n.to_bytes(256, "big"))          # >= N


def test_membership_proof_round_trip_and_tamper(P):
    acc = edgeacc.Accumulator(P, P.generator(b"enc"))
    datas = [b"d0", b"d1", b"d2"]
    reps = [edgeacc.hash_to_prime(d) for d in datas]
    acc.add_many([x for x, _ in reps])
    x, k = reps[1]
    proof = edgeacc.MembershipProof(x, k, acc.witness(1))
    raw = proof.to_bytes(P)
    back = edgeacc.MembershipProof.from_bytes(P, raw)
    assert back.element == x and back.nonce == k
    assert back.verify(P, b"d1", acc.value)
    assert not back.verify(P, b"d2", acc.value)
    # flip each region of the proof: magic, version, nonce, element, witness
    for pos in (0, 4, 8, 20, 60, len(raw) - 1):
        bad = bytearray(raw)
        bad[pos] ^= 0x01
        try:
            forged = edgeacc.MembershipProof.from_bytes(P, bytes(bad))
        except EncodingError:
            continue
        assert not forged.verify(P, b"d1", acc.value)
    with pytest.raises(EncodingError):
        edgeacc.MembershipProof.from_bytes(P, raw[:-1])
