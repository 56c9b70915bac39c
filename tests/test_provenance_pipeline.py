"""PyTorch pipelines recorded by PipelineRecorder: the replay contract, checkpoint intervals, a
real CNN end to end, and the attacks of a dishonest edge (on a "reexecute" deployment the
endorsing peers refuse and the chain is unchanged; on a "signatures" one the audit fails)."""
from __future__ import annotations

import copy
import sys

import pytest
from hypothesis import given, strategies as st

torch = pytest.importorskip("torch")

import ledger  # noqa: E402
from ledger.provenance import Device, EdgeRecorder, EndorsementRefused, NetworkLedger, RunManifest  # noqa: E402
from ledger.provenance import pipeline, torch_state  # noqa: E402
from ledger.provenance.cnn import DigitsCNN, accuracy, train_step  # noqa: E402
from ledger.provenance.encoding import decode_tensors, encode_tensors  # noqa: E402
from ledger.provenance.records import decode_body  # noqa: E402
from ledger.provenance.trainers import fedavg  # noqa: E402
from ledger.provenance.errors import ProvenanceError, RecordError, TensorEncodingError  # noqa: E402
from ledger.provenance.pipeline import PipelineAuditor, PipelineRecorder, trust_code  # noqa: E402

import pipeline_models  # noqa: E402
from provenance_helpers import digits  # noqa: E402,F401 (fixture)

EDGE = "edge-0"
trust_code("pipeline_models", "ledger.provenance.cnn")


def deployment(path, params, endorse):
    net = ledger.Network.init(path, subchains=1, peers_per_chain=2, params=params, auto_interlock=False)
    return net, NetworkLedger(net, endorse=endorse)


@pytest.fixture
def strict(tmp_path, toy):
    net, chain = deployment(tmp_path / "strict", toy, "reexecute")
    yield net, chain
    net.close()


@pytest.fixture
def lax(tmp_path, toy):
    net, chain = deployment(tmp_path / "lax", toy, "signatures")
    yield net, chain
    net.close()


def data_order(net, chain, digits, batches=4, size=8):
    pixels, labels, _, _ = digits
    sensor = Device(net.identity(f"{EDGE}.sensor", role="device", chain_id=EDGE))
    readings = EdgeRecorder(chain, EDGE, f"{EDGE}.peer0", None, net.trust).record_readings(  # type: ignore[arg-type]
        [sensor.read(pixels[k], int(labels[k])) for k in range(batches * size)])
    chain.flush()
    return [readings[i:i + size] for i in range(0, batches * size, size)]


class DishonestRecorder(PipelineRecorder):
    """Records a tampered contract but derives its state from the honest one."""

    def initial_state(self, global_model):
        return pipeline.initial_state(self.honest, global_model)


def tiny_recorder(net, chain, step=pipeline_models.honest_step, interval=2, scheduler=True, cls=PipelineRecorder, **kw):
    model = pipeline_models.TinyNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5) if scheduler else None
    return cls(chain, EDGE, f"{EDGE}.peer0", net.trust, model, optimizer, sched, step=step,
                            seed=5, interval=interval, scheduler_kwargs={"step_size": 3, "gamma": 0.5} if scheduler else None,
                            **kw)


def train(recorder, order, step=None, before_done=lambda i: None):
    step = step or recorder.step_function
    with recorder.run(order):
        for i, readings in enumerate(order, start=1):
            batch = recorder.batch(readings)
            step(recorder.model, recorder.optimizer, recorder.scheduler, batch, recorder.hyperparameters)
            before_done(i)
            recorder.done()
    recorder.ledger.flush()
    return recorder.manifest()


def audit(net, chain, manifest, **kw):
    return PipelineAuditor(chain, net.trust, EDGE, **kw).audit(manifest, fraction=1.0)


def heights(net):
    return {chain_id: net.peer(chain_id).height for chain_id in net.services}


def recorded_kinds(net, chain_id=EDGE):
    """The kinds of every provenance record on the chain, oldest first."""
    kinds = []
    for height in range(net.peer(chain_id).height):
        for tx in net.block(chain_id, height).transactions:
            try:
                kinds.append(decode_body(tx.payload)["kind"])
            except ProvenanceError:
                continue
    return kinds


# --- honest runs -------------------------------------------------------------------------------

