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
import math
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

import numpy as np
from threadpoolctl import ThreadpoolController

from ledger.checks import shown
from ledger.provenance.encoding import Tensors
from ledger.provenance.errors import RecordError

PIXELS = 64
CLASSES = 10
# Scanning loaded libraries costs ~0.2 ms, so it happens once; numpy (and its BLAS) is loaded.
_BLAS = ThreadpoolController()
# (low, high) of each integer hyperparameter; the others are finite numbers from 0 to 1e6
_INTEGER_RANGES = {"hidden": (1, 4096), "batch_size": (1, 1 << 16), "local_steps": (1, 1 << 32),
                   "init_seed": (0, (1 << 64) - 1)}


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

    def __post_init__(self) -> None:
        """Refuse what T cannot run (zero local steps, a 10^9-unit hidden layer, NaN rates):
        these values also come from run records an edge wrote."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in _INTEGER_RANGES:
                low, high = _INTEGER_RANGES[field.name]
                if type(value) is not int or not low <= value <= high:
                    raise RecordError(f"hyperparameter {field.name} must be an integer from {low} to {high}")
            elif type(value) not in (int, float) or not (math.isfinite(value) and 0 <= value <= 1e6):
                raise RecordError(f"hyperparameter {field.name} must be a finite number from 0 to 1e6")

    def as_record(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> "Hyperparameters":
        fields = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(record, Mapping) or set(record) != fields:
            raise RecordError(f"hyperparameters must have exactly the fields {sorted(fields)}")
        return cls(**record)  # type: ignore[arg-type]

    def starts_round(self, step_index: int) -> bool:
        """True when step `step_index` (1-based) is the first local step of a round."""
        return (step_index - 1) % self.local_steps == 0

    def round_of(self, step_index: int) -> int:
        """The FedAvg round whose global model M_O step `step_index` trains from."""
        return (step_index - 1) // self.local_steps

    def round_input(self, round_index: int) -> int:
        """The step of a run that FedAvg round `round_index` (>= 1) averages: the last local
        step trained from round `round_index - 1`'s model."""
        return round_index * self.local_steps


class Trainer(Protocol):
    """What the recorder and the auditor need from a training implementation."""

    name: str
    hyperparameters: Hyperparameters

    def initial_model(self) -> Tensors: ...

    def step(self, model: Tensors, global_model: Tensors, batch: Tensors, step_index: int) -> Tensors:
        """M_{i+1}; RecordError for inputs T cannot take (they may come from hostile records)."""
        ...

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


def batch_tensors(pixels: Sequence[np.ndarray] | np.ndarray, labels: Sequence[int] | np.ndarray) -> Tensors:
    """A data batch d as tensors: raw pixels (uint8, 0..16) and labels (int64), one row of
    PIXELS per sample and one label in 0..CLASSES-1 each (RecordError otherwise)."""
    rows = [np.asarray(row) for row in pixels]
    if not rows or any(row.size != PIXELS for row in rows) or len(rows) != len(labels):
        raise RecordError(f"a batch is one or more samples of {PIXELS} pixels, each with a label")
    y = np.asarray(labels).reshape(-1)
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= CLASSES:
        raise RecordError(f"batch labels must be integers from 0 to {CLASSES - 1}")
    return {"x": np.stack([row.reshape(PIXELS) for row in rows]).astype(np.uint8), "y": y.astype(np.int64)}


def check_batch(batch: Tensors) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a decoded batch d, if it is one batch_tensors makes (RecordError otherwise)."""
    if set(batch) != {"x", "y"}:
        raise RecordError("a batch has exactly the tensors x and y")
    x, y = np.asarray(batch["x"]), np.asarray(batch["y"])
    if x.dtype != np.uint8 or y.dtype != np.int64 or x.ndim != 2 \
            or x.shape[1] != PIXELS or y.shape != x.shape[:1] or not len(y):
        raise RecordError(f"a batch is tensors x (n x {PIXELS}, uint8) and y (n, int64), n >= 1")
    if y.min() < 0 or y.max() >= CLASSES:
        raise RecordError(f"batch labels must be integers from 0 to {CLASSES - 1}")
    return x, y


def mlp_shapes(hp: Hyperparameters) -> dict[str, tuple[int, ...]]:
    return {"w1": (PIXELS, hp.hidden), "b1": (hp.hidden,), "w2": (hp.hidden, CLASSES), "b2": (CLASSES,)}


def check_mlp(model: Tensors, hp: Hyperparameters, what: str) -> dict[str, np.ndarray]:
    """The float32 parameters of `model`, if it is an MLP of `hp`'s shape (RecordError otherwise)."""
    shapes = mlp_shapes(hp)
    if set(model) != set(shapes) or any(np.asarray(model[k]).dtype != np.float32 or np.shape(model[k]) != shape
                                        for k, shape in shapes.items()):
        raise RecordError(f"{what} is not a float32 MLP of shapes {shapes}")
    return {k: np.asarray(model[k], np.float32) for k in MLP_PARAMETERS}


