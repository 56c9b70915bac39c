"""pytest-benchmark comparison for issue 2, one run, one machine:

    python -m pytest bench/test_compare_core.py --benchmark-enable --benchmark-group-by=group

Each group pairs edgeacc with the gmpy2 call a Python user would otherwise write. No timing
is asserted; the results check only that both sides compute the same thing.
"""
import gmpy2
import pytest

import edgeacc

from .common import P, digests, rng

R = rng()
BASE = R.randrange(2, P.n - 1)
EXP256 = R.getrandbits(256) | (1 << 255)
INPUTS = digests(100)
INTS = [int.from_bytes(d, "big") for d in INPUTS]
REPS = [edgeacc.hash_to_prime(d) for d in INPUTS]


@pytest.mark.benchmark(group="powm 2048-bit N, 256-bit exponent")
@pytest.mark.parametrize("impl", ["edgeacc", "gmpy2"])
def test_powm(benchmark, impl):
    fn = edgeacc.powm if impl == "edgeacc" else gmpy2.powmod
    assert benchmark(fn, BASE, EXP256, P.n) == pow(BASE, EXP256, P.n)


@pytest.mark.benchmark(group="membership verification")
@pytest.mark.parametrize("impl", ["edgeacc", "gmpy2"])
def test_verify(benchmark, impl):
    acc = edgeacc.Accumulator(P, P.generator(b"cmp"))
    acc.add_many([x for x, _ in REPS[:3]])
    w, x, v = acc.witness(1), REPS[1][0], acc.value

    def gmpy2_verify():
        r = gmpy2.powmod(w, x, P.n)
        return r == v or r == P.n - v

    fn = (lambda: edgeacc.verify_membership(P, w, x, v)) if impl == "edgeacc" else gmpy2_verify
    assert benchmark(fn)


@pytest.mark.benchmark(group="hash to prime (100 digests)")
@pytest.mark.parametrize("impl", ["edgeacc.hash_to_prime", "gmpy2.next_prime", "edgeacc.check_representative"])
def test_hash_to_prime(benchmark, impl):
    if impl == "edgeacc.hash_to_prime":
        out = benchmark(lambda: [edgeacc.hash_to_prime(d) for d in INPUTS])
        assert out == REPS
    elif impl == "gmpy2.next_prime":
        out = benchmark(lambda: [gmpy2.next_prime(i) for i in INTS])
        assert all(gmpy2.is_prime(p) for p in out)
    else:
        out = benchmark(lambda: [edgeacc.check_representative(d, x, k) for d, (x, k) in zip(INPUTS, REPS)])
        assert all(out)
