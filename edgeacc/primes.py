"""Hash-to-prime element representatives (DESIGN.md section 2)."""
from __future__ import annotations

import operator

from edgeacc import _core

# From csrc/ea_protocol.h (the one definition). Candidates are ~1/89 prime before sieving;
# MAX_NONCE = 2^20 tries failing has probability ~e^-11800.
H2P_DOMAIN = _core.H2P_DOMAIN
REPRESENTATIVE_BITS = _core.H2P_BITS
MAX_NONCE = _core.H2P_MAX_NONCE


def hash_to_prime(data: bytes) -> tuple[int, int]:
    """The 256-bit prime representative of `data` and its nonce k.

    x is the first candidate c_k = SHA-256(len || "edgeacc/h2p" || data || be32(k)), top and
    low bit set, that passes a small-prime sieve and BPSW.

    >>> x, k = hash_to_prime(b"block 1")
    >>> x.bit_length(), check_representative(b"block 1", x, k)
    (256, True)
    >>> hash_to_prime(b"")
    Traceback (most recent call last):
    ...
    edgeacc.errors.InvalidArgument: data must not be empty
    """
    return _core.hash_to_prime(H2P_DOMAIN, data, REPRESENTATIVE_BITS, MAX_NONCE)


def check_representative(data: bytes, x: int, k: int) -> bool:
    """True iff x is candidate k of `data` and a probable prime: one test, no search.

    It does not check that no smaller nonce also gives a prime; `is_first_representative`
    does (at the cost of the search).
    """
    if not isinstance(k, int) or isinstance(k, bool):
        return False
    k = operator.index(k)       # an exact int: an int subclass's comparisons never run
    if not 0 <= k < MAX_NONCE:
        return False
    return _core.check_representative(H2P_DOMAIN, data, x, k, REPRESENTATIVE_BITS)


def is_first_representative(data: bytes, x: int, k: int) -> bool:
    """check_representative plus: every candidate with a smaller nonce is composite."""
    return check_representative(data, x, k) and hash_to_prime(data)[1] == operator.index(k)
