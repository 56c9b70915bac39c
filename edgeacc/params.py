"""Public parameters: the RSA modulus N and per-chain generators (DESIGN.md section 2)."""
from __future__ import annotations


from edgeacc import _checks, _core
from edgeacc.errors import EdgeaccTypeError, InvalidArgument, InvalidModulus

# The protocol constants live in C (csrc/ea_protocol.h), so a C-only verifier and this package
# agree on them. RSA-2048 is the RSA Factoring Challenge number (RSA Laboratories, 1991; listed at
# https://en.wikipedia.org/wiki/RSA_numbers#RSA-2048; tests/data/make_vectors.py has it in
# decimal). Its factors have never been published, which is what an accumulator modulus needs.
RSA_2048 = _core.RSA_2048
MIN_SECURE_BITS = _core.MIN_SECURE_BITS
MIN_INSECURE_BITS = _core.MIN_INSECURE_BITS
MAX_GENERATED_BITS = 8192
GENERATOR_DOMAIN = _core.GENERATOR_DOMAIN

# Where a modulus came from (P.source). Only the first two are vouched for by the library.
RSA2048_CHALLENGE = "rsa2048-challenge"   # public challenge number; nobody has its factors
CEREMONY = "ceremony"                     # multi-process distributed generation (DESIGN 5)
IN_PROCESS_CEREMONY = "in-process-ceremony"   # one process held every share: dealer-equivalent
GENERATED = "generated"                   # generate_insecure_params: this process saw p and q
CALLER = "caller"                         # caller-supplied: the library cannot vouch for it
VOUCHED_SOURCES = frozenset({RSA2048_CHALLENGE, CEREMONY})

# Screens for a modulus the library did not make (ea_modulus.h). Trial division to 2^32 costs
# seconds (a sieve of the 2*10^8 primes below it), so it runs for a modulus that would not be
# flagged insecure; a declared test modulus (insecure=True) is trial-divided to 2^24.
TRIAL_BOUND = 1 << 32
TEST_TRIAL_BOUND = 1 << 24
FERMAT_STEPS = 1 << 18

# Moduli whose factors this process saw (generated, or an in-process ceremony) -> source, so
# re-wrapping P.n in Params(n) keeps the insecure label; and the screen verdicts by (n, bound).
_known_origin: dict[int, str] = {}
_screened: dict[tuple[int, int], str | None] = {}

_WEAKNESS = {
    _core.WEAK_PERFECT_POWER: "modulus is a perfect power r^k: if r is a prime its group order is known",
    _core.WEAK_PRIME: "modulus is prime: its group order is known",
    _core.WEAK_NEAR_SQUARE: "modulus factors by Fermat's method (its two factors are too close)",
}


def _screen(n: int, bound: int) -> None:
    """Raise InvalidModulus if a cheap screen factors n (cached per process)."""
    key = (n, bound)
    if key not in _screened:
        weakness, factor = _core.screen_modulus(n, bound, FERMAT_STEPS, _checks.default_threads())
        if weakness == _core.WEAK_SMALL_FACTOR:
            _screened[key] = f"modulus has the small factor {factor}"
        else:
            _screened[key] = _WEAKNESS.get(weakness)
    if _screened[key] is not None:
        raise InvalidModulus(_screened[key])


