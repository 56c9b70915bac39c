"""Argument checking for every public function of edgeacc: one rule in one place.

Types are checked here; value rules for exponents and accumulator elements live in C
(``ea_check.h``) and are reached through ``_core.check_exponent(s)``, so Python, Cython and C
apply the same rule. Every failure is an :class:`edgeacc.errors.EdgeaccError` whose message
names the argument and never prints a huge integer in full.
"""
from __future__ import annotations

import operator
import os
from collections.abc import Iterable

from edgeacc import _core
from edgeacc.errors import EdgeaccTypeError, InvalidArgument, brief

RULE_ELEMENT = _core.RULE_ELEMENT
RULE_PRIME = _core.RULE_PRIME
MAX_THREADS = 256


def integer(x, what: str) -> int:
    """x as an int: int or anything exact with __index__ (gmpy2.mpz), never bool/float/str."""
    if type(x) is int:
        return x
    if isinstance(x, (bool, float, str, bytes, bytearray)) or not hasattr(type(x), "__index__"):
        raise EdgeaccTypeError(f"{what} must be an int (or gmpy2.mpz), got {type(x).__name__}")
    try:
        return operator.index(x)    # an exact int, also for an int subclass
    except Exception:
        raise EdgeaccTypeError(f"{what}: __index__ of {type(x).__name__} failed") from None


def small_int(x, what: str, lo: int, hi: int) -> int:
    """A plain int in lo..hi (an index, a count, a size)."""
    if isinstance(x, bool) or not isinstance(x, int):
        raise EdgeaccTypeError(f"{what} must be an int, got {type(x).__name__}")
    x = operator.index(x)       # exact int: an int subclass's comparisons never run
    if not lo <= x <= hi:
        raise InvalidArgument(f"{what} {brief(x)} out of range {lo}..{hi}")
    return x


def boolean(x, what: str) -> bool:
    if not isinstance(x, bool):
        raise EdgeaccTypeError(f"{what} must be a bool, got {type(x).__name__}")
    return x


def data_bytes(data, what: str = "data") -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise EdgeaccTypeError(f"{what} must be bytes, got {type(data).__name__}")
    return bytes(data)


def text(value, what: str) -> str:
    if not isinstance(value, str):
        raise EdgeaccTypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


def sequence(values, what: str) -> list:
    """A list from a sequence argument: str/bytes and non-iterables are type errors."""
    if isinstance(values, (str, bytes, bytearray, memoryview, dict)) or not isinstance(values, Iterable):
        raise EdgeaccTypeError(f"{what} must be a sequence, got {type(values).__name__}")
    try:
        return list(values)
    except Exception as exc:
        raise EdgeaccTypeError(f"{what} could not be iterated: {type(exc).__name__}") from None


def params(obj, what: str = "params"):
    from edgeacc.params import Params    # params.py uses this module

    if not isinstance(obj, Params):
        raise EdgeaccTypeError(f"{what} must be an edgeacc.Params, got {type(obj).__name__}")
    obj.n      # an object made by Params.__new__ alone raises EdgeaccTypeError here
    return obj


def element(x, what: str = "element", rule: int = RULE_ELEMENT) -> int:
    """An accumulator element as an exponent: an odd int >= 3 (x = 1 or an even x would let a
    trivial witness verify); with rule=RULE_PRIME also a probable prime (BPSW)."""
    x = integer(x, what)
    _core.check_exponent(x, rule, what)
    return x


def elements(values, what: str = "element", rule: int = RULE_ELEMENT) -> list[int]:
    """A list of elements under one rule; the error names the first failing index."""
    xs = [integer(x, f"{what} {i}") for i, x in enumerate(sequence(values, what + "s"))]
    _core.check_exponents(xs, rule, what)
    return xs


def pairs(values, what: str, names: tuple[str, ...]) -> list[tuple]:
    """A list of tuples of len(names) (e.g. (w, x) pairs or (w, x, v) items)."""
    out = []
    for j, item in enumerate(sequence(values, what)):
        try:        # a tuple copy: a hostile __len__/__getitem__ of a subclass never runs later
            item = tuple(item) if isinstance(item, (tuple, list)) else None
        except Exception:
            item = None
        if item is None or len(item) != len(names):
            raise EdgeaccTypeError(f"{what} item {j} must be a ({', '.join(names)}) tuple")
        out.append(item)
    return out


def default_threads() -> int:
    """Threads used when ``threads=None``: min(2, os.cpu_count())."""
    return max(1, min(2, os.cpu_count() or 1))


def threads(value) -> int:
    if value is None:
        return default_threads()
    return small_int(value, "threads", 1, MAX_THREADS)


def index(i, bound: int, what: str) -> int:
    """An int in 0..bound-1."""
    return small_int(i, what, 0, bound - 1)
