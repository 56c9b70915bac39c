"""Provenance on the embedded ledger: recording, endorsement re-execution, Protocol 1 checks,
and the audit catching every kind of tampering (each test gets a fresh network)."""
from __future__ import annotations

import dataclasses

import fsspec
import numpy as np
import pytest

import ledger
import ledger.provenance.records
from ledger.identity import CertificateAuthority
from ledger.provenance import (Auditor, CloudRecorder, Device, DeviceError,
                               EdgeRecorder, EndorsementRefused, Hyperparameters, NetworkLedger,
                               NumpyMLPTrainer, ProvenanceError, RecordError, Ref, Tolerance, fedavg)

from provenance_helpers import digits, lax_net, net  # noqa: F401 (fixtures)

EDGE, OTHER_EDGE, MAIN = "edge-0", "edge-1", "main"
HP = Hyperparameters(hidden=16, batch_size=8, local_steps=3)
READINGS, STEPS = 24, 6  # two rounds of three local steps


@dataclasses.dataclass
class Run:
    net: ledger.Network
    chain: NetworkLedger
    edge: EdgeRecorder
    cloud: CloudRecorder
    readings: list[Ref]
    order: list[list[Ref]]


def collect(net, digits, count=READINGS, endorse_mode=None, submitter=f"{EDGE}.peer0"):
    """Readings on edge-0 of `net`; `endorse_mode` sets the chains' policy on a fresh network."""
    chain = NetworkLedger(net, endorse=endorse_mode)
    trainer = NumpyMLPTrainer(HP)
    edge = EdgeRecorder(chain, EDGE, submitter, trainer, net.trust)
    cloud = CloudRecorder(chain, MAIN, f"{MAIN}.peer0")
    pixels, labels, _, _ = digits
    sensors = [Device(net.identity(f"sensor-{k}", role="device")) for k in range(3)]
    constrained = Device(net.identity("sensor-c", role="device", chain_id=EDGE), delegate=net.identity(f"{EDGE}.peer1"))
    devices = sensors + [constrained]
    readings = [edge.record_reading(devices[k % 4].read(pixels[k], int(labels[k]))) for k in range(count)]
    order = [readings[(j * HP.batch_size) % count:][:HP.batch_size] for j in range(STEPS)]
    return Run(net, chain, edge, cloud, readings, order)


def train(run, step=None, batches=None):
    """Two FedAvg rounds on one edge; `step` replaces T (a dishonest trainer), `batches`
    replaces the committed order when recording (a reordering trainer)."""
    trainer = run.edge.trainer
    step = step or trainer.step
    initial, _ = run.cloud.record_initial(trainer)
    run.edge.start_run(run.order, initial, data_order_seed=0)
    for index, readings in enumerate(batches or run.order, start=1):
        if index > 1 and HP.starts_round(index):
            aggregated = run.cloud.record_aggregation([run.edge.steps[-1]], [HP.local_steps * HP.batch_size],
                                                      fedavg([run.edge.model], [1]))
            run.edge.use_global(aggregated)
        batch = run.edge.record_batch(readings)
        run.edge.record_step(step(run.edge.model, run.edge.global_model, batch, index))
    run.chain.flush()
    run.net.interlock()
    return run


def audit(run, **kw):
    tolerance = kw.pop("tolerance", None)
    if "count" not in kw:
        kw.setdefault("fraction", 1.0)
    return Auditor(run.chain, run.net.trust, OTHER_EDGE, tolerance).audit(run.edge.manifest(), **kw)


def overwrite_object(ref_url: str, data: bytes) -> None:
    fs, path = fsspec.core.url_to_fs(ref_url)
    with fs.open(path, "wb") as f:
        f.write(data)


# --- the honest run ----------------------------------------------------------------------

def test_honest_run_is_recorded_endorsed_and_passes_the_audit(net, digits):
    run = train(collect(net, digits))
    assert run.chain.endorsement_checks == 2 * (STEPS + 2)  # 2 endorsers x (steps + 2 FedAvg rounds)
    report = audit(run)
    assert report.passed, report.summary()
    assert [v.index for v in report.verdicts] == list(range(1, STEPS + 1))
    assert all(v.max_abs == 0.0 for v in report.verdicts)
    sampled = audit(run, count=2, seed=4)
    assert len(sampled.verdicts) == 2 and sampled.passed
    run_record = run.chain.fetch(run.edge.run.tx_id).body
    assert run_record["hyperparameters"] == HP.as_record()
    assert run_record["environment"]["libraries"]["numpy"] == np.__version__
    assert run.net.status()[EDGE]["height"] > 0


