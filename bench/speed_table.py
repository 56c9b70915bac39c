"""Issue 12's table in one run: every engine row as a ratio to gmpy2 measured in this process.

    python -m bench.speed_table [--quick] [--threads N]

2048-bit N (RSA-2048), 256-bit prime exponents. Short operations: best of several runs,
interleaved with their gmpy2 baseline. --quick uses n = 2000 for all_witnesses (its n = 10,000
row is then extrapolated by n log n and marked so).

Two threads at small t (batch_verify, t = 8, 16): the weighted product's windows are combined
by Horner's rule, at least one sequential squaring per exponent bit (x_j r_j: 384 bits); no
schedule shortens that chain (the time-lock argument). On the single IFMA kernel 384
squarings take about 140 us: 30% of the 1-thread batch at t = 8 (~470 us), 20% at t = 16
(~700 us). ea_ifma_multi_exp therefore pipelines (csrc/ea_ifma.c, run_pipeline): the rounds
run from the top window down and one thread combines each round's windows as soon as they
are done, while the other builds the remaining tables and rounds (the values' short weight
sums need no table in the top rounds) and checks the element rule beside it. Its critical
path is one table (~25 us) + the top round (~13 us at t = 8) + the combination (384 squarings
and 96 window products, ~180 us), plus the serial rest (Python's item checks and weights,
the value's inverse, starting the second thread: ~45 us). Reachable 2-thread/1-thread per
item: about (180 + 38 + 45) / 470 = 0.56 at t = 8, where the chain dominates, and half the
work plus the serial rest at t = 16, ((700 - 45) / 2 + 45) / 700 = 0.53. On a
loaded machine the second thread starts late (the pipeline then runs on one thread until it
joins), so compare `--threads 2` with `--threads 1` run back to back on a quiet machine.
"""
import argparse
import math
import os

import gmpy2

import edgeacc

from .common import P, best, digests

GOALS = {"verify": 0.75, 8: 0.30, 16: 0.25, 1024: 0.08, "all_witnesses": 8.0, "h2p": 0.6}


def paired(fn, base, repeat, rounds=5):
    """Best times of fn and base, measured alternately (shared-machine noise hits both)."""
    a = b = float("inf")
    for _ in range(rounds):
        a = min(a, best(fn, repeat))
        b = min(b, best(base, repeat))
    return a, b


def representatives(count):
    return [edgeacc.hash_to_prime(d)[0] for d in digests(count, seed=11)]


class Row:
    """One row of the table: `edgeacc()` and `gmpy2()` do the same work (n items)."""

    def __init__(self, name, goal, edgeacc_fn, gmpy2_fn, items=1, repeat=5, seconds=False):
        self.name, self.goal, self.items, self.repeat, self.seconds = name, goal, items, repeat, seconds
        self.edgeacc, self.gmpy2 = edgeacc_fn, gmpy2_fn

    def measure(self, rounds=5):
        """(edgeacc seconds per item, gmpy2 seconds per item), measured alternately."""
        te, tg = paired(self.edgeacc, self.gmpy2, self.repeat, rounds)
        return te / self.items, tg / self.items


def _membership(t, tag):
    xs = representatives(max(t, 3))
    acc = edgeacc.Accumulator(P, P.generator(tag))
    acc.add_many(xs[:max(t, 3)])
    return [(w, x, acc.value) for w, x in zip(acc.all_witnesses(), xs)][:t]


def _gmpy2_checks(items):
    n = gmpy2.mpz(P.n)

    def run():
        for w, x, v in items:
            r = gmpy2.powmod(w, x, n)
            assert r == v or r == n - v
    return run


def make_rows(quick=False, threads=1, which=None):
    """The table's rows (built lazily: each row's setup runs only if selected by `which`)."""
    def verify():
        (w, x, v), = _membership(1, b"speed")
        return Row("verify_membership, single", GOALS["verify"],
                   lambda: edgeacc.verify_membership(P, w, x, v), _gmpy2_checks([(w, x, v)]), 1, 200)

    def batch(t):
        def build():
            items = _membership(t, b"speed-%d" % t)
            return Row(f"batch_verify per item, {threads} thread(s), t = {t}", GOALS[t],
                       lambda: edgeacc.batch_verify(P, items, threads=threads),
                       _gmpy2_checks(items), t, max(2, 200 // t))
        return build

    def h2p():
        ins = digests(400, seed=5)
        ints = [int.from_bytes(d, "big") for d in ins]
        return Row("hash_to_prime vs gmpy2.next_prime (SHA-256 digests)", GOALS["h2p"],
                   lambda: [edgeacc.hash_to_prime(d) for d in ins],
                   lambda: [gmpy2.next_prime(i) for i in ints], 400, 2)

    def all_witnesses():
        big = 2000 if quick else 10000
        acc = edgeacc.Accumulator(P, P.generator(b"speed-all"))
        acc.add_many(representatives(big))
        scale = 10000 * math.log(10000) / (big * math.log(big))
        w, x = acc.value, 3
        return Row(f"all_witnesses, n = 10,000, {threads} thread(s)"
                   + ("" if big == 10000 else f" (extrapolated from n = {big})"),
                   GOALS["all_witnesses"], lambda: acc.all_witnesses(threads=threads),
                   lambda: gmpy2.powmod(w, x, P.n), 1 / scale, 1, seconds=True)

    builders = {"verify": verify, "batch8": batch(8), "batch16": batch(16),
                "batch1024": batch(1024), "h2p": h2p, "all_witnesses": all_witnesses}
    return {k: b for k, b in builders.items() if which is None or k in which}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    info = edgeacc.build_info() if hasattr(edgeacc, "build_info") else {}
    print(f"# issue 12 table ({P.bits}-bit N, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.2f}, gmpy2 {gmpy2.version()}, build {info})\n")
    print("| operation | edgeacc | gmpy2 | ratio | goal |\n|---|---|---|---|---|")
    for build in make_rows(args.quick, args.threads).values():
        row = build()
        if row.seconds:
            te, _ = row.measure(rounds=1)
            print(f"| {row.name} | {te:.2f} s | - | {te:.2f} s | <= {row.goal:g} s |")
            continue
        te, tg = row.measure(3 if row.items > 100 else 5)
        print(f"| {row.name} | {te * 1e6:.1f} us | {tg * 1e6:.1f} us | {te / tg:.3f}x "
              f"| <= {row.goal:g}x |")


if __name__ == "__main__":
    main()
