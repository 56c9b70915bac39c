"""Public parameters: the RSA modulus N and per-chain generators (DESIGN.md section 2)."""
from __future__ import annotations

import hashlib

from edgeacc import _core
from edgeacc.errors import EdgeaccTypeError, InvalidArgument, InvalidModulus

# RSA-2048 from the RSA Factoring Challenge (RSA Laboratories, 1991; listed at
# https://en.wikipedia.org/wiki/RSA_numbers#RSA-2048). Its factors have never been published,
# which is the property an accumulator modulus needs.
RSA_2048 = int(
    "2519590847565789349402718324004839857142928212620403202777713783604366202070"
    "7595556264018525880784406918290641249515082189298559149176184502808489120072"
    "8449926873928072877767359714183472702618963750149718246911650776133798590957"
    "0009733045974880842840179742910064245869181719511874612151517265463228221686"
    "9987549182422433637259085141865462043576798423387184774447920739934236584823"
    "8242811981638150106748104516603773060562016196762561338441436038339044149526"
    "3443219011465754445417842402092461651572335077870774981712577246796292638635"
    "6373289912154831438167899885040445364023527381951378636564391212010397122822"
    "120720357"
)

MIN_SECURE_BITS = 2048
MIN_INSECURE_BITS = 256
SMALL_FACTOR_BOUND = 1 << 16
GENERATOR_DOMAIN = b"edgeacc/gen"


def _expand(domain: bytes, message: bytes, nbytes: int) -> bytes:
    """SHA-256 in counter mode: nbytes of output bound to (domain, message)."""
    out = bytearray()
    counter = 0
    while len(out) < nbytes:
        h = hashlib.sha256()
        h.update(len(domain).to_bytes(1, "big") + domain)
        h.update(counter.to_bytes(4, "big"))
        h.update(message)
        out += h.digest()
        counter += 1
    return bytes(out[:nbytes])


def _iroot(n: int, k: int) -> int:
    """floor(n ** (1/k)) for n >= 1, k >= 2 (Newton's method on integers)."""
    x = 1 << -(-n.bit_length() // k)
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def _perfect_power_exponent(n: int) -> int:
    """A prime k with n = r^k, or 0. n has no factor below SMALL_FACTOR_BOUND = 2^16, so
    r > 2^16 and only k <= bits / 16 need checking."""
    for k in range(2, n.bit_length() // 16 + 2):
        if all(k % d for d in range(2, int(k ** 0.5) + 1)) and _iroot(n, k) ** k == n:
            return k
    return 0


class Params:
    """An RSA modulus of unknown factorisation.

    >>> P = Params.rsa2048()
    >>> P.bits, P.insecure
    (2048, False)
    >>> Params(15)
    Traceback (most recent call last):
    ...
    edgeacc.errors.InvalidModulus: modulus has 4 bits; at least 2048 are required (pass insecure=True for tests)
    """

    __slots__ = ("n", "bits", "insecure", "_nbytes")

    def __init__(self, n: int, insecure: bool = False) -> None:
        if isinstance(n, bool) or not hasattr(n, "__index__") or isinstance(n, float):
            raise EdgeaccTypeError(f"modulus must be an int, got {type(n).__name__}")
        n = int(n.__index__())
        if not isinstance(insecure, bool):
            raise EdgeaccTypeError("insecure must be a bool")
        if n <= 0 or n % 2 == 0:
            raise InvalidModulus("modulus must be a positive odd integer")
        bits = n.bit_length()
        floor = MIN_INSECURE_BITS if insecure else MIN_SECURE_BITS
        if bits < floor:
            hint = "" if insecure else " (pass insecure=True for tests)"
            raise InvalidModulus(f"modulus has {bits} bits; at least {floor} are required{hint}")
        p = _core.smallest_factor(n, SMALL_FACTOR_BOUND)
        if p:
            raise InvalidModulus(f"modulus has the small factor {p}")
        if _core.is_probable_prime(n):
            raise InvalidModulus("modulus is prime: its group order is known")
        k = _perfect_power_exponent(n)
        if k:
            raise InvalidModulus(f"modulus is a perfect power r^{k}: if r is a prime "
                                 "its group order is known")
        self.n = n
        self.bits = bits
        self.insecure = insecure
        self._nbytes = (bits + 7) // 8

    @classmethod
    def rsa2048(cls) -> "Params":
        """The default public modulus: the RSA-2048 challenge number."""
        return cls(RSA_2048)

    @property
    def element_bytes(self) -> int:
        """Width in bytes of a serialised group element (the width of N)."""
        return self._nbytes

    def generator(self, chain_id: bytes) -> int:
        """g = H_to_ZN("edgeacc/gen" || chain_id)^2 mod N: nobody chooses it.

        The hash is expanded to |N| + 128 bits before reduction so the result is
        statistically close to uniform.
        """
        if not isinstance(chain_id, (bytes, bytearray)):
            raise EdgeaccTypeError("chain_id must be bytes")
        if not chain_id:
            raise InvalidArgument("chain_id must not be empty")
        h = int.from_bytes(_expand(GENERATOR_DOMAIN, bytes(chain_id), self._nbytes + 16), "big")
        g = _core.powm(h % self.n, 2, self.n) if h % self.n else 0
        # Hitting a non-unit or +-1 would reveal a factor of N; treat as impossible but check.
        _core.check_element(g, self.n)
        return g

    def __eq__(self, other) -> bool:
        return isinstance(other, Params) and other.n == self.n and other.insecure == self.insecure

    def __hash__(self) -> int:
        return hash((self.n, self.insecure))

    def __repr__(self) -> str:
        flag = ", insecure=True" if self.insecure else ""
        return f"Params(<{self.bits}-bit modulus {hex(self.n)[:12]}...>{flag})"


def generate_insecure_params(bits: int = 1024, seed: int | None = None) -> Params:
    """A locally generated modulus for tests only: the process saw the factors, so the
    object says insecure=True. Use Params.rsa2048() or a distributed modulus otherwise."""
    import random

    if isinstance(bits, bool) or not isinstance(bits, int):
        raise EdgeaccTypeError(f"bits must be an int, got {type(bits).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise EdgeaccTypeError(f"seed must be an int or None, got {type(seed).__name__}")
    if bits < MIN_INSECURE_BITS:
        raise InvalidArgument(f"bits must be >= {MIN_INSECURE_BITS}")
    rng = random.Random(seed)

    def prime(k):
        while True:
            c = rng.getrandbits(k) | (1 << (k - 1)) | 1
            if _core.is_probable_prime(c):
                return c

    while True:
        n = prime(bits // 2) * prime(bits - bits // 2)
        if n.bit_length() == bits:
            return Params(n, insecure=True)