class Params:
    """An RSA modulus and where it came from.

    ``P.source`` says where N came from: ``"rsa2048-challenge"`` (the public challenge number),
    ``"ceremony"`` (a multi-process distributed generation), ``"in-process-ceremony"`` (all
    shares in one process: dealer-equivalent), ``"generated"`` (a local test modulus) or
    ``"caller"`` (anything else). ``P.secure`` is the library's claim: true only for the first
    two, at 2048 bits or more, and not flagged insecure. ``P.insecure`` is the test-only flag:
    the caller's ``insecure=True``, or set because this process saw the factors.

    ``Params(n)`` for a caller-supplied n refuses the moduli anyone can factor at once: even,
    prime, perfect powers, a prime factor below 2^32 (2^24 for ``insecure=True``), factors so
    close that Fermat's method splits N. Passing them proves nothing: whoever made N may know
    its factors, N may have three or more prime factors, a factor between 2^32 and the reach
    of ECM, or a prime p with smooth p - 1; so a caller modulus is never ``secure``, and
    ``insecure=False`` is only the caller's own statement that N is meant for real use.

    >>> P = Params.rsa2048()
    >>> P.bits, P.source, P.secure, P.insecure
    (2048, 'rsa2048-challenge', True, False)
    >>> Params(P.n).source
    'rsa2048-challenge'
    >>> Params(15)
    Traceback (most recent call last):
    ...
    edgeacc.errors.InvalidModulus: modulus has 4 bits; at least 2048 are required (pass insecure=True for tests)
    """

    __slots__ = ("_n", "_bits", "_insecure", "_source", "_nbytes")

    def __init__(self, n: int, insecure: bool = False) -> None:
        n = _checks.integer(n, "modulus")
        insecure = _checks.boolean(insecure, "insecure")
        bits = self._check_size(n, insecure)
        if n == RSA_2048:
            source = RSA2048_CHALLENGE
        elif n in _known_origin:
            source, insecure = _known_origin[n], True
        else:
            source = CALLER
            _screen(n, TEST_TRIAL_BOUND if insecure else TRIAL_BOUND)
        self._set(n, bits, insecure, source)

    @staticmethod
    def _check_size(n: int, insecure: bool) -> int:
        if n <= 0 or n % 2 == 0:
            raise InvalidModulus("modulus must be a positive odd integer")
        bits = n.bit_length()
        floor = MIN_INSECURE_BITS if insecure else MIN_SECURE_BITS
        if bits < floor:
            hint = "" if insecure else " (pass insecure=True for tests)"
            raise InvalidModulus(f"modulus has {bits} bits; at least {floor} are required{hint}")
        return bits

    def _set(self, n: int, bits: int, insecure: bool, source: str) -> None:
        self._n, self._bits, self._insecure, self._source = n, bits, insecure, source
        self._nbytes = (bits + 7) // 8

    @classmethod
    def _labelled(cls, n: int, source: str) -> "Params":
        """A modulus whose origin the library knows (generation, ceremonies). Sources whose
        factors this process saw are remembered, so Params(P.n) keeps their label."""
        insecure = source not in VOUCHED_SOURCES or n.bit_length() < MIN_SECURE_BITS
        bits = cls._check_size(n, insecure)
        if source != GENERATED:     # generated: made here from two random half-size primes
            _screen(n, TEST_TRIAL_BOUND if insecure else TRIAL_BOUND)
        if source in (GENERATED, IN_PROCESS_CEREMONY):
            _known_origin[n] = source
        P = cls.__new__(cls)
        P._set(n, bits, insecure, source)
        return P

    @classmethod
    def rsa2048(cls) -> "Params":
        """The default public modulus: the RSA-2048 challenge number."""
        return cls(RSA_2048)

    n = property(lambda self: self._n, doc="The modulus N (int).")
    bits = property(lambda self: self._bits, doc="Bit length of N.")
    insecure = property(lambda self: self._insecure,
                        doc="True for a test-only modulus (declared, or its factors were seen).")
    source = property(lambda self: self._source, doc="Where N came from (see the class doc).")

    @property
    def secure(self) -> bool:
        """True iff the library vouches for N: the RSA-2048 challenge or a multi-process
        ceremony, at least 2048 bits, not flagged insecure."""
        return self._source in VOUCHED_SOURCES and not self._insecure

    @property
    def element_bytes(self) -> int:
        """Width in bytes of a serialised group element (the width of N)."""
        return self._nbytes

    def generator(self, chain_id: bytes) -> int:
        """g = H_to_ZN("edgeacc/gen" || chain_id)^2 mod N: nobody chooses it.

        The hash is expanded to |N| + 128 bits before reduction so the result is
        statistically close to uniform (csrc/ea_protocol.h has the exact derivation).
        """
        chain_id = _checks.data_bytes(chain_id, "chain_id")
        if not chain_id:
            raise InvalidArgument("chain_id must not be empty")
        # ea_derive_generator; a non-unit or +-1 (which would reveal a factor of N) raises.
        return _core.derive_generator(self.n, chain_id)

    def __eq__(self, other) -> bool:
        return (isinstance(other, Params) and other.n == self.n
                and other.insecure == self.insecure and other.source == self.source)

    def __hash__(self) -> int:
        return hash((self.n, self.insecure, self.source))

    def __repr__(self) -> str:
        flag = ", insecure=True" if self.insecure else ""
        return f"Params(<{self.bits}-bit modulus {hex(self.n)[:12]}...>, source={self.source!r}{flag})"


def generate_insecure_params(bits: int = 1024, seed: int | None = None) -> Params:
    """A locally generated modulus for tests only: the process saw the factors, so the
    object says insecure=True and source "generated" (kept when P.n is re-wrapped in Params in
    this process). Use Params.rsa2048() or a multi-process ceremony otherwise."""
    import random

    if isinstance(bits, bool) or not isinstance(bits, int):
        raise EdgeaccTypeError(f"bits must be an int, got {type(bits).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise EdgeaccTypeError(f"seed must be an int or None, got {type(seed).__name__}")
    if not MIN_INSECURE_BITS <= bits <= MAX_GENERATED_BITS:
        raise InvalidArgument(f"bits must be in {MIN_INSECURE_BITS}..{MAX_GENERATED_BITS}")
    rng = random.Random(seed)

    def prime(k):
        while True:
            c = rng.getrandbits(k) | (1 << (k - 1)) | 1
            if _core.is_probable_prime(c):
                return c

    while True:
        n = prime(bits // 2) * prime(bits - bits // 2)
        if n.bit_length() == bits:
            return Params._labelled(n, GENERATED)
