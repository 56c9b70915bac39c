"""The same T in PyTorch (optional extra `edgeacc[torch]`).

Deterministic by construction: `torch.use_deterministic_algorithms(True)`, one intra-op and
one inter-op thread, float32 on CPU, and no randomness inside a step (data order comes from
the recorded batches, initial weights from the shared numpy initialiser). Tensors cross the
recorder boundary as numpy arrays, so records from both trainers share one encoding; the
bits of the two trainers' models may differ (different kernels), so a run is audited with the
trainer its run record names.
"""
from __future__ import annotations

import numpy as np

from ledger.provenance.encoding import Tensors
from ledger.provenance.trainers import Hyperparameters, MLPTrainer

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the torch trainer needs the optional extra: pip install 'edgeacc[torch]'") from exc


def pin_torch() -> None:
    """Deterministic kernels and one thread (idempotent; inter-op threads can be set once)."""
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already used in this process; intra-op pinning is what matters
            pass


class TorchMLPTrainer(MLPTrainer):
    """T with autograd; same architecture, parameter names and FedAvg semantics as numpy's."""

    name = "torch-mlp"

    def __init__(self, hyperparameters: Hyperparameters = Hyperparameters()) -> None:
        pin_torch()
        super().__init__(hyperparameters)

    def update(self, params: dict[str, np.ndarray], anchor: dict[str, np.ndarray],
               x: np.ndarray, y: np.ndarray) -> Tensors:
        hp = self.hyperparameters
        params = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        anchor = {k: torch.tensor(v) for k, v in anchor.items()}
        x = torch.tensor(np.asarray(x, np.float32)) / 16.0
        y = torch.tensor(y)
        hidden = torch.relu(x @ params["w1"] + params["b1"])
        loss = torch.nn.functional.cross_entropy(hidden @ params["w2"] + params["b2"], y)
        loss.backward()
        updated = {}
        with torch.no_grad():
            for name, value in params.items():
                grad = value.grad + hp.weight_decay * value + hp.proximal_mu * (value - anchor[name])
                updated[name] = (value - hp.learning_rate * grad).numpy().astype(np.float32)
        return updated
