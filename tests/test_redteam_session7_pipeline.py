"""Red team of session 7, PyTorch pipelines. What a pipeline round averages must be bound to
the runs an audit covers (issue 9 point 8, the class the step audit already closes): an edge
on a chain whose peers only check signatures records a second, poisoned last segment of its
own honest run (or a run it never hands over) and the cloud averages that; the audit of the
next run must not PASS over such a round. And a round's weights count each signed reading
once: one reading listed or recorded 50 times must not outweigh the other edges."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import ledger  # noqa: E402
import ledger.provenance  # noqa: E402
from ledger.provenance import NetworkLedger  # noqa: E402
from ledger.provenance import pipeline, torch_state  # noqa: E402
from ledger.provenance.pipeline import PipelineAuditor, PipelineRecorder, Ref, trust_code  # noqa: E402

import pipeline_models  # noqa: E402
from provenance_helpers import digits  # noqa: E402,F401 (fixture)
from test_provenance_pipeline import EDGE, data_order, heights, submit_round  # noqa: E402

trust_code("pipeline_models")


@pytest.fixture
def lax_edge(tmp_path, toy):
    """edge-0's peers check signatures only; the main chain's peers re-execute."""
    net = ledger.Network.init(tmp_path / "lax-edge", subchains=1, peers_per_chain=2, params=toy, auto_interlock=False)
    yield net, NetworkLedger(net, endorse={EDGE: "signatures"})
    net.close()


def run_from(net, chain, order, global_ref, step=pipeline_models.honest_step) -> PipelineRecorder:
    """edge-0's one-batch run from round `global_ref` (recorded with the honest step)."""
    model = pipeline_models.TinyNet()
    recorder = PipelineRecorder(chain, EDGE, f"{EDGE}.peer0", net.trust, model,
                                torch.optim.SGD(model.parameters(), lr=0.1), step=pipeline_models.honest_step)
    with recorder.run(order, global_ref):
        batch = recorder.batch(order[0])
        step(recorder.model, recorder.optimizer, recorder.scheduler, batch, {})
        recorder.done()
    chain.flush()
    return recorder


def poisoned_copy(chain, segment: Ref) -> Ref:
    """The same segment record (run, index, batches, starting state) with another state: its
    model scaled by 100. Only a re-executing peer would refuse it."""
    record = chain.fetch(segment.tx_id)
    state = torch_state.decode_state(chain.load(record.obj.digest))
    state["model"] = {name: value * 100 for name, value in state["model"].items()}
    obj = chain.store(torch_state.encode_state(state))
    tx = chain.submit(EDGE, f"{EDGE}.peer0", record.body, obj)
    chain.flush()
    return Ref(EDGE, tx, obj)


def audit(net, chain, manifest, **kw):
    return PipelineAuditor(chain, net.trust, EDGE).audit(manifest, fraction=1.0, **kw)


def test_a_round_over_a_forked_last_segment_fails_the_next_runs_audit(lax_edge, digits):
    """The honest run's manifest lists its replayable segment; round 1 averages a poisoned
    second copy of it. The run's own audit passes (its segments are honest), so the audit of
    the run trained from round 1 must fail, with or without the honest run's manifest."""
    net, chain = lax_edge
    cloud = pipeline.PipelineCloud(chain, "main.peer0")
    initial = cloud.record_initial(pipeline_models.TinyNet, seed=1)
    order = data_order(net, chain, digits, batches=1, size=4)
    honest = run_from(net, chain, order, initial)
    first = audit(net, chain, honest.manifest())
    assert first.passed, first.summary()
    round_1 = cloud.record_round([poisoned_copy(chain, honest.segments[-1])])
    later = run_from(net, chain, order, round_1)
    for federation in ((), (honest.manifest(),)):
        report = audit(net, chain, later.manifest(), federation=federation)
        assert not report.passed, report.summary()
        assert "manifest" in report.summary() or "audited runs" in report.summary(), report.summary()


def test_a_round_over_a_run_never_handed_to_the_auditor_fails_the_next_runs_audit(lax_edge, digits):
    """Round 1 averages a run recorded with the honest step but trained with another (the
    edge never hands over its manifest): the audit of the run trained from round 1 fails;
    given that run's manifest it covers the input (and that run's own audit fails)."""
    net, chain = lax_edge
    cloud = pipeline.PipelineCloud(chain, "main.peer0")
    initial = cloud.record_initial(pipeline_models.TinyNet, seed=1)
    order = data_order(net, chain, digits, batches=1, size=4)
    hidden = run_from(net, chain, order, initial, step=pipeline_models.skipping_step)
    round_1 = cloud.record_round(hidden.segments)
    later = run_from(net, chain, order, round_1)
    report = audit(net, chain, later.manifest())
    assert not report.passed and "audited runs" in report.summary(), report.summary()
    assert audit(net, chain, later.manifest(), federation=[hidden.manifest()]).passed
    assert not audit(net, chain, hidden.manifest()).passed


def test_an_honest_round_passes_with_its_inputs_manifests(lax_edge, digits):
    """The control: round 1 over the honest run's listed segment, audited with its manifest."""
    net, chain = lax_edge
    cloud = pipeline.PipelineCloud(chain, "main.peer0")
    initial = cloud.record_initial(pipeline_models.TinyNet, seed=1)
    order = data_order(net, chain, digits, batches=1, size=4)
    honest = run_from(net, chain, order, initial)
    later = run_from(net, chain, order, cloud.record_round(honest.segments))
    report = audit(net, chain, later.manifest(), federation=[honest.manifest()])
    assert report.passed, report.summary()


@pytest.fixture
def strict_edge(tmp_path, toy):
    """Every chain's peers re-execute."""
    net = ledger.Network.init(tmp_path / "strict", subchains=1, peers_per_chain=2, params=toy, auto_interlock=False)
    yield net, NetworkLedger(net, endorse="reexecute")
    net.close()


@pytest.mark.parametrize("inflate", ["listed again", "recorded again"])
def test_one_reading_counts_once_in_a_rounds_weight(strict_edge, digits, inflate):
    """An edge holding one reading trains 50 times on it (listed 50 times, or recorded as 50
    transactions of the same signed bytes): its FedAvg weight is 1, not 50, and a round
    naming 50 is refused by the main chain's peers (the chain unchanged)."""
    net, chain = strict_edge
    cloud = pipeline.PipelineCloud(chain, "main.peer0")
    initial = cloud.record_initial(pipeline_models.TinyNet, seed=1)
    reading = data_order(net, chain, digits, batches=1, size=1)[0][0]
    if inflate == "listed again":
        batch = [reading] * 50
    else:
        record = chain.fetch(reading.tx_id)
        batch = [reading] + [Ref(EDGE, chain.submit(EDGE, f"{EDGE}.peer0", record.body, record.obj), record.obj)
                             for _ in range(49)]
        chain.flush()
        assert len({ref.tx_id for ref in batch}) == 50
    run = run_from(net, chain, [batch], initial)
    body = cloud.round_body(run.segments)
    assert [entry["weight"] for entry in body["locals"]] == [1]
    segment = chain.fetch(run.segments[-1].tx_id)
    model = torch_state.model_bytes(chain.load(segment.obj.digest))
    before = heights(net)
    with pytest.raises(ledger.provenance.EndorsementRefused, match="distinct readings"):
        submit_round(chain, {**body, "locals": [{**body["locals"][0], "weight": 50}]}, [model])
    assert heights(net) == before
