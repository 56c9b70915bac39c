"""asv benchmarks of distributed modulus generation (issue 6), at small sizes: a whole
in-process ceremony, and the per-candidate primitives that dominate it at 2048 bits
(one Boneh–Franklin exponentiation, public trial division of N)."""
import random

from edgeacc.dkg import DkgConfig, run_in_process
from edgeacc.dkg import math as dm

from .common import QUICK, rng


class Ceremony:
    """A whole k-party ceremony in one process (threads). Candidate counts are random, so
    expect a wide spread between repeats."""

    params = [[256, 512] if QUICK else [256, 512, 1024], [3, 5]]
    param_names = ["bits", "parties"]
    timeout = 300

    def time_generate(self, bits, parties):
        run_in_process(DkgConfig(parties=parties, bits=bits, timeout=120))


class BiprimalityValue:
    """Party 1's gamma^((N - p_1 - q_1 + 1)/4) mod N with powm_sec (the costliest step)."""

    params = [[1024, 2048]]
    param_names = ["bits"]

    def setup(self, bits):
        r = rng()
        self.n = r.getrandbits(bits) | (1 << (bits - 1)) | 1
        self.p_share = r.getrandbits(bits // 2) * 4 + 3
        self.q_share = r.getrandbits(bits // 2) * 4 + 3
        self.gamma = r.randrange(2, self.n - 1)

    def time_value(self, bits):
        dm.biprimality_value(self.gamma, self.n, self.p_share, self.q_share, 1)


class TrialDivision:
    """Public trial division of one candidate N by the primes below 2^16."""

    params = [[1024, 2048]]
    param_names = ["bits"]

    def setup(self, bits):
        self.layout = dm.layout(bits, 3)
        self.n = random.Random(1).getrandbits(bits) | 1

    def time_trial_division(self, bits):
        dm.survives_trial_division(self.n, self.layout)
