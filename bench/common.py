"""Shared setup for the benchmarks: seeded inputs on the RSA-2048 modulus.

EDGEACC_BENCH_QUICK=1 skips the slow parameter values (asv and pytest-benchmark alike).
"""
import hashlib
import os
import random
import time

import edgeacc

QUICK = os.environ.get("EDGEACC_BENCH_QUICK") == "1"
P = edgeacc.Params.rsa2048()


def rng(seed: int = 2026) -> random.Random:
    return random.Random(seed)


def digests(count: int, seed: int = 1):
    """SHA-256 digests of distinct byte strings: the inputs of hash_to_prime and next_prime."""
    return [hashlib.sha256(b"bench-%d-%d" % (seed, i)).digest() for i in range(count)]


def best(fn, repeat):
    """The shortest of `repeat` timed calls of fn (seconds)."""
    out = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out
