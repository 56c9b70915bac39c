"""asv benchmarks of the engine core (issue 2): exponentiation, membership verification,
hash-to-prime and the nonce check, each beside the gmpy2 call a Python user would write."""
import hashlib

import gmpy2

import edgeacc
from edgeacc import _core

from .common import P, digests, rng


class Powm:
    """base^e mod N with a 2048-bit base and N; e of the given bit length."""

    params = [[256, 2048], ["edgeacc", "gmpy2"]]
    param_names = ["exponent_bits", "impl"]

    def setup(self, bits, impl):
        r = rng()
        self.base = r.randrange(2, P.n - 1)
        self.exp = r.getrandbits(bits) | (1 << (bits - 1))
        self.fn = edgeacc.powm if impl == "edgeacc" else gmpy2.powmod

    def time_powm(self, bits, impl):
        self.fn(self.base, self.exp, P.n)


class VerifyMembership:
    """One membership check w^x = +-v with a 256-bit prime representative."""

    params = [["edgeacc", "gmpy2"]]
    param_names = ["impl"]

    def setup(self, impl):
        acc = edgeacc.Accumulator(P, P.generator(b"bench"))
        self.xs = [edgeacc.hash_to_prime(d)[0] for d in digests(4)]
        acc.add_many(self.xs)
        self.w, self.v = acc.witness(2), acc.value

    def time_verify(self, impl):
        if impl == "edgeacc":
            edgeacc.verify_membership(P, self.w, self.xs[2], self.v)
        else:
            r = gmpy2.powmod(self.w, self.xs[2], P.n)
            r == self.v or r == P.n - self.v


class HashToPrime:
    """hash_to_prime of a digest vs gmpy2.next_prime of the digest read as an integer."""

    params = [["edgeacc", "gmpy2.next_prime"]]
    param_names = ["impl"]

    def setup(self, impl):
        self.inputs = digests(200)
        self.ints = [int.from_bytes(d, "big") for d in self.inputs]

    def time_200(self, impl):
        if impl == "edgeacc":
            for d in self.inputs:
                edgeacc.hash_to_prime(d)
        else:
            for i in self.ints:
                gmpy2.next_prime(i)


class CheckRepresentative:
    """The verifier's one-candidate check given the nonce."""

    def setup(self):
        self.inputs = digests(200)
        self.reps = [edgeacc.hash_to_prime(d) for d in self.inputs]

    def time_200(self):
        for d, (x, k) in zip(self.inputs, self.reps):
            edgeacc.check_representative(d, x, k)


class AddMany:
    """One exponentiation by the product of n representatives vs n single adds."""

    params = [[10, 100, 1000], ["add_many", "add_each"]]
    param_names = ["n", "method"]

    def setup(self, n, method):
        self.xs = [x for x, _ in (edgeacc.hash_to_prime(d) for d in digests(n))]

    def time_add(self, n, method):
        acc = edgeacc.Accumulator(P, P.generator(b"bench"))
        if method == "add_many":
            acc.add_many(self.xs)
        else:
            for x in self.xs:
                acc.add(x)


class Product:
    params = [[100, 1000, 10000]]
    param_names = ["n"]

    def setup(self, n):
        r = rng()
        self.xs = [r.getrandbits(256) | 1 for _ in range(n)]

    def time_product(self, n):
        _core.product(self.xs)

    def peakmem_product(self, n):
        _core.product(self.xs)
