"""The arithmetic of distributed RSA modulus generation (Boneh–Franklin, as engineered by
Malkin–Wu–Boneh): Shamir sharing over a prime field or a ring Z_M whose small factors exceed
the party count, the sieving layout that makes candidates free of small factors, public trial
division of N, and the Boneh–Franklin biprimality test values.

Everything here is local computation; :mod:`edgeacc.dkg.protocol` moves the values between
parties. Secret exponents go through the constant-time ``powm_sec``.
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
import threading
from dataclasses import dataclass
from typing import Sequence

from edgeacc import _core

# Field margin: P > 2^(bits + FIELD_MARGIN_BITS). A corrupted Shamir share turns N into a
# value spread over Z_P, which lands in the expected [2^(bits-1), 2^bits) window with
# probability about 2^-FIELD_MARGIN_BITS, so the public range check catches it.
FIELD_MARGIN_BITS = 64
# Each additive share multiplier r_i gets at least this many random bits beyond the sieve
# modulus M, so p is not confined to a handful of multiples of M.
SHARE_SLACK_BITS = 64
# Public trial division of N covers primes up to this bound (measured: above 2^16 the
# Python-level gcd costs more than the biprimality tests it saves).
TRIAL_DIVISION_BOUND = 1 << 16
# Party 1's shares are 11 (mod 12), everybody else's 0 (mod 12): p = q = 3 (mod 4) as
# Boneh–Franklin need, and p = q = 2 (mod 3) so 3 never divides them without sieving by 3.
RESIDUE_MODULUS = 12
FIRST_PARTY_RESIDUE = 11


class _RandomPool(threading.local):
    """os.urandom read 64 KiB at a time: the same randomness with far fewer system calls
    (one call per share cost ~10% of a 2048-bit ceremony). Per thread; refilled after fork
    so a child process never reuses its parent's bytes."""

    BLOCK = 1 << 16

    def __init__(self) -> None:
        self.buffer, self.position, self.pid = b"", 0, os.getpid()

    def take(self, count: int) -> bytes:
        if self.pid != os.getpid() or self.position + count > len(self.buffer):
            self.buffer, self.position, self.pid = os.urandom(max(self.BLOCK, count)), 0, os.getpid()
        chunk = self.buffer[self.position : self.position + count]
        self.position += count
        return chunk


_pool = _RandomPool()


def random_below(modulus: int) -> int:
    """An integer in [0, modulus) from the OS CSPRNG, within 2^-64 of uniform (64 extra bits
    are reduced away instead of rejection sampling)."""
    width = (modulus.bit_length() + 7) // 8 + 8
    return int.from_bytes(_pool.take(width), "big") % modulus


def small_primes(bound: int) -> list[int]:
    """All primes below ``bound`` (sieve of Eratosthenes)."""
    flags = bytearray([1]) * bound
    flags[:2] = b"\x00\x00"
    for i in range(2, math.isqrt(bound - 1) + 1):
        if flags[i]:
            flags[i * i :: i] = bytearray(len(flags[i * i :: i]))
    return [i for i, is_prime in enumerate(flags) if is_prime]


def lagrange_at_zero(points: Sequence[int], modulus: int) -> list[int]:
    """Coefficients c_j with f(0) = sum c_j f(points[j]) for deg f < len(points).

    ``modulus`` may be composite as long as the point differences are units modulo it.
    """
    return list(_lagrange_at_zero(tuple(points), modulus))


@functools.lru_cache(maxsize=256)
def _lagrange_at_zero(points: tuple[int, ...], modulus: int) -> tuple[int, ...]:
    coefficients = []
    for j, xj in enumerate(points):
        numerator, denominator = 1, 1
        for m, xm in enumerate(points):
            if m != j:
                numerator = numerator * xm % modulus
                denominator = denominator * (xm - xj) % modulus
        coefficients.append(numerator * pow(denominator, -1, modulus) % modulus)
    return tuple(coefficients)


def share(secret: int, degree: int, count: int, modulus: int) -> list[int]:
    """Shamir shares f(1..count) of a uniformly random degree-``degree`` f with f(0) = secret."""
    coefficients = [secret % modulus] + [random_below(modulus) for _ in range(degree)]
    return [evaluate(coefficients, x, modulus) for x in range(1, count + 1)]


