"""The whole training state of a PyTorch pipeline, canonically encoded.

A state is the model's state_dict, the optimizer's (momentum buffers, Adam moments, step
counts, param groups), the scheduler's, and the RNG states of torch, numpy and Python's
`random`. It encodes as one canonical safetensors file (encoding.encode_tensors): every tensor
under a path name ("model/fc1.weight", "optimizer/state/0/exp_avg", "rng/torch"), and the rest
of the structure (numbers, strings, param groups, int keys) as canonical JSON in the metadata
key STRUCTURE, with each tensor replaced by {"$t": its name}. Equal states have equal bytes,
so a replayed segment is checked by comparing bytes.
"""
from __future__ import annotations

import contextlib
import json
import random
import threading
from typing import Any, Iterator

import numpy as np

from ledger.provenance.encoding import Tensors, canonical_json, decode_tensors, encode_tensors
from ledger.provenance.errors import TensorEncodingError

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("recording PyTorch pipelines needs the optional extra: pip install 'edgeacc[torch]'") from exc

STRUCTURE = "edgeacc.state/v1"
MODEL_PREFIX = "model/"
_MAX_DEPTH = 16
# One replay at a time per process: replays set the global RNGs (and restore them after).
REPLAY_LOCK = threading.RLock()


def _flatten(value: Any, path: str, tensors: Tensors, depth: int = 0) -> Any:
    """The JSON skeleton of `value`; its tensors go to `tensors` under their path."""
    if depth > _MAX_DEPTH:
        raise TensorEncodingError(f"state at {path[:60]!r} is nested too deep")
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bfloat16 or value.is_complex():
            raise TensorEncodingError(f"state tensor {path[:60]!r}: unsupported dtype {value.dtype}")
        tensors[path] = value.detach().cpu().contiguous().numpy().copy()
        return {"$t": path}
    if isinstance(value, np.ndarray):
        tensors[path] = value.copy()
        return {"$t": path}
    if isinstance(value, dict):
        return {"$map": [[key, _flatten(item, f"{path}/{key}", tensors, depth + 1)] for key, item in value.items()
                         if _key(key, path)]}
    if isinstance(value, (list, tuple)):
        items = [_flatten(item, f"{path}/{i}", tensors, depth + 1) for i, item in enumerate(value)]
        return {"$tuple": items} if isinstance(value, tuple) else items
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return {"$f": float(value).hex()}  # exact, and NaN/inf survive canonical JSON
    raise TensorEncodingError(f"state at {path[:60]!r} holds a {type(value).__name__}, which has no canonical encoding")


def _key(key: object, path: str) -> bool:
    if type(key) not in (str, int):
        raise TensorEncodingError(f"state at {path[:60]!r} has a key of type {type(key).__name__}")
    return True


def _restore(skeleton: Any, tensors: Tensors, depth: int = 0) -> Any:
    """The structure `_flatten` encoded (TensorEncodingError for anything it does not make)."""
    if depth > _MAX_DEPTH:
        raise TensorEncodingError("state structure is nested too deep")
    if isinstance(skeleton, list):
        return [_restore(item, tensors, depth + 1) for item in skeleton]
    if not isinstance(skeleton, dict):
        if skeleton is None or type(skeleton) in (bool, str, int):
            return skeleton
        raise TensorEncodingError("state structure holds a bare float or unknown value")
    if len(skeleton) != 1:
        raise TensorEncodingError("state structure has an object that is not one tagged value")
    (tag, item), = skeleton.items()
    if tag == "$t" and isinstance(item, str) and item in tensors:
        return torch.from_numpy(np.array(tensors[item]))
    if tag == "$f" and isinstance(item, str):
        try:
            return float.fromhex(item)
        except (ValueError, OverflowError):
            raise TensorEncodingError("state structure holds a malformed float") from None
    if tag == "$tuple" and isinstance(item, list):
        return tuple(_restore(x, tensors, depth + 1) for x in item)
    if tag == "$map" and isinstance(item, list) and all(
            isinstance(pair, list) and len(pair) == 2 and type(pair[0]) in (str, int) for pair in item):
        return {key: _restore(value, tensors, depth + 1) for key, value in item}
    raise TensorEncodingError(f"state structure has an unknown tag {tag[:20]!r}")


