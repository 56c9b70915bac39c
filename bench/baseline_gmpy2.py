"""THE BASELINE: what a Python user would otherwise write for the batch operations, the same
algorithms in Python on gmpy2 (issue 3). The benchmarks report edgeacc's ratios against these.
Nothing here is used by the package; correctness is checked by bench/test_compare_batch.py.
"""
import gmpy2
from gmpy2 import mpz


def independent_verify(n, items):
    """Indices j with w^x != +-v: one gmpy2.powmod per item."""
    n = mpz(n)
    bad = []
    for j, (w, x, v) in enumerate(items):
        r = gmpy2.powmod(w, x, n)
        if r != v and r != n - v:
            bad.append(j)
    return bad


def multi_exp(n, bases, exps):
    """prod b^e mod n, one powmod per base."""
    n = mpz(n)
    r = mpz(1)
    for b, e in zip(bases, exps):
        r = r * gmpy2.powmod(b, e, n) % n
    return int(r)


def weighted_batch_verify(n, items, weights):
    """The same small-exponents test as edgeacc.batch_verify (with bisection), in Python:
    prod w^(x r) * prod v^(-R) = +-1, one powmod per base."""
    n = mpz(n)

    def holds(idx):
        acc = mpz(1)
        sums = {}
        for j in idx:
            w, x, v = items[j]
            acc = acc * gmpy2.powmod(w, x * weights[j], n) % n
            sums[v] = sums.get(v, 0) + weights[j]
        for v, s in sums.items():
            acc = acc * gmpy2.powmod(gmpy2.invert(v, n), s, n) % n
        return acc == 1 or acc == n - 1

    bad = []

    def bisect(idx):
        if len(idx) == 1:
            bad.append(idx[0])
            return
        left, right = idx[:len(idx) // 2], idx[len(idx) // 2:]
        if holds(left):
            bisect(right)
            return
        bisect(left)
        if not holds(right):
            bisect(right)

    idx = list(range(len(items)))
    if idx and not holds(idx):
        bisect(idx)
    return sorted(bad)


def protocol3_unweighted(n, items):
    """The paper's Protocol 3 as printed (2^t subset table, one squaring chain), counting
    modular multiplications and squarings: returns (ok, mults, squarings). Forgeable."""
    n = mpz(n)
    t = len(items)
    ws = [mpz(w) for w, _, _ in items]
    xs = [mpz(x) for _, x, _ in items]
    mults = sqrs = 0
    table = [mpz(1)] * (1 << t)
    for s in range(1, 1 << t):
        low = s & -s
        if s == low:
            table[s] = ws[low.bit_length() - 1]
        else:
            table[s] = table[s ^ low] * table[low] % n
            mults += 1
    g = None
    for i in range(max(int(x.bit_length()) for x in xs) - 1, -1, -1):
        if g is not None:
            g = g * g % n
            sqrs += 1
        idx = sum(1 << j for j in range(t) if xs[j].bit_test(i))
        if idx:
            if g is None:
                g = table[idx]
            else:
                g = g * table[idx] % n
                mults += 1
    X = mpz(1)
    for _, _, v in items:
        X = X * v % n
    mults += t - 1
    return (g == X or g == n - X), mults, sqrs


def naive_witness(n, g, xs, i):
    """g^(prod of all xs but xs[i]): one powmod by the product."""
    e = mpz(1)
    for j, x in enumerate(xs):
        if j != i:
            e *= x
    return int(gmpy2.powmod(g, e, mpz(n)))


def naive_all_witnesses(n, g, xs):
    return [naive_witness(n, g, xs, i) for i in range(len(xs))]


def _product(xs):
    if len(xs) <= 8:
        r = mpz(1)
        for x in xs:
            r *= x
        return r
    return _product(xs[:len(xs) // 2]) * _product(xs[len(xs) // 2:])


def root_factory(n, g, xs):
    """RootFactory in Python on gmpy2: split in halves, raise by the other half, recurse."""
    n = mpz(n)
    out = [None] * len(xs)

    def rec(base, lo, hi):
        if hi - lo == 1:
            out[lo] = int(base)
            return
        mid = (lo + hi) // 2
        rec(gmpy2.powmod(base, _product(xs[mid:hi]), n), lo, mid)
        rec(gmpy2.powmod(base, _product(xs[lo:mid]), n), mid, hi)

    if xs:
        rec(mpz(g), 0, len(xs))
    return out


def add_single(n, v, xs):
    """n single adds: v <- v^x for each x."""
    n = mpz(n)
    v = mpz(v)
    for x in xs:
        v = gmpy2.powmod(v, x, n)
    return int(v)


def add_many(n, v, xs):
    """One exponentiation by the product."""
    return int(gmpy2.powmod(v, _product(xs), mpz(n)))