def evaluate(coefficients: Sequence[int], x: int, modulus: int) -> int:
    """Horner evaluation of sum coefficients[i] x^i mod modulus."""
    acc = 0
    for c in reversed(coefficients):
        acc = (acc * x + c) % modulus
    return acc


def interpolate_at_zero(values: Sequence[int], degree: int, modulus: int) -> int | None:
    """f(0) from f(1..k) = values, or None when the k points do not lie on one polynomial of
    degree <= ``degree`` (the redundancy check that exists when k > degree + 1)."""
    k = len(values)
    basis_points = list(range(1, degree + 2))
    basis = values[: degree + 1]
    secret = sum(c * v for c, v in zip(lagrange_at_zero(basis_points, modulus), basis)) % modulus
    for x in range(degree + 2, k + 1):
        predicted = sum(
            c * v for c, v in zip(lagrange_at(basis_points, x, modulus), basis)
        ) % modulus
        if predicted != values[x - 1]:
            return None
    return secret


def lagrange_at(points: Sequence[int], target: int, modulus: int) -> list[int]:
    """Coefficients c_j with f(target) = sum c_j f(points[j]) for deg f < len(points)."""
    shifted = [x - target for x in points]
    return lagrange_at_zero(shifted, modulus)


@dataclass(frozen=True)
class Layout:
    """Public constants every party derives identically from (bits, k)."""

    bits: int
    parties: int
    sieve_modulus: int  # M: product of the sieving primes, coprime to 12 and to 1..k-1
    sieve_primes: tuple[int, ...]
    field_prime: int  # P for the BGW computation of N
    offset: int  # party 1 adds this multiple of 12M so p, q land in [2^h/sqrt2, 2^h)
    multiplier_bound: int  # r_i is uniform in [0, multiplier_bound)
    trial_divisor: int  # product of the primes < TRIAL_DIVISION_BOUND not dividing 12M

    @property
    def half(self) -> int:
        return self.bits // 2

    def expected_candidates(self) -> float:
        """Expected candidate pairs until both p and q are prime, given that the sieve makes
        them coprime to 12M (heuristic: prime density 1/ln x, Mertens-style correction)."""
        boost = 1.0
        for prime in (2, 3, *self.sieve_primes):
            boost *= prime / (prime - 1)
        density = boost / (self.half * math.log(2))
        return 1.0 / (density * density)

    def unsieved_candidates(self) -> float:
        """The same expectation for odd candidates with no sieving, for comparison."""
        density = 2.0 / (self.half * math.log(2))
        return 1.0 / (density * density)


