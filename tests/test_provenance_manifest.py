"""The final model's provenance as an in-toto statement, checked offline by verify_model and
`edgeacc verify-model` against a main-chain status, and forged in every part."""
from __future__ import annotations

import copy
import json

import pytest

torch = pytest.importorskip("torch")

import ledger  # noqa: E402
from ledger.cli import main as cli  # noqa: E402
from ledger.provenance import Device, EdgeRecorder, NetworkLedger  # noqa: E402
from ledger.provenance.manifest import ManifestError, export_statement, verify_model  # noqa: E402
from ledger.provenance.pipeline import PipelineCloud, PipelineRecorder, round_weight, trust_code  # noqa: E402

import pipeline_models  # noqa: E402
from provenance_helpers import digits  # noqa: E402,F401 (fixture)

trust_code("pipeline_models")
EDGES = ("edge-0", "edge-1")


@pytest.fixture(scope="module")
def federation(tmp_path_factory, digits):
    """Round 0, one FedAvg round of two edges (k = 2, two segments each): (net, chain, cloud, runs)."""
    import edgeacc

    toy = edgeacc.generate_insecure_params(512, seed=7)
    net = ledger.Network.init(tmp_path_factory.mktemp("m") / "net", subchains=2, peers_per_chain=2, params=toy,
                              auto_interlock=False)
    chain = NetworkLedger(net)
    cloud = PipelineCloud(chain, "main.peer0")
    initial = cloud.record_initial(pipeline_models.TinyNet, seed=2)
    pixels, labels, _, _ = digits
    segments, weights, runs = [], [], []
    for e, edge in enumerate(EDGES):
        sensor = Device(net.identity(f"{edge}.sensor", role="device", chain_id=edge))
        readings = EdgeRecorder(chain, edge, f"{edge}.peer0", None, net.trust).record_readings(  # type: ignore[arg-type]
            [sensor.read(pixels[k], int(labels[k])) for k in range(e * 12, e * 12 + 12)])
        order = [readings[i:i + 4] for i in range(0, 12, 4)]
        model = pipeline_models.TinyNet()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        recorder = PipelineRecorder(chain, edge, f"{edge}.peer0", net.trust, model, optimizer,
                                    step=pipeline_models.honest_step, interval=2)
        with recorder.run(order, initial):
            for batch_readings in order:
                recorder.step() if recorder.batch(batch_readings) is not None else None
        chain.flush()
        segments.append(recorder.segments[-1])
        digests = {r.tx_id.hex(): r.digest for b in order for r in b}
        weights.append(round_weight([[r.tx_id.hex() for r in b] for b in order], digests.__getitem__))
        runs.append(recorder.manifest())
    cloud.record_round(segments, weights)
    yield net, chain, cloud, runs
    net.close()


@pytest.fixture(scope="module")
def exported(federation):
    """The federation exported: (statement, model, status, params)."""
    net, _, cloud, runs = federation
    return (*export_statement(net, cloud.rounds, runs), net.params)


def check(statement, model, status, toy, name="model.safetensors"):
    return verify_model(statement, {name: model}, status, toy)


def test_statement_verifies_offline(exported):
    statement, model, status, toy = exported
    proved = check(statement, model, status, toy)
    assert (proved.rounds, proved.runs, proved.records) == (1, 2, 2 + 2 * 3)
    assert statement["subject"][0]["digest"]["sha256"] == proved.model_digest
    assert statement["predicate"]["resources"][0]["digest"] == proved.model_digest


def record_of(statement, kind_position):
    return statement["predicate"]["edgeacc"]["records"][kind_position]


