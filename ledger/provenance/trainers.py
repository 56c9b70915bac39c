"""Training functions T(M_i, M_O, d_{i+1}) that re-execute bit for bit, and FedAvg.

The model is a small MLP (64 -> hidden -> 10, ReLU, softmax cross-entropy) on scikit-learn's
bundled 8x8 digits. One step is one minibatch SGD update. FedAvg semantics are part of T: the
first step of every round (step index 1, 1 + local_steps, ...) starts from the cloud's model
M_O instead of M_i; an optional FedProx term mu/2 ||M - M_O||^2 keeps later steps near M_O.
T is therefore a pure function of (M_i, M_O, d_{i+1}, i+1, hyperparameters), which is what the
ledger records and what an auditor re-executes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

import numpy as np
from threadpoolctl import ThreadpoolController

from ledger.provenance.encoding import Tensors
from ledger.provenance.errors import RecordError

PIXELS = 64
CLASSES = 10
# Scanning loaded libraries costs ~0.2 ms, so it happens once; numpy (and its BLAS) is loaded.
_BLAS = ThreadpoolController()


@dataclass(frozen=True)
class Hyperparameters:
    """Everything besides the inputs that determines T; recorded in the run record."""

    hidden: int = 32
    learning_rate: float = 0.5
    batch_size: int = 16
    local_steps: int = 8
    proximal_mu: float = 0.0
    weight_decay: float = 0.0
    init_seed: int = 0

    def as_record(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> "Hyperparameters":
        fields = {f.name for f in dataclasses.fields(cls)}
        if set(record) != fields:
            raise RecordError(f"hyperparameters have fields {sorted(record)}, expected {sorted(fields)}")
        return cls(**record)  # type: ignore[arg-type]

    def starts_round(self, step_index: int) -> bool:
        """True when step `step_index` (1-based) is the first local step of a round."""
        return (step_index - 1) % self.local_steps == 0


class Trainer(Protocol):
    """What the recorder and the auditor need from a training implementation."""

    name: str
    hyperparameters: Hyperparameters

    def initial_model(self) -> Tensors: ...

    def step(self, model: Tensors, global_model: Tensors, batch: Tensors, step_index: int) -> Tensors: ...

    def accuracy(self, model: Tensors, pixels: np.ndarray, labels: np.ndarray) -> float: ...


def initial_mlp(hp: Hyperparameters) -> Tensors:
    """He-initialised weights from `hp.init_seed` (numpy's PCG64, identical everywhere)."""
    rng = np.random.default_rng(hp.init_seed)
    return {
        "w1": (rng.standard_normal((PIXELS, hp.hidden)) * np.sqrt(2.0 / PIXELS)).astype(np.float32),
        "b1": np.zeros(hp.hidden, np.float32),
        "w2": (rng.standard_normal((hp.hidden, CLASSES)) * np.sqrt(2.0 / hp.hidden)).astype(np.float32),
        "b2": np.zeros(CLASSES, np.float32),
    }


def batch_tensors(pixels: np.ndarray, labels: np.ndarray) -> Tensors:
    """A data batch d as tensors: raw pixels (uint8, 0..16) and labels (int64)."""
    return {"x": np.asarray(pixels, np.uint8).reshape(-1, PIXELS), "y": np.asarray(labels, np.int64).reshape(-1)}


def scaled(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels, np.float32) / np.float32(16.0)


MLP_PARAMETERS = ("w1", "b1", "w2", "b2")


class MLPTrainer:
    """What every T of the one-hidden-layer MLP shares: hyperparameters, the initial model,
    the model a step starts from, and accuracy. Subclasses implement `step`."""

    name: str

    def __init__(self, hyperparameters: Hyperparameters = Hyperparameters()) -> None:
        self.hyperparameters = hyperparameters

    def initial_model(self) -> Tensors:
        return initial_mlp(self.hyperparameters)

    def starting_parameters(self, model: Tensors, global_model: Tensors,
                            step_index: int) -> dict[str, np.ndarray]:
        """The float32 parameters step `step_index` starts from (M_O on a round's first step)."""
        base = global_model if self.hyperparameters.starts_round(step_index) else model
        return {k: np.asarray(base[k], np.float32) for k in MLP_PARAMETERS}

    def accuracy(self, model: Tensors, pixels: np.ndarray, labels: np.ndarray) -> float:
        return mlp_accuracy(model, pixels, labels)


class NumpyMLPTrainer(MLPTrainer):
    """The reference T: numpy float32 with BLAS pinned to one thread around every step."""

    name = "numpy-mlp"

    def step(self, model: Tensors, global_model: Tensors, batch: Tensors, step_index: int) -> Tensors:
        hp = self.hyperparameters
        params = self.starting_parameters(model, global_model, step_index)
        w1, b1, w2, b2 = (params[k] for k in MLP_PARAMETERS)
        x = scaled(batch["x"])
        y = np.asarray(batch["y"], np.int64)
        n = np.float32(len(y))
        with _BLAS.limit(limits=1):
            hidden_pre = x @ w1 + b1
            hidden = np.maximum(hidden_pre, np.float32(0))
            logits = hidden @ w2 + b2
            logits = logits - logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(y)), y] -= np.float32(1)
            d_logits = probs / n
            grads = {"w2": hidden.T @ d_logits, "b2": d_logits.sum(axis=0)}
            d_hidden = (d_logits @ w2.T) * (hidden_pre > 0)
            grads["w1"] = x.T @ d_hidden
            grads["b1"] = d_hidden.sum(axis=0)
        lr, mu, wd = (np.float32(v) for v in (hp.learning_rate, hp.proximal_mu, hp.weight_decay))
        updated = {}
        for name, value in params.items():
            grad = grads[name] + wd * value + mu * (value - np.asarray(global_model[name], np.float32))
            updated[name] = (value - lr * grad).astype(np.float32)
        return updated


def mlp_accuracy(model: Tensors, pixels: np.ndarray, labels: np.ndarray) -> float:
    hidden = np.maximum(scaled(pixels) @ model["w1"] + model["b1"], 0)
    predicted = (hidden @ model["w2"] + model["b2"]).argmax(axis=1)
    return float((predicted == np.asarray(labels)).mean())


def fedavg(models: Sequence[Tensors], weights: Sequence[int]) -> Tensors:
    """Weighted average, accumulated in float64 in the given order, stored as float32."""
    if not models or len(models) != len(weights) or min(weights) <= 0:
        raise RecordError("FedAvg needs one positive weight per model")
    total = float(sum(weights))
    averaged = {}
    for name in sorted(models[0]):
        acc = np.zeros(np.shape(models[0][name]), np.float64)
        for model, weight in zip(models, weights):
            acc += np.asarray(model[name], np.float64) * (weight / total)
        averaged[name] = acc.astype(np.float32)
    return averaged


def trainer_for(name: str, hyperparameters: Hyperparameters) -> Trainer:
    """Rebuild the trainer a run record names (the auditor's side)."""
    if name == NumpyMLPTrainer.name:
        return NumpyMLPTrainer(hyperparameters)
    if name == "torch-mlp":
        from ledger.provenance.torch_trainer import TorchMLPTrainer

        return TorchMLPTrainer(hyperparameters)
    raise RecordError(f"unknown trainer {name!r}")


def load_digits_split(test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits (no download): train pixels/labels, test pixels/labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = digits.data.astype(np.uint8)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(len(labels) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return pixels[train], labels[train], pixels[test], labels[test]
