"""Provenance building blocks that need no chain: encodings, trainers, devices, sampling."""
from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pytest
import safetensors.numpy

from ledger.identity import CertificateAuthority, TrustStore
import ledger.provenance.devices
import ledger.provenance.encoding
import ledger.provenance.records
from ledger.provenance.audit import fresh_seed, model_distances, sample_steps
from ledger.provenance.devices import Device, decode_reading, verify_reading
from ledger.provenance.encoding import (decode_tensors, encode_tensors, step_digest, tensors_digest)
from ledger.provenance.environment import environment_differences, environment_fingerprint
from ledger.provenance.errors import DeviceError, TensorEncodingError, ProvenanceError
from ledger.provenance.trainers import (Hyperparameters, NumpyMLPTrainer, batch_tensors, fedavg,
                                        load_digits_split, trainer_for)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def run_steps(trainer, digits, steps, seed=1):
    pixels, labels, _, _ = digits
    rng = np.random.default_rng(seed)
    model = global_model = trainer.initial_model()
    for index in range(1, steps + 1):
        chosen = rng.integers(0, len(labels), trainer.hyperparameters.batch_size)
        model = trainer.step(model, global_model, batch_tensors(pixels[chosen], labels[chosen]), index)
    return model


# --- encoding -----------------------------------------------------------------------------

def test_encoding_is_safetensors_and_round_trips():
    tensors = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -2], np.int64)}
    data = encode_tensors(tensors, {"device": "d1"})
    loaded = safetensors.numpy.load(data)
    decoded, metadata = decode_tensors(data)
    for name, value in tensors.items():
        np.testing.assert_array_equal(loaded[name], value)
        np.testing.assert_array_equal(decoded[name], value)
        assert decoded[name].dtype == value.dtype
    assert metadata == {"device": "d1"}


def test_encoding_is_independent_of_insertion_order_and_byte_order():
    a = {"x": np.arange(3, dtype="<f4"), "y": np.ones(2, np.int64)}
    b = {"y": np.ones(2, np.int64), "x": np.arange(3, dtype=">f4")}
    assert encode_tensors(a) == encode_tensors(b)


@pytest.mark.parametrize("change", [
    lambda t: {**t, "x": t["x"].astype(np.float64)},          # dtype
    lambda t: {**t, "x": t["x"].reshape(3, 1)},              # shape
    lambda t: {"z": t["x"], "y": t["y"]},                    # name
    lambda t: {**t, "x": t["x"] + np.float32(1e-7)},         # one ulp-scale value change
])
def test_encoding_binds_names_dtypes_shapes_and_values(change):
    tensors = {"x": np.array([1.0, 2.0, 3.0], np.float32), "y": np.ones(2, np.int64)}
    assert tensors_digest(change(tensors)) != tensors_digest(tensors)


def test_non_canonical_safetensors_bytes_are_rejected():
    tensors = {"b": np.zeros(3, np.float32), "a": np.ones(2, np.int64)}
    library_bytes = safetensors.numpy.save(tensors)  # same tensors, the library's own layout
    if library_bytes != encode_tensors(tensors):
        with pytest.raises(TensorEncodingError):
            decode_tensors(library_bytes)
    with pytest.raises(TensorEncodingError):
        decode_tensors(encode_tensors(tensors)[:-1])
    with pytest.raises(TensorEncodingError):
        decode_tensors(b"\x00" * 4)


def test_step_digest_binds_every_part():
    parts = (b"model", b"global", b"batch")
    reference = step_digest(*parts, 3)
    assert step_digest(*parts, 4) != reference
    assert step_digest(b"mode", b"lglobal", b"batch", 3) != reference  # no shifting across parts
    with pytest.raises(TensorEncodingError):
        step_digest(*parts, 0)


# --- trainers -----------------------------------------------------------------------------

def test_numpy_trainer_is_bit_reproducible_and_learns(digits):
    trainer = NumpyMLPTrainer(Hyperparameters())
    first, second = run_steps(trainer, digits, 40), run_steps(trainer, digits, 40)
    assert encode_tensors(first) == encode_tensors(second)
    _, _, test_pixels, test_labels = digits
    untrained = trainer.accuracy(trainer.initial_model(), test_pixels, test_labels)
    assert trainer.accuracy(first, test_pixels, test_labels) > untrained + 0.3


def test_hyperparameters_change_the_result(digits):
    base = run_steps(NumpyMLPTrainer(Hyperparameters()), digits, 5)
    other = run_steps(NumpyMLPTrainer(Hyperparameters(learning_rate=0.25)), digits, 5)
    assert tensors_digest(base) != tensors_digest(other)


def test_round_start_uses_the_global_model():
    trainer = NumpyMLPTrainer(Hyperparameters(local_steps=4))
    pixels, labels = np.full((16, 64), 5, np.uint8), np.arange(16) % 10
    batch = batch_tensors(pixels, labels)
    global_model = trainer.initial_model()
    local = {k: v + np.float32(0.5) for k, v in global_model.items()}
    # step 5 starts round 2: M_i is ignored, M_O is the base
    assert tensors_digest(trainer.step(local, global_model, batch, 5)) == \
        tensors_digest(trainer.step(global_model, global_model, batch, 5))
    assert tensors_digest(trainer.step(local, global_model, batch, 6)) != \
        tensors_digest(trainer.step(global_model, global_model, batch, 6))