FORGERIES = {
    "another model file": lambda s, m: (s, m[:-1] + bytes([m[-1] ^ 1])),
    "subject digest": lambda s, m: (_set(s, ["subject", 0, "digest", "sha256"], "00" * 32), m),
    "a tampered proof": lambda s, m: (_edit(s, 2, "tx_proof", lambda p: p[:-2] + ("00" if p[-2:] != "00" else "11")), m),
    "a wrong height": lambda s, m: (_edit(s, 3, "height", lambda h: h + 1), m),
    "a wrong accumulator": lambda s, m: (_edit(s, 3, "acc_anchored", lambda a: "1" + a), m),
    "a record swapped for another chain": lambda s, m: (_edit(s, 2, "chain", lambda c: "edge-1" if c == "edge-0" else "edge-0"), m),
    "a dropped segment": lambda s, m: (_drop(s, 3), m),  # a run's first segment, not the one averaged
    "a dropped round": lambda s, m: (_drop(s, 0), m),
    "not a statement": lambda s, m: ({"_type": "x"}, m),
    # the same record again under another spelling of its id: counted twice in what is proved
    "a record listed twice": lambda s, m: (_append(s, 0, lambda e: {**e, "tx": e["tx"].upper()}), m),
    "a height that is not an integer": lambda s, m: (_edit(s, 0, "height", lambda h: float(h)), m),
    "records not a list": lambda s, m: (_set(s, ["predicate", "edgeacc", "records"], {"a": 1}), m),
}


def _set(statement, path, value):
    target = statement
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return statement


def _edit(statement, position, key, change):
    entry = statement["predicate"]["edgeacc"]["records"][position]
    entry[key] = change(entry[key])
    return statement


def _append(statement, position, change):
    records = statement["predicate"]["edgeacc"]["records"]
    records.append(change(records[position]))
    return statement


def _drop(statement, position):
    del statement["predicate"]["edgeacc"]["records"][position]
    return statement


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_statements_are_rejected(exported, forgery):
    statement, model, status, toy = exported
    forged, forged_model = FORGERIES[forgery](copy.deepcopy(statement), model)
    with pytest.raises(ManifestError):
        check(forged, forged_model, status, toy)


def test_another_status_or_modulus_is_rejected(exported):
    import edgeacc

    statement, model, status, toy = exported
    with pytest.raises(ManifestError):
        check(statement, model, status[:-1], toy)
    with pytest.raises(ManifestError):
        check(statement, model, status, edgeacc.generate_insecure_params(512, seed=8))


def test_cli_verify_model(exported, tmp_path, capsys):
    statement, model, status, toy = exported
    (tmp_path / "s.json").write_text(json.dumps(statement))
    (tmp_path / "model.safetensors").write_bytes(model)
    (tmp_path / "status").write_bytes(status)
    (tmp_path / "n").write_text(format(toy.n, "x"))
    args = ["verify-model", str(tmp_path / "s.json"), "--model", str(tmp_path / "model.safetensors"),
            "--status", str(tmp_path / "status"), "--modulus", str(tmp_path / "n"), "--insecure"]
    assert cli(args) == 0 and "VERIFIED" in capsys.readouterr().out
    (tmp_path / "model.safetensors").write_bytes(model + b"x")
    assert cli(args) == 1 and "REJECTED" in capsys.readouterr().out
    (tmp_path / "n").write_text("not hex")
    assert cli(args) == 2
    (tmp_path / "s.json").write_text("[" * 100_000)  # deeper than json's recursion: a clean error
    assert cli(args) == 2


def test_a_segment_of_another_chain_cannot_stand_in_for_a_run_segment(federation, monkeypatch):
    """edge-1's peer records a copy of edge-0's first segment on edge-1 (a chain whose peers
    only check signatures), and the statement lists it instead of edge-0's own: the run's
    segment list is incomplete, whatever another chain holds."""
    from ledger.provenance.records import RunManifest

    net, chain, cloud, runs = federation
    original = chain.fetch(runs[0].step_txs[0])
    monkeypatch.setitem(chain.endorser.policy, "edge-1", "signatures")
    foreign = chain.submit("edge-1", "edge-1.peer0", original.body, original.obj)
    chain.flush()
    forged_run = RunManifest(runs[0].chain_id, runs[0].run_tx, (foreign, *runs[0].step_txs[1:]))
    statement, model, status = export_statement(net, cloud.rounds, [forged_run, *runs[1:]])
    with pytest.raises(ManifestError, match="lacks some of its"):
        verify_model(statement, {"model.safetensors": model}, status, net.params)
