"""Sound batch verification: results equal sequential verification, exactly the bad items
are named, and the attacks on the paper's unweighted check fail against batch_verify."""
import random

import gmpy2
import pytest
from hypothesis import given, strategies as st

import edgeacc
from helpers import reps
from edgeacc import _core
from edgeacc.batch import _batch_verify_with_weights, _unweighted_check, _weights
from edgeacc.errors import EdgeaccTypeError, InvalidArgument, InvalidElement, InvalidExponent



@pytest.fixture(scope="module")
def big(P):
    """1000 members of one accumulator with all their witnesses (RootFactory)."""
    acc = edgeacc.Accumulator(P, P.generator(b"batch-1000"))
    xs = reps(b"m", 1000)
    acc.add_many(xs)
    return acc, xs, acc.all_witnesses()


@pytest.fixture(scope="module")
def known():
    """A test modulus whose factors the test knows (to build elements of order 2)."""
    p = int(gmpy2.next_prime(0xC0FFEE << 250))
    q = int(gmpy2.next_prime(0xBADC0DE << 250))
    return edgeacc.Params(p * q, insecure=True), p, q


def sequential(P, items):
    return [j for j, (w, x, v) in enumerate(items) if not edgeacc.verify_membership(P, w, x, v)]


def test_all_valid_is_empty_and_empty_is_empty(P, big):
    acc, xs, ws = big
    items = [(w, x, acc.value) for w, x in zip(ws[:50], xs[:50])]
    assert edgeacc.batch_verify(P, items) == []
    assert edgeacc.batch_verify(P, []) == []
    assert edgeacc.batch_verify(P, items[:1], threads=1) == []


@pytest.mark.parametrize("bad", [0, 417, 999])
def test_one_bad_among_1000_returns_exactly_it(P, big, bad):
    acc, xs, ws = big
    items = [(w, x, acc.value) for w, x in zip(ws, xs)]
    w, x, v = items[bad]
    items[bad] = (ws[(bad + 1) % 1000], x, v)           # someone else's witness
    for threads in (1, 2):
        assert edgeacc.batch_verify(P, items, threads=threads) == [bad]


def test_several_bad_and_mixed_values(P, big):
    acc, xs, ws = big
    other = edgeacc.Accumulator(P, P.generator(b"other"))
    ys = reps(b"o", 6)
    other.add_many(ys)
    ows = other.all_witnesses()
    items = [(w, x, acc.value) for w, x in zip(ws[:40], xs[:40])]
    items += [(w, y, other.value) for w, y in zip(ows, ys)]
    items[3] = (ws[3], xs[3], other.value)              # right witness, wrong accumulator
    items[41] = (ows[1], ys[1], acc.value)
    items[45] = (ows[5], ys[4], other.value)             # witness of another member
    items[20] = (P.n - ws[20], xs[20], acc.value)        # -w: the same group element
    items[21] = (ws[21], xs[21], P.n - acc.value)        # -v: likewise
    want = [3, 41, 45]
    assert sequential(P, items) == want
    for threads in (1, 2, 4):
        assert edgeacc.batch_verify(P, items, threads=threads) == want


items_strategy = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 2), st.sampled_from(["ok", "swap", "neg", "noise", "negv"])),
    min_size=0, max_size=14)


@given(spec=items_strategy, seed=st.integers(0, 2 ** 32))
def test_batch_equals_sequential(P, spec, seed):
    """Random mixes of valid, swapped, negated and random witnesses over three accumulators."""
    rng = random.Random(seed)
    accs = []
    for a in range(3):
        acc = edgeacc.Accumulator(P, P.generator(b"prop-%d" % a))
        xs = reps(b"p%d" % a, 8)
        acc.add_many(xs)
        accs.append((acc, xs, acc.all_witnesses(threads=1)))
    items = []
    for i, a, kind in spec:
        acc, xs, ws = accs[a]
        w, x, v = ws[i], xs[i], acc.value
        if kind == "swap":
            w = ws[(i + 1) % 8]
        elif kind == "neg":
            w = P.n - w
        elif kind == "noise":
            w = rng.randrange(2, P.n - 1)
        elif kind == "negv":
            v = P.n - v
        items.append((w, x, v))
    assert edgeacc.batch_verify(P, items) == sequential(P, items)
    assert edgeacc.batch_verify(P, items, security=64, threads=2) == sequential(P, items)


