"""Issue 12's table in one run: every engine row as a ratio to gmpy2 measured in this process.

    python -m bench.speed_table [--quick] [--threads N]

2048-bit N (RSA-2048), 256-bit prime exponents. Short operations: best of several runs,
interleaved with their gmpy2 baseline. --quick uses n = 2000 for all_witnesses (its n = 10,000
row is then extrapolated by n log n and marked so).
"""
import argparse
import math
import os
import time

import gmpy2

import edgeacc

from .common import P, digests

GOALS = {"verify": 0.75, 8: 0.30, 16: 0.25, 1024: 0.08, "all_witnesses": 8.0, "h2p": 0.6}


def best(fn, repeat):
    out = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out


def paired(fn, base, repeat, rounds=5):
    """Best times of fn and base, measured alternately (shared-machine noise hits both)."""
    a = b = float("inf")
    for _ in range(rounds):
        a = min(a, best(fn, repeat))
        b = min(b, best(base, repeat))
    return a, b


def representatives(count):
    return [edgeacc.hash_to_prime(d)[0] for d in digests(count, seed=11)]


def rows(quick=False, threads=1):
    """[(operation, edgeacc time, gmpy2 time or None, ratio-or-seconds, goal)] for the table."""
    n = P.n
    xs = representatives(1024)
    out = []
    acc = edgeacc.Accumulator(P, P.generator(b"speed"))
    acc.add_many(xs[:3])
    w, x, v = acc.witness(1), xs[1], acc.value

    def gmpy2_verify():
        r = gmpy2.powmod(w, x, n)
        return r == v or r == n - v

    te, tg = paired(lambda: edgeacc.verify_membership(P, w, x, v), gmpy2_verify, 200)
    out.append(("verify_membership, single", te, tg, te / tg, GOALS["verify"]))
    for t in (8, 16, 1024):
        acc = edgeacc.Accumulator(P, P.generator(b"speed-%d" % t))
        acc.add_many(xs[:t])
        items = [(wi, xi, acc.value) for wi, xi in zip(acc.all_witnesses(), xs[:t])]
        rep = max(2, 200 // t)

        def gmpy2_all():
            for wi, xi, vi in items:
                r = gmpy2.powmod(wi, xi, n)
                assert r == vi or r == n - vi

        te, tg = paired(lambda: edgeacc.batch_verify(P, items, threads=threads), gmpy2_all, rep,
                        3 if t > 100 else 5)
        out.append((f"batch_verify per item, {threads} thread(s), t = {t}", te / t, tg / t,
                    te / tg, GOALS[t]))
    ins = digests(400, seed=5)
    ints = [int.from_bytes(d, "big") for d in ins]
    te, tg = paired(lambda: [edgeacc.hash_to_prime(d) for d in ins],
                    lambda: [gmpy2.next_prime(i) for i in ints], 2)
    out.append(("hash_to_prime vs gmpy2.next_prime (400 digests)", te / 400, tg / 400, te / tg,
                GOALS["h2p"]))
    big = 2000 if quick else 10000
    many = representatives(big) if big > 1024 else xs[:big]
    acc = edgeacc.Accumulator(P, P.generator(b"speed-all"))
    acc.add_many(many)
    t0 = time.perf_counter()
    acc.all_witnesses(threads=threads)
    ta = time.perf_counter() - t0
    tg = best(lambda: gmpy2.powmod(w, x, n), 50)
    if big != 10000:
        ta *= 10000 * math.log(10000) / (big * math.log(big))
    out.append((f"all_witnesses, n = 10,000, {threads} thread(s)"
                + ("" if big == 10000 else f" (extrapolated from n = {big})"),
                ta, tg, ta, GOALS["all_witnesses"]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    info = edgeacc.build_info() if hasattr(edgeacc, "build_info") else {}
    print(f"# issue 12 table ({P.bits}-bit N, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.2f}, gmpy2 {gmpy2.version()}, build {info})\n")
    print("| operation | edgeacc | gmpy2 | ratio | goal |\n|---|---|---|---|---|")
    for name, te, tg, ratio, goal in rows(args.quick, args.threads):
        if name.startswith("all_witnesses"):
            print(f"| {name} | {te:.2f} s | - | {te:.2f} s | <= {goal:g} s |")
        else:
            print(f"| {name} | {te * 1e6:.1f} us | {tg * 1e6:.1f} us | {ratio:.3f}x "
                  f"| <= {goal:g}x |")


if __name__ == "__main__":
    main()