def test_cnn_of_a_million_parameters_end_to_end_with_audit(strict, digits):
    """The 1.1M-parameter CNN, Adam and a scheduler, k = 2: every segment the peers replayed
    before signing, and the audit replays both from their checkpoints and passes."""
    net, chain = strict
    order = data_order(net, chain, digits, batches=4, size=8)
    model = DigitsCNN()
    assert sum(p.numel() for p in model.parameters()) >= 1_000_000
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    recorder = PipelineRecorder(chain, EDGE, f"{EDGE}.peer0", net.trust, model, optimizer, scheduler,
                                step=train_step, hyperparameters={"clip": 1.0}, seed=1, interval=2,
                                scheduler_kwargs={"step_size": 2, "gamma": 0.5})
    replays = chain.endorsement_checks
    manifest = train(recorder, order)
    assert len(manifest.step_txs) == 2
    assert chain.endorsement_checks - replays == 2 * 3  # two peers: the run record and both segments
    report = audit(net, chain, manifest)
    assert report.passed, report.summary()
    state = torch_state.decode_state(chain.load(recorder.segments[-1].digest))
    assert state["optimizer"]["state"][0]["exp_avg"].shape == model.conv1.weight.shape  # Adam moments recorded
    assert state["scheduler"]["last_epoch"] == 4
    assert 0 <= accuracy(model, digits[2][:50], digits[3][:50]) <= 1


def test_exact_per_step_mode_and_rng_of_the_step(lax, digits):
    """k = 1: one segment per iteration; a step drawing dropout masks replays from the
    recorded RNG state, and the auditor's own RNGs are left as they were."""
    net, chain = lax
    order = data_order(net, chain, digits, batches=3, size=4)
    recorder = tiny_recorder(net, chain, step=pipeline_models.dropout_step, interval=1, scheduler=False)
    manifest = train(recorder, order)
    assert len(manifest.step_txs) == 3
    torch.manual_seed(123)
    before = torch.get_rng_state()
    report = audit(net, chain, manifest)
    assert report.passed, report.summary()
    assert torch.equal(torch.get_rng_state(), before)


def test_run_length_not_a_multiple_of_k(lax, digits):
    net, chain = lax
    order = data_order(net, chain, digits, batches=3, size=4)
    manifest = train(tiny_recorder(net, chain, interval=2), order)
    assert len(manifest.step_txs) == 2  # iterations 1-2 and 3
    assert audit(net, chain, manifest).passed


# --- a dishonest edge ------------------------------------------------------------------------

def test_recording_one_step_function_and_training_with_another(strict, lax, digits):
    for net, chain in (strict, lax):
        order = data_order(net, chain, digits, batches=2, size=4)
        recorder = tiny_recorder(net, chain, step=pipeline_models.honest_step)
        if chain.endorser.policy[EDGE] == "reexecute":
            with pytest.raises(EndorsementRefused, match="replaying the contract's step"):
                train(recorder, order, step=pipeline_models.skipping_step)
            chain.flush()
            assert recorder.segments == [] and "segment" not in recorded_kinds(net)
            assert recorded_kinds(net).count("batch") == 2  # the honest records before it stand
        else:
            report = audit(net, chain, train(recorder, order, step=pipeline_models.skipping_step))
            assert not report.passed and "replaying the contract's step" in report.summary()


def test_changed_hyperparameters_mid_run(lax, digits):
    """The edge raises the learning rate after recording the contract: the recorded state
    (param groups and weights) is not what the contract replays to."""
    net, chain = lax
    order = data_order(net, chain, digits, batches=4, size=4)
    recorder = tiny_recorder(net, chain)

    def raise_lr(i):
        if i == 3:
            recorder.optimizer.param_groups[0]["lr"] = 5.0
    report = audit(net, chain, train(recorder, order, before_done=raise_lr))
    assert not report.passed and report.failed_steps == [2], report.summary()


def test_forged_optimizer_state(lax, digits):
    """Momentum buffers zeroed between iterations (a forged optimizer state in the checkpoint)."""
    net, chain = lax
    order = data_order(net, chain, digits, batches=2, size=4)
    recorder = tiny_recorder(net, chain, interval=2)

    def forge(i):
        if i == 2:
            for state in recorder.optimizer.state.values():
                state["momentum_buffer"].zero_()
    report = audit(net, chain, train(recorder, order, before_done=forge))
    assert not report.passed and report.failed_steps == [1]


