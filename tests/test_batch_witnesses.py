"""Batch witness generation (Protocol 2 improved, RootFactory), all witnesses, batch
witness update, Shamir's trick and set aggregation."""
import pytest
from hypothesis import given, strategies as st

import edgeacc
from helpers import reps
from edgeacc import _core
from edgeacc.errors import EdgeaccTypeError, InvalidArgument, InvalidElement, InvalidExponent



@pytest.fixture(scope="module")
def chunked(P):
    """37 elements added as single adds and add_many chunks: many checkpoints."""
    acc = edgeacc.Accumulator(P, P.generator(b"wit"))
    xs = reps(b"w", 37)
    acc.add_many(xs[:10])
    for x in xs[10:15]:
        acc.add(x)
    acc.add_many(xs[15:30])
    acc.add_many(xs[30:])
    return acc, xs


def test_all_witnesses_equal_single_witnesses(P, chunked):
    acc, xs = chunked
    singles = [acc.witness(i) for i in range(len(xs))]
    for threads in (1, 2, 3):
        assert acc.all_witnesses(threads=threads) == singles
    for arity in (2, 3, 4, 8):
        assert edgeacc.root_factory(P, acc.g, xs, arity=arity, threads=1) == singles
    assert edgeacc.batch_verify(P, [(w, x, acc.value) for w, x in zip(singles, xs)]) == []


@given(data=st.data())
def test_witnesses_of_any_subset(P, chunked, data):
    acc, xs = chunked
    idx = data.draw(st.lists(st.integers(0, len(xs) - 1), max_size=12))
    ws = acc.witnesses(idx, threads=data.draw(st.sampled_from([1, 2, None])))
    assert ws == [acc.witness(i) for i in idx]              # order kept, repeats allowed


def test_witness_edge_cases(P, chunked):
    acc, xs = chunked
    assert acc.witnesses([]) == []
    assert acc.witnesses([36]) == [acc.witness(36)]
    assert acc.witnesses(range(3)) == [acc.witness(i) for i in range(3)]
    empty = edgeacc.Accumulator(P, P.generator(b"empty"))
    assert empty.all_witnesses() == []
    one = edgeacc.Accumulator(P, P.generator(b"one"))
    one.add(xs[0])
    assert one.all_witnesses() == [one.g] == [one.witness(0)]
    with pytest.raises(InvalidArgument):
        acc.witnesses([37])
    with pytest.raises(InvalidArgument):
        acc.witnesses([-1])
    with pytest.raises(EdgeaccTypeError):
        acc.witnesses([0.0])
    with pytest.raises(EdgeaccTypeError):
        acc.witnesses(5)
    with pytest.raises(InvalidArgument):
        acc.all_witnesses(threads=0)


def test_batch_witness_update(P):
    acc = edgeacc.Accumulator(P, P.generator(b"upd"))
    xs = reps(b"u", 12)
    acc.add_many(xs[:8])
    old = acc.all_witnesses()
    since = len(acc)
    acc.add_many(xs[8:10])
    acc.add(xs[10])
    acc.add(xs[11])
    for threads in (1, 2):
        new = acc.updated_witnesses(old, since, threads=threads)
        assert new == [acc.witness(i) for i in range(8)]
    assert edgeacc.update_witnesses(P, old, xs[8:]) == new
    assert edgeacc.update_witnesses(P, old, []) == old
    # the appended elements' own witnesses, from the stored prefix
    assert acc.witnesses(range(since, len(acc))) == [acc.witness(i) for i in range(since, 12)]
    assert edgeacc.batch_verify(P, [(w, x, acc.value) for w, x in zip(acc.all_witnesses(), xs)]) == []
    with pytest.raises(InvalidArgument):
        edgeacc.update_witnesses(P, old, [4])
    with pytest.raises(InvalidElement):
        edgeacc.update_witnesses(P, [0], xs[8:])


