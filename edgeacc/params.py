"""Public parameters: the RSA modulus N and per-chain generators (DESIGN.md section 2)."""
from __future__ import annotations


from edgeacc import _checks, _core
from edgeacc.errors import EdgeaccTypeError, InvalidArgument, InvalidModulus, ReadOnlyError, brief

# The protocol constants live in C (csrc/ea_protocol.h), so a C-only verifier and this package
# agree on them. RSA-2048 is the RSA Factoring Challenge number (RSA Laboratories, 1991; listed at
# https://en.wikipedia.org/wiki/RSA_numbers#RSA-2048; tests/data/make_vectors.py has it in
# decimal). Its factors have never been published, which is what an accumulator modulus needs.
RSA_2048 = _core.RSA_2048
MIN_SECURE_BITS = _core.MIN_SECURE_BITS
MIN_INSECURE_BITS = _core.MIN_INSECURE_BITS
MAX_GENERATED_BITS = 8192
# The screens are linear (trial division) to quadratic in |N|: a caller-supplied N is bounded
# so that a huge one is refused instead of hanging the process.
MAX_MODULUS_BITS = MAX_GENERATED_BITS     # also the largest ceremony (DkgConfig)
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

# Every modulus whose origin this process recorded -> its source: the one record the labels
# are derived from. Params(P.n) keeps P's label, and a Params whose fields were overwritten
# (object.__setattr__, a crafted pickle) is never `secure` unless this record vouches for n.
# A record is only ever downgraded (a vouched origin never replaces another record). And the
# screen verdicts by (n, bound).
_origin: dict[int, str] = {RSA_2048: RSA2048_CHALLENGE}
_screened: dict[tuple[int, int], str | None] = {}
_SEEN_FACTORS = (GENERATED, IN_PROCESS_CEREMONY)


def _record_origin(n: int, source: str) -> None:
    if n not in _origin or source not in VOUCHED_SOURCES:
        _origin[n] = source

_WEAKNESS = {
    _core.WEAK_PERFECT_POWER: "modulus is a perfect power r^k: if r is a prime its group order is known",
    _core.WEAK_PRIME: "modulus is prime: its group order is known",
    _core.WEAK_NEAR_SQUARE: "modulus factors by Fermat's method (its two factors are too close)",
    _core.WEAK_PSEUDOPRIME: ("modulus is a Fermat pseudoprime to a small base (Carmichael-like): "
                             "N - 1 is a public multiple of that base's order"),
}