def test_signatures_only_mode_skips_re_execution(net, digits):
    run = train(collect(net, digits, endorse_mode="signatures"))
    assert run.chain.endorsement_checks == 0
    assert audit(run).passed


# --- readings --------------------------------------------------------------------------

def test_forged_device_signature_is_rejected(net, digits):
    run = collect(net, digits, count=4)
    reading = Device(net.identity("sensor-0", role="device")).read(np.zeros(64), 1)
    with pytest.raises(DeviceError, match="bad signature"):
        run.edge.record_reading(dataclasses.replace(reading, signature=bytes(64)))
    run.chain.flush()
    height = net.status()[EDGE]["height"]
    good = Device(net.identity("sensor-1", role="device")).read(np.ones(64), 2)
    with pytest.raises(DeviceError):  # one bad reading refuses the whole upload
        run.edge.record_readings([good, dataclasses.replace(reading, signature=bytes(64))])
    run.chain.flush()
    assert net.status()[EDGE]["height"] == height


def test_unknown_device_is_rejected(net, digits):
    run = collect(net, digits, count=4)
    rogue = CertificateAuthority.create("rogue").issue("sensor-0", "device")
    with pytest.raises(DeviceError, match="unknown"):
        run.edge.record_reading(Device(rogue).read(np.zeros(64), 1))


def test_device_bound_to_another_edge_is_rejected(net, digits):
    run = collect(net, digits, count=4)
    sensor = Device(net.identity("sensor-e0", role="device", chain_id=EDGE))
    pixels, labels, _, _ = digits
    assert run.edge.record_reading(sensor.read(pixels[0], int(labels[0]))).chain_id == EDGE
    other_edge = EdgeRecorder(run.chain, OTHER_EDGE, f"{OTHER_EDGE}.peer0", run.edge.trainer, net.trust)
    with pytest.raises(DeviceError, match=f"reports to {EDGE}, not {OTHER_EDGE}"):
        other_edge.record_reading(sensor.read(pixels[1], int(labels[1])))
    with pytest.raises(DeviceError, match="own edge chain"):  # nor can it delegate to another edge's peer
        Device(net.identity("sensor-e0"), delegate=net.identity(f"{OTHER_EDGE}.peer1"))


def test_tampered_reading_is_reported_with_its_steps(net, digits):
    run = train(collect(net, digits))
    victim = run.order[1][2]
    overwrite_object(victim.obj.url, b"not the reading")
    report = audit(run)
    used_in = {i for i, readings in enumerate(run.order, start=1) if victim in readings}
    # and the steps training from a FedAvg round that weighs it (its device signature is gone)
    weighed_by = {i for i in range(1, STEPS + 1) if HP.round_of(i) >= 1 and
                  any(victim in run.order[j - 1] for j in range(HP.round_input(HP.round_of(i)) - HP.local_steps + 1,
                                                               HP.round_input(HP.round_of(i)) + 1))}
    assert not report.passed and set(report.failed_steps) == used_in | weighed_by and weighed_by
    assert victim.tx_id.hex()[:12] in report.summary()


# --- models ------------------------------------------------------------------------------

def test_model_file_swapped_after_recording_is_reported(net, digits):
    run = train(collect(net, digits))
    swapped = run.edge.steps[2]  # M_3: output of step 3, input of step 4
    overwrite_object(swapped.obj.url, run.chain.load(run.edge.steps[1].digest))
    report = audit(run)
    # step 3 outputs it, step 4 starts from it, and FedAvg of round 1 (M_O of steps 4-6) uses it
    assert report.failed_steps == [3, 4, 5, 6]
    reasons = {v.index: " ".join(v.failures) for v in report.verdicts}
    assert "M_i: object" in reasons[3] and "M_{i-1}: object" in reasons[4]


