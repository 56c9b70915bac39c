"""DNN provenance on the two-layer ledger (DESIGN.md section 6; paper section V).

Devices sign readings (Type-I on their edge's sub-chain); an edge records its run (hyper-
parameters, seeds, data order commitment, environment fingerprint), every data batch d_i and
every local step tx = H(M_i || M_O || d_i || i); the cloud records FedAvg rounds on the main
chain; an auditor samples steps, checks everything through Protocol 1 and re-executes them.
A plain training loop::

    import ledger
    from ledger.provenance import (Auditor, CloudRecorder, Device, EdgeRecorder, Hyperparameters,
                                   NetworkLedger, NumpyMLPTrainer, load_digits_split)

    with ledger.Network.init("data", subchains=1) as net:
        chain, trainer = NetworkLedger(net), NumpyMLPTrainer(Hyperparameters(local_steps=4))
        cloud = CloudRecorder(chain, "main", submitter="main.peer0")
        edge = EdgeRecorder(chain, "edge-0", "edge-0.peer0", trainer, net.trust)
        sensor = Device(net.identity("sensor-1", role="device", chain_id="edge-0"))  # edge-0 only
        pixels, labels, _, _ = load_digits_split()
        readings = [edge.record_reading(sensor.read(p, y)) for p, y in zip(pixels[:64], labels[:64])]
        order = [readings[i:i + 16] for i in range(0, 64, 16)]   # committed before training
        initial, _ = cloud.record_initial(trainer)
        edge.start_run(order, initial, data_order_seed=0)
        for i, batch_readings in enumerate(order, start=1):
            batch = edge.record_batch(batch_readings)             # d_i; M_O re-checked (Protocol 1)
            edge.record_step(trainer.step(edge.model, edge.global_model, batch, i))
        cloud.record_aggregation([edge.steps[-1]])  # round 1: step 4, weighted by its 64 readings
        report = Auditor(chain, net.trust, verifier_chain="main").audit(edge.manifest(), fraction=0.5)
        print(report.summary())

Every exception derives from ProvenanceError, a ledger.errors.LedgerError.

Your own PyTorch loop (`edgeacc[torch]`): ledger.provenance.pipeline (PipelineRecorder, the
replay contract, checkpoint intervals, PipelineAuditor; the whole training state is encoded by
torch_state); Flower (`edgeacc[flower]`): ledger.provenance.flower (RecordingStrategy,
provenance_mod); the final model's in-toto statement and its offline check:
ledger.provenance.manifest (`edgeacc verify-model`). These modules are imported on their own:
the core needs neither torch nor flwr.
"""
from ledger.provenance.audit import AuditReport, Auditor, StepVerdict, Tolerance, fresh_seed, sample_steps
from ledger.provenance.devices import Device, SignedReading, verify_reading
from ledger.provenance.encoding import decode_tensors, encode_tensors, step_digest, tensors_digest
from ledger.provenance.environment import environment_fingerprint
from ledger.provenance.errors import DeviceError, ProvenanceError, RecordError, TensorEncodingError
from ledger.provenance.network_ledger import (CrossChainRejected, EndorsementRefused, NetworkLedger,
                                              ProvenanceEndorser)
from ledger.provenance.recorder import CloudRecorder, EdgeRecorder
from ledger.provenance.records import Ref, RunManifest
from ledger.provenance.trainers import (Hyperparameters, NumpyMLPTrainer, Trainer, fedavg,
                                        load_digits_split, trainer_for)

__all__ = [
    "AuditReport", "Auditor", "CloudRecorder", "CrossChainRejected", "Device", "DeviceError",
    "EdgeRecorder", "EndorsementRefused", "Hyperparameters", "NetworkLedger", "NumpyMLPTrainer",
    "ProvenanceEndorser", "ProvenanceError", "RecordError", "Ref", "RunManifest", "SignedReading", "StepVerdict",
    "TensorEncodingError", "Tolerance", "Trainer", "decode_tensors", "encode_tensors",
    "environment_fingerprint", "fedavg", "fresh_seed", "load_digits_split", "sample_steps", "step_digest",
    "tensors_digest", "trainer_for", "verify_reading",
]