def test_contract_tampering_is_an_audit_failure_or_refused(strict, lax, digits):
    """A wrong source digest, code outside the trusted modules (never imported), recorded
    without deterministic algorithms, another optimizer argument: the peers refuse the run
    record, and the auditor fails it on a lax chain; never a crash, never a pass."""
    evil = {"ref": "evil_module_not_trusted:run", "source": "00" * 32}
    tamperings = {
        "another source": lambda c: c["step"].update(source="11" * 32),
        "outside the code": lambda c: c.update(step=evil),
        "deterministic": lambda c: c["deterministic"].update(algorithms=False),
        "initial state": lambda c: c["optimizer"]["kwargs"]["$map"].__setitem__(0, ["lr", {"$f": (0.5).hex()}]),
    }
    for reason, tamper in tamperings.items():
        for net, chain in (strict, lax):
            order = data_order(net, chain, digits, batches=2, size=4)
            recorder = tiny_recorder(net, chain, cls=DishonestRecorder)
            recorder.honest = copy.deepcopy(recorder.contract)
            tamper(recorder.contract)
            if chain.endorser.policy[EDGE] == "reexecute":
                before = heights(net)
                with pytest.raises(EndorsementRefused):
                    recorder.start(order)
                assert heights(net) == before
            else:
                report = audit(net, chain, train(recorder, order))
                assert not report.passed and reason in report.summary(), (reason, report.summary())
    assert "evil_module_not_trusted" not in sys.modules


def test_auditor_trusts_only_its_own_code_list(lax, digits):
    net, chain = lax
    manifest = train(tiny_recorder(net, chain), data_order(net, chain, digits, batches=2, size=4))
    report = audit(net, chain, manifest, trusted_code=["ledger.provenance.cnn"])
    assert not report.passed and "outside the code this replay trusts" in report.summary()


def test_segment_that_skips_the_checkpoint_or_reorders_batches(lax, digits):
    """A manifest with the segments swapped, or one segment short, fails (no crash)."""
    net, chain = lax
    manifest = train(tiny_recorder(net, chain, interval=1), data_order(net, chain, digits, batches=3, size=4))
    swapped = RunManifest(EDGE, manifest.run_tx, (manifest.step_txs[1], manifest.step_txs[0], manifest.step_txs[2]))
    assert not audit(net, chain, swapped).passed
    short = RunManifest(EDGE, manifest.run_tx, manifest.step_txs[:2])
    report = audit(net, chain, short)
    assert not report.passed and "segments" in report.summary()


# --- bad input -------------------------------------------------------------------------------

@given(st.binary(max_size=300))
def test_hostile_state_bytes_are_a_clean_error(data):
    with pytest.raises(TensorEncodingError):
        torch_state.decode_state(data)


def _valid_state() -> bytes:
    model = pipeline_models.TinyNet(hidden=2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.zeros(1, 64)).sum().backward()
    optimizer.step()
    return torch_state.encode_state(torch_state.capture_state(model, optimizer, None))


VALID_STATE = _valid_state()


@given(st.integers(0, len(VALID_STATE) - 1), st.integers(1, 255))
def test_mutated_state_bytes_decode_canonically_or_fail_cleanly(position, flip):
    """A byte of a valid state changed: either it still decodes (tensor data) to a state that
    re-encodes to the same bytes and loads or fails with a TensorEncodingError, or decoding
    fails with a TensorEncodingError; never another exception."""
    data = bytearray(VALID_STATE)
    data[position] ^= flip
    try:
        state = torch_state.decode_state(bytes(data))
    except TensorEncodingError:
        return
    assert torch_state.encode_state(state) == bytes(data)
    model = pipeline_models.TinyNet(hidden=2)
    optimizer = torch.optim.Adam(model.parameters())
    with torch_state.isolated_rng():
        try:
            torch_state.load_state(state, model, optimizer, None)
        except TensorEncodingError:
            pass


def test_state_roundtrip_is_canonical_and_bad_arguments_are_refused():
    model = pipeline_models.TinyNet()
    optimizer = torch.optim.Adam(model.parameters())
    data = torch_state.encode_state(torch_state.capture_state(model, optimizer, None))
    assert torch_state.encode_state(torch_state.decode_state(data)) == data
    with pytest.raises(RecordError):
        PipelineRecorder(None, EDGE, "x", None, model, optimizer, step=lambda *a: None)  # not importable
    with pytest.raises(RecordError):
        PipelineRecorder(None, EDGE, "x", None, "model", optimizer, step=pipeline_models.honest_step)
    with pytest.raises(ProvenanceError):
        trust_code(".relative")


