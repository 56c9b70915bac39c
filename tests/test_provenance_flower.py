"""A federation under Flower's own runtime (grpc server and clients on loopback, no ray):
RecordingStrategy records every round on the main chain, provenance_mod each client's local
training on its edge chain; the endorsing peers re-execute every segment and every FedAvg,
and the audit of each client's run passes; a server that sends other parameters than the
recorded model is refused by the clients' Mod."""
from __future__ import annotations

import signal
import socket
import threading
import time

import pytest

torch = pytest.importorskip("torch")
flwr = pytest.importorskip("flwr")

import ledger  # noqa: E402
from flwr.client import NumPyClient  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402
from flwr.compat.client.app import start_client_internal  # noqa: E402
from flwr.server import ServerConfig, start_server  # noqa: E402
from flwr.server.strategy import FedAvg  # noqa: E402

from ledger.provenance import Device, EdgeRecorder, NetworkLedger  # noqa: E402
from ledger.provenance.flower import FlowerEdge, RecordingStrategy, provenance_mod  # noqa: E402
from ledger.provenance.pipeline import PipelineAuditor, PipelineCloud, trust_code  # noqa: E402
from ledger.provenance.records import decode_body  # noqa: E402

import pipeline_models  # noqa: E402
from provenance_helpers import digits  # noqa: E402,F401 (fixture)

trust_code("pipeline_models")
EDGES, ROUNDS = ("edge-0", "edge-1"), 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DigitsClient(NumPyClient):
    """The user's Flower client: trains through the recorder the Mod opened for the round."""

    def __init__(self, edge: FlowerEdge) -> None:
        self.edge = edge

    def fit(self, parameters, config):
        recorder = self.edge.recorder
        for readings in recorder.data_order:
            batch = recorder.batch(readings)
            pipeline_models.honest_step(recorder.model, recorder.optimizer, recorder.scheduler, batch, {})
            recorder.done()
        return self.edge.parameters(), self.edge.examples, {}


def make_edges(net, digits):
    """Each client node with its own NetworkLedger on the shared deployment."""
    pixels, labels, _, _ = digits
    edges = []
    for e, chain_id in enumerate(EDGES):
        chain = NetworkLedger(net)
        sensor = Device(net.identity(f"{chain_id}.sensor", role="device", chain_id=chain_id))
        readings = EdgeRecorder(chain, chain_id, f"{chain_id}.peer0", None, net.trust).record_readings(  # type: ignore[arg-type]
            [sensor.read(pixels[k], int(labels[k])) for k in range(e * 8, e * 8 + 8)])
        edges.append(FlowerEdge(chain, chain_id, f"{chain_id}.peer0", net.trust, pipeline_models.TinyNet(),
                                lambda model: torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                                step=pipeline_models.honest_step, data_order=[readings[:4], readings[4:]],
                                interval=1))
        chain.flush()
    return edges


def client_fn(edge):
    def make(context):
        return DigitsClient(edge).to_client()
    return make


def serving(address: str, timeout: float = 60.0) -> bool:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, int(port))) == 0:
                return True
        time.sleep(0.05)
    return False


def client_node(address, app):
    if serving(address):
        start_client_internal(server_address=address, node_config={}, load_client_app_fn=lambda *_: app,
                              insecure=True, max_wait_time=60)


class Timeout(Exception):
    pass


def run_federation(chain, edges, strategy, seconds=120):
    """Flower's server on this thread (it installs signal handlers), each client node on a
    thread that connects once the server listens; an alarm ends a federation that hangs."""
    address = f"127.0.0.1:{free_port()}"
    clients = [threading.Thread(target=client_node, args=(address, ClientApp(client_fn=client_fn(edge),
                                mods=[provenance_mod(edge)])), daemon=True) for edge in edges]
    for client in clients:
        client.start()

    def hung(*_):
        raise Timeout(f"the federation did not finish in {seconds} s")
    # Flower's server replaces the SIGINT/SIGTERM handlers: put pytest's back afterwards, or a
    # later SIGTERM (a CI timeout) would end the run as a clean SystemExit(0).
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        start_server(server_address=address, config=ServerConfig(num_rounds=ROUNDS, round_timeout=60),
                     strategy=strategy)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        for sig, handler in kept.items():
            signal.signal(sig, handler)
    for client in clients:
        client.join(30)
        assert not client.is_alive()


@pytest.fixture
def federation(tmp_path, toy, digits):
    net = ledger.Network.init(tmp_path / "fl", subchains=2, peers_per_chain=2, params=toy, auto_interlock=False)
    chain = NetworkLedger(net, endorse="reexecute")
    yield net, chain, make_edges(net, digits)
    net.close()


def main_kinds(net):
    return [decode_body(tx.payload)["kind"] for h in range(net.peer("main").height)
            for tx in net.block("main", h).transactions if tx.kind.name == "RECORD"]