def test_wrong_global_model_is_rejected_before_training(net, digits):
    run = collect(net, digits)
    initial, _ = run.cloud.record_initial(run.edge.trainer)
    run.chain.flush()
    not_an_aggregation = run.readings[0]
    with pytest.raises(ProvenanceError):
        run.edge.use_global(not_an_aggregation)
    fabricated = Ref(MAIN, bytes(32), initial.obj)
    with pytest.raises(ledger.LedgerError, match="no transaction"):
        run.edge.use_global(fabricated)


def test_global_model_recorded_off_the_main_chain_is_rejected_or_reported(net, lax_net, digits):
    def off_main(run):
        initial, _ = run.cloud.record_initial(run.edge.trainer)
        own_record = run.chain.fetch(initial.tx_id).body  # the same model, recorded by the edge itself
        own = Ref(EDGE, run.chain.submit(EDGE, f"{EDGE}.peer0", own_record, initial.obj), initial.obj)
        run.chain.flush()
        with pytest.raises(RecordError, match="must be an aggregation record of main"):
            run.edge.use_global(own)
        run.edge.start_run(run.order[:HP.local_steps], initial, data_order_seed=0)
        run.edge._global_ref = own  # a recorder that skips the check
        return run

    # the peers re-execute from the ledger's M_O: the main chain's model of the step's round
    run = off_main(collect(net, digits))
    batch = run.edge.record_batch(run.order[0])
    with pytest.raises(EndorsementRefused, match="M_O is not the main chain's model of round 0"):
        run.edge.record_step(run.edge.trainer.step(run.edge.model, run.edge.global_model, batch, 1))

    run = off_main(collect(lax_net, digits, endorse_mode="signatures"))
    for index, readings in enumerate(run.order[:HP.local_steps], start=1):
        batch = run.edge.record_batch(readings)
        run.edge.record_step(run.edge.trainer.step(run.edge.model, run.edge.global_model, batch, index))
    report = Auditor(run.chain, lax_net.trust, OTHER_EDGE).audit(run.edge.manifest(), fraction=1.0)
    assert report.failed_steps == list(range(1, HP.local_steps + 1))
    assert "is on edge-0, not main" in report.summary()


def test_records_not_submitted_by_a_peer_of_their_chain_are_reported(net, digits, monkeypatch):
    before = net.peer(EDGE).height
    with pytest.raises(EndorsementRefused, match="not submitted by a peer of edge-0"):
        collect(net, digits, submitter="client")  # the peers refuse it
    assert net.peer(EDGE).height == before
    # peers that skip the rule (an edge holds its peers' keys): the audit still reports it
    monkeypatch.setattr(ledger.provenance.network_ledger, "check_author", lambda *args: None)
    run = train(collect(net, digits, submitter="client"))
    report = audit(run)
    assert not report.passed and report.verdicts == []  # the run record itself is refused
    assert "not submitted by a peer of edge-0" in report.run_failures[0]


def test_step_trained_on_a_wrong_global_model_is_refused_or_reported(net, lax_net, digits):
    rogue_global = NumpyMLPTrainer(dataclasses.replace(HP, init_seed=99)).initial_model()
    trainer = NumpyMLPTrainer(HP)

    def wrong_global(model, global_model, batch, index):
        return trainer.step(model, rogue_global, batch, index)

    with pytest.raises(EndorsementRefused, match="step 1"):
        train(collect(net, digits), step=wrong_global)

    report = audit(train(collect(lax_net, digits, endorse_mode="signatures"), step=wrong_global))
    assert 1 in report.failed_steps and 4 in report.failed_steps  # the first step of each round
    assert "does not reproduce M_i" in report.summary()


def test_step_with_other_hyperparameters_is_refused_or_reported(net, lax_net, digits):
    faster = NumpyMLPTrainer(dataclasses.replace(HP, learning_rate=HP.learning_rate * 2))
    with pytest.raises(EndorsementRefused):
        train(collect(net, digits), step=faster.step)

    run = train(collect(lax_net, digits, endorse_mode="signatures"), step=faster.step)
    report = audit(run)
    assert report.failed_steps == list(range(1, STEPS + 1))
    assert all("does not reproduce M_i" in " ".join(v.failures) for v in report.verdicts)


