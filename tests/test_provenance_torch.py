"""The PyTorch trainer (optional extra): deterministic, and interchangeable with numpy's."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ledger.provenance.encoding import encode_tensors, tensors_digest  # noqa: E402
from ledger.provenance.trainers import (Hyperparameters, NumpyMLPTrainer, batch_tensors,  # noqa: E402
                                        load_digits_split, trainer_for)
from ledger.provenance.torch_trainer import TorchMLPTrainer  # noqa: E402


def train(trainer, steps=24, seed=5):
    pixels, labels, test_pixels, test_labels = load_digits_split()
    rng = np.random.default_rng(seed)
    model = global_model = trainer.initial_model()
    for index in range(1, steps + 1):
        chosen = rng.integers(0, len(labels), trainer.hyperparameters.batch_size)
        model = trainer.step(model, global_model, batch_tensors(pixels[chosen], labels[chosen]), index)
        if index % trainer.hyperparameters.local_steps == 0:
            global_model = model
    return model, trainer.accuracy(model, test_pixels, test_labels)


def test_torch_trainer_is_deterministic_and_pinned():
    trainer = TorchMLPTrainer(Hyperparameters())
    (first, accuracy), (second, _) = train(trainer), train(trainer)
    assert encode_tensors(first) == encode_tensors(second)
    assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1
    assert accuracy > 0.5


def test_torch_and_numpy_agree_within_float_tolerance():
    hp = Hyperparameters()
    torch_model, _ = train(TorchMLPTrainer(hp))
    numpy_model, _ = train(NumpyMLPTrainer(hp))
    for name in numpy_model:
        np.testing.assert_allclose(torch_model[name], numpy_model[name], atol=1e-4)


def test_run_records_rebuild_the_torch_trainer():
    trainer = trainer_for("torch-mlp", Hyperparameters(hidden=8))
    assert isinstance(trainer, TorchMLPTrainer)
    assert tensors_digest(trainer.initial_model()) == tensors_digest(NumpyMLPTrainer(Hyperparameters(hidden=8)).initial_model())
