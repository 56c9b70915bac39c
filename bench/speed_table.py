"""Issue 12's table in one run: every engine row as a ratio to gmpy2 measured in this process.

    python -m bench.speed_table [--quick] [--threads N]

2048-bit N (RSA-2048), 256-bit prime exponents. Short operations: best of several runs,
interleaved with their gmpy2 baseline. --quick uses n = 2000 for all_witnesses (its n = 10,000
row is then extrapolated by n log n and marked so).

Two threads: what each row can reach (2-thread/1-thread wall time), from CPU time per phase
on one thread and traces of the pipeline (session 8, load 1.5-9: absolute figures run high;
the quiet table before it: t = 8 0.72, t = 16 0.64, t = 1024 0.56, all_witnesses 0.62):

- t = 8, 16: the weighted product's windows are combined by Horner's rule, at least one
  sequential squaring per exponent bit (x_j r_j: 384 bits); no schedule shortens that chain
  (the time-lock argument: splitting the bits into halves still needs the high half squared
  384/2 more times; pre-raised bases cost 8 lanes x 192 squarings, more than the chain).
  ea_ifma_multi_exp pipelines (csrc/ea_ifma.c, run_pipeline): the rounds run from the top
  window down, one thread combines each round's windows as soon as they are done, the other
  builds the remaining tables and rounds and checks the element rule beside it. A t = 8 call
  on one thread: 330 us in C (Horner chain 39%, lane tables and rounds 44%, inverse and gcds
  5%) + 14 us of Python. On two threads its critical path is: 9 us before the pipeline
  (checks, weights' products, the value's inverse), 17 us spawning the second thread (it
  starts ~14 us later), the top table (19-28 us) and top round (13 us), then the chain: 12
  rounds x 13 us (480 single products of 0.325 us), then the join. Blocking in pthread_join
  cost 20-30 us (the joiner's CPU idles); ea_thread.c now yields while the thread ends
  (~5 us). That leaves ~230 of ~345 us: about 0.67 at t = 8, ~0.63 with a persistent helper
  thread (no spawn; waking a sleeping one costs about as much here, only a spinning one
  would not). At t = 16 the lanes dominate (~300 us of 470): the bound is about (470 + 17) /
  2 + 20 = 265 of 490 us, 0.55; measured 0.64-0.66 (the second thread starts late).
  Independent checks split over two threads lose at t <= 16: 8 single exponentiations are
  8 x 108 us, one crypto_mb call ~770 us.
- t = 1024: rounds are 93% of the C work and split evenly. What stays serial is per item:
  Python's checks, statement merge and weights (_split_items 0.36, _first_of_statement
  0.33, _weights 0.21 us), conversions to mpz (0.13 us), the C checks, weight products and
  combination (~0.25 us): ~1.3 of ~15 us, so about (1.3 + 13.7 / 2) / 15 = 0.54.
- all_witnesses (csrc/ea_rootfactory.c, rf_ifma), n = 10,000, CPU per tree level on one
  thread (load 4): root 1.2-1.35 s (one shared chain, 2.24M squarings ~0.75 s, and 187k
  8-lane bucket products ~0.5 s), then 8 nodes in one lane group 0.52-0.63 s, then 0.57,
  0.57-0.64, 0.62-0.65, 0.69, 0.12-0.19 s (4.3-4.7 s). On two threads the root's two
  children are two exponentiations (RF_POWM), one per thread. Tried: the root's one chain
  squared on one thread while the other collects its buckets (a ring of chain values, root
  ~0.8 s): the top down to 64 nodes takes ~1.35 s either way, so about
  (1.35 + 2.6 / 2) / 4.2 = 0.63, and the quiet-machine pair measured it slower (2.60-2.63 s
  against 2.46-2.49 s on two threads): reverted. The lane group at 8 nodes would take about
  as long as singles on one thread there (forced both ways in one run, load 6: 0.51-0.80 s in
  lanes, 1.29-1.47 s as singles, a group ~3-5 singles where RF_LANE_GROUP_COST says 7).
  A root of arity 16
  (two lane groups of buckets, 16 children = one lane group per thread) made the collector the
  bottleneck (1.14 s busy against 0.80 s of squarings) for the same total: reverted. The
  floor is the ~2.24M sequential squarings along the top (~0.73 s) plus a level of 8 nodes
  that cannot fill two threads' lanes; below ~0.6 needs a faster single squaring (a
  dedicated one saves at most ~20% of the 800 IFMA operations per product) or the lane
  chains of that level split between a squaring and a collecting thread.
- verify_membership is one exponentiation (one thread); hash_to_prime is not threaded.

On a loaded machine the second thread starts late (the pipeline then runs on one thread
until it joins), so compare `--threads 2` with `--threads 1` run back to back on a quiet
machine.

Session 17 (Zen 5 VM, ea_ifma1's product 282 -> 175 ns: the Horner chain and every single
exponentiation shorter; 1 thread / 2 threads, ratio to gmpy2): verify 0.219; t = 8 0.112 /
0.077; t = 16 0.086 / 0.064; t = 1024 0.042 / 0.025; all_witnesses 3.30 / 1.89 s. Two
threads here: a spawned thread starts ~15 us late and joins ~16 us after its last task
(csrc/ea_thread.c), and the second vCPU delivers 15-60% less per CPU second from run to run
while both run (no steal reported): 2 t / 1 t ranged 0.55-0.78 for the same call.
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
