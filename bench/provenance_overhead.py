"""Cost of DNN provenance on the embedded ledger (RSA-2048, 2 peers, 2-of-any endorsement):

- T alone: one numpy (and, with the extra, torch) MLP step on a 16-reading digits batch;
- recording per step: record_batch (M_O re-checked by Protocol 1, batch stored, Type-I) + T +
  record_step (checkpoint stored, Type-I, endorsed), with endorsers re-executing the step or
  checking signatures only (two edges, steps interleaved); blocks commit in the background;
- audit per sampled step: every step of the run audited from another chain (batched
  Protocol 1, object integrity, device signatures, data order, exact re-execution).

    python -m bench.provenance_overhead [--steps 64] [--trainer numpy-mlp|torch-mlp]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import ledger
from ledger.provenance import (Auditor, CloudRecorder, Device, EdgeRecorder, Hyperparameters,
                               NetworkLedger, load_digits_split, trainer_for)
from ledger.provenance.trainers import batch_tensors


def seconds_per_step(trainer, batches, repeats: int = 5) -> float:
    """Seconds per T, best of `repeats` passes over the batches (M_O fixed, chained M_i)."""
    best = float("inf")
    for _ in range(repeats):
        model = global_model = trainer.initial_model()
        started = time.perf_counter()
        for index, batch in enumerate(batches, start=1):
            model = trainer.step(model, global_model, batch, index)
        best = min(best, (time.perf_counter() - started) / len(batches))
    return best


def recorded_runs(workdir: Path, trainer, steps: int) -> dict[str, dict[str, float]]:
    """One run per endorsement mode on two edges, their steps interleaved so both see the
    same machine load; each audited in full from the main chain."""
    hp = trainer.hyperparameters
    pixels, labels, _, _ = load_digits_split()
    modes = {"edge-0": "signatures", "edge-1": "reexecute"}
    out: dict[str, dict[str, float]] = {}
    with ledger.Network.init(workdir, subchains=2, peers_per_chain=2, auto_interlock=False) as net:
        chain = NetworkLedger(net, endorse=modes)  # each edge chain's policy, held by its peers
        cloud = CloudRecorder(chain, "main", "main.peer0")
        initial, _ = cloud.record_initial(trainer)
        edges = {}
        for edge_id, mode in modes.items():
            edge = EdgeRecorder(chain, edge_id, f"{edge_id}.peer0", trainer, net.trust)
            sensors = [Device(net.identity(f"{edge_id}.sensor{k}", role="device")) for k in range(10)]
            signed = [sensors[k % 10].read(pixels[k], int(labels[k])) for k in range(steps * hp.batch_size)]
            readings = [ref for i in range(0, len(signed), 32) for ref in edge.record_readings(signed[i:i + 32])]
            edge.start_run([readings[i * hp.batch_size:(i + 1) * hp.batch_size] for i in range(steps)], initial, 0)
            edges[mode] = edge
        chain.flush()
        net.interlock()
        spent = dict.fromkeys(modes.values(), 0.0)
        for index in range(1, steps + 1):
            for mode in (list(edges) if index % 2 else list(edges)[::-1]):  # alternate who goes first
                edge = edges[mode]
                started = time.perf_counter()
                batch = edge.record_batch(edge.data_order[index - 1])
                edge.record_step(trainer.step(edge.model, edge.global_model, batch, index))
                spent[mode] += time.perf_counter() - started
        started = time.perf_counter()
        chain.flush()
        drain = time.perf_counter() - started
        net.interlock()
        recorded = [net.transaction(ref.tx_id) for ref in edges["reexecute"].steps]
        started = time.perf_counter()
        for tx in recorded:
            chain.endorser("edge-1.peer0", tx)  # what one endorsing peer runs on a step
        one_endorser = (time.perf_counter() - started) / len(recorded)
        for mode, edge in edges.items():
            report = Auditor(chain, net.trust, "main").audit(edge.manifest(), fraction=1.0)
            if not report.passed:
                raise SystemExit(report.summary())
            out[mode] = {"recorded_step": spent[mode] / steps, "drain": drain, "audit_step": report.seconds / steps,
                         "audit_protocol1": report.protocol1_seconds / steps,
                         "height": net.status()[edge.chain_id]["height"], "one_endorser": one_endorser}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--trainer", default="numpy-mlp", choices=["numpy-mlp", "torch-mlp"])
    args = parser.parse_args(argv)
    trainer = trainer_for(args.trainer, Hyperparameters(local_steps=args.steps))
    pixels, labels, _, _ = load_digits_split()
    rng = np.random.default_rng(0)
    batches = [batch_tensors(pixels[c], labels[c]) for c in (rng.integers(0, len(labels), 16) for _ in range(args.steps))]
    step = seconds_per_step(trainer, batches)
    print(f"{args.trainer}: T alone {step * 1e3:.3f} ms per step ({args.steps} steps, batch 16)")
    with tempfile.TemporaryDirectory() as scratch:
        results = recorded_runs(Path(scratch) / "net", trainer, args.steps)
    for mode, r in results.items():
        overhead = r["recorded_step"] - step
        print(f"  endorse={mode:10s} recorded step {r['recorded_step'] * 1e3:7.2f} ms  "
              f"(overhead {overhead * 1e3:6.2f} ms = {overhead / step:5.0f} x T)  "
              f"audit {r['audit_step'] * 1e3:6.1f} ms per sampled step (Protocol 1 batched "
              f"{r['audit_protocol1'] * 1e3:.1f} ms of it)  chain height {r['height']}")
    print(f"  commits still pending after the loop drained in {results['reexecute']['drain'] * 1e3:.0f} ms")
    endorsers = 2
    print(f"  re-execution by one endorser (load M_i-1, M_O, d_i; T; compare): "
          f"{results['reexecute']['one_endorser'] * 1e3:.2f} ms, x{endorsers} endorsers per step")

if __name__ == "__main__":
    main()
