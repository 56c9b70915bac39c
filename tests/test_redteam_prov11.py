"""Red team of session 11 on DNN provenance: FedAvg weight inflation and the audit's replay.

1. Copied readings: a device bound to no edge reports to any, and its signed reading is public
   once recorded; another edge recorded the same readings again on its own chain, trained on
   them and weighed in with data the first edge collected. The peers, the cloud recorder and
   the audit all accepted the round (each input's weight counted distinct readings, but no
   one looked across inputs). Now no reading weighs two inputs of a round (in a cloud's
   pipeline draft, all inputs that share one are left out, whichever came first).
2. Borrowed readings: on a chain whose peers only check signatures, an edge's data order cited
   another edge's readings; the audit of the other (honest) edge replays only its own steps,
   and it counted the borrowed readings into the dishonest edge's weight and passed. Now an
   input weighs only readings recorded on its own edge's chain.
3. A run record named another init_seed than the seed of the round-0 model it trains from (T
   never reads the seed): the peers and the audit accepted it. Now they check the run's
   initial model and seed against that record (recorder.check_run_initial).
4. An edge whose peers collude committed readings of a revoked device and weighed in by them:
   the main chain's peers and the audit of the other edge counted every listed reading
   unchecked. Now a weighed reading must carry its device's valid signature at its block's time.
"""
from __future__ import annotations

import pytest

from ledger.provenance import EndorsementRefused, RecordError
from ledger.provenance.devices import SignedReading

from provenance_helpers import EDGES, HP, READINGS, STEPS, WEIGHT, Federation, honest
from provenance_helpers import digits, lax_net, net  # noqa: F401 (fixtures)


