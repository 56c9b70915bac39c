"""pytest-benchmark comparison for issue 3 (batch engine), one run, one machine:

    python -m pytest bench/test_compare_batch.py --benchmark-enable --benchmark-group-by=group

Each group pairs edgeacc with the gmpy2 baseline of bench/baseline_gmpy2.py. No timing is
asserted; every benchmark checks that both sides compute the same thing.
"""
import gmpy2
import pytest

import edgeacc
from edgeacc.batch import _unweighted_check

from . import baseline_gmpy2 as base
from .common import P, QUICK, digests, rng

XS = [edgeacc.hash_to_prime(d)[0] for d in digests(1024, seed=3)]


def accumulator(n, tag):
    acc = edgeacc.Accumulator(P, P.generator(tag))
    acc.add_many(XS[:n])
    return acc


_ITEMS = {}


def items(t):
    if t not in _ITEMS:
        acc = accumulator(t, b"cmp-%d" % t)
        _ITEMS[t] = [(w, x, acc.value) for w, x in zip(acc.all_witnesses(), XS[:t])]
    return _ITEMS[t]


@pytest.mark.parametrize("t", [8, 16, 1024])
@pytest.mark.parametrize("impl", ["edgeacc", "edgeacc-2threads", "gmpy2-independent"])
def test_batch_verify(benchmark, t, impl):
    benchmark.group = f"batch verification, t = {t}, one accumulator"
    its = items(t)
    if impl == "gmpy2-independent":
        assert benchmark(base.independent_verify, P.n, its) == []
    else:
        threads = 2 if impl.endswith("2threads") else 1
        assert benchmark(edgeacc.batch_verify, P, its, threads=threads) == []


@pytest.mark.parametrize("impl", ["protocol3-edgeacc", "protocol3-gmpy2", "weighted-edgeacc",
                                  "independent-gmpy2"])
def test_paper_t8(benchmark, impl):
    """The paper's t = 8 comparison (Protocol 3 is forgeable; shown for the record)."""
    benchmark.group = "paper t = 8: Protocol 3 vs sound batch vs independent"
    its = items(8)
    if impl == "protocol3-edgeacc":
        ok, mul, sqr = benchmark(_unweighted_check, P, its)
        benchmark.extra_info["mults+sqrs"] = mul + sqr
        assert ok
    elif impl == "protocol3-gmpy2":
        ok, mul, sqr = benchmark(base.protocol3_unweighted, P.n, its)
        benchmark.extra_info["mults+sqrs"] = mul + sqr
        assert ok
    elif impl == "weighted-edgeacc":
        assert benchmark(edgeacc.batch_verify, P, its, threads=1) == []
    else:
        assert benchmark(base.independent_verify, P.n, its) == []


@pytest.mark.parametrize("t", [8, 64])
@pytest.mark.parametrize("impl", ["edgeacc", "gmpy2"])
def test_multi_exp(benchmark, t, impl):
    benchmark.group = f"multi-exponentiation, t = {t}, 384-bit exponents"
    r = rng()
    bases = [r.randrange(2, P.n - 1) for _ in range(t)]
    exps = [r.getrandbits(384) for _ in range(t)]
    want = base.multi_exp(P.n, bases, exps)
    if impl == "edgeacc":
        assert benchmark(edgeacc.multi_exp, P, bases, exps) == want
    else:
        assert benchmark(base.multi_exp, P.n, bases, exps) == want


@pytest.mark.parametrize("n", [64, 256] if QUICK else [64, 256, 1024])
@pytest.mark.parametrize("impl", ["edgeacc-1thread", "edgeacc-2threads", "gmpy2-rootfactory",
                                  "gmpy2-naive"])
def test_all_witnesses(benchmark, n, impl):
    benchmark.group = f"all witnesses, n = {n}"
    acc = accumulator(n, b"aw-%d" % n)
    if impl == "gmpy2-naive":
        if n > 256:
            pytest.skip("naive is quadratic; see bench/measure_batch.py for the extrapolation")
        out = benchmark.pedantic(base.naive_all_witnesses, (P.n, acc.g, XS[:n]), rounds=1)
    elif impl == "gmpy2-rootfactory":
        out = benchmark.pedantic(base.root_factory, (P.n, acc.g, XS[:n]), rounds=1)
    else:
        threads = 2 if impl.endswith("2threads") else 1
        out = benchmark(acc.all_witnesses, threads=threads)
    assert out[:3] == [acc.witness(i) for i in range(3)]


@pytest.mark.parametrize("n", [100, 1000])
@pytest.mark.parametrize("impl", ["add_many", "add-loop", "gmpy2-add_many", "gmpy2-add-loop"])
def test_batch_add(benchmark, n, impl):
    benchmark.group = f"append n = {n} elements"
    g = P.generator(b"add")
    want = base.add_many(P.n, g, XS[:n])

    def add_loop():
        acc = edgeacc.Accumulator(P, g)
        for x in XS[:n]:
            acc.add(x)
        return acc.value

    fn = {
        "add_many": lambda: edgeacc.Accumulator(P, g).add_many(XS[:n]),
        "add-loop": add_loop,
        "gmpy2-add_many": lambda: base.add_many(P.n, g, XS[:n]),
        "gmpy2-add-loop": lambda: base.add_single(P.n, g, XS[:n]),
    }[impl]
    assert benchmark(fn) == want


def test_baseline_weighted_matches(benchmark):
    """The Python weighted batch baseline finds the same bad item as edgeacc."""
    benchmark.group = "weighted batch verification in Python (t = 64, one bad)"
    its = list(items(64))
    its[5] = (its[6][0], its[5][1], its[5][2])
    weights = [rng().getrandbits(128) | 1 for _ in its]
    assert benchmark(base.weighted_batch_verify, P.n, its, weights) == [5]
    assert edgeacc.batch_verify(P, its) == [5]
    assert gmpy2.mpz(its[0][0]) > 0
