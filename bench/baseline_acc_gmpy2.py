"""THE BASELINE for issue 14: non-membership, deletion, PoKE2 and verifiable batch updates as a
Python user would write them on gmpy2 (the same algorithms as edgeacc's C, one gmpy2.powmod
per exponentiation). The Fiat-Shamir challenges are taken from edgeacc (hashing is not what is
compared; both sides pay it). Nothing here is used by the package; bench/measure_acc.py
asserts that it gives edgeacc's answers.
"""
import gmpy2
from gmpy2 import mpz

from edgeacc import _core, poe

from .baseline_gmpy2 import _product, weighted_batch_verify


def _pm(r, target, n):
    target %= n
    return r == target or r == n - target


def _power(b, e, n):
    """b^e mod n for an exponent of any sign."""
    if e < 0:
        return gmpy2.powmod(gmpy2.invert(b, n), -e, n)
    return gmpy2.powmod(b, e, n)


def nonmem_create(n, g, X, y):
    """(a, B): a = X^-1 mod y, B = g^((1 - aX) / y)."""
    n = mpz(n)
    a = gmpy2.invert(X, y)
    return int(a), int(_power(mpz(g), (1 - a * X) // y, n))


def nonmem_verify(n, g, v, y, a, B):
    n = mpz(n)
    return 0 <= a < y and _pm(gmpy2.powmod(v, a, n) * gmpy2.powmod(B, y, n) % n, g, n)


def nonmem_batch_verify(n, g, v, items, weights):
    """prod (v^a B^y g^-1)^r = +-1 with the given weights; [] or the list of all indices."""
    n = mpz(n)
    acc, ea, er = mpz(1), mpz(0), mpz(0)
    for (y, (a, B)), r in zip(items, weights):
        acc = acc * gmpy2.powmod(B, y * r, n) % n
        ea += a * r
        er += r
    acc = acc * gmpy2.powmod(v, ea, n) % n * gmpy2.powmod(gmpy2.invert(g, n), er, n) % n
    return [] if _pm(acc, 1, n) else list(range(len(items)))


def delete(n, v, x, w):
    """The new value after deleting x with its witness w (checked first)."""
    if not _pm(gmpy2.powmod(w, x, mpz(n)), v, mpz(n)):
        raise ValueError("witness does not verify")
    return int(w)


def shamir(n, wa, xa, wb, xb):
    _, a, b = gmpy2.gcdext(xa, xb)         # a xa + b xb = 1
    return _power(mpz(wa), b, n) * _power(mpz(wb), a, n) % n


def batch_delete(n, v, xs, ws, weights):
    """Weighted batch check of the witnesses, then Shamir's trick over a balanced tree."""
    n = mpz(n)
    if weighted_batch_verify(n, [(w, x, v) for w, x in zip(ws, xs)], weights):
        raise ValueError("a witness does not verify")

    def agg(lo, hi):
        if hi - lo == 1:
            return mpz(ws[lo]), mpz(xs[lo])
        mid = (lo + hi) // 2
        (wl, xl), (wr, xr) = agg(lo, mid), agg(mid, hi)
        return shamir(n, wl, xl, wr, xr), xl * xr

    return int(agg(0, len(xs))[0])


def poke2_prove(n, g, u, w, x, ctx):
    n = mpz(n)
    z = gmpy2.powmod(g, x, n)
    l, alpha = _core.poke2_challenge(g, u, w, int(z), ctx, int(n))
    base = gmpy2.powmod(g, alpha, n) * u % n
    q, r = gmpy2.f_divmod(x, l)
    return int(z), int(gmpy2.powmod(base, q, n)), int(r)


def poke2_verify(n, g, u, w, proof, ctx):
    n = mpz(n)
    z, Q, r = proof
    l, alpha = _core.poke2_challenge(g, u, w, z, ctx, int(n))
    if not 0 <= r < l:
        return False
    base = gmpy2.powmod(g, alpha, n) * u % n
    lhs = gmpy2.powmod(Q, l, n) * gmpy2.powmod(base, r, n) % n
    return _pm(lhs, gmpy2.powmod(z, alpha, n) * w % n, n)


def batch_add_proof(P, g, v_old, xs, ctx_for):
    """add_many_with_proof: (v_new, PoE Q, PoKE2 proof) - the exponentiation by X and three more."""
    n = mpz(P.n)
    X = _product(xs)
    v_new = gmpy2.powmod(v_old, X, n)
    l = poe.challenge(P, v_old, int(X), int(v_new))
    Q = gmpy2.powmod(v_old, X // l, n)
    return int(v_new), int(Q), poke2_prove(n, g, v_old, int(v_new), X, ctx_for(int(X)))


def batch_add_verify(P, g, v_old, v_new, xs, Q, poke_proof, ctx_for):
    """The full check with the elements: primality, product, PoE and PoKE2."""
    n = mpz(P.n)
    if not all(gmpy2.is_prime(x, 25) for x in xs) or len(set(xs)) != len(xs):
        return False
    X = _product(xs)
    l = poe.challenge(P, v_old, int(X), v_new)
    if not _pm(gmpy2.powmod(Q, l, n) * gmpy2.powmod(v_old, X % l, n) % n, v_new, n):
        return False
    return poke2_verify(n, g, v_old, v_new, poke_proof, ctx_for(int(X)))
