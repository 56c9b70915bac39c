"""The fast kernels (csrc/ea_fastexp.c, issue 12) agree bit for bit with gmpy2 on every path:
OpenSSL single exponentiations, crypto_mb lanes (batch checks), the own IFMA lanes (RootFactory,
multi-exponentiations) and the portable GMP path, which test_portable_path_reruns_the_engine_tests
forces in a subprocess."""
import math
import os
import platform
import random
import subprocess
import sys

import gmpy2
import pytest
from hypothesis import example, given, settings, strategies as st

import edgeacc
from edgeacc import _core
from edgeacc.batch import STRATEGIES, _batch_verify_with_weights, _weights

P = edgeacc.Params.rsa2048()
N = P.n
XS = [edgeacc.hash_to_prime(b"fast-%d" % i)[0] for i in range(40)]
PORTABLE = os.environ.get("EDGEACC_PORTABLE") == "1"
IFMA = edgeacc.build_info()["multi_exp"] == "ifma"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cpu_flags() -> set[str] | None:
    """The CPU's flags as Linux reports them (None elsewhere): a second opinion beside cpuid."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return None


_FLAGS = _cpu_flags()
# Whether the mulx rows (csrc/ea_mulx.h) should be in use; None where this cannot be told.
MULX_CPU = None if _FLAGS is None else platform.machine() == "x86_64" and {"bmi2", "adx"} <= _FLAGS

units = st.integers(2, N - 2).filter(lambda y: math.gcd(y, N) == 1)


def test_build_info_names_the_paths_of_this_process():
    info = edgeacc.build_info()
    assert set(info) == {"lanes_compiled", "lanes_cpu", "portable", "single", "lanes", "multi_exp",
                         "mont", "prime"}
    assert info["portable"] is PORTABLE
    ifma = info["lanes_cpu"] and not PORTABLE
    assert info["single"] == ("gmp" if PORTABLE else "ifma" if ifma else "openssl")
    usable = info["lanes_compiled"] and info["lanes_cpu"] and not PORTABLE
    assert info["lanes"] == ("crypto_mb" if usable else None)
    assert info["multi_exp"] == ("ifma" if ifma else "gmp")
    if PORTABLE or MULX_CPU is not None:
        assert info["mont"] == ("mulx" if MULX_CPU and not PORTABLE else "gmp")
        assert info["prime"] == ("ifma" if ifma else "mulx" if MULX_CPU and not PORTABLE else "gmp")
    assert info["mont"] in ("mulx", "gmp") and info["prime"] in ("ifma", "mulx", "gmp")


class Big(int):
    """An int subclass: converted by value (operator.index), its own methods never run."""


@given(st.integers(-(1 << 4200), 1 << 4200), st.sampled_from([3, 2 ** 61 - 1, N, 2 ** 4099 - 1]),
       st.sampled_from([int, Big, gmpy2.mpz]))
@example(0, 3, int)
@example(-1, N, int)
@example(1 << 30, N, Big)
@example(-(1 << 30) + 1, N, int)
@example((1 << 60) - 1, N, int)
@example(1 << 64, N, gmpy2.mpz)
@example((1 << 120) - 1, N, int)
@example(-(1 << 128), N, int)
@example((1 << 2048) - 1, 2 ** 4099 - 1, Big)
def test_ints_reach_the_core_exactly(a, n, kind):
    """The digit-wise conversion (bindings/_core.pyx, ea_pylong_to_mpz): every sign and size,
    across digit and limb boundaries, as int, int subclass and gmpy2.mpz."""
    assert _core.jacobi(kind(a), n) == gmpy2.jacobi(a, n)
    if a > 0:
        assert _core.product([kind(a), kind(a + 1)]) == a * (a + 1)
    if 1 < a < N - 1:
        assert _core.canonical(kind(a), N) == min(a, N - a)


# 2048-bit and 1537-bit moduli take the own IFMA kernel (ea_ifma1.h) where the CPU has it,
# 1536-bit and 1024-bit ones OpenSSL; 2^2048 - 1 fills every limb.
MODULI = [N, N - 2, (1 << 2048) - 1, (1 << 1536) + 3, (1 << 1535) + 1, (1 << 1023) + 1]


@given(units, st.integers(1, 1 << 300) | st.integers(1, 1 << 5000), st.sampled_from(MODULI))
def test_powm_is_gmpy2_powmod(b, e, n):
    b %= n
    assert edgeacc.powm(b, e, n) == int(gmpy2.powmod(b, e, n))


@given(st.sampled_from([0, 1, 2, -1, -2]), st.sampled_from([1, 2, 3, (1 << 256) - 1, 1 << 2500]),
       st.sampled_from(MODULI))
def test_powm_edge_bases_and_exponents(b, e, n):
    b %= n
    assert edgeacc.powm(b, e, n) == int(gmpy2.powmod(b, e, n))


@given(units, st.sampled_from(XS), st.booleans(), st.booleans())
def test_verify_membership_is_the_powmod_check(w, x, holds, negate):
    v = int(gmpy2.powmod(w, x, N))
    if negate:
        v = N - v
    if not holds:
        v = v * 3 % N
    assert edgeacc.verify_membership(P, w, x, v) is (holds or v in (1, N - 1))


@given(st.lists(st.tuples(units, st.sampled_from(XS), st.integers(0, 3)), min_size=1,
                max_size=20))
def test_batch_verify_names_exactly_the_false_items(rows):
    """Lane-parallel independent checks for small t (the cost model's choice on a 2048-bit
    N), weighted test otherwise; the false items are exactly those gmpy2 rejects."""
    items, expect = [], []
    for j, (w, x, kind) in enumerate(rows):
        v = int(gmpy2.powmod(w, x, N))
        v = {0: v, 1: N - v, 2: v * w % N, 3: v}[kind]
        if kind == 3:           # a witness of another element: w^x' for x' != x
            x = XS[(XS.index(x) + 1) % len(XS)]
        r = int(gmpy2.powmod(w, x, N))
        if r != v and r != N - v:
            expect.append(j)
        items.append((w, x, v))
    assert edgeacc.batch_verify(P, items, threads=1) == expect
    assert edgeacc.batch_verify(P, items, threads=2) == expect
    for strategy in STRATEGIES:     # every strategy the cost model may pick, forced
        weights = _weights(len(items), 128)
        assert _batch_verify_with_weights(P, items, weights, 1, strategy=strategy) == expect
        assert _batch_verify_with_weights(P, items, weights, 2, strategy=strategy) == expect


@pytest.mark.parametrize("count", [1, 8, 33, 200])
@settings(max_examples=2)
@given(seed=st.integers(0, 2 ** 32))
def test_ifma_weighted_product_is_the_product_on_every_plan(count, seed):
    """The weighted product on the IFMA lanes by power tables (few bases: 2, 16, 66) or
    buckets (many: 400), as ea_ifma_cost's plan picks for count and threads, each item with
    its own value: all hold, or exactly the item off by a factor 3 is named."""
    rnd = random.Random(seed)
    ws = [rnd.randrange(2, N - 1) | 1 for _ in range(count)]
    xs = [XS[rnd.randrange(len(XS))] for _ in range(count)]
    vs = [int(gmpy2.powmod(w, x, N)) for w, x in zip(ws, xs)]
    es = [rnd.getrandbits(384) for _ in range(2 * count)]
    want = math.prod(int(gmpy2.powmod(b, e, N)) for b, e in zip(ws + vs, es)) % N
    for threads in (1, 2):      # the plan splits rounds and table groups over the threads
        assert _core._ifma_multi_exp(ws + vs, es, N, threads) == (want if IFMA else None)
    items = list(zip(ws, xs, vs))
    wrong = rnd.randrange(count)
    bad = list(items)
    bad[wrong] = (ws[wrong], xs[wrong], vs[wrong] * 3 % N)
    for threads in (1, 2):
        assert _batch_verify_with_weights(P, items, _weights(count, 128), threads,
                                          strategy="ifma") == []
        assert _batch_verify_with_weights(P, bad, _weights(count, 128), threads,
                                          strategy="ifma") == [wrong]


@given(groups=st.lists(st.tuples(st.integers(1, 8), st.sampled_from([0, 1, 5, 60, 132, 384, 700])),
                       min_size=1, max_size=5),
       threads=st.integers(1, 3), seed=st.integers(0, 2 ** 32))
def test_ifma_pipeline_on_uneven_exponents_and_threads(groups, threads, seed):
    """The pipelined multi-exponentiation (tables by the round that first reads them, the
    combination overlapping the rounds below) on groups of bases whose exponents end at very
    different rounds, zero exponents included, on 1..3 threads: gmpy2's product."""
    rnd = random.Random(seed)
    bases, exps = [], []
    for size, bits in groups:
        bases += [rnd.randrange(N) for _ in range(size)]
        exps += [rnd.getrandbits(bits) if bits else 0 for _ in range(size)]
    want = math.prod(int(gmpy2.powmod(b, e, N)) for b, e in zip(bases, exps)) % N
    assert _core._ifma_multi_exp(bases, exps, N, threads) == (want if IFMA else None)


