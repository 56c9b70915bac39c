"""ea_mont's two kernels (csrc/ea_mont.c): GMP's mpn calls and the mulx/adcx/adox rows of
csrc/ea_mulx.h for 32-limb moduli. Products and squares agree limb for limb with each other and
with gmpy2, on the edge and carry-heavy values (all-ones limbs), and the engine operations on
ea_mont (multi-exponentiation by every method, subset tables, batch_verify, root_factory,
powm_shared_base) are gmpy2's answers. test_portable_path_reruns_the_engine_tests runs this file
again with EDGEACC_PORTABLE=1, where every context takes the GMP kernel."""
import math
import random

import gmpy2
import pytest
from hypothesis import example, given, settings, strategies as st

import edgeacc
from edgeacc import _core, errors

P = edgeacc.Params.rsa2048()
N = P.n
R = 1 << 2048
ONES = R - 1                                 # every limb all ones: the longest carry runs
MULX = edgeacc.build_info()["mont"] == "mulx"
KERNELS = ["auto", "gmp"] + (["mulx"] if MULX else [])
# 32-limb moduli: the RSA one, all-ones limbs, a top limb of 1 (1985 bits), R - 189, and the
# smallest top-heavy one; 2^1984 - 1 has 31 limbs (the GMP kernel only).
MODULI = [N, R - 1, (1 << 1984) + 1, R - 189, (1 << 2047) + 1]


def kernels_for(n: int) -> list[str]:
    """The kernels to compare for n: the mulx rows take 32-limb moduli only."""
    return [k for k in KERNELS if k != "mulx" or (n.bit_length() + 63) // 64 == 32]


def want(a: int, b: int, n: int) -> int:
    limbs = (n.bit_length() + 63) // 64
    return int(a * b * gmpy2.invert(1 << (64 * limbs), n) % n)


def edge_values(n: int) -> list[int]:
    limbs = (n.bit_length() + 63) // 64
    top = (1 << (64 * limbs)) - 1
    vals = [0, 1, 2, n - 1, n - 2, n, n + 1, top, top - 1, top ^ (1 << 1000), 1 << (64 * limbs - 1)]
    return [v for v in vals if v <= top]


def mont_mul(a: int, b: int, n: int, kernel: str) -> int:
    r = _core._mont_mul(a, b, n, kernel)
    limbs = (n.bit_length() + 63) // 64
    assert 0 <= r < 1 << (64 * limbs)
    assert r % n == want(a, b, n)
    if a * b < n << (64 * limbs):            # REDC's range: a reduced result
        assert r < n
    return r


@pytest.mark.parametrize("n", MODULI)
def test_edge_values_on_every_kernel(n):
    """0, 1, N-1, N, values >= N up to R-1 (all-ones limbs): products and squares are the same
    limbs on every kernel, and the right class mod N."""
    vals = edge_values(n)
    for a in vals:
        for b in vals:
            got = {k: mont_mul(a, b, n, k) for k in KERNELS}
            assert len(set(got.values())) == 1, (a, b, got)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, ONES), st.integers(0, ONES), st.sampled_from(MODULI + [(1 << 1984) - 1]))
@example(ONES, ONES, R - 1)
@example(ONES, ONES, N)
@example(N - 1, N - 1, N)
def test_products_and_squares_are_gmpy2s(a, b, n):
    limbs = (n.bit_length() + 63) // 64
    a %= 1 << (64 * limbs)
    b %= 1 << (64 * limbs)
    prods = {mont_mul(a, b, n, k) for k in kernels_for(n)}
    sqrs = {mont_mul(a, a, n, k) for k in kernels_for(n)}
    assert len(prods) == 1 and len(sqrs) == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0, (1 << 64) - 1, 1, 1 << 63]), min_size=32, max_size=32),
       st.lists(st.sampled_from([0, (1 << 64) - 1, 1, 1 << 63]), min_size=32, max_size=32))
def test_limb_patterns_with_long_carry_runs(la, lb):
    """Inputs built limb by limb from 0, 1, 2^63 and all-ones limbs: the carry chains of both
    halves of every mulx row run long or stop at every place."""
    a = sum(v << (64 * i) for i, v in enumerate(la))
    b = sum(v << (64 * i) for i, v in enumerate(lb))
    for n in (N, R - 1):
        assert len({mont_mul(a, b, n, k) for k in KERNELS}) == 1
        assert len({mont_mul(a, a, n, k) for k in KERNELS}) == 1