def _screen(n: int, bound: int) -> None:
    """Raise InvalidModulus if a cheap screen factors n (cached per process)."""
    key = (n, bound)
    if key not in _screened:
        weakness, factor = _core.screen_modulus(n, bound, FERMAT_STEPS, _checks.default_threads())
        if weakness == _core.WEAK_SMALL_FACTOR:
            _screened[key] = f"modulus has the small factor {factor}"
        elif weakness == _core.WEAK_SMOOTH_ORDER:
            _screened[key] = (f"modulus factors by Pollard's p-1 (a prime factor p has smooth "
                              f"p - 1; factor {brief(factor)})")
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
    close that Fermat's method splits N, a Fermat pseudoprime to a small base (Carmichael
    numbers: N - 1 is a multiple of the group exponent), a prime p with 2^18-smooth p - 1
    (Pollard's p - 1; 2^14 for ``insecure=True``), and more than 8192 bits. Passing them proves
    nothing: whoever made N may know its factors, N may have three or more prime factors, a
    factor between 2^32 and the reach of ECM, or p - 1 smooth beyond the bound; so a caller
    modulus is never ``secure``, and ``insecure=False`` is only the caller's own statement
    that N is meant for real use.

    The labels are derived from this process's record of where each modulus came from, not
    from the object's fields: ``Params`` is immutable and final, ``Params(P.n)`` and copies
    keep P's label, and a pickle carries only (n, insecure) (unpickled elsewhere, a ceremony
    modulus is ``"caller"``).

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
        source = _origin.get(n, CALLER)
        if source == CALLER:
            _screen(n, TEST_TRIAL_BOUND if insecure else TRIAL_BOUND)
        self._set(n, bits, insecure or source in _SEEN_FACTORS, source)

    def __init_subclass__(cls, **kwargs):
        # A subclass could override `secure`/`source`; the labels are the library's claim.
        raise EdgeaccTypeError("edgeacc.Params cannot be subclassed")

    def __setattr__(self, name, value):
        raise ReadOnlyError("edgeacc.Params is immutable")

    def __delattr__(self, name):
        raise ReadOnlyError("edgeacc.Params is immutable")

    def __getattr__(self, name):
        # Only reached for a field never set: an object made by Params.__new__ alone.
        if name in Params.__slots__:
            raise EdgeaccTypeError("uninitialised edgeacc.Params (made without Params(n))")
        raise AttributeError(name)

    def __reduce__(self):
        # Unpickling and copying re-run the constructor: the label comes from the receiving
        # process's record, never from the pickled fields.
        return (Params, (self._n, self._insecure))

    @staticmethod
    def _check_size(n: int, insecure: bool) -> int:
        if n <= 0 or n % 2 == 0:
            raise InvalidModulus("modulus must be a positive odd integer")
        bits = n.bit_length()
        floor = MIN_INSECURE_BITS if insecure else MIN_SECURE_BITS
        if bits < floor:
            hint = "" if insecure else " (pass insecure=True for tests)"
            raise InvalidModulus(f"modulus has {bits} bits; at least {floor} are required{hint}")
        if bits > MAX_MODULUS_BITS:
            raise InvalidModulus(f"modulus has {bits} bits; at most {MAX_MODULUS_BITS} are supported")
        return bits

    def _set(self, n: int, bits: int, insecure: bool, source: str) -> None:
        for name, value in (("_n", n), ("_bits", bits), ("_insecure", insecure),
                            ("_source", source), ("_nbytes", (bits + 7) // 8)):
            object.__setattr__(self, name, value)

    @classmethod
    def _labelled(cls, n: int, source: str) -> "Params":
        """A modulus whose origin the library knows (generation, ceremonies). Sources whose
        factors this process saw are remembered, so Params(P.n) keeps their label."""
        insecure = source not in VOUCHED_SOURCES or n.bit_length() < MIN_SECURE_BITS
        cls._check_size(n, insecure)     # raises on a bad size before the screens
        if source != GENERATED:     # generated: made here from two random half-size primes
            _screen(n, TEST_TRIAL_BOUND if insecure else TRIAL_BOUND)
        _record_origin(n, source)
        return cls(n, insecure=insecure)

    @classmethod
    def rsa2048(cls) -> "Params":
        """The default public modulus: the RSA-2048 challenge number."""
        return cls(RSA_2048)

    n = property(lambda self: self._n, doc="The modulus N (int).")
    bits = property(lambda self: self._bits, doc="Bit length of N.")
    source = property(lambda self: self._source, doc="Where N came from (see the class doc).")

    @property
    def insecure(self) -> bool:
        """True for a test-only modulus (declared, or this process saw its factors)."""
        return self._insecure or _origin.get(self._n) in _SEEN_FACTORS

    @property
    def secure(self) -> bool:
        """True iff the library vouches for N: this process recorded N as the RSA-2048
        challenge or a multi-process ceremony, N has at least 2048 bits, not flagged insecure."""
        return (_origin.get(self._n) == self._source and self._source in VOUCHED_SOURCES
                and not self._insecure and self._n.bit_length() >= MIN_SECURE_BITS)

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
        return (f"Params(<{self.bits}-bit modulus {hex(self.n)[:12]}...>, source={self.source!r}, "
                f"secure={self.secure}{flag})")


def generate_insecure_params(bits: int = 1024, seed: int | None = None) -> Params:
    """A locally generated modulus for tests only: the process saw the factors, so the
    object says insecure=True and source "generated" (kept when P.n is re-wrapped in Params in
    this process). Use Params.rsa2048() or a multi-process ceremony otherwise."""
    import random

    bits = _checks.small_int(bits, "bits", MIN_INSECURE_BITS, MAX_GENERATED_BITS)
    if seed is not None:
        seed = _checks.integer(seed, "seed (an int or None)")
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