def test_recorded_model_arguments_cannot_exhaust_the_replaying_peer(strict, lax, digits):
    """A contract asking for a 10^10-parameter model is refused before anything is allocated."""
    for net, chain in (strict, lax):
        order = data_order(net, chain, digits, batches=2, size=4)
        recorder = tiny_recorder(net, chain, cls=DishonestRecorder)
        recorder.honest = copy.deepcopy(recorder.contract)
        recorder.contract["model"]["kwargs"] = pipeline.plain({"hidden": 10 ** 9})
        if chain.endorser.policy[EDGE] == "reexecute":
            with pytest.raises(EndorsementRefused, match="parameters"):
                recorder.start(order)
        else:
            report = audit(net, chain, train(recorder, order))
            assert not report.passed and "parameters; replays take at most" in report.summary()


def one_batch_run(net, chain, order, initial):
    """edge-0's run of one batch from round `initial`; its last segment."""
    model = pipeline_models.TinyNet()
    recorder = PipelineRecorder(chain, EDGE, f"{EDGE}.peer0", net.trust, model,
                                torch.optim.SGD(model.parameters(), lr=0.1), step=pipeline_models.honest_step)
    with recorder.run(order, initial):
        recorder.batch(order[0])
        recorder.step()
    chain.flush()
    return recorder.segments[-1]


def submit_round(chain, body, models):
    """Submit round `body` on the main chain past the cloud's checks, its FedAvg and tx hash right."""
    weights = [entry["weight"] for entry in body["locals"]]
    averaged = encode_tensors(fedavg([decode_tensors(m)[0] for m in models], weights))
    body = {**body, "tx_hash": pipeline.round_digest(averaged, models, weights, body["round"]).hex()}
    return chain.submit(chain.main_chain_id, "main.peer0", body, chain.store(averaged))


def test_an_edge_cannot_weigh_in_twice_in_a_round(strict, digits):
    """Two runs of one edge averaged in one round (double weight): the main chain's peers refuse."""
    net, chain = strict
    cloud = pipeline.PipelineCloud(chain, "main.peer0")
    initial = cloud.record_initial(pipeline_models.TinyNet, seed=1)
    order = data_order(net, chain, digits, batches=1, size=4)
    segments = [one_batch_run(net, chain, order, initial) for _ in range(2)]
    with pytest.raises(RecordError, match="averaged twice"):  # the cloud checks as its peers do
        cloud.record_round(segments, [4, 4])
    body = cloud.round_body(segments[:1])  # submitted past the cloud's check: the peers refuse
    body["locals"].append({**body["locals"][0], "tx": segments[1].tx_id.hex()})
    before = heights(net)
    with pytest.raises(EndorsementRefused, match="averaged twice"):
        submit_round(chain, body, [torch_state.model_bytes(chain.load(ref.digest)) for ref in segments])
    assert heights(net) == before
    assert recorded_kinds(net, "main") == ["pipeline-round"] and len(cloud.rounds) == 1  # round 0 only


# --- red team: code references and segment shapes ----------------------------------------------

def _walked_ref(target, kwargs):
    """A reference reaching `target` by an attribute walk from a trusted module ("torch:os.makedirs")."""
    return {"ref": "torch:os." + target.__name__, "source": pipeline.source_digest(target), "kwargs": kwargs}


def test_a_recorded_reference_cannot_walk_to_other_code(strict, lax, digits, tmp_path):
    """A contract whose model "class" is os.makedirs reached as torch:os.makedirs (its source
    digest the one of os.py): the endorsing peers and the auditor refuse it before calling it,
    so nothing runs on them (the directory is never made), and the chain is unchanged."""
    import os

    for net, chain in (strict, lax):
        marker = tmp_path / f"pwned-{chain.endorser.policy[EDGE]}"
        order = data_order(net, chain, digits, batches=2, size=4)
        recorder = tiny_recorder(net, chain, cls=DishonestRecorder)
        recorder.honest = copy.deepcopy(recorder.contract)
        recorder.contract["model"] = _walked_ref(os.makedirs, pipeline.plain({"name": str(marker)}))
        if chain.endorser.policy[EDGE] == "reexecute":
            before = heights(net)
            with pytest.raises(EndorsementRefused, match="not defined as"):
                recorder.start(order)
            assert heights(net) == before
        else:
            report = audit(net, chain, train(recorder, order))
            assert not report.passed and "not defined as" in report.summary(), report.summary()
        assert not marker.exists()


