"""Attacks on who steers the audit and on what FedAvg consumes (issue 9, provenance 7 and 8).

Two edges federate (three rounds of two local steps); a dishonest submitter or cloud mounts
each attack and the endorsing peers (under the chain's re-execution policy) or the audit
(on a deployment whose policy lets the record through) must refuse it with a reason."""
from __future__ import annotations

import dataclasses
import random

import pytest

import ledger
from ledger.provenance import (EdgeRecorder, EndorsementRefused, NetworkLedger, NumpyMLPTrainer, ProvenanceError,
                               Ref)
from ledger.provenance.encoding import canonical_json, decode_tensors, encode_tensors, step_digest

from provenance_helpers import EDGES, HP, MAIN, STEPS, Federation, main_records, network
from provenance_helpers import digits, lax_net, net  # noqa: F401 (fixtures)


# --- 7: the submitter does not choose whether the peers re-execute -----------------------------

def tampered_step(net, digits):
    """A run on edge-0 up to its first batch, and a step trained with twice the learning rate:
    (the federation, the step's body, its model's object)."""
    fed = Federation.start(net, digits)
    edge = fed.edges[0]
    batch = edge.record_batch(edge.data_order[0])
    fed.chain.flush()
    faster = NumpyMLPTrainer(dataclasses.replace(HP, learning_rate=HP.learning_rate * 2))
    data = encode_tensors(faster.step(edge.model, edge.global_model, batch, 1))
    (batch_ref, batch_bytes), obj = edge._batch, fed.chain.store(data)
    body = {"kind": "step", "run": edge.run.tx_id.hex(), "index": 1, "batch": batch_ref.tx_id.hex(),
            "batch_digest": batch_ref.digest.hex(), "global": edge._global_ref.tx_id.hex(),
            "global_model": edge._global_ref.digest.hex(), "model_in": edge._model_digest.hex(),
            "tx_hash": step_digest(data, edge._global_bytes, batch_bytes, 1).hex()}
    return fed, body, obj


def test_a_submitter_cannot_pick_signatures_only_for_a_tampered_step(net, digits):
    fed, body, obj = tampered_step(net, digits)
    height = net.peer(EDGES[0]).height
    # a mode the submitter claims with its submission is ignored: the chain's policy (re-execute) applies
    for claim in ({}, {"reexecute": False}):
        with pytest.raises(EndorsementRefused, match="re-execution does not reproduce"):
            fed.chain.submit(EDGES[0], f"{EDGES[0]}.peer0", body, obj, **claim)
    dishonest = EdgeRecorder(fed.chain, EDGES[0], f"{EDGES[0]}.peer0", fed.edges[0].trainer, net.trust,
                             endorse_mode="signatures")
    dishonest.__dict__.update(vars(fed.edges[0]))  # the same run, at the same step
    with pytest.raises(EndorsementRefused, match="re-execution does not reproduce"):
        dishonest.record_step(decode_tensors(fed.chain.load(obj.digest))[0])
    # a record that claims a mode is not a provenance record: every peer refuses it
    for claim in ({"endorse": "signatures"}, {"mode": "signatures"}, {"reexecute": False}):
        pending = net.submit(EDGES[0], canonical_json({**body, **claim}), obj=obj, signer=f"{EDGES[0]}.peer0")
        with pytest.raises(ledger.errors.ValidationRejected, match="unknown fields"):
            pending.result(30)
    # nor can a participant install a weaker policy once the chains have theirs
    with pytest.raises(ProvenanceError, match="endorsement policy"):
        NetworkLedger(net, endorse="signatures")
    with pytest.raises(ProvenanceError, match="endorsement policy"):
        NetworkLedger(net, endorse={EDGES[0]: "signatures"})
    with pytest.raises(EndorsementRefused):
        NetworkLedger(net).submit(EDGES[0], f"{EDGES[0]}.peer0", body, obj)
    fed.chain.flush()
    assert net.peer(EDGES[0]).height == height
    assert fed.edges[0].steps == [] and fed.chain.endorsement_checks == 2  # only the round-0 model