def scaled(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels, np.float32) / np.float32(16.0)


MLP_PARAMETERS = ("w1", "b1", "w2", "b2")


class MLPTrainer:
    """What every T of the one-hidden-layer MLP shares: hyperparameters, the initial model,
    checking the inputs of a step, the model it starts from, and accuracy. Subclasses
    implement `update`."""

    name: str

    def __init__(self, hyperparameters: Hyperparameters = Hyperparameters()) -> None:
        self.hyperparameters = hyperparameters

    def initial_model(self) -> Tensors:
        return initial_mlp(self.hyperparameters)

    def step(self, model: Tensors, global_model: Tensors, batch: Tensors, step_index: int) -> Tensors:
        """M_{i+1} = T(M_i, M_O, d_{i+1}); RecordError for inputs that are not an MLP of these
        hyperparameters and a batch (they may come from a hostile record)."""
        hp = self.hyperparameters
        if isinstance(step_index, bool) or not isinstance(step_index, (int, np.integer)) or step_index < 1:
            raise RecordError("step indices are integers from 1")
        current, anchor = check_mlp(model, hp, "M_i"), check_mlp(global_model, hp, "M_O")
        x, y = check_batch(batch)
        return self.update(anchor if hp.starts_round(step_index) else current, anchor, x, y)

    def update(self, params: dict[str, np.ndarray], anchor: dict[str, np.ndarray],
               x: np.ndarray, y: np.ndarray) -> Tensors:
        """One SGD step from `params` (M_O at a round's start), proximal to `anchor` = M_O."""
        raise NotImplementedError

    def accuracy(self, model: Tensors, pixels: np.ndarray, labels: np.ndarray) -> float:
        return mlp_accuracy(model, pixels, labels)


class NumpyMLPTrainer(MLPTrainer):
    """The reference T: numpy float32 with BLAS pinned to one thread around every step."""

    name = "numpy-mlp"

    def update(self, params: dict[str, np.ndarray], anchor: dict[str, np.ndarray],
               x: np.ndarray, y: np.ndarray) -> Tensors:
        hp = self.hyperparameters
        w1, b1, w2, b2 = (params[k] for k in MLP_PARAMETERS)
        x = scaled(x)
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
            grad = grads[name] + wd * value + mu * (value - anchor[name])
            updated[name] = (value - lr * grad).astype(np.float32)
        return updated


def mlp_accuracy(model: Tensors, pixels: np.ndarray, labels: np.ndarray) -> float:
    hidden = np.maximum(scaled(pixels) @ model["w1"] + model["b1"], 0)
    predicted = (hidden @ model["w2"] + model["b2"]).argmax(axis=1)
    return float((predicted == np.asarray(labels)).mean())


def fedavg(models: Sequence[Tensors], weights: Sequence[int]) -> Tensors:
    """Weighted average, accumulated in float64 in the given order, stored as float32."""
    if not isinstance(models, (list, tuple)) or not isinstance(weights, (list, tuple)) \
            or not all(isinstance(m, dict) for m in models):
        raise RecordError("FedAvg takes a list of models (name -> tensor) and a list of weights")
    if not models or len(models) != len(weights) or any(
            isinstance(w, bool) or not isinstance(w, (int, np.integer)) or not 0 < w <= 1 << 53 for w in weights):
        raise RecordError("FedAvg needs one integer weight from 1 to 2^53 (exact as a float) per model")
    shapes = {name: np.shape(value) for name, value in models[0].items()}
    if any({name: np.shape(value) for name, value in model.items()} != shapes for model in models):
        raise RecordError("FedAvg needs models with the same tensors")
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
    raise RecordError(f"unknown trainer {shown(name)}")


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