def test_a_reference_of_the_wrong_kind_is_refused():
    """A trusted function named as the model class, a class as the step function, a torch
    module that is not an optimizer: refused before anything is constructed or called."""
    def spec(obj, **extra):
        return {**pipeline.code_ref(obj), **extra}

    with pytest.raises(RecordError, match="not a"):
        pipeline.resolve(spec(torch.nn.functional.relu), "model class", ["torch"], torch.nn.Module)
    with pytest.raises(RecordError, match="not a"):
        pipeline.resolve(spec(torch.nn.Linear), "optimizer class", ["torch"], torch.optim.Optimizer)
    with pytest.raises(RecordError, match="not a"):
        pipeline.resolve(spec(pipeline_models.TinyNet), "step function", ["pipeline_models"], None)
    assert pipeline.resolve(spec(pipeline_models.honest_step), "step function", ["pipeline_models"], None) \
        is pipeline_models.honest_step


def test_a_round_zero_record_cannot_exhaust_the_main_chain_peers(strict):
    """A dishonest aggregator's round 0 naming TinyNet(hidden=10^9) (64 G parameters): the main
    chain's peers count it on the meta device and refuse before allocating; chain unchanged."""
    net, chain = strict
    spec = {**pipeline.code_ref(pipeline_models.TinyNet), "kwargs": pipeline.plain({"hidden": 10 ** 9})}
    model = encode_tensors({"w": torch.zeros(1).numpy()})
    body = {"kind": "pipeline-round", "round": 0, "model": spec, "seed": 1,
            "tx_hash": pipeline.round_digest(model, [], [], 0).hex()}
    before = heights(net)
    with pytest.raises(EndorsementRefused, match="parameters; replays take at most"):
        chain.submit(chain.main_chain_id, "main.peer0", body, chain.store(model))
    assert heights(net) == before


def test_round_inputs_and_the_previous_round_must_be_on_their_own_chains(tmp_path, toy, digits):
    """edge-1's peers only check signatures. A copy of edge-0's last segment recorded on edge-1
    (edge-0's run averaged twice under two chains), and a forged "round 0" on edge-1 named as a
    main-chain round's previous round: the main chain's peers refuse both, chains unchanged."""
    net = ledger.Network.init(tmp_path / "mixed", subchains=2, peers_per_chain=2, params=toy, auto_interlock=False)
    chain = NetworkLedger(net, endorse={"edge-1": "signatures"})
    try:
        cloud = pipeline.PipelineCloud(chain, "main.peer0")
        initial = cloud.record_initial(pipeline_models.TinyNet, seed=1)
        order = data_order(net, chain, digits, batches=1, size=4)
        segment = chain.fetch(one_batch_run(net, chain, order, initial).tx_id)
        copy_tx = chain.submit("edge-1", "edge-1.peer0", segment.body, segment.obj)
        round_zero = chain.fetch(initial.tx_id)
        forged_round = chain.submit("edge-1", "edge-1.peer0", round_zero.body, round_zero.obj)
        chain.flush()
        own = pipeline.Ref(EDGE, segment.tx_id, segment.obj)
        with pytest.raises(RecordError, match="of a run recorded on edge-0"):  # the cloud checks as its peers do
            cloud.round_body([own, pipeline.Ref("edge-1", copy_tx, segment.obj)])
        honest = cloud.round_body([own])
        model = torch_state.model_bytes(chain.load(segment.obj.digest))
        for reason, body in (("of a run recorded on edge-0",
                              {**honest, "locals": [*honest["locals"], {**honest["locals"][0], "tx": copy_tx.hex()}]}),
                             ("not on the main chain", {**honest, "previous": forged_round.hex()})):
            before = heights(net)
            with pytest.raises(EndorsementRefused, match=reason):
                submit_round(chain, body, [model] * len(body["locals"]))
            assert heights(net) == before
    finally:
        net.close()