def capture_rng() -> dict[str, Any]:
    """The RNG states a step may draw from: torch's CPU generator, numpy's and Python's global ones."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {"torch": torch.get_rng_state(),
            "numpy": {"kind": kind, "keys": np.asarray(keys, np.int64), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached": float(cached)},
            "python": {"version": version, "state": np.asarray(internal, np.int64),
                       "gauss": None if gauss is None else float(gauss)}}


def restore_rng(rng: Any) -> None:
    """Set the global RNGs from a state capture_rng made (TensorEncodingError otherwise)."""
    try:
        numpy_state, python_state = rng["numpy"], rng["python"]
        torch.set_rng_state(rng["torch"].to(torch.uint8))
        np.random.set_state((numpy_state["kind"], np.asarray(numpy_state["keys"]).astype(np.uint32),
                             numpy_state["pos"], numpy_state["has_gauss"], numpy_state["cached"]))
        random.setstate((python_state["version"], tuple(int(v) for v in np.asarray(python_state["state"]).tolist()),
                         python_state["gauss"]))
    except Exception as exc:  # any shape a hostile state may have
        raise TensorEncodingError(f"the state's RNG part cannot be restored: {str(exc)[:80]}") from None


@contextlib.contextmanager
def isolated_rng() -> Iterator[None]:
    """Run a replay without disturbing the caller's RNGs (and one replay at a time)."""
    with REPLAY_LOCK:
        saved = capture_rng()
        try:
            yield
        finally:
            restore_rng(saved)


def capture_state(model: "torch.nn.Module", optimizer: "torch.optim.Optimizer",
                  scheduler: Any | None) -> dict[str, Any]:
    """The whole training state, as nested dicts of tensors and plain values."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": None if scheduler is None else scheduler.state_dict(), "rng": capture_rng()}


def encode_state(state: dict[str, Any]) -> bytes:
    """Canonical bytes of a state capture_state made."""
    tensors: Tensors = {}
    skeleton = {key: _flatten(state[key], key, tensors) for key in ("model", "optimizer", "scheduler", "rng")}
    return encode_tensors(tensors, {STRUCTURE: canonical_json(skeleton).decode()})


def decode_state(data: bytes) -> dict[str, Any]:
    """The state encoded in `data`; TensorEncodingError for bytes encode_state does not make."""
    tensors, metadata = decode_tensors(data)
    if set(metadata) != {STRUCTURE}:
        raise TensorEncodingError(f"a training state carries exactly the metadata {STRUCTURE!r}")
    try:
        skeleton = json.loads(metadata[STRUCTURE])
    except (ValueError, RecursionError):
        raise TensorEncodingError("a training state's structure is not JSON") from None
    if not isinstance(skeleton, dict) or set(skeleton) != {"model", "optimizer", "scheduler", "rng"}:
        raise TensorEncodingError("a training state has exactly model, optimizer, scheduler and rng")
    state = {key: _restore(skeleton[key], tensors) for key in skeleton}
    if encode_state(state) != bytes(data):
        raise TensorEncodingError("training state bytes are not in canonical layout")
    return state


def load_state(state: dict[str, Any], model: "torch.nn.Module", optimizer: "torch.optim.Optimizer",
               scheduler: Any | None) -> None:
    """Put a decoded state into freshly built objects and the global RNGs
    (TensorEncodingError when it does not fit them)."""
    if (state["scheduler"] is None) != (scheduler is None):
        raise TensorEncodingError("the state's scheduler part does not match the contract's scheduler")
    try:
        model.load_state_dict(state["model"], strict=True)
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
    except Exception as exc:  # load_state_dict raises RuntimeError, KeyError, ValueError, ...
        raise TensorEncodingError(f"the state does not fit the contract's objects: {str(exc)[:120]}") from None
    restore_rng(state["rng"])


def model_tensors(state: dict[str, Any]) -> Tensors:
    """The model part of a decoded state as numpy arrays (what FedAvg averages)."""
    model = state["model"]
    if not isinstance(model, dict) or not model or not all(isinstance(v, torch.Tensor) for v in model.values()):
        raise TensorEncodingError("a training state's model part is a non-empty map of tensors")
    return {str(name): value.numpy() for name, value in model.items()}


def model_bytes(data: bytes) -> bytes:
    """Canonical bytes of the model tensors inside encoded state `data`."""
    return encode_tensors(model_tensors(decode_state(data)))