def test_flower_federation_recorded_and_audited(federation):
    net, chain, edges = federation
    cloud = PipelineCloud(chain, "main.peer0")
    strategy = RecordingStrategy(FedAvg(min_available_clients=2, min_fit_clients=2, fraction_evaluate=0.0),
                                 cloud, pipeline_models.TinyNet, seed=3)
    replays = chain.endorsement_checks
    run_federation(chain, edges, strategy)
    chain.flush()
    assert len(cloud.rounds) == ROUNDS + 1 and not strategy.refused
    assert main_kinds(net).count("pipeline-round") == ROUNDS + 1
    # per round: 2 runs and 4 segments on the edges, one FedAvg on main, each replayed by 2 peers
    assert chain.endorsement_checks - replays == 2 * (1 + ROUNDS * (2 + 4 + 1))
    assert all(len(edge.manifests) == ROUNDS for edge in edges)
    for r in range(ROUNDS):  # a run of round r + 1 trains from the FedAvg of round r's runs
        previous = [edge.manifests[r - 1] for edge in edges] if r else []
        for edge in edges:
            report = PipelineAuditor(chain, net.trust, "main").audit(edge.manifests[r], fraction=1.0,
                                                                   federation=previous)
            assert report.passed, report.summary()
            if previous:  # without them, the round's inputs are runs the audit does not cover
                assert not PipelineAuditor(chain, net.trust, "main").audit(edge.manifests[r], fraction=1.0).passed


class LyingStrategy(RecordingStrategy):
    """A server that hands out other parameters than the model it recorded."""

    def configure_fit(self, server_round, parameters, client_manager):
        config = super().configure_fit(server_round, parameters, client_manager)
        from flwr.common import FitIns, ndarrays_to_parameters, parameters_to_ndarrays

        return [(client, FitIns(ndarrays_to_parameters([a * 0 for a in parameters_to_ndarrays(ins.parameters)]),
                                ins.config)) for client, ins in config]


def test_clients_refuse_parameters_that_are_not_the_recorded_model(federation):
    net, chain, edges = federation
    cloud = PipelineCloud(chain, "main.peer0")
    strategy = LyingStrategy(FedAvg(min_available_clients=2, min_fit_clients=2, fraction_evaluate=0.0,
                                    accept_failures=True), cloud, pipeline_models.TinyNet, seed=3)
    run_federation(chain, edges, strategy)
    chain.flush()
    assert len(cloud.rounds) == 1  # only round 0: no client trained on the forged parameters
    assert all(edge.manifests == [] and edge.recorder is None for edge in edges)
    assert all("other parameters than the main chain's model" in edge.refusals[0] for edge in edges)
    assert main_kinds(net) == ["pipeline-round"]


def test_one_dishonest_client_cannot_sink_or_skew_a_round(federation):
    """Results of a round: an honest edge-0 claiming 10^6 examples (the weight is the ledger's),
    edge-0's segment again (one edge twice), edge-1's segment of a run trained from another
    model than the last round's (stale), and one naming no record. The round is recorded over
    edge-0 alone at its ledger weight, every other result is refused with its reason; before,
    one such result made the main chain's peers refuse the whole round."""
    from flwr.common import Code, FitRes, Parameters, Status

    from ledger.provenance.flower import SEGMENT_KEY
    from ledger.provenance.pipeline import PipelineRecorder

    net, chain, edges = federation
    cloud = PipelineCloud(chain, "main.peer0")
    strategy = RecordingStrategy(FedAvg(), cloud, pipeline_models.TinyNet, seed=3)
    strategy.initialize_parameters(None)
    stale = cloud.record_initial(pipeline_models.TinyNet, seed=4)  # another round-0 model
    cloud.rounds.pop()  # the strategy's own round 0 stays the last round
    segments = []
    for edge, start in zip(edges, (cloud.rounds[-1], stale)):
        model = pipeline_models.TinyNet()
        recorder = PipelineRecorder(edge.ledger, edge.chain_id, edge.submitter, net.trust, model,
                                    torch.optim.SGD(model.parameters(), lr=0.1), step=pipeline_models.honest_step)
        with recorder.run(edge.data_order, start):
            for readings in edge.data_order:
                recorder.batch(readings)
                recorder.step()
        edge.ledger.flush()
        segments.append(recorder.segments[-1].tx_id.hex())

    def result(segment, examples=4):
        return None, FitRes(Status(Code.OK, ""), Parameters([], ""), examples, {SEGMENT_KEY: segment})
    results = [result(segments[0], 10 ** 6), result(segments[0]), result(segments[1]), result("ab" * 32)]
    before = net.peer("main").height
    parameters, metrics = strategy.aggregate_fit(1, results, [])
    chain.flush()
    assert parameters is not None and len(cloud.rounds) == 2 and net.peer("main").height > before
    record = chain.fetch(bytes.fromhex(metrics["edgeacc.round"]))
    assert [(entry["tx"], entry["weight"]) for entry in record.body["locals"]] == [(segments[0], 8)]
    assert len(strategy.refused) == 3
    assert any("averaged twice" in reason for reason in strategy.refused)
    assert any("did not train from the previous round" in reason for reason in strategy.refused)
