"""Cost of DNN provenance on the embedded ledger (RSA-2048, 2 peers, 2-of-any endorsement):

- T alone: one numpy (and, with the extra, torch) MLP step on a 16-reading digits batch;
- recording per step: record_batch (M_O re-checked by Protocol 1, batch stored, Type-I) + T +
  record_step (checkpoint stored, Type-I, endorsed), with endorsers re-executing the step or
  checking signatures only, committed durably on both peers;
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


def time_step_alone(trainer, batches, repeats: int = 5) -> float:
    """Seconds per T, best of `repeats` passes over the batches (M_O fixed, chained M_i)."""
    best = float("inf")
    for _ in range(repeats):
        model = global_model = trainer.initial_model()
        started = time.perf_counter()
        for index, batch in enumerate(batches, start=1):
            model = trainer.step(model, global_model, batch, index)
        best = min(best, (time.perf_counter() - started) / len(batches))
    return best


def recorded_run(workdir: Path, trainer, steps: int, endorse_mode: str) -> dict[str, float]:
    hp = trainer.hyperparameters
    pixels, labels, _, _ = load_digits_split()
    with ledger.Network.init(workdir, subchains=2, peers_per_chain=2, auto_interlock=False) as net:
        chain = NetworkLedger(net)
        edge = EdgeRecorder(chain, "edge-0", "edge-0.peer0", trainer, net.trust, endorse_mode)
        cloud = CloudRecorder(chain, "main", "main.peer0", endorse_mode)
        sensors = [Device(net.identity(f"sensor-{k}", role="device")) for k in range(10)]
        readings = [edge.record_reading(sensors[k % 10].read(pixels[k], int(labels[k])))
                    for k in range(steps * hp.batch_size)]
        order = [readings[i * hp.batch_size:(i + 1) * hp.batch_size] for i in range(steps)]
        initial, _ = cloud.record_initial(trainer)
        edge.start_run(order, initial, data_order_seed=0)
        chain.flush()
        net.interlock()
        started = time.perf_counter()
        for index, batch_readings in enumerate(order, start=1):
            batch = edge.record_batch(batch_readings)
            edge.record_step(trainer.step(edge.model, edge.global_model, batch, index))
        chain.flush()
        recording = (time.perf_counter() - started) / steps
        net.interlock()
        report = Auditor(chain, net.trust, "edge-1").audit(edge.manifest(), fraction=1.0)
        if not report.passed:
            raise SystemExit(report.summary())
        return {"recorded_step": recording, "audit_step": report.seconds / steps,
                "audit_protocol1": report.protocol1_seconds / steps, "height": net.status()["edge-0"]["height"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--trainer", default="numpy-mlp", choices=["numpy-mlp", "torch-mlp"])
    args = parser.parse_args(argv)
    trainer = trainer_for(args.trainer, Hyperparameters(local_steps=args.steps))
    pixels, labels, _, _ = load_digits_split()
    rng = np.random.default_rng(0)
    batches = [batch_tensors(pixels[c], labels[c]) for c in (rng.integers(0, len(labels), 16) for _ in range(args.steps))]
    step = time_step_alone(trainer, batches)
    print(f"{args.trainer}: T alone {step * 1e3:.3f} ms per step ({args.steps} steps, batch 16)")
    for mode in ("signatures", "reexecute"):
        with tempfile.TemporaryDirectory() as scratch:
            r = recorded_run(Path(scratch) / "net", trainer, args.steps, mode)
        overhead = r["recorded_step"] - step
        print(f"  endorse={mode:10s} recorded step {r['recorded_step'] * 1e3:7.2f} ms  "
              f"(overhead {overhead * 1e3:7.2f} ms = {overhead / step:6.0f} x T)  "
              f"audit {r['audit_step'] * 1e3:6.1f} ms per sampled step (Protocol 1 batched "
              f"{r['audit_protocol1'] * 1e3:.1f} ms of it)  chain height {r['height']}")


if __name__ == "__main__":
    main()
