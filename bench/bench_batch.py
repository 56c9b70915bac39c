"""asv benchmarks of the batch engine (issue 3): multi-exponentiation, batch verification,
the paper's t = 8 Protocol 3 check, all witnesses, batch witnesses, witness update, batch
add, aggregation and the PoE; each beside the gmpy2 baseline (bench/baseline_gmpy2.py).

    asv run --python=same --quick --bench bench_batch
EDGEACC_BENCH_QUICK=1 skips the slow parameter values (n = 10,000).
"""
import edgeacc
import edgeacc.poe as poe
from edgeacc import _core
from edgeacc.batch import _unweighted_check

from . import baseline_gmpy2 as base
from .common import P, QUICK, digests, rng

_REPS = {}


def reps(count):
    """count distinct 256-bit prime representatives (cached across benchmarks)."""
    have = _REPS.setdefault("xs", [])
    while len(have) < count:
        have.extend(edgeacc.hash_to_prime(d)[0] for d in digests(1000, seed=len(have)))
    return have[:count]


def members(count, tag=b"bench-batch"):
    acc = edgeacc.Accumulator(P, P.generator(tag))
    xs = reps(count)
    acc.add_many(xs)
    return acc, xs


def skip_slow(n):
    if QUICK and n >= 10000:
        raise NotImplementedError("slow case skipped (EDGEACC_BENCH_QUICK=1)")


class MultiExp:
    """prod b_j^e_j mod N, 2048-bit bases, 384-bit exponents (the batch verifier's size)."""

    params = [[8, 64, 1024], ["auto", "tables", "window", "buckets", "gmpy2"]]
    param_names = ["t", "method"]

    def setup(self, t, method):
        r = rng()
        self.bases = [r.randrange(2, P.n - 1) for _ in range(t)]
        self.exps = [r.getrandbits(384) for _ in range(t)]

    def time_multi_exp(self, t, method):
        if method == "gmpy2":
            base.multi_exp(P.n, self.bases, self.exps)
        else:
            edgeacc.multi_exp(P, self.bases, self.exps, method=method)


class MultiExpTable:
    """Evaluation with a precomputed fixed-base table (c = 6)."""

    params = [[8, 64]]
    param_names = ["t"]

    def setup(self, t):
        r = rng()
        self.table = edgeacc.MultiExpTable(P, [r.randrange(2, P.n - 1) for _ in range(t)])
        self.exps = [r.getrandbits(384) for _ in range(t)]

    def time_eval(self, t):
        self.table.eval(self.exps)


class BatchVerify:
    """t membership checks against one accumulator: edgeacc (1 and 2 threads) vs independent
    gmpy2.powmod checks and the same weighted algorithm in Python."""

    params = [[8, 16, 64, 1024], ["edgeacc", "edgeacc-2threads", "gmpy2-independent",
                                  "gmpy2-weighted"]]
    param_names = ["t", "impl"]
    timeout = 300

    def setup(self, t, impl):
        acc, xs = members(t, b"bv-%d" % t)
        ws = acc.all_witnesses()
        self.items = [(w, x, acc.value) for w, x in zip(ws, xs)]
        r = rng()
        self.weights = [r.getrandbits(128) | 1 for _ in range(t)]

    def time_verify(self, t, impl):
        if impl == "edgeacc":
            edgeacc.batch_verify(P, self.items, threads=1)
        elif impl == "edgeacc-2threads":
            edgeacc.batch_verify(P, self.items, threads=2)
        elif impl == "gmpy2-independent":
            base.independent_verify(P.n, self.items)
        else:
            base.weighted_batch_verify(P.n, self.items, self.weights)


class BatchVerifyOneBad:
    """1000 items, one bad: the bisection's cost."""

    timeout = 300

    def setup(self):
        acc, xs = members(1000, b"bv-bad")
        ws = acc.all_witnesses()
        self.items = [(w, x, acc.value) for w, x in zip(ws, xs)]
        self.items[123] = (ws[124], xs[123], acc.value)

    def time_verify(self):
        edgeacc.batch_verify(P, self.items, threads=1)


class PaperProtocol3:
    """The paper's t = 8 comparison: Protocol 3 (unweighted, forgeable; private), the sound
    weighted check, 8 independent checks."""

    params = [["protocol3-edgeacc", "protocol3-gmpy2", "weighted-edgeacc", "independent-gmpy2"]]
    param_names = ["impl"]

    def setup(self, impl):
        acc, xs = members(8, b"paper")
        ws = acc.all_witnesses()
        self.items = [(w, x, acc.value) for w, x in zip(ws, xs)]

    def time_t8(self, impl):
        if impl == "protocol3-edgeacc":
            _unweighted_check(P, self.items)
        elif impl == "protocol3-gmpy2":
            base.protocol3_unweighted(P.n, self.items)
        elif impl == "weighted-edgeacc":
            edgeacc.batch_verify(P, self.items, threads=1)
        else:
            base.independent_verify(P.n, self.items)

    def track_multiplications(self, impl):
        if impl == "protocol3-edgeacc":
            _, mul, sqr = _unweighted_check(P, self.items)
            return mul + sqr
        return float("nan")


