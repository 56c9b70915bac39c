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


def test_torch_run_is_recorded_and_audited_exactly(tmp_path, toy):
    import ledger
    from ledger.provenance import Auditor, CloudRecorder, Device, EdgeRecorder, NetworkLedger, Tolerance

    hp = Hyperparameters(hidden=8, batch_size=8, local_steps=2)
    trainer = TorchMLPTrainer(hp)
    pixels, labels, _, _ = load_digits_split()
    with ledger.Network.init(tmp_path / "net", subchains=1, params=toy, auto_interlock=False) as net:
        chain = NetworkLedger(net)
        edge = EdgeRecorder(chain, "edge-0", "edge-0.peer0", trainer, net.trust)
        cloud = CloudRecorder(chain, "main", "main.peer0")
        sensor = Device(net.identity("sensor", role="device"))
        readings = [edge.record_reading(sensor.read(pixels[k], int(labels[k]))) for k in range(16)]
        order = [readings[:8], readings[8:], readings[8:], readings[:8]]
        initial, _ = cloud.record_initial(trainer)
        edge.start_run(order, initial, data_order_seed=0)
        for index, batch_readings in enumerate(order, start=1):
            if index == 3:
                edge.use_global(cloud.record_aggregation([edge.steps[-1]], [16], edge.model))
            batch = edge.record_batch(batch_readings)
            edge.record_step(trainer.step(edge.model, edge.global_model, batch, index))
        report = Auditor(chain, net.trust, "main").audit(edge.manifest(), fraction=1.0)
        assert report.passed, report.summary()
        # another framework on the auditor's side: bits differ, tolerance mode reports how much
        on_numpy = Auditor(chain, net.trust, "main", reexecute_with="numpy-mlp").audit(edge.manifest(), fraction=1.0)
        within = Auditor(chain, net.trust, "main", Tolerance(max_abs=1e-4, max_rel_l2=1e-4),
                         reexecute_with="numpy-mlp").audit(edge.manifest(), fraction=1.0)
        assert within.passed, within.summary()
        assert all(v.max_abs < 1e-4 for v in within.verdicts) and "replayed with numpy-mlp" in within.mode
        assert on_numpy.passed == all(v.max_abs == 0 for v in on_numpy.verdicts)
        run_record = chain.fetch(edge.run.tx_id).body
        assert run_record["trainer"] == "torch-mlp"
        assert run_record["environment"]["torch"]["deterministic"] is True
        assert run_record["environment"]["torch"]["threads"] == 1
