"""Multi-exponentiation: every method and parameter equals the naive product of pow()."""
import doctest
import random

import pytest
from hypothesis import example, given, strategies as st

import edgeacc
import edgeacc.batch
from edgeacc import _core
from edgeacc.errors import EdgeaccTypeError, InvalidArgument, InvalidElement, InvalidExponent


def naive(n, bases, exps):
    r = 1
    for b, e in zip(bases, exps):
        r = r * pow(b, e, n) % n
    return r


def random_case(n, t, bits, seed):
    rng = random.Random(seed)
    return [rng.randrange(n) for _ in range(t)], [rng.getrandbits(bits) for _ in range(t)]


@pytest.mark.parametrize("method,params", [
    ("auto", [0]),
    ("tables", [0, 1, 2, 3, 6, 8]),
    ("window", [0, 1, 2, 4, 5, 7]),
    ("buckets", [0, 2, 5, 8]),
])
@pytest.mark.parametrize("t", [1, 2, 5, 8, 13, 40])
def test_every_method_matches_naive(P, method, params, t):
    bases, exps = random_case(P.n, t, 384, t)
    want = naive(P.n, bases, exps)
    for p in params:
        for threads in (1, 2, 3):
            assert edgeacc.multi_exp(P, bases, exps, method=method, param=p, threads=threads) == want


@given(data=st.data(), t=st.integers(0, 20), n_small=st.booleans())
@example(data=None, t=0, n_small=False)
def test_multi_exp_property(P, toy, data, t, n_small):
    Q = toy if n_small else P
    if data is None:
        bases, exps = [], []
    else:
        bases = data.draw(st.lists(st.integers(0, Q.n - 1), min_size=t, max_size=t))
        exps = data.draw(st.lists(st.integers(0, 2 ** 300), min_size=t, max_size=t))
    assert edgeacc.multi_exp(Q, bases, exps) == naive(Q.n, bases, exps)


def test_edge_values(P):
    n = P.n
    assert edgeacc.multi_exp(P, [], []) == 1
    assert edgeacc.multi_exp(P, [0, 5], [3, 2]) == 0          # a zero base with e > 0
    assert edgeacc.multi_exp(P, [0, 5], [0, 2]) == 25         # 0^0 = 1
    assert edgeacc.multi_exp(P, [n - 1, 7], [1, 0]) == n - 1
    assert edgeacc.multi_exp(P, [2], [1 << 4000]) == pow(2, 1 << 4000, n)


def test_fixed_base_table_is_reusable(P):
    bases, _ = random_case(P.n, 11, 1, 3)
    for c in (1, 4, 6, 11):
        table = edgeacc.MultiExpTable(P, bases, group_size=c)
        assert len(table) == 11 and table.group_size == c
        for seed in range(3):
            _, exps = random_case(P.n, 11, 256, 100 + seed)
            assert table.eval(exps) == naive(P.n, bases, exps)
            assert table.eval(exps, threads=2) == naive(P.n, bases, exps)
    with pytest.raises(InvalidArgument):
        table.eval([1, 2])
    with pytest.raises(InvalidExponent):
        table.eval([-1] + [1] * 10)
    with pytest.raises(InvalidArgument):
        edgeacc.MultiExpTable(P, [], group_size=4)
    with pytest.raises(InvalidArgument):
        edgeacc.MultiExpTable(P, [3], group_size=0)


def test_operation_counts_follow_the_method(P):
    """The 2^t table for t = 8 costs 2^8 - 8 - 1 products; one chain of |x| squarings."""
    bases, exps = random_case(P.n, 8, 256, 5)
    exps[0] |= 1 << 255
    r, mul, sqr = _core.multi_exp(bases, exps, P.n, _core.MEXP_TABLES, 8, 1, True)
    assert r == naive(P.n, bases, exps)
    assert sqr == 255
    assert 247 <= mul <= 247 + 256


@pytest.mark.parametrize("call,exc", [
    (lambda P: edgeacc.multi_exp(P, [P.n], [1]), InvalidElement),
    (lambda P: edgeacc.multi_exp(P, [-1], [1]), InvalidElement),
    (lambda P: edgeacc.multi_exp(P, [3], [-1]), InvalidExponent),
    (lambda P: edgeacc.multi_exp(P, [3, 4], [1]), InvalidArgument),
    (lambda P: edgeacc.multi_exp(P, [3], [1], method="magic"), InvalidArgument),
    (lambda P: edgeacc.multi_exp(P, [3], [1], method="window", param=99), InvalidArgument),
    (lambda P: edgeacc.multi_exp(P, [3], [1], threads=0), InvalidArgument),
    (lambda P: edgeacc.multi_exp(P, [3.0], [1]), EdgeaccTypeError),
    (lambda P: edgeacc.multi_exp(P, ["3"], [1]), EdgeaccTypeError),
    (lambda P: edgeacc.multi_exp(P.n, [3], [1]), EdgeaccTypeError),
    (lambda P: _core.multi_exp([3], [1], 10), edgeacc.errors.InvalidModulus),
])
def test_bad_input(P, call, exc):
    with pytest.raises(exc):
        call(P)


def test_cost_model_picks_by_size():
    assert _core.mexp_choose(1, 256)[0] == _core.MEXP_WINDOW
    assert _core.mexp_choose(64, 384)[0] == _core.MEXP_TABLES
    assert _core.mexp_choose(4096, 384)[0] == _core.MEXP_BUCKETS


def test_gmpy2_inputs(P):
    gmpy2 = pytest.importorskip("gmpy2")
    assert edgeacc.multi_exp(P, [gmpy2.mpz(3)], [gmpy2.mpz(5)]) == 243


def test_batch_module_doctests():
    result = doctest.testmod(edgeacc.batch)
    assert result.attempted > 0 and result.failed == 0