def bezout_forgery(P, v, y1, y2):
    """Non-members y1, y2 (coprime) and 'witnesses' g1 = T^a, g2 = T^b with a*y1 + b*y2 = 1,
    T = v*v: then g1^y1 * g2^y2 = T = v*v, the paper's product check."""
    g, a, b = (int(z) for z in gmpy2.gcdext(y1, y2))
    assert g == 1
    T = v * v % P.n
    return int(gmpy2.powmod(T, a, P.n)), int(gmpy2.powmod(T, b, P.n))


def test_bezout_forgery_passes_unweighted_and_fails_batch_verify(P, big):
    acc, xs, ws = big
    y1, y2 = reps(b"never-added", 2)
    g1, g2 = bezout_forgery(P, acc.value, y1, y2)
    forged = [(g1, y1, acc.value), (g2, y2, acc.value)]
    ok, _, _ = _unweighted_check(P, forged)
    assert ok, "the paper's unweighted check accepts two non-members"
    assert not edgeacc.verify_membership(P, g1, y1, acc.value)
    assert not edgeacc.verify_membership(P, g2, y2, acc.value)
    # threads=1: both forged items meet in one weighted product (with threads=2 they would
    # be checked in separate groups, where the forgery fails even without weights)
    assert edgeacc.batch_verify(P, forged, threads=1) == [0, 1]
    # hidden among honest items, as an attacker would send them
    honest = [(w, x, acc.value) for w, x in zip(ws[:6], xs[:6])]
    mixed = honest[:2] + forged + honest[2:]
    assert _unweighted_check(P, mixed)[0]
    for threads in (1, 2):
        assert edgeacc.batch_verify(P, mixed, threads=threads) == [2, 3]


def test_minus_one_trick_single_and_batch_agree(P, big):
    """A witness times -1 (and a value times -1) is the same element of Z_N^*/{+-1}: single
    and batch verification both accept; a wrong witness times -1 both reject."""
    acc, xs, ws = big
    for w, x, v, expect in [
        (P.n - ws[0], xs[0], acc.value, True),
        (ws[1], xs[1], P.n - acc.value, True),
        (P.n - ws[2], xs[2], P.n - acc.value, True),
        (P.n - ws[3], xs[4], acc.value, False),
    ]:
        single = edgeacc.verify_membership(P, w, x, v)
        assert single is expect
        items = [(w, x, v)] + [(ws[k], xs[k], acc.value) for k in range(5, 12)]
        for threads in (1, 2):
            assert (edgeacc.batch_verify(P, items, threads=threads) == []) is single
        assert (_batch_verify_with_weights(P, items, [2 ** 64 + 1] * 8) == []) is single


def test_order_two_element_is_rejected_like_single(known):
    """u with u^2 = 1, u != +-1 (here from the known factors): w*u fails alone. Even weights
    would hide it (u^r = 1); the verifier's weights are odd, so the batch rejects it too."""
    Pk, p, q = known
    n = Pk.n
    u = (1 + p * (int(gmpy2.invert(p, q)) * (q - 2) % q)) % n      # u = 1 mod p, -1 mod q
    assert u * u % n == 1 and u not in (1, n - 1)
    acc = edgeacc.Accumulator(Pk, Pk.generator(b"order2"))
    xs = reps(b"k", 4)
    acc.add_many(xs)
    ws = acc.all_witnesses()
    bad = ws[0] * u % n
    items = [(bad, xs[0], acc.value)] + [(w, x, acc.value) for w, x in zip(ws[1:], xs[1:])]
    assert not edgeacc.verify_membership(Pk, bad, xs[0], acc.value)
    for _ in range(5):
        assert edgeacc.batch_verify(Pk, items, threads=1) == [0]
    # the test can fail: with an even weight on that item the weighted check passes
    assert _batch_verify_with_weights(Pk, items, [2, 3, 5, 7]) == []


def test_weights_are_fresh_odd_and_sized():
    a, b = _weights(64, 128), _weights(64, 128)
    assert a != b
    assert all(r % 2 == 1 and 0 < r < 2 ** 128 for r in a + b)
    assert max(r.bit_length() for r in a) > 120
    assert all(r < 2 ** 64 for r in _weights(8, 64))


