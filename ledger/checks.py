"""Argument checks for the public entry points of the ledger: one rule per kind of argument,
each raising an ArgumentError (a LedgerError) that names the argument.

Bytes: bytes, bytearray and memoryview are accepted and copied into immutable bytes (a
caller's bytearray changed later cannot change a signed object); str, int, None and the rest
are refused (``bytes(5)`` would be five zero bytes). Integers: int and anything with
``__index__`` (gmpy2.mpz), never bool. Signed objects (transactions, headers, blocks, proofs)
must be of their exact class: a subclass could override the encoding its fields were checked
against.

>>> data(bytearray(b"ab"), "payload")
b'ab'
>>> data(5, "payload")
Traceback (most recent call last):
...
ledger.errors.ArgumentError: payload must be bytes, bytearray or memoryview, not int
>>> integer(2**4096, "height", hi=2**64 - 1)
Traceback (most recent call last):
...
ledger.errors.ArgumentError: height must be an integer in [0, 18446744073709551615], got an integer of 4097 bits
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import operator
import os
from pathlib import Path
from typing import Any, TypeVar

from ledger.errors import ArgumentError, LedgerError, NotFound

T = TypeVar("T")
DIGEST_BYTES = 32


def shown(value: Any) -> str:
    """A short description of `value` for an error message (never a huge integer in full)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"an integer of {value.bit_length()} bits"
    try:
        text = repr(value)
    except Exception:  # a container of a huge integer (int repr refuses > 4300 digits), a broken __repr__
        return f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def data(value: Any, name: str) -> bytes:
    """`value` as immutable bytes (its buffer's contents: a bytes subclass cannot substitute
    other bytes through __bytes__)."""
    if type(value) is bytes:
        return value
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ArgumentError(f"{name} must be bytes, bytearray or memoryview, not {type(value).__name__}")
    try:
        return memoryview(value).tobytes()
    except ValueError as exc:  # a released memoryview
        raise ArgumentError(f"{name}: {exc}") from None


def text(value: Any, name: str) -> str:
    """`value` if it is a str (exactly: a subclass could encode to other bytes)."""
    if type(value) is not str:
        raise ArgumentError(f"{name} must be a str, not {type(value).__name__}")
    return value


def integer(value: Any, name: str, lo: int = 0, hi: int | None = None) -> int:
    """`value` as an int in [lo, hi] (hi None: unbounded)."""
    if type(value) is int and lo <= value and (hi is None or value <= hi):
        return value  # the common case, first
    if isinstance(value, bool):
        raise ArgumentError(f"{name} must be an integer, not bool")
    try:
        out = operator.index(value)
    except TypeError:
        raise ArgumentError(f"{name} must be an integer, not {type(value).__name__}") from None
    if out < lo or (hi is not None and out > hi):
        bounds = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ArgumentError(f"{name} must be an integer in {bounds}, got {shown(out)}")
    return out


def number(value: Any, name: str, lo: float = 0.0, hi: float = 1e9) -> float:
    """`value` as a float in [lo, hi] (timeouts and intervals in seconds: finite, and small
    enough for the clocks that wait on them)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentError(f"{name} must be a number, not {type(value).__name__}")
    if not lo <= value <= hi:  # compares ints exactly; NaN fails
        raise ArgumentError(f"{name} must be a number in [{lo:g}, {hi:g}], got {shown(value)}")
    return float(value)


def exact(value: Any, cls: type[T], name: str) -> T:
    """`value` if its type is exactly `cls` (signed objects: no subclass overrides)."""
    if type(value) is not cls:
        raise ArgumentError(f"{name} must be a {cls.__module__}.{cls.__name__}, not {type(value).__name__}")
    return value


def decoded(value: Any, cls: type[T], name: str) -> T:
    """`value`, a signed object of exactly `cls`, re-read from its own encoding: what a peer
    checks, signs and stores must be the decoding of the bytes, never fields or cached values
    an object was given beside them (object.__setattr__ reaches into a frozen dataclass)."""
    exact(value, cls, name)
    try:
        return cls.from_bytes(cls.to_bytes(value))
    except LedgerError:
        raise
    except Exception as exc:  # fields replaced by values of other types
        raise ArgumentError(f"{name} is not a well-formed {cls.__name__} ({type(exc).__name__})") from None


def rebuilt(value: Any, cls: type[T], name: str) -> T:
    """`value`, a frozen dataclass of exactly `cls` (an unsigned one: a proof), built again
    from its fields so that its constructor's checks hold for what the caller reads."""
    exact(value, cls, name)
    try:
        return dataclasses.replace(value)
    except LedgerError:
        raise
    except Exception as exc:  # a field deleted or replaced after construction
        raise ArgumentError(f"{name} is not a well-formed {cls.__name__} ({type(exc).__name__})") from None


