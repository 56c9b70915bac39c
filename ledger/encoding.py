"""Fixed binary layout primitives for the canonical ledger encodings.

Every integer is big-endian and of fixed width; every variable-length field is prefixed by its
length; a decoder consumes the whole input and rejects trailing bytes, so each value has exactly
one encoding.
"""
from __future__ import annotations

import struct

from ledger import checks
from ledger.errors import EncodingError

DIGEST_BYTES = 32
SIGNATURE_BYTES = 64
MAX_CHAIN_ID = 64
U16_MAX, U32_MAX, U64_MAX = (1 << 16) - 1, (1 << 32) - 1, (1 << 64) - 1
_CHAIN_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
_U8, _U16, _U32, _U64 = (struct.Struct(f) for f in (">B", ">H", ">I", ">Q"))


def check_chain_id(chain_id: str) -> str:
    """A chain id is 1..64 characters of [a-z0-9-_.], an exact str (a subclass could compare
    equal to one chain and encode as another).

    >>> check_chain_id("edge-0")
    'edge-0'
    >>> check_chain_id("Edge 0")
    Traceback (most recent call last):
    ...
    ledger.errors.EncodingError: invalid chain id 'Edge 0': 1..64 chars of [a-z0-9-_.]
    """
    if type(chain_id) is not str or not 0 < len(chain_id) <= MAX_CHAIN_ID \
            or not set(chain_id) <= _CHAIN_ID_CHARS:
        raise EncodingError(f"invalid chain id {checks.shown(chain_id)}: 1..{MAX_CHAIN_ID} chars of [a-z0-9-_.]")
    return chain_id


class Writer:
    """Appends fixed-layout fields to a buffer."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def raw(self, data: bytes, length: int | None = None) -> "Writer":
        data = checks.data(data, "field")
        if length is not None and len(data) != length:
            raise EncodingError(f"field must be {length} bytes, got {len(data)}")
        self._parts.append(data)
        return self

    def u8(self, v: int) -> "Writer":
        return self._int(">B", v)

    def u16(self, v: int) -> "Writer":
        return self._int(">H", v)

    def u32(self, v: int) -> "Writer":
        return self._int(">I", v)

    def u64(self, v: int) -> "Writer":
        return self._int(">Q", v)

    def _int(self, fmt: str, v: int) -> "Writer":
        if isinstance(v, bool):
            raise EncodingError("an integer field is not a bool")
        try:
            self._parts.append(struct.pack(fmt, v))
        except struct.error as exc:
            raise EncodingError(f"integer {checks.shown(v)} does not fit: {exc}") from None
        return self

    def bytes8(self, data: bytes) -> "Writer":
        data = checks.data(data, "field")
        return self.u8(len(data)).raw(data)

    def bytes16(self, data: bytes) -> "Writer":
        data = checks.data(data, "field")
        return self.u16(len(data)).raw(data)

    def bytes32(self, data: bytes) -> "Writer":
        data = checks.data(data, "field")
        return self.u32(len(data)).raw(data)

    def text16(self, text: str) -> "Writer":
        try:
            return self.bytes16(checks.text(text, "text field").encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate
            raise EncodingError("text field is not encodable as UTF-8") from None

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Reads fields written by :class:`Writer`; every overrun is an EncodingError."""

    def __init__(self, data: bytes, what: str) -> None:
        what = checks.text(what, "what")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise EncodingError(f"{what} must be bytes, got {type(data).__name__}")
        self._data = checks.data(data, what)
        self._pos = 0
        self._what = what

    @property
    def position(self) -> int:
        return self._pos

    def raw(self, n: int) -> bytes:
        if type(n) is not int or n < 0:
            n = checks.integer(n, "n")
        end = self._pos + n
        if end > len(self._data):
            raise EncodingError(f"{self._what} is truncated (need {end} bytes, have {len(self._data)})")
        out = self._data[self._pos:end]
        self._pos = end
        return out

    def u8(self) -> int:
        return self._int(_U8)

    def u16(self) -> int:
        return self._int(_U16)

    def u32(self) -> int:
        return self._int(_U32)

    def u64(self) -> int:
        return self._int(_U64)

    def _int(self, layout: struct.Struct) -> int:
        # (in place: no slice per field; decoders read a dozen of them per transaction)
        end = self._pos + layout.size
        if end > len(self._data):
            raise EncodingError(f"{self._what} is truncated (need {end} bytes, have {len(self._data)})")
        value = layout.unpack_from(self._data, self._pos)[0]
        self._pos = end
        return value

    def bytes8(self) -> bytes:
        return self.raw(self.u8())

    def bytes16(self) -> bytes:
        return self.raw(self.u16())

    def bytes32(self, limit: int) -> bytes:
        n = self.u32()
        if n > checks.integer(limit, "limit"):
            raise EncodingError(f"{self._what}: field of {n} bytes exceeds the limit {limit}")
        return self.raw(n)

    def text16(self) -> str:
        try:
            return self.bytes16().decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError(f"{self._what}: text field is not UTF-8") from None

    def magic(self, expected: bytes, version: int) -> None:
        if self.raw(len(checks.data(expected, "expected"))) != expected:
            raise EncodingError(f"not a {self._what} (bad magic)")
        got = self.u8()
        if got != version:
            raise EncodingError(f"unsupported {self._what} version {got} (expected {version})")

    def canonical(self, encoded: bytes) -> None:
        """Check that `encoded`, the re-encoding of what was read, is the input read so far:
        every value has one encoding, so the decoded object is exactly these bytes."""
        if encoded != self._data[:self._pos]:
            raise EncodingError(f"{self._what} is not in canonical form")

    def canonical_of(self, *parts: bytes) -> bytes:
        """canonical() of an encoding given as the parts it joins, compared in place (a large
        field is not joined again to be compared); returns the input read so far, which is
        therefore that encoding."""
        start = 0
        for part in parts:
            if not self._data.startswith(part, start):
                raise EncodingError(f"{self._what} is not in canonical form")
            start += len(part)
        if start != self._pos:
            raise EncodingError(f"{self._what} is not in canonical form")
        return self._data[:self._pos]

    def consumed(self) -> bytes:
        """The input read so far."""
        return self._data[:self._pos]

    def end(self) -> None:
        if self._pos != len(self._data):
            raise EncodingError(f"{self._what} has {len(self._data) - self._pos} trailing bytes")