def test_the_policy_is_per_chain_and_set_up_front(net, digits):
    NetworkLedger(net, endorse={EDGES[0]: "signatures"})  # edge-0 lax, edge-1 and main re-execute
    fed, body, obj = tampered_step(net, digits)
    fed.chain.submit(EDGES[0], f"{EDGES[0]}.peer0", body, obj)  # edge-0's peers check records only
    fed.chain.flush()
    assert fed.chain.endorser.policy == {MAIN: "reexecute", EDGES[0]: "signatures", EDGES[1]: "reexecute"}
    with pytest.raises(ProvenanceError, match="chains the network does not have"):
        NetworkLedger(net, endorse={"edge-9": "signatures"})
    with pytest.raises(ProvenanceError, match="policies are"):
        NetworkLedger(net, endorse="sometimes")


def test_default_audits_draw_fresh_samples_and_a_recorded_seed_reproduces_one(net, digits):
    fed = Federation.start(net, digits).run()
    reports = []
    for _ in range(6):
        random.seed(0)  # the global generator (which an attacker may predict) is not the source
        reports.append(fed.audit(count=2))
    assert all(r.passed for r in reports), reports[0].summary()
    samples = [tuple(v.index for v in r.verdicts) for r in reports]
    seeds = [r.seed for r in reports]
    assert len(set(seeds)) == len(seeds) and all(isinstance(s, int) for s in seeds)
    assert len(set(samples)) > 1  # 15 possible pairs: six equal draws have probability 15^-5
    for report, sample in zip(reports, samples):
        again = fed.audit(count=2, seed=report.seed)
        assert tuple(v.index for v in again.verdicts) == sample and again.seed == report.seed
        assert f"seed {report.seed:#x}" in report.summary()
    # the sample is a function of the seed and the step count only, not of the audited run
    other = fed.audit(edge=1, count=2, seed=reports[0].seed)
    assert tuple(v.index for v in other.verdicts) == samples[0]
    with pytest.raises(ProvenanceError):
        fed.audit(count=2, seed="0")


# --- 8: everything an aggregation consumed is bound to the audited runs -------------------------

def other_model(edges):
    """edge-1's input names the step but carries another recorded model (its previous step's)."""
    return [edges[0].steps[-1], Ref(EDGES[1], edges[1].steps[-1].tx_id, edges[1].steps[-2].obj)]


def a_reading(edges):
    """edge-1's input is a recorded reading, not a step."""
    batch = edges[1].data_order[0][0]
    return [edges[0].steps[-1], batch]


def earlier_step(edges):
    """edge-1's input is the first local step of the round, not the last."""
    return [edges[0].steps[-1], edges[1].steps[-HP.local_steps]]


def previous_round(edges):
    """In round 2, edge-1's input is the step round 1 averaged."""
    return [edges[0].steps[-1], edges[1].steps[HP.round_input(1) - 1]]


def same_client_twice(edges):
    return [edges[0].steps[-1], edges[0].steps[-1]]


ATTACKS = [  # (choose, round attacked, what the peers say, what the audit says)
    (other_model, 1, "names a model that is not the one its step records", "names a model that is not"),
    (a_reading, 1, "expected a step record", "not a well-formed step record"),
    (earlier_step, 1, "is step 1 of its run; round 1 averages step 2", "round 1 averages step 2"),
    (previous_round, 2, "is step 2 of its run; round 2 averages step 4", "round 2 averages step 4"),
    (same_client_twice, 1, "averaged twice", "averaged twice"),
]


@pytest.mark.parametrize("choose, attacked, refusal, reason", ATTACKS, ids=[a[0].__name__ for a in ATTACKS])
def test_fedavg_of_anything_but_the_runs_last_round_steps_is_refused_by_the_peers(net, digits, choose,
                                                                                 attacked, refusal, reason):
    fed = Federation.start(net, digits)
    with pytest.raises(EndorsementRefused, match=refusal):
        fed.run(choose, attacked)
    fed.chain.flush()
    rounds = [body["round"] for body in main_records(net) if body["kind"] == "aggregation"]
    assert rounds == list(range(attacked))  # nothing of the refused round reached the main chain