class AllWitnesses:
    """Every witness of an n-element accumulator: RootFactory (C, shared squaring chains)."""

    params = [[100, 1000, 10000], [1, 2]]
    param_names = ["n", "threads"]
    timeout = 900
    number = 1
    repeat = 1

    def setup(self, n, threads):
        skip_slow(n)
        self.acc, _ = members(n, b"all-%d" % n)

    def time_all_witnesses(self, n, threads):
        self.acc.all_witnesses(threads=threads)

    def peakmem_all_witnesses(self, n, threads):
        self.acc.all_witnesses(threads=threads)


class AllWitnessesBaseline:
    """The gmpy2 baselines: RootFactory in Python, and the naive method (n powmods by
    (n-1)-element products; only small n, extrapolate quadratically)."""

    params = [[100, 1000], ["gmpy2-rootfactory", "gmpy2-naive"]]
    param_names = ["n", "impl"]
    timeout = 900
    number = 1
    repeat = 1

    def setup(self, n, impl):
        if impl == "gmpy2-naive" and n > 100:
            raise NotImplementedError("naive is quadratic: extrapolate from n = 100")
        self.acc, self.xs = members(n, b"all-%d" % n)

    def time_all_witnesses(self, n, impl):
        if impl == "gmpy2-rootfactory":
            base.root_factory(P.n, self.acc.g, self.xs)
        else:
            base.naive_all_witnesses(P.n, self.acc.g, self.xs)


class BatchWitnesses:
    """Witnesses of t targets among n elements (Protocol 2 improved) vs t single witnesses."""

    params = [[1000, 10000], [10, 100], ["witnesses", "witness-loop"]]
    param_names = ["n", "t", "impl"]
    timeout = 900
    number = 1
    repeat = 1

    def setup(self, n, t, impl):
        skip_slow(n)
        if impl == "witness-loop" and n * t > 100000:
            raise NotImplementedError("loop is O(n t): skipped at this size")
        self.acc, _ = members(n, b"all-%d" % n)
        self.targets = sorted(rng().sample(range(n), t))

    def time_witnesses(self, n, t, impl):
        if impl == "witnesses":
            self.acc.witnesses(self.targets)
        else:
            [self.acc.witness(i) for i in self.targets]


class WitnessUpdate:
    """100 witnesses brought up to date after a batch of appended elements."""

    params = [[10, 100], [1, 2]]
    param_names = ["batch", "threads"]

    def setup(self, batch, threads):
        acc, xs = members(100, b"upd")
        self.ws = acc.all_witnesses()
        self.new = reps(100 + batch)[100:]

    def time_update(self, batch, threads):
        edgeacc.update_witnesses(P, self.ws, self.new, threads=threads)


class BatchAdd:
    """Appending n elements: one add_many vs n single adds (edgeacc and gmpy2)."""

    params = [[100, 1000, 10000], ["add_many", "add-loop", "gmpy2-add_many", "gmpy2-add-loop"]]
    param_names = ["n", "impl"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, n, impl):
        skip_slow(n)
        self.xs = reps(n)
        self.g = P.generator(b"add")

    def time_add(self, n, impl):
        if impl == "add_many":
            edgeacc.Accumulator(P, self.g).add_many(self.xs)
        elif impl == "add-loop":
            acc = edgeacc.Accumulator(P, self.g)
            for x in self.xs:
                acc.add(x)
        elif impl == "gmpy2-add_many":
            base.add_many(P.n, self.g, self.xs)
        else:
            base.add_single(P.n, self.g, self.xs)


class Aggregate:
    """One witness for a set: Shamir's trick over a tree vs the accumulator's direct route."""

    params = [[10, 100], ["aggregate_witnesses", "aggregate_witness"]]
    param_names = ["size", "impl"]

    def setup(self, size, impl):
        self.acc, xs = members(200, b"agg")
        idx = list(range(0, 2 * size, 2))
        ws = self.acc.witnesses(idx)
        self.pairs = [(w, xs[i]) for w, i in zip(ws, idx)]
        self.idx = idx

    def time_aggregate(self, size, impl):
        if impl == "aggregate_witnesses":
            edgeacc.aggregate_witnesses(P, self.pairs)
        else:
            self.acc.aggregate_witness(self.idx)


class PoE:
    """Set membership with constant verifier work: PoE prove and verify vs the direct check
    W^X = v (one exponentiation by the set's product)."""

    params = [[10, 1000], ["prove", "verify", "direct-check"]]
    param_names = ["size", "op"]
    timeout = 300

    def setup(self, size, op):
        self.acc, xs = members(size, b"poe")
        self.idx = list(range(size))
        self.members = xs
        self.proof = poe.prove_set_membership(self.acc, self.idx)
        self.X = _core.product(xs)

    def time_op(self, size, op):
        if op == "prove":
            poe.prove_set_membership(self.acc, self.idx)
        elif op == "verify":
            poe.verify_set_membership(P, self.members, self.acc.value, self.proof)
        else:
            edgeacc.verify_membership(P, self.proof.witness, self.X, self.acc.value)