def finish(fed):
    """Round 1's FedAvg of the edges' last steps (recorded as a cloud skipping its recorder's
    checks would), then the runs' other rounds alike."""
    for _ in range(STEPS // HP.local_steps - 1):
        fed.aggregate(honest(fed.edges))
        fed.train_round()
    fed.chain.flush()
    fed.net.interlock()
    return fed


def order_of(refs):
    """The federation's data order over `refs` (READINGS of them): STEPS batches of HP.batch_size."""
    return [refs[(j * HP.batch_size) % READINGS:][:HP.batch_size] for j in range(STEPS)]


# --- 1: one reading weighed by two edges ------------------------------------------------------

def copied_federation(net, digits):
    """Edge-0 records READINGS readings of a device bound to no edge; edge-1 reads them back
    from edge-0's chain and records the same signed readings on its own. Both train round 1."""
    from ledger.provenance import Device, EdgeRecorder

    fed = Federation.start(net, digits)
    pixels, labels, _, _ = digits
    roaming = Device(net.identity("roaming-sensor", role="device"))
    collected = fed.edges[0].record_readings([roaming.read(pixels[k], int(labels[k])) for k in range(READINGS)])
    fed.chain.flush()
    copied = fed.edges[1].record_readings([
        SignedReading.from_record(record.body, fed.chain.load(record.obj.digest))
        for record in (fed.chain.fetch(ref.tx_id) for ref in collected)])
    initial = fed.cloud.rounds[0]
    fed.edges = [EdgeRecorder(fed.chain, edge.chain_id, edge.submitter, edge.trainer, net.trust)
                 for edge in fed.edges]  # fresh runs over the roaming readings
    for e, (edge, refs) in enumerate(zip(fed.edges, (collected, copied))):
        edge.start_run(order_of(refs), initial, data_order_seed=e)
    fed.train_round()
    return fed


def test_the_peers_refuse_a_round_weighing_one_reading_twice(net, digits):
    fed = copied_federation(net, digits)
    assert fed.cloud.round_weights(honest(fed.edges)) == [WEIGHT, WEIGHT]  # each edge's own records
    with pytest.raises(EndorsementRefused, match="a reading weighs one input of a round"):
        fed.cloud.record_aggregation(honest(fed.edges))
    fed.aggregate(honest(fed.edges)[1:])  # the copier alone is a round


def test_a_round_weighing_one_reading_twice_fails_the_audit(lax_net, digits):
    fed = finish(copied_federation(lax_net, digits))
    report = fed.audit(0, federation=fed.manifests())
    assert not report.passed
    assert "a reading weighs one input of a round" in report.summary(), report.summary()


# --- 2: an edge weighed by another edge's readings --------------------------------------------

def borrowing_federation(net, digits):
    """Edge-1's run cites edge-0's readings (tx ids on edge-0's chain) and trains on them."""
    from ledger.provenance import EdgeRecorder

    fed = Federation.start(net, digits)
    lender, borrower = fed.edges
    borrower = EdgeRecorder(fed.chain, borrower.chain_id, borrower.submitter, borrower.trainer, net.trust)
    borrower.start_run([list(batch) for batch in lender.data_order], fed.cloud.rounds[0], data_order_seed=1)
    fed.edges = [lender, borrower]
    fed.train_round()
    return fed


def test_the_cloud_refuses_a_weight_of_another_edges_readings(lax_net, digits):
    fed = borrowing_federation(lax_net, digits)  # the lax chains let the borrower's steps through
    with pytest.raises(RecordError, match="an input weighs only its own edge's readings"):
        fed.cloud.round_weights(honest(fed.edges))


def test_a_weight_of_another_edges_readings_fails_the_audit_of_the_honest_edge(lax_net, digits):
    """Edge-0 is honest and its audit replays all its steps: the round it trains from in
    round 1 weighs edge-1 by edge-0's readings, and the audit must say so (before, it passed)."""
    fed = finish(borrowing_federation(lax_net, digits))
    report = fed.audit(0, federation=fed.manifests())
    assert not report.passed
    assert "an input weighs only its own edge's readings" in report.summary(), report.summary()
    assert set(report.failed_steps) >= set(range(HP.local_steps + 1, 2 * HP.local_steps + 1))  # round 1's steps


def test_the_peers_refuse_a_step_on_another_edges_readings(net, digits):
    with pytest.raises(EndorsementRefused, match=f"not a recorded reading of {EDGES[1]}"):
        borrowing_federation(net, digits)


@pytest.mark.parametrize("attack", ["one reading, two edges", "another edge's reading"])
def test_a_pipeline_round_weighs_each_edge_by_its_own_readings_once(attack, monkeypatch):
    """The pipeline flow's round rule (pipeline.check_round_inputs, which its cloud, peers and
    auditor apply) on records a lookup gives: edge-1's run cites one reading, recorded on
    edge-1 with the bytes of edge-0's reading, or recorded on edge-0."""
    pytest.importorskip("torch")
    from ledger.provenance import pipeline
    from ledger.provenance.encoding import sha256

    monkeypatch.setattr(pipeline.torch_state, "model_bytes", lambda state: state)  # states are models here
    own, cited = "aa" * 32, "bb" * 32
    copy_of_own, on_edge_0 = ("edge-1", {}, b"\x01" * 32), ("edge-0", {}, b"\x02" * 32)
    records = {own: ("edge-0", {}, b"\x01" * 32), cited: copy_of_own if attack == "one reading, two edges" else on_edge_0}
    orders = {}
    for e, (edge, reading) in enumerate(zip(EDGES, (own, cited))):
        run_tx, segment_tx = f"{e}1" * 32, f"{e}2" * 32
        records[run_tx] = (edge, {"global": "cc" * 32, "iterations": 1, "contract": {"interval": 1}}, b"")
        records[segment_tx] = (edge, {"run": run_tx, "index": 1}, b"state")
        orders[run_tx] = [[reading]]
    body = {"round": 1, "previous": "cc" * 32,
            "locals": [{"tx": f"{e}2" * 32, "model": sha256(b"state").hex(), "weight": 1} for e in range(2)]}
    expected = "weighs one input of a round" if attack == "one reading, two edges" else "its own edge's readings"
    with pytest.raises(RecordError, match=expected):
        pipeline.check_round_inputs(body, lambda tx_hex, kind: records[tx_hex], orders.__getitem__,
                                    lambda digest: digest)
    assert len(pipeline.check_round_inputs({**body, "locals": body["locals"][:1]}, lambda tx_hex, kind: records[tx_hex],
                                           orders.__getitem__, lambda digest: digest)) == 1
    if attack == "one reading, two edges":  # a cloud's draft (Flower's) refuses both, whichever came first
        for locals_ in (body["locals"], body["locals"][::-1]):
            refused: list[str] = []
            draft = {**body, "locals": list(locals_)}
            assert pipeline.check_round_inputs(draft, lambda tx_hex, kind: records[tx_hex], orders.__getitem__,
                                               lambda digest: digest, refused) == []
            assert draft["locals"] == [] and len(refused) == 2 and all(expected in reason for reason in refused)


# --- 3: a run record that names another seed than its initial model's ---------------------------

def reseeded_run(net, digits, **changed):
    """Edge-0's run claims hyperparameters `changed` (a seed, or a model size) of its own, but
    trains from the federation's round-0 model, which another seed derived."""
    import dataclasses

    from ledger.provenance import EdgeRecorder, NumpyMLPTrainer

    fed = Federation.start(net, digits)
    edge = fed.edges[0]
    claimed = NumpyMLPTrainer(dataclasses.replace(HP, **changed))
    fed.edges[0] = EdgeRecorder(fed.chain, edge.chain_id, edge.submitter, claimed, net.trust)
    fed.edges[0].start_run(edge.data_order, fed.cloud.rounds[0], data_order_seed=0)
    fed.train_round()
    return fed


def test_the_peers_refuse_a_run_that_names_another_seed_than_its_initial_model(net, digits):
    with pytest.raises(EndorsementRefused, match="init_seed"):
        reseeded_run(net, digits, init_seed=HP.init_seed + 1)


def test_a_run_that_names_another_seed_than_its_initial_model_fails_the_audit(lax_net, digits):
    fed = finish(reseeded_run(lax_net, digits, init_seed=HP.init_seed + 1))
    report = fed.audit(0, federation=fed.manifests())
    assert not report.passed
    assert "init_seed" in report.summary(), report.summary()


# --- 4: a weight counting readings no valid device signed ---------------------------------------

def revoked_readings_federation(net, digits, monkeypatch):
    """Edge-1's peers collude: after the operator revoked its sensor they still commit that
    sensor's readings (they run no validator on them), and edge-1's run trains on them. The
    audit of edge-0 replays none of edge-1's steps."""
    import time

    from ledger.provenance import Device, EdgeRecorder, network_ledger

    fed = Federation.start(net, digits)
    pixels, labels, _, _ = digits
    sensor = Device(net.identity("edge-1.revoked-sensor", role="device", chain_id=EDGES[1]))
    signed = [sensor.read(pixels[k], int(labels[k])) for k in range(READINGS)]
    net.revoke(sensor.name)
    time.sleep(1.1)  # (a revocation counts from the next whole second)
    with monkeypatch.context() as patched:
        patched.setattr(network_ledger.ProvenanceEndorser, "__call__", lambda self, peer, tx: None)
        refs = [fed.chain.submit(EDGES[1], f"{EDGES[1]}.peer0", reading.record(), fed.chain.store(reading.data))
                for reading in signed]
        fed.chain.flush()
    from ledger.provenance import Ref

    objects = [fed.chain.fetch(tx).obj for tx in refs]
    borrower = EdgeRecorder(fed.chain, EDGES[1], f"{EDGES[1]}.peer0", fed.edges[1].trainer, net.trust)
    borrower.start_run(order_of([Ref(EDGES[1], tx, obj) for tx, obj in zip(refs, objects)]), fed.cloud.rounds[0],
                       data_order_seed=1)
    fed.edges[1] = borrower
    fed.train_round()
    return fed


def test_a_weight_counting_a_revoked_devices_readings_fails_the_audit(lax_net, digits, monkeypatch):
    fed = finish(revoked_readings_federation(lax_net, digits, monkeypatch))
    report = fed.audit(0, federation=fed.manifests())
    assert not report.passed
    assert "is revoked" in report.summary(), report.summary()
    assert fed.audit(1, federation=fed.manifests(), count=1).failed_steps  # edge-1's own audit: every step


def test_the_main_chains_peers_refuse_a_weight_counting_a_revoked_devices_readings(net, digits, monkeypatch):
    """Edge-1's peers re-execute its steps (they train on the readings), but committed the
    revoked sensor's readings: the main chain's peers weigh only readings a valid device signed."""
    fed = revoked_readings_federation(net, digits, monkeypatch)
    with pytest.raises(EndorsementRefused, match="is revoked"):
        fed.cloud.record_aggregation(honest(fed.edges))
    fed.cloud.record_aggregation(honest(fed.edges)[:1])  # edge-0 alone


def test_a_pipeline_round_weighing_a_revoked_devices_readings_is_refused(tmp_path, toy, digits, monkeypatch):
    """The pipeline flow alike: edge-0's colluding peers commit a revoked sensor's readings
    (running no validator on them) and re-execute a segment over them; the main chain's peers
    refuse the round that weighs them."""
    import time

    pytest.importorskip("torch")
    import ledger
    from ledger.provenance import Device, NetworkLedger, Ref, network_ledger, pipeline
    from test_provenance_pipeline import EDGE, one_batch_run
    import pipeline_models

    net = ledger.Network.init(tmp_path / "strict", subchains=1, peers_per_chain=2, params=toy, auto_interlock=False)
    try:
        chain = NetworkLedger(net, endorse="reexecute")
        cloud = pipeline.PipelineCloud(chain, "main.peer0")
        initial = cloud.record_initial(pipeline_models.TinyNet, seed=1)
        pixels, labels, _, _ = digits
        sensor = Device(net.identity(f"{EDGE}.revoked-sensor", role="device", chain_id=EDGE))
        signed = [sensor.read(pixels[k], int(labels[k])) for k in range(4)]
        net.revoke(sensor.name)
        time.sleep(1.1)  # (a revocation counts from the next whole second)
        with monkeypatch.context() as patched:
            patched.setattr(network_ledger.ProvenanceEndorser, "__call__", lambda self, peer, tx: None)
            objects = [chain.store(reading.data) for reading in signed]
            refs = [Ref(EDGE, chain.submit(EDGE, f"{EDGE}.peer0", reading.record(), obj), obj)
                    for reading, obj in zip(signed, objects)]
            chain.flush()
        segment = one_batch_run(net, chain, [refs], initial)
        body = cloud.round_body([segment])  # the cloud's draft takes the edge's records as they are
        assert body["locals"][0]["weight"] == 4
        with pytest.raises(EndorsementRefused, match="is revoked"):
            cloud.record_round([segment])
    finally:
        net.close()