def test_elements_sharing_a_factor_of_n_fail_every_strategy_and_thread_count():
    """The IFMA strategy checks the element rule beside the lane product (a side task): a
    witness or value sharing a factor with N (here known: N = p q of 2048 bits, the IFMA
    range), or 0, 1, N-1 (below N, so the lanes take them), is still refused on every strategy
    and thread count, before any answer, whether its statement w^x = v holds or not."""
    rnd = random.Random(12)
    p, q = (int(gmpy2.next_prime(rnd.getrandbits(1024) | 3 << 1022)) for _ in range(2))
    params = edgeacc.Params(p * q, insecure=True)
    n = params.n
    ws = [rnd.randrange(2, n - 1) for _ in range(9)]
    xs = XS[:9]
    good = [(w, x, int(gmpy2.powmod(w, x, n))) for w, x in zip(ws, xs)]
    shared = p * rnd.randrange(2, q)                # no unit: a multiple of p
    cases = {}
    # a non-unit, and the ones below n that the lane product takes but the range refuses
    for bad in (shared, 0, 1, n - 1):
        cases[bad, "witness"] = good[:4] + [(bad, xs[4], int(gmpy2.powmod(bad, xs[4], n)))] \
            + good[5:]
        cases[bad, "false witness"] = good[:4] + [(bad, xs[4], good[4][2])] + good[5:]
        cases[bad, "value"] = good[:4] + [(ws[4], xs[4], bad)] + good[5:]
    for name, items in cases.items():
        for strategy in STRATEGIES:
            for threads in (1, 2):
                with pytest.raises(edgeacc.errors.InvalidElement, match="witness 4|value 4"):
                    _batch_verify_with_weights(params, items, _weights(9, 128), threads,
                                               strategy=strategy)
            with pytest.raises(edgeacc.errors.InvalidElement):
                edgeacc.batch_verify(params, items, threads=2)