@pytest.mark.parametrize("choose, attacked, refusal, reason", ATTACKS, ids=[a[0].__name__ for a in ATTACKS])
def test_fedavg_of_anything_but_the_runs_last_round_steps_fails_the_audit(lax_net, digits, choose,
                                                                         attacked, refusal, reason):
    fed = Federation.start(lax_net, digits).run(choose, attacked)
    trained_from_it = [i for i in range(1, STEPS + 1) if HP.round_of(i) == attacked]
    for edge in (0, 1):
        report = fed.audit(edge)
        assert not report.passed and report.failed_steps == trained_from_it, report.summary()
        assert all(reason in " ".join(v.failures) for v in report.verdicts if not v.ok), report.summary()


def test_fedavg_of_a_run_the_audit_does_not_cover_fails_it(net, digits):
    fed = Federation.start(net, digits).run()
    manifests = fed.manifests()
    assert fed.audit(0).passed and fed.audit(1).passed
    alone = fed.audit(0, federation=[])  # edge-1's run is averaged in, but not covered
    assert alone.failed_steps == [i for i in range(1, STEPS + 1) if HP.round_of(i) >= 1]
    assert "not one of the audited runs" in alone.summary()
    # a federation manifest that places edge-1's steps elsewhere does not bind them either
    steps = manifests[1].step_txs
    shuffled = dataclasses.replace(manifests[1], step_txs=(steps[1], steps[0]) + steps[2:])
    report = fed.audit(0, federation=[manifests[0], shuffled])
    assert report.failed_steps == [i for i in range(1, STEPS + 1) if HP.round_of(i) == 1]
    assert "is not the step the manifest of run" in report.summary()
    broken = dataclasses.replace(manifests[1], run_tx=manifests[1].step_txs[0])
    report = fed.audit(0, federation=[broken])
    assert not report.passed and report.verdicts == [] and "federation manifest 0" in report.run_failures[0]


def test_the_policy_set_up_with_the_deployment_holds_after_reopening(tmp_path, toy, digits):
    path = tmp_path / "deployment"
    with network(path, toy) as net:
        NetworkLedger(net)  # set up with the default: peers re-execute
    with ledger.Network.open(path, auto_interlock=False) as net:
        with pytest.raises(ProvenanceError, match="set when the deployment was set up"):
            NetworkLedger(net, endorse="signatures")  # a participant opening it first cannot weaken it
        fed, body, obj = tampered_step(net, digits)
        assert fed.chain.endorser.policy == dict.fromkeys((MAIN, *EDGES), "reexecute")
        with pytest.raises(EndorsementRefused, match="re-execution does not reproduce"):
            fed.chain.submit(EDGES[0], f"{EDGES[0]}.peer0", body, obj)


def step_record(fed, edge, index, batch, model_in):
    """(body, object) of a step T(model_in, M_O, batch) claims as step `index` of edge's run."""
    (batch_ref, batch_bytes), model_in_digest = batch, fed.chain.store(encode_tensors(model_in)).digest
    data = encode_tensors(edge.trainer.step(model_in, edge.global_model, decode_tensors(batch_bytes)[0], index))
    body = {"kind": "step", "run": edge.run.tx_id.hex(), "index": index, "batch": batch_ref.tx_id.hex(),
            "batch_digest": batch_ref.digest.hex(), "global": edge._global_ref.tx_id.hex(),
            "global_model": edge._global_ref.digest.hex(), "model_in": model_in_digest.hex(),
            "tx_hash": step_digest(data, edge._global_bytes, batch_bytes, index).hex()}
    return body, fed.chain.store(data)


