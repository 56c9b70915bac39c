"""Issue 12's table in one run: every engine row as a ratio to gmpy2 measured in this process.

    python -m bench.speed_table [--quick] [--threads N]

2048-bit N (RSA-2048), 256-bit prime exponents. Short operations: best of several runs,
interleaved with their gmpy2 baseline. --quick uses n = 2000 for all_witnesses (its n = 10,000
row is then extrapolated by n log n and marked so).

Two threads: what each row can reach (2-thread/1-thread wall time), from CPU time per phase
measured on one thread (thread CPU clock; load 4-5, so the absolute figures run high):

- t = 8, 16: the weighted product's windows are combined by Horner's rule, at least one
  sequential squaring per exponent bit (x_j r_j: 384 bits); no schedule shortens that chain
  (the time-lock argument). ea_ifma_multi_exp pipelines (csrc/ea_ifma.c, run_pipeline): the
  rounds run from the top window down and one thread combines each round's windows as soon
  as they are done, while the other builds the remaining tables and rounds and checks the
  element rule beside it. At t = 16 one call spends 255 us in rounds, 158 us combining, 60
  us on tables and 19 us on the element rule (492 us in the pipeline), ~35 us outside it
  (Python's item checks and weights, conversions, the C checks), and starting the second
  thread costs 10-40 us. When both threads run, the rounds' CPU splits without loss (e.g. 124
  + 133 us against 255 alone); the combination starts after the top table and round (~64
  us), so 64 + 158 us < 492 / 2: the work bound holds, about (246 + 35 + 20) / 526 = 0.57.
  At t = 8 the chain dominates: about (180 + 38 + 45) / 470 = 0.56.
- t = 1024: rounds are 93% of the C work (13.5 of 14.6 ms per call) and split evenly. What
  stays serial is per item: Python's checks, statement merge and weights (~0.9 us),
  conversions to mpz (0.13 us; 0.74 us before they read CPython's digits directly), the C
  checks, weight products and combination (~0.25 us): ~1.3 of ~16 us, so about
  (1.3 + 14.5 / 2) / 15.8 = 0.54.
- all_witnesses (csrc/ea_rootfactory.c, rf_ifma), n = 10,000, CPU per tree level: one
  thread 1.32 s (root, one shared chain of 7/8 of the 2.56M exponent bits on the single
  kernel), then 0.55, 0.57, 0.71, 0.82, 0.97, 0.14 s in lanes (5.09 s). Two threads: the
  root's children by two exponentiations (2 x 0.51 s), then each child's shared chain (2 x
  0.69 s), two lane groups (2 x 0.36 s), then 3.58 s of lane levels that split evenly:
  0.51 + 0.69 + 0.36 + 1.79 = 3.35 s, 0.66 of one thread. Any tree runs about one squaring
  per exponent bit (~2.56M) along its top path before eight nodes exist to fill the lanes;
  on the single kernel that is ~25% of the one-thread time, so ~0.62 is the floor without
  a faster single squaring.
- verify_membership is one exponentiation (one thread); hash_to_prime is not threaded.

On a loaded machine the second thread starts late (the pipeline then runs on one thread
until it joins), so compare `--threads 2` with `--threads 1` run back to back on a quiet
machine.
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