def instance(value: Any, classes: type | tuple[type, ...], name: str) -> Any:
    """`value` if it is an instance of `classes`."""
    if not isinstance(value, classes):
        names = " or ".join(c.__name__ for c in (classes if isinstance(classes, tuple) else (classes,)))
        raise ArgumentError(f"{name} must be a {names}, not {type(value).__name__}")
    return value


def function(value: Any, name: str) -> Any:
    """`value` if it is callable."""
    if not callable(value):
        raise ArgumentError(f"{name} must be callable, not {type(value).__name__}")
    return value


def optional_text(value: Any, name: str) -> str | None:
    """None or a str."""
    return None if value is None else text(value, name)


def file_name(value: Any, name: str) -> str:
    """A name that is also a file name in the deployment's directory (identities): 1..64
    characters, no path separator or NUL, not starting with "." (no "../ca/ca")."""
    text(value, name)
    if not 1 <= len(value) <= 64 or any(c in value for c in "/\\\0") or value.startswith("."):
        raise ArgumentError(f"{name} {shown(value)} must be a plain name of 1..64 characters")
    return value


def identifier(value: Any, name: str, what: str) -> bytes:
    """A 32-byte id (transaction id, object digest) given as bytes or 64 hex digits. A value
    of another type is an ArgumentError; a malformed one names nothing: NotFound."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            raise NotFound(f"{name} {shown(value)} is not a hex {what}") from None
    raw = data(value, name)
    if len(raw) != DIGEST_BYTES:
        raise NotFound(f"{name}: a {what} is {DIGEST_BYTES} bytes (64 hex digits), got {len(raw)}")
    return raw


def identifiers(values: Any, name: str, what: str) -> list[bytes]:
    """The well-formed ids among the iterable `values` (each as identifier() takes it), as
    bytes in order: a malformed one names nothing and is left out; a value of another type is
    an ArgumentError, and so is one id in place of the iterable."""
    if isinstance(values, (str, bytes, bytearray, memoryview)):
        raise ArgumentError(f"{name} must be a collection of ids, not one")
    out = []
    for value in items(values, name):
        try:
            out.append(identifier(value, f"each of {name}", what))
        except NotFound:
            continue
    return out


def items(values: Any, name: str) -> list:
    """The items of an iterable, as a list (ArgumentError for anything that is not iterable)."""
    try:
        return list(values)
    except TypeError:
        raise ArgumentError(f"{name} must be an iterable, not {type(values).__name__}") from None


def position(value: Any, name: str, size: int, what: str) -> int:
    """An index into `size` items; NotFound names `what` when it is out of range."""
    index = integer(value, name, lo=-(1 << 63))
    if not 0 <= index < size:
        valid = f"0..{size - 1}" if size else "it has none"
        raise NotFound(f"{what} has no {name} {shown(index)} ({valid})")
    return index


def path(value: Any, name: str) -> Path:
    """A filesystem path (str or os.PathLike)."""
    if not isinstance(value, (str, os.PathLike)):
        raise ArgumentError(f"{name} must be a path (str or os.PathLike), not {type(value).__name__}")
    try:
        return Path(value)
    except TypeError as exc:  # a PathLike whose __fspath__ returns no str
        raise ArgumentError(f"{name}: {exc}") from None


def signature_checked(cls: type[T]) -> type[T]:
    """Class decorator: a constructor call with missing or unknown arguments (say a
    hand-made `_body=`) raises ArgumentError instead of a bare TypeError."""
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except TypeError:
            try:  # only a call that does not bind is the caller's error; re-raise anything else
                signature.bind(self, *args, **kwargs)
            except TypeError as exc:
                raise ArgumentError(f"{cls.__name__}(): {exc}") from None
            raise

    cls.__init__ = __init__
    return cls