@pytest.fixture(scope="module")
def many_items():
    acc = edgeacc.Accumulator(P, P.generator(b"fast-many"))
    xs = [edgeacc.hash_to_prime(b"fast-many-%d" % i)[0] for i in range(300)]
    acc.add_many(xs)
    return [(w, x, acc.value) for w, x in zip(acc.all_witnesses(), xs)]


@pytest.mark.parametrize("t", [64, 300])
def test_batch_verify_of_many_items_on_the_ifma_weighted_product(many_items, t):
    """Large t: the weighted product on the IFMA lanes (where the CPU has them); a false item
    makes it fail and the items are then checked one by one."""
    items = many_items[:t]
    assert edgeacc.batch_verify(P, items, threads=1) == []
    bad = list(items)
    bad[t // 3] = (items[t // 3 + 1][0], items[t // 3][1], items[t // 3][2])
    w, x, v = items[-1]
    bad[-1] = (N - w, x, N - v)                     # a true statement, both signs flipped
    assert edgeacc.batch_verify(P, bad, threads=2) == [t // 3]


@pytest.mark.parametrize("bits", [1280, 2046])
def test_batch_verify_on_other_modulus_sizes(bits):
    """The IFMA weighted product (its conversions and final combination on the single-operation
    kernel) modulo a 1025..2048-bit N that is not 2048 bits long; one false item is named."""
    p = int(gmpy2.next_prime(1 << (bits // 2 - 1) | 12345))
    q = int(gmpy2.next_prime(p + (1 << (bits // 2 - 3))))
    params = edgeacc.Params(p * q, insecure=True)
    n = params.n
    ws = [int(gmpy2.powmod(7 + i, 65537, n)) for i in range(200)]
    xs = [XS[i % len(XS)] for i in range(len(ws))]
    items = [(w, x, int(gmpy2.powmod(w, x, n))) for w, x in zip(ws, xs)]
    assert edgeacc.batch_verify(params, items, threads=1) == []
    w, x, v = items[77]
    items[77] = (w, x, v * 3 % n)
    assert edgeacc.batch_verify(params, items, threads=2) == [77]


def test_batch_verify_counts_operations_on_the_weighted_test():
    acc = edgeacc.Accumulator(P, P.generator(b"fast-ops"))
    acc.add_many(XS[:8])
    items = [(w, x, acc.value) for w, x in zip(acc.all_witnesses(), XS[:8])]
    failed, mul, sqr = _batch_verify_with_weights(P, items, [3] * 8, count_ops=True,
                                                  strategy="weighted")
    assert failed == [] and mul > 0 and sqr > 0


@pytest.mark.parametrize("count", [1, 2, 3, 9, 17, 40])
def test_root_factory_is_the_product_of_the_others(count):
    g = P.generator(b"fast-rf")
    xs = XS[:count]
    total = math.prod(xs)
    want = [int(gmpy2.powmod(g, total // x, N)) for x in xs]
    assert edgeacc.root_factory(P, g, xs, threads=1) == want
    assert edgeacc.root_factory(P, g, xs, threads=2) == want


def test_root_factory_with_elements_longer_than_a_lane_exponent():
    """An element over 2048 bits cannot go through a lane: that step runs on its own."""
    g = P.generator(b"fast-big")
    big = int(gmpy2.next_prime(1 << 2100))
    xs = [XS[0], big, XS[1], XS[2]]
    total = math.prod(xs)
    want = [int(gmpy2.powmod(g, total // x, N)) for x in xs]
    assert edgeacc.root_factory(P, g, xs, threads=1) == want


@settings(max_examples=2)
@given(st.lists(st.integers(-1, 2 ** 32), min_size=3, max_size=5), units)
def test_powm_shared_base_with_lane_buckets(seeds, b):
    """Long exponents (2^16 bits, 12-bit bucket windows): the chain on the single IFMA kernel,
    the buckets multiplied in IFMA lanes (ea_ifma_shared_base), a zero exponent (seed -1)
    included."""
    exps = [0 if s < 0 else random.Random(s).getrandbits(65536 + s % 64) | 1 << 65536
            for s in seeds]
    assert _core.powm_shared_base(b, exps, N) == [int(gmpy2.powmod(b, e, N)) for e in exps]


@settings(max_examples=25)
@given(st.lists(st.integers(0, 3000), min_size=1, max_size=8), st.integers(0, 2 ** 32), units)
def test_powm_shared_base_of_short_exponents(sizes, seed, b):
    """1..8 exponents of up to 3000 bits (0 and 1 included): ea_ifma_shared_base's small
    windows and lanes left empty."""
    r = random.Random(seed)
    exps = [r.getrandbits(size) for size in sizes]
    assert _core.powm_shared_base(b, exps, N) == [int(gmpy2.powmod(b, e, N)) for e in exps]


def test_powm_shared_base_with_lane_buckets_below_2048_bits():
    """ea_mont's R is 2^(64 n) for an n-limb modulus, the lanes' 2^2080: the conversions between
    the two depend on n."""
    n = int(gmpy2.next_prime(1 << 600)) * int(gmpy2.next_prime(3 << 600))
    exps = [random.Random(i).getrandbits(66000) for i in range(3)]
    assert _core.powm_shared_base(5, exps, n) == [int(gmpy2.powmod(5, e, n)) for e in exps]


def test_root_factory_top_node_on_lane_buckets_and_threads():
    """320 elements: the root on the single IFMA kernel (7/8 of 82k bits, its 8 exponents'
    buckets in lanes), then 8 nodes per lane group down to the leaves; with 2 threads the root
    is two parallel powms, then two single-kernel nodes of arity 8."""
    g = P.generator(b"fast-top")
    xs = [edgeacc.hash_to_prime(b"top-%d" % i)[0] for i in range(320)]
    v = int(gmpy2.powmod(g, math.prod(xs), N))
    one = edgeacc.root_factory(P, g, xs, threads=1)
    assert all(gmpy2.powmod(w, x, N) == v for w, x in zip(one, xs))
    assert edgeacc.root_factory(P, g, xs, threads=2) == one


@settings(max_examples=12)
@given(st.lists(st.sampled_from(XS), min_size=1, max_size=90), st.integers(1, 3), units)
def test_root_factory_on_every_tree_shape(picks, threads, g):
    """Element lists of 1..90 (repeats allowed) on 1..3 threads: the lane tree's levels in lanes
    (full and partial groups of 8), on the single kernel and as two powms per node, each
    witness raised to its element gives the accumulator value, and the first and last are the
    definition itself."""
    total = math.prod(picks)
    v = int(gmpy2.powmod(g, total, N))
    ws = edgeacc.root_factory(P, g, picks, threads=threads)
    assert all(gmpy2.powmod(w, x, N) == v for w, x in zip(ws, picks))
    for i in (0, len(picks) - 1):
        assert ws[i] == gmpy2.powmod(g, total // picks[i], N)


@pytest.mark.parametrize("bits", [1100, 1600])
def test_root_factory_on_lanes_below_2048_bits(bits):
    """The lanes take moduli of 1025..2048 bits (R = 2^2080 for all of them)."""
    p = int(gmpy2.next_prime(1 << (bits // 2 - 1) | 6789))
    q = int(gmpy2.next_prime(p + (1 << (bits // 2 - 3))))
    params = edgeacc.Params(p * q, insecure=True)
    n = params.n
    xs = XS[:37]
    total = math.prod(xs)
    want = [int(gmpy2.powmod(5, total // x, n)) for x in xs]
    assert edgeacc.root_factory(params, 5, xs, threads=1) == want
    assert edgeacc.root_factory(params, 5, xs, threads=2) == want


def test_root_factory_explicit_arity_equals_the_default_tree():
    """An explicit arity keeps the fixed-arity tree; every shape gives the same witnesses."""
    g = P.generator(b"fast-arity")
    want = edgeacc.root_factory(P, g, XS, threads=1)
    for arity in (2, 3, 8):
        assert edgeacc.root_factory(P, g, XS, arity=arity, threads=2) == want


def test_portable_path_reruns_the_engine_tests():
    """CI runs the engine tests on both paths: here again with EDGEACC_PORTABLE=1 (GMP only)."""
    if PORTABLE:
        pytest.skip("already the portable run")
    env = dict(os.environ, EDGEACC_PORTABLE="1")
    files = ["tests/test_fast_paths.py", "tests/test_batch.py", "tests/test_batch_witnesses.py",
             "tests/test_accumulator.py", "tests/test_mont_kernel.py"]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          *files], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


@given(st.binary(min_size=1, max_size=64))
def test_hash_to_prime_is_the_first_bpsw_candidate(data):
    """The lane search (sieve survivors given the base-2 strong test 8 at a time, then the
    strong Lucas test) returns the same nonce as the definition: the first candidate that is a
    BPSW probable prime."""
    x, k = edgeacc.hash_to_prime(data)
    for j in range(k + 1):
        c = _core.hash_candidate(_core.H2P_DOMAIN, data, j, _core.H2P_BITS)
        if gmpy2.is_bpsw_prp(c):
            break
    else:
        pytest.fail(f"hash_to_prime's nonce {k} names no BPSW probable prime")
    assert (j, c) == (k, x)


# Strong pseudoprimes to base 2 (the Lucas half must reject them), strong Lucas pseudoprimes
# (the base-2 half must), Carmichael numbers and squares of primes (Selfridge's D search).
PSEUDOPRIMES = [2047, 3277, 4033, 4681, 8321, 3215031751, 2152302898747, 3825123056546413051,
                318665857834031151167461, 3317044064679887385961981, 5459, 5777, 10877, 16109,
                18971, 561, 1105, 1729, 4099 ** 2, 65537 ** 2, (2 ** 61 - 1) ** 2]


@pytest.mark.parametrize("x", PSEUDOPRIMES)
def test_is_probable_prime_rejects_the_pseudoprimes_of_each_half(x):
    assert not _core.is_probable_prime(x)


# 256-bit strong pseudoprimes to base 2, p (2p - 1) with p and 2p - 1 prime (random 128-bit p,
# kept when gmpy2.is_strong_prp(n, 2)): the base-2 half of the 4-limb kernel passes them, the
# Lucas half must reject them.
SPSP2_256 = [84492469688387993826715818769627915025816025412885769230606184459374457687653,
             87442151688545347157410705526866536549913749545843655955487766814188488320201,
             72918866640274121114550471965817311447324717880909154485075948633218823870061,
             80094151137331039795183841227116837598382229921526083001900757677340242260001]


@pytest.mark.parametrize("x", SPSP2_256)
def test_the_4_limb_kernel_rejects_256_bit_strong_pseudoprimes_to_base_2(x):
    assert gmpy2.is_strong_prp(x, 2) and not gmpy2.is_prime(x)
    assert not _core.is_probable_prime(x)


@given(st.integers(2 ** 192, 2 ** 256 - 1), st.booleans())
@example(2 ** 256 - 189, False)  # the largest 256-bit prime: every limb full
@example(2 ** 192 + 133, False)  # the smallest 4-limb prime: a one-bit top limb
@example(2 ** 256 - 1, False)
@example(2 ** 255 + 1, False)
def test_4_limb_numbers_take_the_strong_bpsw_test(x, prime):
    """Hash-to-prime's candidates are 4 limbs: on the mulx kernel (build_info()["prime"]) and
    the portable run alike, is_probable_prime is gmpy2's strong BPSW test there."""
    if prime:
        x = int(gmpy2.next_prime(x))
        if x >= 2 ** 256:
            x = 2 ** 256 - 189
    assert _core.is_probable_prime(x) == bool(gmpy2.is_strong_bpsw_prp(x)) if x % 2 else not _core.is_probable_prime(x)


@given(st.integers(1, 2 ** 600), st.booleans())
def test_is_probable_prime_is_the_strong_bpsw_test(x, prime):
    """ea_is_probable_prime is the strong BPSW test (gmpy2: strong base-2 and strong Lucas with
    Selfridge's parameters), exact below 2^64 where BPSW has no pseudoprime."""
    if prime:
        x = int(gmpy2.next_prime(x))
    want = gmpy2.is_strong_bpsw_prp(x) if x > 3 and x % 2 else gmpy2.is_prime(x)
    assert _core.is_probable_prime(x) == bool(want)


def _rows_of(values, width):
    return b"".join(v.to_bytes(width, "big") for v in values)


@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11), st.booleans()), min_size=1,
                max_size=24))
def test_batch_verify_buffers_answers_as_batch_verify(many_items, rows):
    """Rows (bytes, memoryview, numpy (t, width)) give the answer of batch_verify on the
    same statements, repeats and sign flips included."""
    import numpy as np
    base = many_items[:12]
    v = base[0][2]
    items = [((N - base[i][0]) if flip else base[i][0], base[j][1], v) for i, j, flip in rows]
    want = edgeacc.batch_verify(P, items)
    W, X = _rows_of([w for w, _, _ in items], 256), _rows_of([x for _, x, _ in items], 32)
    assert edgeacc.batch_verify_buffers(P, W, X, v) == want
    assert edgeacc.batch_verify_buffers(P, memoryview(W), bytearray(X), v, threads=2) == want
    arr = np.frombuffer(W, dtype=np.uint8).reshape(len(items), 256)
    assert edgeacc.batch_verify_buffers(P, arr, np.frombuffer(X, np.uint8).reshape(-1, 32), v) == want
    # element rows of a width that is not a whole number of limbs (the limb-wise import)
    assert edgeacc.batch_verify_buffers(P, W, _rows_of([x for _, x, _ in items], 37), v) == want


def test_batch_verify_buffers_rejects_malformed_rows(many_items):
    import numpy as np
    from edgeacc import errors
    (w, x, v), = many_items[:1]
    W, X = _rows_of([w], 256), _rows_of([x], 32)
    with pytest.raises(errors.EdgeaccTypeError):
        edgeacc.batch_verify_buffers(P, [w], X, v)
    with pytest.raises(errors.InvalidArgument):
        edgeacc.batch_verify_buffers(P, W[:-1], X, v)
    with pytest.raises(errors.InvalidArgument):
        edgeacc.batch_verify_buffers(P, W * 2, _rows_of([x, x], 32)[:47], v)
    strided = np.zeros((2, 512), np.uint8)[:, ::2]
    with pytest.raises(errors.InvalidArgument):
        edgeacc.batch_verify_buffers(P, strided, X * 2, v)
    with pytest.raises(errors.InvalidArgument):
        edgeacc.batch_verify_buffers(P, np.zeros((1, 256), np.uint16), X, v)
    with pytest.raises(errors.InvalidElement, match="witness 2 "):   # the row, not the statement
        edgeacc.batch_verify_buffers(P, W + W + bytes(256), X * 3, v)
    with pytest.raises(errors.InvalidExponent):
        edgeacc.batch_verify_buffers(P, W, _rows_of([x + 1], 32), v)
    # w + N after a true (w, x): the same residue, but not a valid encoding, so no merging
    wide = np.frombuffer(_rows_of([w, w + N], 257), np.uint8).reshape(2, 257)
    with pytest.raises(errors.InvalidElement, match="witness 1 "):
        edgeacc.batch_verify_buffers(P, wide, X * 2, v)
    with pytest.raises(errors.InvalidElement):
        edgeacc.batch_verify_buffers(P, W, X, 0)
    assert edgeacc.batch_verify_buffers(P, b"", b"", v) == []


@pytest.mark.parametrize("security", [0, 65, 1024])
def test_row_weights_must_carry_the_security_bits(security):
    """The row binding refuses a weight of fewer random bits than `security` (8-byte rows: at
    most 64) or none: each weight would otherwise be 1 or short, and false items could cancel."""
    np = pytest.importorskip("numpy")
    with pytest.raises(edgeacc.errors.InvalidArgument, match="security"):
        _core.prepare_rows(np.zeros((1, 256), np.uint8), np.full((1, 32), 3, np.uint8), 4, P.n,
                           np.zeros((1, 8), np.uint8), security)


def test_row_batch_not_from_prepare_rows_is_refused():
    """A _RowBatch made directly has no vectors: verify refuses it before any C call."""
    with pytest.raises(edgeacc.errors.InvalidArgument, match="prepare_rows"):
        _core._RowBatch().verify()