def test_shamir_trick(P, chunked):
    acc, xs = chunked
    wa, wb = acc.witness(3), acc.witness(20)
    w = edgeacc.shamir_trick(P, wa, xs[3], wb, xs[20])
    assert edgeacc.verify_membership(P, w, xs[3] * xs[20], acc.value)
    assert not edgeacc.verify_membership(P, w, xs[3] * xs[21], acc.value)
    # -w inputs: still a witness of the product in Z_N^*/{+-1}
    w2 = edgeacc.shamir_trick(P, P.n - wa, xs[3], wb, xs[20])
    assert edgeacc.verify_membership(P, w2, xs[3] * xs[20], acc.value)
    # a wrong input yields a witness that does not verify
    bad = edgeacc.shamir_trick(P, acc.witness(4), xs[3], wb, xs[20])
    assert not edgeacc.verify_membership(P, bad, xs[3] * xs[20], acc.value)
    with pytest.raises(InvalidArgument, match="coprime"):
        edgeacc.shamir_trick(P, wa, xs[3], wa, xs[3])
    with pytest.raises(InvalidElement):
        edgeacc.shamir_trick(P, 1, xs[3], wb, xs[20])
    with pytest.raises(InvalidExponent):
        edgeacc.shamir_trick(P, wa, 0, wb, xs[20])


@pytest.mark.parametrize("subset", [[5], [0, 36], list(range(0, 37, 3)), list(range(37))])
def test_aggregate_witnesses_and_aggregate_witness(P, chunked, subset):
    acc, xs = chunked
    pairs = [(acc.witness(i), xs[i]) for i in subset]
    w, X = edgeacc.aggregate_witnesses(P, pairs)
    assert X == _core.product([xs[i] for i in subset])
    assert edgeacc.verify_membership(P, w, X, acc.value)
    direct = acc.aggregate_witness(subset)
    assert edgeacc.verify_membership(P, direct, X, acc.value)
    assert _core.canonical(direct, P.n) == _core.canonical(w, P.n)   # one element: the root
    with pytest.raises(InvalidArgument):
        edgeacc.aggregate_witnesses(P, [])
    with pytest.raises(InvalidArgument):
        acc.aggregate_witness([])


def test_aggregate_rejects_repeated_elements(P, chunked):
    acc, xs = chunked
    with pytest.raises(InvalidArgument, match="coprime"):
        edgeacc.aggregate_witnesses(P, [(acc.witness(1), xs[1]), (acc.witness(1), xs[1])])


def test_root_factory_threads_release_gil(P):
    from concurrent.futures import ThreadPoolExecutor

    xs = reps(b"g", 24)
    g = P.generator(b"gil")
    want = edgeacc.root_factory(P, g, xs, threads=1)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(edgeacc.root_factory, P, g, xs, threads=t) for t in (1, 2, 1, 2)]
        assert [f.result() for f in futures] == [want] * 4


def test_powm_shared_base_matches_pow(P):
    g = P.generator(b"shared")
    exps = [0, 1, 3, 2 ** 300 + 5, 2 ** 4000 - 1]
    assert _core.powm_shared_base(g, exps, P.n) == [pow(g, e, P.n) for e in exps]
    with pytest.raises(InvalidElement):
        _core.powm_shared_base(0, [1], P.n)
    with pytest.raises(InvalidExponent):
        _core.powm_shared_base(g, [-1], P.n)


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 17, 40])
def test_root_factory_thread_counts_and_sizes(toy, n):
    """Every thread count (binary levels down to >= threads nodes, then a dynamic pool)
    gives the same witnesses as the sequential tree, around the parallel cut-off too."""
    xs = reps(b"sz", n)
    g = toy.generator(b"sizes")
    want = edgeacc.root_factory(toy, g, xs, threads=1)
    v = _core.powm_product(g, xs, toy.n)
    assert all(edgeacc.verify_membership(toy, w, x, v) for w, x in zip(want, xs))
    for threads in (2, 3, 5, 8):
        for arity in (0, 2, 5):
            assert edgeacc.root_factory(toy, g, xs, threads=threads, arity=arity) == want
