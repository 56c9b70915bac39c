"""CPU seconds of FedAvg endorsement and of auditing one edge of a federation, for the tree on
PYTHONPATH (compare trees by alternating runs): 2 edges, 4 rounds of 8 local steps, batches of
16 distinct readings, RSA-2048, embedded ledger. What FedAvg weights cost to check: the main
chain's peers and the auditor check every reading a round's weights count.

    PYTHONPATH=<tree> python -m bench.provenance_audit_rounds [--endorse reexecute|signatures]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import ledger
from ledger.provenance import (Auditor, CloudRecorder, Device, EdgeRecorder, Hyperparameters, NetworkLedger,
                               NumpyMLPTrainer, load_digits_split)

ROUNDS, LOCAL, BATCH, EDGES = 4, 8, 16, 2


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endorse", default="reexecute", choices=["reexecute", "signatures"])
    args = parser.parse_args(argv)
    hp = Hyperparameters(local_steps=LOCAL, batch_size=BATCH)
    pixels, labels, _, _ = load_digits_split()
    readings_per_edge = ROUNDS * LOCAL * BATCH
    with tempfile.TemporaryDirectory() as scratch, \
            ledger.Network.init(Path(scratch) / "net", subchains=EDGES, peers_per_chain=2, auto_interlock=False) as net:
        chain, trainer = NetworkLedger(net, endorse=args.endorse), NumpyMLPTrainer(hp)
        cloud = CloudRecorder(chain, "main", "main.peer0")
        initial, _ = cloud.record_initial(trainer)
        edges = []
        for e in range(EDGES):
            edge = EdgeRecorder(chain, f"edge-{e}", f"edge-{e}.peer0", trainer, net.trust)
            sensor = Device(net.identity(f"edge-{e}.sensor", role="device", chain_id=f"edge-{e}"))
            signed = [sensor.read(pixels[k % len(labels)], int(labels[k % len(labels)]))
                      for k in range(e * readings_per_edge, (e + 1) * readings_per_edge)]
            refs = [ref for i in range(0, len(signed), 64) for ref in edge.record_readings(signed[i:i + 64])]
            edge.start_run([refs[i * BATCH:(i + 1) * BATCH] for i in range(ROUNDS * LOCAL)], initial, e)
            edges.append(edge)
        fedavg_cpu = 0.0
        for round_index in range(1, ROUNDS + 1):
            for edge in edges:
                for _ in range(LOCAL):
                    index = edge.step_index + 1
                    batch = edge.record_batch(edge.data_order[index - 1])
                    edge.record_step(trainer.step(edge.model, edge.global_model, batch, index))
            if round_index < ROUNDS:
                chain.flush()
                net.interlock()
                started = time.process_time()
                aggregated = cloud.record_aggregation([edge.steps[-1] for edge in edges])
                chain.flush()
                fedavg_cpu += time.process_time() - started
                net.interlock()
                for edge in edges:
                    edge.use_global(aggregated)
        chain.flush()
        net.interlock()
        print(f"endorse={args.endorse}: record_aggregation {fedavg_cpu / (ROUNDS - 1):.3f} CPU s per round "
              f"({EDGES} inputs of {LOCAL * BATCH} readings)")
        manifests = [edge.manifest() for edge in edges]
        for label, sample in (("count=4", {"count": 4, "seed": 1}), ("fraction=1", {"fraction": 1.0})):
            started = time.process_time()
            report = Auditor(chain, net.trust, "main").audit(manifests[0], federation=manifests, **sample)
            spent = time.process_time() - started
            if not report.passed:
                raise SystemExit(report.summary())
            print(f"  audit of edge-0 ({label}): {spent:.3f} CPU s")


if __name__ == "__main__":
    main()
