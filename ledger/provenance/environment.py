"""The environment fingerprint recorded before training: what a re-execution must match.

Bit-exact replay of floating-point training depends on library versions, the BLAS kernel
OpenBLAS picked for this CPU, thread counts and CPU features, so the run record keeps all of
them and an auditor can tell an environment difference from a tampered step.
"""
from __future__ import annotations

import platform
import sys
from importlib import metadata

import numpy as np
from threadpoolctl import threadpool_info

_LIBRARIES = ("numpy", "safetensors", "threadpoolctl", "scikit-learn", "torch", "edgeacc")


def _cpu() -> dict[str, object]:
    model, flags = platform.processor(), []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = sorted(value.split())
                    break
    except OSError:  # not Linux: the platform string is all there is
        pass
    return {"model": model, "flags": flags}


def environment_fingerprint(trainer_name: str) -> dict[str, object]:
    """Versions, BLAS backends and threads, CPU model and flags, for the run record."""
    np.ones(1)  # the BLAS library is loaded with numpy; threadpool_info reports it
    versions = {}
    for library in _LIBRARIES:
        try:
            versions[library] = metadata.version(library)
        except metadata.PackageNotFoundError:
            continue
    fingerprint: dict[str, object] = {
        "trainer": trainer_name,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "libraries": versions,
        "blas": [
            {k: pool.get(k) for k in ("internal_api", "version", "architecture", "threading_layer", "num_threads")}
            for pool in threadpool_info()
        ],
        "cpu": _cpu(),
        "step_threads": 1,  # T pins BLAS (and torch) to one thread whatever the defaults say
    }
    if trainer_name.startswith("torch"):
        import torch

        fingerprint["torch"] = {
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "deterministic": torch.are_deterministic_algorithms_enabled(),
            "config": torch.__config__.show(),
        }
    return fingerprint


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _blas(fingerprint: dict) -> list[tuple]:
    pools = fingerprint.get("blas")
    return [tuple(str(pool.get(k)) for k in ("internal_api", "version", "architecture"))
            for pool in (pools if isinstance(pools, list) else []) if isinstance(pool, dict)]


def environment_differences(recorded: object, current: dict) -> list[str]:
    """What differs between the run's environment and the auditor's, in words: a reason to
    expect bit differences (and to audit in tolerance mode) that is not tampering. The recorded
    side comes from a run record: whatever its shape, this only describes it (short strings)."""
    recorded = _mapping(recorded)

    def shown(value: object) -> str:
        return str(value)[:60]

    notes = []
    for key in ("python", "machine"):
        if recorded.get(key) != current.get(key):
            notes.append(f"{key}: recorded {shown(recorded.get(key))}, here {current.get(key)}")
    old_libs, new_libs = _mapping(recorded.get("libraries")), _mapping(current.get("libraries"))
    for library in sorted(set(old_libs) | set(new_libs))[:16]:
        if old_libs.get(library) != new_libs.get(library):
            notes.append(f"{library[:40]}: recorded {shown(old_libs.get(library))}, here {new_libs.get(library)}")
    if _blas(recorded) != _blas(current):
        notes.append(f"BLAS: recorded {shown(_blas(recorded))}, here {_blas(current)}")
    old_cpu, new_cpu = _mapping(recorded.get("cpu")), _mapping(current.get("cpu"))
    if old_cpu.get("model") != new_cpu.get("model"):
        notes.append(f"CPU: recorded {shown(old_cpu.get('model'))}, here {new_cpu.get('model')!r}")
    old_flags = old_cpu.get("flags") if isinstance(old_cpu.get("flags"), list) else []
    missing = sorted({str(flag)[:20] for flag in old_flags} - set(new_cpu.get("flags", [])))
    if missing:
        notes.append(f"CPU flags missing here: {' '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
    return notes