@pytest.mark.parametrize("inputs", ["skips step 1", "replays d_1"])
def test_the_peers_re_execute_from_the_ledgers_inputs_not_the_ones_a_step_names(net, digits, inputs):
    """A step that T reproduces from inputs of the submitter's choosing is still refused: the
    peers replay from the run's recorded M_{i-1} and batch i."""
    fed = Federation.start(net, digits)
    edge = fed.edges[0]
    initial = edge.model
    edge.record_batch(edge.data_order[0])
    first_batch = edge._batch
    edge.record_step(edge.trainer.step(edge.model, edge.global_model, decode_tensors(first_batch[1])[0], 1))
    edge.record_batch(edge.data_order[1])
    fed.chain.flush()
    height = net.peer(EDGES[0]).height
    if inputs == "skips step 1":
        body, obj = step_record(fed, edge, 2, edge._batch, initial)
        refusal = "M_{i-1} is not the run's recorded model 1"
    else:
        body, obj = step_record(fed, edge, 2, first_batch, edge.model)
        refusal = "d_i is not batch 2 of the run"
    with pytest.raises(EndorsementRefused, match=refusal):
        fed.chain.submit(EDGES[0], f"{EDGES[0]}.peer0", body, obj)
    honest, _ = step_record(fed, edge, 2, edge._batch, edge.model)
    assert honest != body
    fed.chain.flush()
    assert net.peer(EDGES[0]).height == height and len(edge.steps) == 1


def test_a_run_continues_after_the_deployment_reopens(tmp_path, toy, digits):
    """The peers' re-execution finds a run's recorded M_{i-1} on the chain after Network.open."""
    path = tmp_path / "deployment"
    def next_step(edge):
        index = edge.step_index + 1
        batch = edge.record_batch(edge.data_order[index - 1])
        edge.record_step(edge.trainer.step(edge.model, edge.global_model, batch, index))

    with network(path, toy) as net:
        fed = Federation.start(net, digits)
        edge = fed.edges[0]
        next_step(edge)
        fed.chain.flush()
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge.ledger = NetworkLedger(net)
        next_step(edge)  # step 2 starts from the recorded M_1
        edge.ledger.flush()
        assert edge.ledger.endorsement_checks == 2 and net.locate(edge.steps[-1].tx_id).chain_id == EDGES[0]


@pytest.mark.parametrize("forgery", ["fabricated pixels", "uncommitted readings"])
def test_the_peers_refuse_a_step_trained_on_a_batch_its_readings_do_not_make(net, digits, forgery):
    """A batch record is not re-executed, so a dishonest edge could name the committed readings
    but store other data (or name readings off the committed order) and train on it: the peers
    replaying the step check d_i against the run's data order and the readings it names."""
    fed = Federation.start(net, digits)
    edge = fed.edges[0]
    honest = batch_tensors_of(edge, edge.data_order[0])
    if forgery == "fabricated pixels":
        readings, data = edge.data_order[0], {"x": (honest["x"] + 1) % 17, "y": (honest["y"] + 1) % 10}
        refusal = "d_i is not the batch its recorded readings make"
    else:
        readings, data = edge.data_order[1], batch_tensors_of(edge, edge.data_order[1])
        refusal = "d_i's readings are not batch 1 of the run's committed data order"
    obj = fed.chain.store(encode_tensors(data))
    body = {"kind": "batch", "run": edge.run.tx_id.hex(), "index": 1, "readings": [r.tx_id.hex() for r in readings]}
    batch = (Ref(EDGES[0], fed.chain.submit(EDGES[0], f"{EDGES[0]}.peer0", body, obj), obj), encode_tensors(data))
    fed.chain.flush()
    height = net.peer(EDGES[0]).height
    step_body, step_obj = step_record(fed, edge, 1, batch, edge.model)
    with pytest.raises(EndorsementRefused, match=refusal):
        fed.chain.submit(EDGES[0], f"{EDGES[0]}.peer0", step_body, step_obj)
    fed.chain.flush()
    assert net.peer(EDGES[0]).height == height and not edge.steps


def batch_tensors_of(edge, readings):
    from ledger.provenance.recorder import batch_from_readings
    return batch_from_readings([edge.ledger.load(ref.digest) for ref in readings])
