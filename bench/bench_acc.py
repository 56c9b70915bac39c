"""asv benchmarks of issue 14: non-membership create/verify, batch non-membership verify,
delete, batch delete, verifiable batch-add proof create/verify and PoKE2 verify, each beside
the same algorithm in gmpy2 (bench/baseline_acc_gmpy2.py).

    asv run --python=same --quick --bench bench_acc
EDGEACC_BENCH_QUICK=1 skips the slow parameter values (t = 1024, n = 1000).
"""
import edgeacc
from edgeacc import poe, poke, updates
from edgeacc.batch import _weights

from . import baseline_acc_gmpy2 as base
from .baseline_gmpy2 import _product
from .bench_batch import members, reps
from .common import P, QUICK

IMPLS = ["edgeacc", "gmpy2"]


def skip_slow(n):
    if QUICK and n >= 1000:
        raise NotImplementedError("slow case skipped (EDGEACC_BENCH_QUICK=1)")


def absent(count):
    return reps(2000 + count)[2000:]


class NonMembership:
    """Create and verify the witness of one non-member of a 100-element accumulator."""

    params = [IMPLS]
    param_names = ["impl"]

    def setup(self, impl):
        self.acc, self.xs = members(100, b"bench-nm")
        self.y = absent(1)[0]
        self.nw = self.acc.nonmembership_witness(self.y)

    def time_create(self, impl):
        if impl == "edgeacc":
            self.acc.nonmembership_witness(self.y)
        else:
            base.nonmem_create(P.n, self.acc.g, _product(self.xs), self.y)

    def time_verify(self, impl):
        if impl == "edgeacc":
            self.acc.verify_nonmembership(self.y, self.nw)
        else:
            base.nonmem_verify(P.n, self.acc.g, self.acc.value, self.y, *self.nw)


class BatchNonMembershipVerify:
    """The weighted batch test of t non-membership witnesses against one value."""

    params = [[16, 1024], IMPLS]
    param_names = ["t", "impl"]

    def setup(self, t, impl):
        skip_slow(t)
        acc, _ = members(100, b"bench-nm")
        self.g, self.v = acc.g, acc.value
        ys = absent(t)
        self.items = list(zip(ys, acc.nonmembership_witnesses(ys)))

    def time_batch_verify(self, t, impl):
        if impl == "edgeacc":
            edgeacc.batch_verify_nonmembership(P, self.g, self.v, self.items)
        else:
            base.nonmem_batch_verify(P.n, self.g, self.v, self.items, _weights(len(self.items), 128))


class Delete:
    """Delete n elements of 2n with their witnesses (n = 1: one check; n = 1000: a weighted
    check and Shamir's trick over a tree - the gmpy2 side - or the cheaper stored prefix)."""

    params = [[1, 1000], IMPLS]
    param_names = ["n", "impl"]
    number = 1          # each sample deletes from a fresh setup: no warm-up calls
    repeat = 3
    warmup_time = 0

    def setup(self, n, impl):
        skip_slow(n)
        self.acc, self.xs = members(2 * n if n > 1 else 100, b"bench-del")
        self.doomed = self.xs[:n]
        self.ws = self.acc.witnesses(range(n))
        self.v = self.acc.value

    def time_delete(self, n, impl):
        if impl == "edgeacc":
            self.acc.delete_many(self.doomed, self.ws)
        elif n == 1:
            base.delete(P.n, self.v, self.doomed[0], self.ws[0])
        else:
            base.batch_delete(P.n, self.v, self.doomed, self.ws, _weights(n, 128))


class BatchAddProof:
    """add_many_with_proof of n elements and the full check of its proof (with the elements)."""

    params = [[16, 1000], IMPLS]
    param_names = ["n", "impl"]
    number = 1
    repeat = 3

    def setup(self, n, impl):
        skip_slow(n)
        self.batch = reps(3000 + n)[3000:]
        acc, _ = members(10, b"bench-add")
        self.acc, self.v0 = acc, acc.value
        probe, _ = members(10, b"bench-add")
        self.v1, self.proof = probe.add_many_with_proof(self.batch)
        self.ctx = lambda X: updates.update_context("add", n, poe.commit_exponent(X))

    def time_create(self, n, impl):
        if impl == "edgeacc":
            members(10, b"bench-add")[0].add_many_with_proof(self.batch)
        else:
            base.batch_add_proof(P, self.acc.g, self.v0, self.batch, self.ctx)

    def time_verify(self, n, impl):
        p = self.proof
        if impl == "edgeacc":
            edgeacc.verify_update(P, self.acc.g, self.v0, self.v1, p, elements=self.batch)
        else:
            base.batch_add_verify(P, self.acc.g, self.v0, self.v1, self.batch, p.poe.Q,
                                  (p.poke.z, p.poke.Q, p.poke.r), self.ctx)


class PoKE2Verify:
    """One PoKE2 check (the light client's whole work for a batch update)."""

    params = [IMPLS]
    param_names = ["impl"]

    def setup(self, impl):
        self.g, self.u = P.generator(b"bench-pk"), P.generator(b"bench-pk-u")
        self.w, self.proof = poke.prove(P, self.g, self.u, _product(reps(8)), b"bench")

    def time_verify(self, impl):
        if impl == "edgeacc":
            poke.verify(P, self.g, self.u, self.w, self.proof, b"bench")
        else:
            p = self.proof
            base.poke2_verify(P.n, self.g, self.u, self.w, (p.z, p.Q, p.r), b"bench")
