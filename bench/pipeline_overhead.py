"""Cost of recording a real PyTorch pipeline (ledger/provenance/pipeline.py) on the embedded
ledger (RSA-2048, 2 peers per chain, 2-of-any endorsement), for the 1.1M-parameter digits CNN
with SGD + momentum and a StepLR scheduler, batches of 16 readings:

- the training step alone (the user's train_step, torch pinned to one thread);
- recorded, per iteration, for k = 1 and k = 10: batch record + step + (every k) the whole
  state encoded, stored and endorsed, with the endorsing peers replaying every segment
  ("reexecute") or checking signatures only ("signatures");
- bytes stored per iteration (states and batches in the object store) for k = 1 and k = 10;
- audit time per sampled segment (Protocol 1, readings, data order, replay from its checkpoint);
- a Flower federation (grpc on loopback, 2 clients, CNN) per round: RecordingStrategy and
  provenance_mod vs the same federation with plain FedAvg and no recording.

    python -m bench.pipeline_overhead [--iterations 20] [--rounds 2] [--no-flower]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import ledger
from ledger.errors import LedgerError

EDGE, BATCH = "edge-0", 16
# torch and the pipeline modules are imported in main(): asv imports every bench module, and
# this one needs the [torch] extra only when it runs
torch = DigitsCNN = train_step = Device = EdgeRecorder = NetworkLedger = PipelineAuditor = PipelineRecorder = None


def _import() -> None:
    global torch, DigitsCNN, train_step, Device, EdgeRecorder, NetworkLedger, PipelineAuditor, PipelineRecorder
    import torch as torch_module
    from ledger.provenance import Device, EdgeRecorder, NetworkLedger  # noqa: F811
    from ledger.provenance.cnn import DigitsCNN, train_step  # noqa: F811
    from ledger.provenance.pipeline import PipelineAuditor, PipelineRecorder, trust_code  # noqa: F811

    torch = torch_module
    trust_code("ledger.provenance.cnn")


def objects(model):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)


def step_alone(batches) -> float:
    model = DigitsCNN()
    optimizer, scheduler = objects(model)
    for batch in batches[:3]:  # warm-up
        train_step(model, optimizer, scheduler, batch, {})
    times = []
    for batch in batches:
        started = time.perf_counter()
        train_step(model, optimizer, scheduler, batch, {})
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def recorded(workdir: Path, endorse: str, interval: int, iterations: int, digits) -> dict[str, float]:
    pixels, labels, _, _ = digits
    with ledger.Network.init(workdir / f"{endorse}-{interval}", subchains=1) as net:
        chain = NetworkLedger(net, endorse=endorse)
        sensor = Device(net.identity("sensor", role="device", chain_id=EDGE))
        readings = EdgeRecorder(chain, EDGE, f"{EDGE}.peer0", None, net.trust).record_readings(  # type: ignore[arg-type]
            [sensor.read(pixels[k], int(labels[k])) for k in range(iterations * BATCH)])
        chain.flush()
        order = [readings[i:i + BATCH] for i in range(0, iterations * BATCH, BATCH)]
        model = DigitsCNN()
        optimizer, scheduler = objects(model)
        recorder = PipelineRecorder(chain, EDGE, f"{EDGE}.peer0", net.trust, model, optimizer, scheduler,
                                    step=train_step, interval=interval,
                                    scheduler_kwargs={"step_size": 10, "gamma": 0.5})
        started, in_step = time.perf_counter(), 0.0
        with recorder.run(order):
            for batch_readings in order:
                batch = recorder.batch(batch_readings)
                step_started = time.perf_counter()
                train_step(model, optimizer, scheduler, batch, {})
                in_step += time.perf_counter() - step_started
                recorder.done()
        chain.flush()
        per_iteration = (time.perf_counter() - started) / iterations
        stored = sum(len(chain.load(ref.digest)) for ref in recorder.segments)  # the states
        report = PipelineAuditor(chain, net.trust, EDGE).audit(recorder.manifest(), count=min(3, len(recorder.segments)))
        assert report.passed, report.summary()
        batch_record_bytes = _batch_bytes(chain, net)
        return {"per_iteration": per_iteration, "step": in_step / iterations, "state_bytes_per_iteration": stored / iterations,
                "batch_bytes_per_iteration": batch_record_bytes / iterations,
                "audit_per_segment": statistics.median(v.seconds for v in report.verdicts),
                "state_bytes": stored / len(recorder.segments)}


def _batch_bytes(chain, net) -> int:
    """Bytes of the batch objects the run stored (d_i, canonical safetensors)."""
    from ledger.provenance.records import decode_body

    total = 0
    for height in range(net.peer(EDGE).height):
        for tx in net.block(EDGE, height).transactions:
            try:
                kind = decode_body(tx.payload)["kind"]
            except LedgerError:  # Type-II/III and other non-provenance transactions
                continue
            if kind == "batch":
                total += len(chain.load(tx.object_digest))
    return total


def flower_rounds(workdir: Path, rounds: int, digits, record: bool) -> float:
    """Seconds per round of a 2-client Flower federation of the CNN, recorded or not."""
    import socket
    import threading

    from flwr.client import NumPyClient
    from flwr.common import ndarrays_to_parameters
    from flwr.clientapp import ClientApp
    from flwr.compat.client.app import start_client_internal
    from flwr.server import ServerConfig, start_server
    from flwr.server.strategy import FedAvg

    from ledger.provenance.flower import FlowerEdge, RecordingStrategy, provenance_mod
    from ledger.provenance.pipeline import PipelineCloud

    pixels, labels, _, _ = digits
    with ledger.Network.init(workdir / f"flower-{record}", subchains=2) as net:
        chain = NetworkLedger(net)
        apps = []
        for e, chain_id in enumerate(("edge-0", "edge-1")):
            own = NetworkLedger(net)
            sensor = Device(net.identity(f"{chain_id}.sensor", role="device", chain_id=chain_id))
            readings = EdgeRecorder(own, chain_id, f"{chain_id}.peer0", None, net.trust).record_readings(  # type: ignore[arg-type]
                [sensor.read(pixels[k], int(labels[k])) for k in range(e * 32, e * 32 + 32)])
            own.flush()
            order = [readings[:BATCH], readings[BATCH:]]
            edge = FlowerEdge(own, chain_id, f"{chain_id}.peer0", net.trust, DigitsCNN(),
                              lambda m: torch.optim.SGD(m.parameters(), lr=0.05), step=train_step, data_order=order)
            apps.append(_app(edge, record, NumPyClient, ClientApp, provenance_mod))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            address = f"127.0.0.1:{s.getsockname()[1]}"

        def node(app):
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", int(address.rsplit(":", 1)[1]))) == 0:
                        break
                time.sleep(0.05)
            start_client_internal(server_address=address, node_config={}, load_client_app_fn=lambda *_: app,
                                  insecure=True)
        threads = [threading.Thread(target=node, args=(app,), daemon=True) for app in apps]
        for thread in threads:
            thread.start()
        torch.manual_seed(0)
        initial = ndarrays_to_parameters([v.numpy() for v in DigitsCNN().state_dict().values()])
        fedavg = FedAvg(min_available_clients=2, min_fit_clients=2, fraction_evaluate=0.0,
                        initial_parameters=None if record else initial)
        strategy = RecordingStrategy(fedavg, PipelineCloud(chain, "main.peer0"), DigitsCNN) if record else fedavg
        started = time.perf_counter()
        start_server(server_address=address, config=ServerConfig(num_rounds=rounds), strategy=strategy)
        elapsed = (time.perf_counter() - started) / rounds
        for thread in threads:
            thread.join(30)
        return elapsed


def _app(edge, record, NumPyClient, ClientApp, provenance_mod):
    class Client(NumPyClient):
        def fit(self, parameters, config):
            if record:
                recorder = edge.recorder
                for readings in recorder.data_order:
                    batch = recorder.batch(readings)
                    train_step(recorder.model, recorder.optimizer, None, batch, {})
                    recorder.done()
            else:  # the same training, not recorded
                from ledger.provenance.pipeline import torch_batch
                from ledger.provenance.recorder import batch_from_readings

                edge.model.load_state_dict({k: torch.from_numpy(v) for k, v in zip(edge.names, parameters)})
                optimizer = edge.make_optimizer(edge.model)
                for readings in edge.data_order:
                    batch = torch_batch(batch_from_readings([edge.ledger.load(r.digest) for r in readings]))
                    train_step(edge.model, optimizer, None, batch, {})
            return edge.parameters(), edge.examples, {}

    def client_fn(context):
        return Client().to_client()
    return ClientApp(client_fn=client_fn, mods=[provenance_mod(edge)] if record else [])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-flower", action="store_true")
    args = ap.parse_args()
    _import()
    from ledger.provenance import load_digits_split

    digits = load_digits_split()
    from ledger.provenance.pipeline import torch_batch
    from ledger.provenance.trainers import batch_tensors

    pixels, labels, _, _ = digits
    batches = [torch_batch(batch_tensors(pixels[i:i + BATCH], labels[i:i + BATCH]))
               for i in range(0, args.iterations * BATCH, BATCH)]
    alone = step_alone(batches)
    print(f"CNN ({sum(p.numel() for p in DigitsCNN().parameters())} parameters), batch {BATCH}: "
          f"step alone {alone * 1e3:.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        for interval in (1, 10):
            for endorse in ("signatures", "reexecute"):
                r = recorded(Path(tmp), endorse, interval, args.iterations, digits)
                print(f"k={interval:2d} {endorse:10s}: {r['per_iteration'] * 1e3:7.1f} ms/iteration, of which "
                      f"the step {r['step'] * 1e3:.1f} ms ({r['per_iteration'] / r['step']:4.1f}x the step), state {r['state_bytes'] / 1e6:.2f} MB per "
                      f"segment = {r['state_bytes_per_iteration'] / 1e6:.2f} MB/iteration + batches "
                      f"{r['batch_bytes_per_iteration']:.0f} B/iteration; audit {r['audit_per_segment'] * 1e3:.0f} "
                      "ms per sampled segment")
        if not args.no_flower:
            plain = flower_rounds(Path(tmp), args.rounds, digits, record=False)
            recorded_round = flower_rounds(Path(tmp), args.rounds, digits, record=True)
            print(f"Flower, 2 clients x 2 batches, CNN: {plain:.2f} s/round plain FedAvg, {recorded_round:.2f} s/round "
                  f"recorded ({recorded_round / plain:.1f}x; +{recorded_round - plain:.2f} s per round)")


if __name__ == "__main__":
    main()