def test_kernel_names_and_bad_arguments():
    if not MULX:
        with pytest.raises(errors.InvalidArgument):
            _core._mont_mul(3, 5, N, "mulx")
    with pytest.raises(errors.InvalidArgument):       # the rows take 32-limb moduli only
        _core._mont_mul(3, 5, (1 << 1984) - 1, "mulx")
    with pytest.raises(errors.InvalidArgument):
        _core._mont_mul(3, 5, N, "fast")
    with pytest.raises(errors.InvalidArgument):
        _core._mont_mul(R, 5, N, "gmp")                # a >= R
    with pytest.raises(errors.InvalidArgument):
        _core._mont_mul(-1, 5, N, "gmp")
    with pytest.raises(errors.InvalidModulus):
        _core._mont_mul(3, 5, N + 1, "gmp")


# ---- the engine operations on ea_mont, against gmpy2 (on the kernel this process uses) ----

rng = random.Random(13)
XS = [edgeacc.hash_to_prime(b"mont-%d" % i)[0] for i in range(24)]
units = st.integers(2, N - 2).filter(lambda y: math.gcd(y, N) == 1)


def prod_powmod(bases, exps, n):
    acc = gmpy2.mpz(1)
    for b, e in zip(bases, exps):
        acc = acc * gmpy2.powmod(b, e, n) % n
    return int(acc)


@settings(max_examples=20, deadline=None)
@given(st.lists(units, min_size=1, max_size=12), st.data())
def test_multi_exp_every_method_is_gmpy2s(bases, data):
    exps = data.draw(st.lists(st.integers(0, 1 << 300), min_size=len(bases), max_size=len(bases)))
    w = prod_powmod(bases, exps, N)
    for method in (_core.MEXP_AUTO, _core.MEXP_TABLES, _core.MEXP_WINDOW, _core.MEXP_BUCKETS):
        for threads in (1, 2):
            assert _core.multi_exp(bases, exps, N, method=method, threads=threads) == w


@pytest.mark.parametrize("n", [N, R - 1, (1 << 1984) + 1])
def test_multi_exp_carry_heavy_bases(n):
    """Bases of all-ones limbs (N - 1 = R - 2 for N = R - 1) and near-N, 2048-bit exponents."""
    bases = [n - 1, n - 2, (1 << 2047) % n, ((1 << 2048) - 1) % n, 2, n - 3]
    exps = [(1 << 2048) - 1, (1 << 1024) + 1, 12345, (1 << 2047) - 1, 3, 1 << 2000]
    w = prod_powmod(bases, exps, n)
    for method in (_core.MEXP_TABLES, _core.MEXP_WINDOW, _core.MEXP_BUCKETS):
        assert _core.multi_exp(bases, exps, n, method=method) == w
    assert _core.MultiExpTable(bases, n, group_size=3).eval(exps) == w


def test_subset_tables_are_gmpy2s():
    bases = [rng.randrange(2, N - 1) for _ in range(13)]
    table = _core.MultiExpTable(bases, N, group_size=4)
    for _ in range(4):
        exps = [rng.randrange(1 << 260) for _ in bases]
        assert table.eval(exps, threads=2) == prod_powmod(bases, exps, N)


def test_batch_verify_finds_exactly_the_bad_items():
    g = P.generator(b"mont-batch")
    total = math.prod(XS)
    v = int(gmpy2.powmod(g, total, N))
    ws = [int(gmpy2.powmod(g, total // x, N)) for x in XS]
    bad = {3, 17}
    for j in bad:
        ws[j] = ws[j] * 4 % N
    rs = [rng.randrange(1, 1 << 128) for _ in XS]
    for threads in (1, 2):
        failed = _core.batch_verify(ws, XS, rs, [0] * len(XS), [v], N, threads=threads,
                                    strategy=_core.BATCH_WEIGHTED)
        assert set(failed) == bad


@pytest.mark.parametrize("threads", [1, 2])
def test_root_factory_and_shared_base_are_gmpy2s(threads):
    g = P.generator(b"mont-rf")
    total = math.prod(XS)
    assert edgeacc.root_factory(P, g, XS, threads=threads) == [
        int(gmpy2.powmod(g, total // x, N)) for x in XS]
    exps = [rng.randrange(1 << 2100) for _ in range(9)] + [1, (1 << 2048) - 1]
    assert _core.powm_shared_base(g, exps, N) == [int(gmpy2.powmod(g, e, N)) for e in exps]


def test_generated_square_is_up_to_date():
    """csrc/ea_mulx_sqr.h is tools/gen_mulx_sqr.py's output (edit the generator, not the file)."""
    import importlib.util
    import io
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("gen_mulx_sqr", root / "tools" / "gen_mulx_sqr.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out = io.StringIO()
    gen.main(out)
    assert out.getvalue() == (root / "csrc" / "ea_mulx_sqr.h").read_text()