def test_a_step_the_peers_do_not_reproduce_is_not_committed(net, digits):
    """The endorsing peers re-execute with the run record's hyperparameters: a step trained
    with another learning rate is refused by each of them and never reaches the chain."""
    run = collect(net, digits)
    initial, _ = run.cloud.record_initial(run.edge.trainer)
    run.edge.start_run(run.order, initial, data_order_seed=0)
    batch = run.edge.record_batch(run.order[0])
    run.chain.flush()
    height = net.peer(EDGE).height
    faster = NumpyMLPTrainer(dataclasses.replace(HP, learning_rate=HP.learning_rate * 2))
    with pytest.raises(EndorsementRefused, match="step 1") as refused:
        run.edge.record_step(faster.step(run.edge.model, run.edge.global_model, batch, 1))
    assert isinstance(refused.value.__cause__, ledger.errors.ValidationRejected)
    assert f"{EDGE}.peer0 refuses" in str(refused.value) and "0 of the 2 endorsements" in str(refused.value)
    run.chain.flush()
    assert net.peer(EDGE).height == height and run.edge.steps == []
    kinds = [ledger.provenance.records.decode_body(tx.payload)["kind"]
             for h in range(height) for tx in net.block(EDGE, h).transactions if tx.kind == ledger.TxKind.RECORD]
    assert "step" not in kinds
    honest = run.edge.record_step(run.edge.trainer.step(run.edge.model, run.edge.global_model, batch, 1))
    run.chain.flush()
    assert net.locate(honest.tx_id).chain_id == EDGE


# --- data order --------------------------------------------------------------------------

def test_reordered_data_is_reported(lax_net, digits):
    """The re-executing peers refuse it (test_provenance_attacks); the audit reports it where they let it through."""
    run = collect(lax_net, digits)
    reordered = [run.order[1], run.order[0]] + run.order[2:]
    report = audit(train(run, batches=reordered))
    assert report.failed_steps == [1, 2]
    assert all("committed data order" in " ".join(v.failures) for v in report.verdicts if not v.ok)


# --- tolerance mode and the manifest ---------------------------------------------------

def test_tolerance_mode_reports_distances(net, digits):
    trainer = NumpyMLPTrainer(HP)

    def nudged(model, global_model, batch, index):
        out = trainer.step(model, global_model, batch, index)
        return {k: v + np.float32(1e-6) if k == "b2" else v for k, v in out.items()}

    run = train(collect(net, digits, endorse_mode="signatures"), step=nudged)
    exact = audit(run)
    assert not exact.passed
    loose = audit(run, tolerance=Tolerance(max_abs=1e-4, max_rel_l2=1e-3))
    strict = audit(run, tolerance=Tolerance(max_abs=1e-9, max_rel_l2=1e-9))
    assert loose.passed and not strict.passed
    assert all(0 < v.max_abs < 1e-4 for v in loose.verdicts)
    assert "tolerance" in loose.mode


def test_manifest_missing_steps_fails_the_run(net, digits):
    run = train(collect(net, digits))
    manifest = run.edge.manifest()
    short = dataclasses.replace(manifest, step_txs=manifest.step_txs[:-1])
    report = Auditor(run.chain, run.net.trust, OTHER_EDGE).audit(short, fraction=1.0)
    assert not report.passed and "manifest lists" in report.run_failures[0]
    swapped = dataclasses.replace(manifest, step_txs=(manifest.step_txs[1], manifest.step_txs[0]) + manifest.step_txs[2:])
    assert Auditor(run.chain, run.net.trust, OTHER_EDGE).audit(swapped, fraction=1.0).failed_steps[:2] == [1, 2]


def test_the_pipeline_example_in_the_package_docstring_runs(tmp_path, monkeypatch, capsys):
    import ledger.provenance

    example = ledger.provenance.__doc__.split("::\n\n", 1)[1].split("\n\nEvery exception")[0]
    monkeypatch.chdir(tmp_path)
    exec(compile("\n".join(line[4:] for line in example.splitlines()), "example", "exec"), {})
    assert "audit of edge-0: PASS" in capsys.readouterr().out
