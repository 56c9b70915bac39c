"""Canonical encodings of tensors and of the provenance records built from them.

A set of named tensors is encoded as a safetensors file with one canonical layout: the header
is JSON with sorted keys and no whitespace, padded with spaces to a multiple of 8 bytes; tensors
follow in sorted name order, C-contiguous, little-endian. Names, dtypes and shapes are inside
the bytes, so two encodings are equal exactly when the named tensors are equal bit for bit. Any
safetensors reader can load the bytes; `decode_tensors` also refuses bytes that are not in this
canonical layout, so one set of tensors has exactly one accepted encoding.
"""
from __future__ import annotations

import hashlib
import json
import math
import struct
from typing import Mapping

import numpy as np

from ledger.checks import shown
from ledger.provenance.errors import TensorEncodingError

Tensors = dict[str, np.ndarray]

_DTYPE_CODES = {
    np.dtype("bool"): "BOOL",
    np.dtype("uint8"): "U8",
    np.dtype("int8"): "I8",
    np.dtype("int16"): "I16",
    np.dtype("int32"): "I32",
    np.dtype("int64"): "I64",
    np.dtype("float16"): "F16",
    np.dtype("float32"): "F32",
    np.dtype("float64"): "F64",
}
_CODE_DTYPES = {code: dtype for dtype, code in _DTYPE_CODES.items()}


def encode_tensors(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> bytes:
    """Canonical safetensors bytes of `tensors` (and optional string metadata).

    >>> data = encode_tensors({"w": np.ones((2, 2), np.float32), "b": np.zeros(2, np.int64)})
    >>> tensors, metadata = decode_tensors(data)
    >>> sorted(tensors), tensors["w"].dtype.name, tensors["b"].shape
    (['b', 'w'], 'float32', (2,))
    >>> encode_tensors({"w": np.ones(2, np.complex64)})
    Traceback (most recent call last):
    ...
    ledger.provenance.errors.TensorEncodingError: tensor 'w': unsupported dtype complex64
    """
    if not tensors:
        raise TensorEncodingError("nothing to encode: no tensors")
    header: dict[str, object] = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TensorEncodingError("metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name in sorted(tensors):
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise TensorEncodingError(f"bad tensor name {shown(name)}")
        array = np.asarray(tensors[name])
        code = _DTYPE_CODES.get(array.dtype.newbyteorder("="))
        if code is None:
            raise TensorEncodingError(f"tensor {name!r}: unsupported dtype {array.dtype}")
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    return struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(chunks)


_MAX_DIMS = 32  # numpy's limit


def _entry(entry: object, name: str, available: int) -> tuple[str, int, int, list[int]]:
    """(dtype code, start, end, shape) of one header entry, each checked against the data."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise TensorEncodingError(f"tensor {name[:40]!r}: a header entry has dtype, shape and data_offsets")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(code, str) or code not in _CODE_DTYPES:
        raise TensorEncodingError(f"tensor {name[:40]!r}: unknown dtype")
    if not isinstance(shape, list) or len(shape) > _MAX_DIMS or \
            any(type(d) is not int or not 0 <= d < 1 << 62 for d in shape):
        raise TensorEncodingError(f"tensor {name[:40]!r}: bad shape")
    if not isinstance(offsets, list) or len(offsets) != 2 or \
            any(type(o) is not int for o in offsets) or not 0 <= offsets[0] <= offsets[1] <= available:
        raise TensorEncodingError(f"tensor {name[:40]!r}: bad data offsets")
    if math.prod(shape) * _CODE_DTYPES[code].itemsize != offsets[1] - offsets[0]:
        raise TensorEncodingError(f"tensor {name[:40]!r}: data offsets do not match its shape")
    return code, offsets[0], offsets[1], shape


def decode_tensors(data: bytes) -> tuple[Tensors, dict[str, str]]:
    """Tensors and metadata from canonical bytes; raises TensorEncodingError on anything else.

    >>> decode_tensors(b"\\x02" + bytes(7) + b"[]")
    Traceback (most recent call last):
    ...
    ledger.provenance.errors.TensorEncodingError: not a safetensors encoding: the header is not a JSON object
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TensorEncodingError(f"tensor bytes must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) < 8:
        raise TensorEncodingError("not a safetensors encoding: shorter than its header length")
    (header_len,) = struct.unpack_from("<Q", data, 0)
    if header_len > len(data) - 8:
        raise TensorEncodingError("not a safetensors encoding: the header is longer than the data")
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (ValueError, RecursionError) as exc:
        raise TensorEncodingError(f"not a safetensors encoding: {str(exc)[:80]}") from None
    if not isinstance(header, dict):
        raise TensorEncodingError("not a safetensors encoding: the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise TensorEncodingError("not a safetensors encoding: metadata must map strings to strings")
    base = 8 + header_len
    tensors: Tensors = {}
    for name, entry in header.items():
        code, start, end, shape = _entry(entry, name, len(data) - base)
        dtype = _CODE_DTYPES[code].newbyteorder("<")
        array = np.frombuffer(data, dtype=dtype, count=(end - start) // dtype.itemsize, offset=base + start)
        try:
            tensors[name] = array.reshape(shape).astype(dtype.newbyteorder("="))
        except ValueError as exc:  # an empty tensor whose other dimensions overflow numpy's sizes
            raise TensorEncodingError(f"tensor {name[:40]!r}: {str(exc)[:80]}") from None
    if encode_tensors(tensors, metadata) != data:
        raise TensorEncodingError("safetensors bytes are not in canonical layout")
    return tensors, metadata


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def tensors_digest(tensors: Mapping[str, np.ndarray]) -> bytes:
    """SHA-256 of the canonical encoding."""
    return sha256(encode_tensors(tensors))


def canonical_json(value: object) -> bytes:
    """Deterministic JSON bytes for records (sorted keys, no whitespace, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def step_digest(model_out: bytes, global_model: bytes, batch: bytes, step_index: int) -> bytes:
    """tx_{M_{i+1}} = H(M_{i+1} || M_O || d_{i+1} || i+1), paper section V.B.

    The three parts are canonical encodings; each is length-prefixed (u64, little-endian) so
    the concatenation has one parse, and the index is a u64. `step_index` is i+1 (1-based)."""
    if step_index < 1:
        raise TensorEncodingError("step indices start at 1")
    h = hashlib.sha256(b"edgeacc/provenance/step/v1")
    for part in (model_out, global_model, batch):
        h.update(struct.pack("<Q", len(part)))
        h.update(part)
    h.update(struct.pack("<Q", step_index))
    return h.digest()


def aggregation_digest(model_out: bytes, local_models: list[bytes], weights: list[int], round_index: int) -> bytes:
    """H(M_O^{r} || M_1 || ... || M_E || weights || r) for the cloud's FedAvg of round r."""
    h = hashlib.sha256(b"edgeacc/provenance/aggregation/v1")
    for part in (model_out, *local_models):
        h.update(struct.pack("<Q", len(part)))
        h.update(part)
    h.update(canonical_json(weights))
    h.update(struct.pack("<Q", round_index))
    return h.digest()