def test_fedavg_weights_and_rejects_bad_weights():
    a, b = {"w": np.zeros(2, np.float32)}, {"w": np.full(2, 4, np.float32)}
    np.testing.assert_array_equal(fedavg([a, b], [1, 3])["w"], np.full(2, 3, np.float32))
    with pytest.raises(ProvenanceError):
        fedavg([a, b], [1, 0])


def test_hyperparameters_round_trip_and_reject_unknown_fields():
    hp = Hyperparameters(learning_rate=0.3, local_steps=5)
    assert Hyperparameters.from_record(hp.as_record()) == hp
    with pytest.raises(ProvenanceError):
        Hyperparameters.from_record({**hp.as_record(), "momentum": 0.9})
    with pytest.raises(ProvenanceError):
        trainer_for("sklearn-magic", hp)


def test_environment_fingerprint_names_versions_threads_and_cpu():
    fingerprint = environment_fingerprint("numpy-mlp")
    assert fingerprint["libraries"]["numpy"] == np.__version__
    assert fingerprint["step_threads"] == 1
    assert "cpu" in fingerprint and "flags" in fingerprint["cpu"]


# --- sampling and distances -----------------------------------------------------------------

def test_sampling_is_seeded_and_sized():
    assert sample_steps(50, count=5, seed=3) == sample_steps(50, count=5, seed=3)
    assert len(sample_steps(50, fraction=0.1, seed=3)) == 5
    assert sample_steps(4, count=10, seed=fresh_seed()) == [1, 2, 3, 4]
    for bad in ({"count": 2, "fraction": 0.5}, {"count": 0}, {"count": True}, {"fraction": 1.5},
                {"count": 2, "seed": -1}, {"count": 2, "seed": "3"}):
        with pytest.raises(ProvenanceError):
            sample_steps(10, **{"seed": 3, **bad})
    # no fixed default: without a seed each sample is fresh (45 pairs: 8 equal draws have probability 45^-7)
    assert len({tuple(sample_steps(10, count=2)) for _ in range(8)}) > 1


def test_model_distances():
    a = {"w": np.array([1.0, 2.0], np.float32)}
    b = {"w": np.array([1.0, 2.5], np.float32)}
    max_abs, rel = model_distances(a, b)
    assert max_abs == pytest.approx(0.5) and rel > 0
    assert model_distances(a, a) == (0.0, 0.0)
    assert model_distances(a, {"v": a["w"]})[0] == float("inf")


# --- devices ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki():
    ca = CertificateAuthority.create()
    trust = TrustStore(ca.certificate)
    device = ca.issue("sensor-1", "device", "edge-a")
    peer = ca.issue("peer-a1", "peer", "edge-a")
    other_peer = ca.issue("peer-b1", "peer", "edge-b")
    for identity in (device, peer, other_peer):
        trust.add_certificate(identity.certificate)
    return ca, trust, device, peer, other_peer


def test_signed_and_delegated_readings_verify(pki):
    _, trust, device, peer, _ = pki
    direct = Device(device).read(np.arange(64) % 17, 7)
    assert verify_reading(trust, direct, "edge-a").name == "sensor-1"
    assert decode_reading(direct.data)[0:2] == ("sensor-1", 1)
    delegated = Device(device, delegate=peer).read(np.zeros(64), 3)
    assert delegated.delegated and delegated.signer_fingerprint == peer.fingerprint
    assert verify_reading(trust, delegated, "edge-a").name == "sensor-1"


def test_forged_signature_is_rejected(pki):
    _, trust, device, _, _ = pki
    reading = Device(device).read(np.zeros(64), 1)
    forged = dataclasses.replace(reading, signature=bytes(64))
    with pytest.raises(DeviceError, match="bad signature"):
        verify_reading(trust, forged)
    altered = dataclasses.replace(reading, data=Device(device).read(np.ones(64), 1).data)
    with pytest.raises(DeviceError):
        verify_reading(trust, altered)


def test_unknown_device_is_rejected(pki):
    _, trust, _, _, _ = pki
    rogue_ca = CertificateAuthority.create("rogue")
    rogue = rogue_ca.issue("sensor-1", "device", "edge-a")
    with pytest.raises(DeviceError, match="unknown"):
        verify_reading(trust, Device(rogue).read(np.zeros(64), 1))


def test_delegation_only_to_a_peer_of_the_device_chain(pki):
    _, trust, device, _, other_peer = pki
    with pytest.raises(DeviceError):
        Device(device, delegate=other_peer)
    reading = Device(device).read(np.zeros(64), 1)
    claimed = dataclasses.replace(reading, delegated=True, signer_fingerprint=other_peer.fingerprint,
                                  signature=other_peer.sign(b"edgeacc/provenance/reading/v1\x00" + reading.data))
    with pytest.raises(DeviceError):
        verify_reading(trust, claimed)
    with pytest.raises(DeviceError):
        verify_reading(trust, reading, chain_id="edge-b")


def test_environment_differences_name_what_changed():
    here = environment_fingerprint("numpy-mlp")
    assert environment_differences(here, here) == []
    elsewhere = {**here, "libraries": {**here["libraries"], "numpy": "1.0.0"},
                 "cpu": {"model": "other", "flags": here["cpu"]["flags"] + ["avx9000"]}}
    notes = " | ".join(environment_differences(elsewhere, here))
    assert "numpy: recorded 1.0.0" in notes and "CPU:" in notes and "avx9000" in notes


@pytest.mark.parametrize("module", [ledger.provenance.encoding, ledger.provenance.devices, ledger.provenance.records])
def test_docstrings_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