@functools.lru_cache(maxsize=8)
def layout(bits: int, parties: int) -> Layout:
    """The public constants for ``bits``-bit N shared by ``parties`` parties."""
    half = bits // 2
    # Shamir over Z_M needs the differences 1..k-1 of the evaluation points to be units, so
    # primes below k are left to trial division; 2 and 3 are handled by the residues mod 12.
    first = max(5, parties)
    budget = 1 << (half - SHARE_SLACK_BITS - parties.bit_length() - 4)
    modulus, chosen = 1, []
    for prime in small_primes(1 << 16):
        if prime < first:
            continue
        if modulus * prime > budget:
            break
        modulus *= prime
        chosen.append(prime)
    step = RESIDUE_MODULUS * modulus
    low = math.isqrt(1 << (2 * half - 1)) + 1  # p, q > 2^h / sqrt 2 so N has exactly 2h bits
    offset = -(-low // step) * step
    room = (1 << half) - offset
    # Each party's share is below M * (12 * bound + 13); k of them must fit in `room`.
    multiplier_bound = (room // (parties * modulus) - 13) // RESIDUE_MODULUS
    skip = set(chosen)
    trial = math.prod(p for p in small_primes(TRIAL_DIVISION_BOUND) if p not in skip)
    return Layout(
        bits=bits,
        parties=parties,
        sieve_modulus=modulus,
        sieve_primes=tuple(chosen),
        field_prime=next_prime(1 << (bits + FIELD_MARGIN_BITS)),
        offset=offset,
        multiplier_bound=multiplier_bound,
        trial_divisor=trial,
    )


def next_prime(start: int) -> int:
    """The smallest probable prime >= start (public, so variable time is fine)."""
    candidate = start | 1
    while not _core.is_probable_prime(candidate):
        candidate += 2
    return candidate


def random_unit(modulus: int) -> int:
    """Uniform element of Z_modulus^*."""
    while True:
        value = random_below(modulus)
        if math.gcd(value, modulus) == 1:
            return value


def additive_share(sieve_share: int, party: int, lay: Layout) -> int:
    """Turn party's additive share u (mod M) of the sieved residue a into its integer share
    of p: u + M*t with t fixing the residue mod 12 (11 for party 1, else 0) and random above
    that; party 1 also adds the public offset. Then p = sum of shares = a (mod M)."""
    m = lay.sieve_modulus
    target = FIRST_PARTY_RESIDUE if party == 1 else 0
    fix = (target - sieve_share) * pow(m, -1, RESIDUE_MODULUS) % RESIDUE_MODULUS
    t = fix + RESIDUE_MODULUS * random_below(lay.multiplier_bound)
    value = sieve_share + m * t
    return value + lay.offset if party == 1 else value


def plausible_modulus(n: int, lay: Layout) -> bool:
    """Public facts every honest N satisfies: exactly ``bits`` bits, N = 1 (mod 12) and N a
    unit mod M. A wrong share breaks them with overwhelming probability."""
    return (
        n.bit_length() == lay.bits
        and n % RESIDUE_MODULUS == 1
        and math.gcd(n, lay.sieve_modulus) == 1
    )


def survives_trial_division(n: int, lay: Layout) -> bool:
    """True when N has no prime factor below TRIAL_DIVISION_BOUND (public computation)."""
    return math.gcd(n, lay.trial_divisor) == 1


def public_gamma(session: bytes, n: int, label: bytes) -> int:
    """A public-coin gamma in Z_N with Jacobi(gamma, N) = 1, derived from the session, N and
    a label, so no party chooses it. Returns 0 when a hash output shares a factor with N
    (then N is not an RSA modulus anyway)."""
    width = (n.bit_length() + 7) // 8 + 16  # 128 extra bits: statistically uniform mod N
    counter = 0
    while True:
        stream = b""
        block = 0
        while len(stream) < width:
            stream += hashlib.sha256(
                b"edgeacc/dkg/gamma\x00" + session + n.to_bytes((n.bit_length() + 7) // 8, "big")
                + label + counter.to_bytes(4, "big") + block.to_bytes(4, "big")
            ).digest()
            block += 1
        gamma = int.from_bytes(stream[:width], "big") % n
        counter += 1
        if gamma in (0, 1, n - 1):  # trivially passes the test; never happens in practice
            continue
        symbol = _core.jacobi(gamma, n)
        if symbol == 1:
            return gamma
        if symbol == 0:
            return 0


def biprimality_exponent(n: int, p_share: int, q_share: int, party: int) -> int:
    """Boneh–Franklin: party 1 raises gamma to (N - p_1 - q_1 + 1)/4, the others to
    (p_i + q_i)/4, so the quotient of the results is gamma^(phi(N)/4)."""
    if party == 1:
        return (n - p_share - q_share + 1) // 4
    return (p_share + q_share) // 4


def biprimality_value(gamma: int, n: int, p_share: int, q_share: int, party: int) -> int:
    """gamma^exponent mod N with GMP's constant-time powm_sec: the exponent is secret."""
    return _core.powm_sec(gamma, biprimality_exponent(n, p_share, q_share, party), n)


def biprimality_holds(values: Sequence[int], n: int) -> bool:
    """Accept iff Q_1 = +-prod_{i>=2} Q_i (mod N), i.e. gamma^(phi/4) = +-1."""
    others = 1
    for value in values[1:]:
        others = others * value % n
    first = values[0] % n
    return first == others or first == (n - others) % n


def gcd_test_term(p_share: int, q_share: int, party: int) -> int:
    """Party's additive share of p + q - 1 (party 1 subtracts the 1)."""
    return p_share + q_share - (1 if party == 1 else 0)