def test_unweighted_check_counts_protocol3_operations(P, big):
    """The paper's t = 8 claim: one 2^8 table (247 products) and one chain of |x| squarings."""
    acc, xs, ws = big
    items = [(w, x, acc.value) for w, x in zip(ws[:8], xs[:8])]
    ok, mul, sqr = _unweighted_check(P, items)
    assert ok
    bits = max(x.bit_length() for x in xs[:8])
    assert sqr == bits - 1
    assert 247 + 7 <= mul <= 247 + 7 + bits


def test_operation_counts_of_the_weighted_check(P, big):
    acc, xs, ws = big
    items = [(w, x, acc.value) for w, x in zip(ws[:16], xs[:16])]
    failed, mul, sqr = _batch_verify_with_weights(P, items, _weights(16, 128), count_ops=True,
                                                  strategy="weighted")
    assert failed == []
    assert 256 + 120 <= sqr <= 256 + 130            # one chain over |x| + |r| bits
    assert mul < 16 * 100                            # vs ~300 operations per independent check


@pytest.mark.parametrize("build,exc", [
    (lambda P, w, x, v: [(0, x, v)], InvalidElement),
    (lambda P, w, x, v: [(1, x, v)], InvalidElement),
    (lambda P, w, x, v: [(P.n - 1, x, v)], InvalidElement),
    (lambda P, w, x, v: [(P.n + w, x, v)], InvalidElement),
    (lambda P, w, x, v: [(w, x, 1)], InvalidElement),
    (lambda P, w, x, v: [(w, x, 2 * P.n)], InvalidElement),
    (lambda P, w, x, v: [(w, x, v), (w, 0, v)], InvalidExponent),
    (lambda P, w, x, v: [(w, -x, v)], InvalidExponent),
    (lambda P, w, x, v: [(w, x)], EdgeaccTypeError),
    (lambda P, w, x, v: [(w, float(x), v)], EdgeaccTypeError),
    (lambda P, w, x, v: [("w", x, v)], EdgeaccTypeError),
    (lambda P, w, x, v: "items", EdgeaccTypeError),
])
def test_malformed_items_raise_like_verify_membership(P, big, build, exc):
    acc, xs, ws = big
    items = build(P, ws[0], xs[0], acc.value)
    with pytest.raises(exc):
        edgeacc.batch_verify(P, items)
    if isinstance(items, list) and len(items) == 1 and len(items[0]) == 3:
        with pytest.raises(exc):                     # single verification agrees
            edgeacc.verify_membership(P, *items[0])


def test_non_coprime_element_rejected(known):
    Pk, p, q = known
    acc = edgeacc.Accumulator(Pk, Pk.generator(b"nc"))
    x = reps(b"nc", 1)[0]
    acc.add(x)
    with pytest.raises(InvalidElement, match="witness 1"):
        edgeacc.batch_verify(Pk, [(acc.witness(0), x, acc.value), (p, x, acc.value)])
    with pytest.raises(InvalidElement):
        edgeacc.batch_verify(Pk, [(acc.witness(0), x, 3 * q)])


def test_bad_security_and_threads(P, big):
    acc, xs, ws = big
    items = [(ws[0], xs[0], acc.value)]
    for bad in (0, 32, 63, 2048):
        with pytest.raises(InvalidArgument):
            edgeacc.batch_verify(P, items, security=bad)
    with pytest.raises(EdgeaccTypeError):
        edgeacc.batch_verify(P, items, security=128.0)
    with pytest.raises(InvalidArgument):
        edgeacc.batch_verify(P, items, threads=0)
    with pytest.raises(EdgeaccTypeError):
        edgeacc.batch_verify(P.n, items)
    assert edgeacc.batch_verify(P, items, security=64) == []
    assert edgeacc.batch_verify(P, items, security=256) == []


def test_releases_the_gil(P, big):
    """Two Python threads run batch verification concurrently and both results are right."""
    from concurrent.futures import ThreadPoolExecutor

    acc, xs, ws = big
    items = [(w, x, acc.value) for w, x in zip(ws[:64], xs[:64])]
    bad = list(items)
    bad[7] = (ws[8], xs[7], acc.value)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(edgeacc.batch_verify, P, it, threads=1) for it in (items, bad) * 2]
        results = [f.result() for f in futures]
    assert results == [[], [7], [], [7]]
