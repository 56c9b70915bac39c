import random

import pytest
from hypothesis import given, strategies as st

import edgeacc
from edgeacc import _core

datas = st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=8, unique=True)


def build(P, items, chain=b"prop"):
    acc = edgeacc.Accumulator(P, P.generator(chain))
    xs = [edgeacc.hash_to_prime(d)[0] for d in items]
    acc.add_many(xs)
    return acc, xs


@given(items=datas)
def test_add_then_verify_every_element(P, items):
    acc, xs = build(P, items)
    for i, x in enumerate(xs):
        assert acc.verify(x, acc.witness(i))


@given(items=datas, outsider=st.binary(min_size=41, max_size=60))
def test_non_member_fails_with_every_witness(P, items, outsider):
    acc, xs = build(P, items)
    y, _ = edgeacc.hash_to_prime(outsider)
    for i in range(len(xs)):
        assert not acc.verify(y, acc.witness(i))


@given(items=st.lists(st.binary(min_size=1, max_size=20), min_size=2, max_size=6, unique=True),
       data=st.data())
def test_witness_of_i_fails_for_j(P, items, data):
    acc, xs = build(P, items)
    i = data.draw(st.integers(0, len(xs) - 1))
    j = data.draw(st.integers(0, len(xs) - 1).filter(lambda j: j != i))
    assert not acc.verify(xs[j], acc.witness(i))


@given(before=datas, after=datas)
def test_updated_witness_verifies_against_new_value(P, before, after):
    acc, xs = build(P, before)
    w0 = acc.witness(0)
    since = len(acc)
    new = [edgeacc.hash_to_prime(b"after" + d)[0] for d in after]
    for x in new:                      # one add each: many checkpoints
        acc.add(x)
    assert not acc.verify(xs[0], w0) or not new
    w1 = acc.updated_witness(w0, since)
    assert w1 == edgeacc.update_witness(P, w0, new)
    assert acc.verify(xs[0], w1)
    assert w1 == acc.witness(0)


def test_add_and_add_many_agree_and_value_at(P):
    xs = [edgeacc.hash_to_prime(b"%d" % i)[0] for i in range(12)]
    one = edgeacc.Accumulator(P, P.generator(b"c"))
    for x in xs:
        one.add(x)
    many = edgeacc.Accumulator(P, P.generator(b"c"))
    many.add_many(xs[:5])
    many.add_many(xs[5:])
    assert one.value == many.value
    for h in (0, 3, 5, 9, 12):
        assert one.value_at(h) == many.value_at(h)
    assert many.value_at(0) == many.g and len(many) == 12


def test_random_element_and_random_witness_fail(P):
    acc, xs = build(P, [b"one", b"two", b"three"])
    rng = random.Random(1)
    for _ in range(20):
        w = rng.randrange(2, P.n - 1)
        assert not acc.verify(xs[0], w)
        assert not acc.verify(rng.getrandbits(256) | 1, acc.witness(0))


def test_minus_witness_is_the_same_group_element(P):
    """Z_N^*/{+-1}: -w verifies exactly when w does, and encodes identically."""
    acc, xs = build(P, [b"p", b"q"])
    w = acc.witness(0)
    assert acc.verify(xs[0], w) and acc.verify(xs[0], P.n - w)
    bad = acc.witness(1)
    assert not acc.verify(xs[0], bad) and not acc.verify(xs[0], P.n - bad)
    assert edgeacc.encode_element(P, w) == edgeacc.encode_element(P, P.n - w)
    # and the accumulator value's sign does not matter either
    assert edgeacc.verify_membership(P, w, xs[0], P.n - acc.value)


def test_representatives_are_prime_and_256_bit():
    for i in range(200):
        x, k = edgeacc.hash_to_prime(b"rep-%d" % i)
        assert x.bit_length() == 256 and x % 2 == 1
        assert _core.is_probable_prime(x)
        assert edgeacc.check_representative(b"rep-%d" % i, x, k)
        # every earlier candidate was composite: x is the *first* prime
        for j in range(k):
            assert not _core.is_probable_prime(_core.hash_candidate(b"edgeacc/h2p", b"rep-%d" % i, j, 256))


def test_check_representative_rejects_wrong_nonce_data_or_value():
    x, k = edgeacc.hash_to_prime(b"item")
    assert not edgeacc.check_representative(b"item", x, k + 1)
    assert not edgeacc.check_representative(b"iten", x, k)
    assert not edgeacc.check_representative(b"item", x + 2, k)
    assert edgeacc.is_first_representative(b"item", x, k)


def test_composite_representative_lets_a_divisor_forge(toy):
    """Why prime representatives: accumulate x = a*b (a naive hash may be composite) and a
    'witness' for the non-member a verifies. The raw exponentiation shows the forgery; the
    Accumulator refuses the composite, so the seed paper's flaw is not reachable."""
    P = toy
    a, _ = edgeacc.hash_to_prime(b"never added")
    b, _ = edgeacc.hash_to_prime(b"something")
    g = P.generator(b"naive")
    naive_value = _core.powm_product(g, [a * b], P.n)  # what the paper's hash(blk||i) allows
    forged = edgeacc.powm(g, b, P.n)                    # g^b is a witness for the divisor a
    assert edgeacc.verify_membership(P, forged, a, naive_value)
    acc = edgeacc.Accumulator(P, g)
    acc.add(b)
    before = (acc.value, acc.elements)
    for composite in (a * b, a * a, 3 * 5, 9):
        with pytest.raises(edgeacc.errors.InvalidExponent, match="prime representative"):
            acc.add(composite)
        with pytest.raises(edgeacc.errors.InvalidExponent, match="element 1 "):
            acc.add_many([a, composite])                # names the failing item; adds nothing
    assert (acc.value, acc.elements) == before
    assert not any(edgeacc.check_representative(b"never added" + bytes([i]), a * b, 0) for i in range(3))


def test_gmpy2_inputs_are_accepted(P):
    gmpy2 = pytest.importorskip("gmpy2")
    acc, xs = build(P, [b"m1", b"m2"])
    w = acc.witness(1)
    assert edgeacc.verify_membership(P, gmpy2.mpz(w), gmpy2.mpz(xs[1]), gmpy2.mpz(acc.value))
    assert edgeacc.powm(gmpy2.mpz(3), gmpy2.mpz(5), P.n) == pow(3, 5, P.n)


def test_powm_matches_python_pow(P):
    rng = random.Random(5)
    for _ in range(20):
        b, e = rng.randrange(P.n), rng.getrandbits(rng.choice([1, 64, 256, 2048])) | 1
        assert edgeacc.powm(b, e, P.n) == pow(b, e, P.n)


def test_core_releases_gil_and_is_thread_safe(P):
    from concurrent.futures import ThreadPoolExecutor

    acc, xs = build(P, [b"t%d" % i for i in range(8)])
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(acc.witness, range(8)))
    assert results == [acc.witness(i) for i in range(8)]
    assert all(acc.verify(x, w) for x, w in zip(xs, results))


def test_powm_sec_and_jacobi_match_python(P):
    rng = random.Random(9)
    for _ in range(5):
        b, e = rng.randrange(P.n), rng.getrandbits(1024) | 1
        assert _core.powm_sec(b, e, P.n) == pow(b, e, P.n)
    assert [_core.jacobi(a, 15) for a in range(1, 8)] == [1, 1, 0, 1, 0, 0, -1]
    with pytest.raises(edgeacc.errors.InvalidExponent):
        _core.powm_sec(3, -1, P.n)
    with pytest.raises(edgeacc.errors.InvalidModulus):
        _core.jacobi(3, 10)
