"""`edgeacc demo`: protected federated training on the embedded two-layer ledger.

One main chain and three edge sub-chains with two peers each; thirty devices (some of them
constrained, signing through their edge's peer) send signed readings of scikit-learn's digits;
each edge trains locally with every step recorded and endorsed by re-execution; the cloud runs
FedAvg rounds on the main chain; interlocking ties the chains together. Then an independent
auditor samples and re-executes steps (it passes), a checkpoint and a reading are tampered
with on disk, and the re-audit names the steps that depend on them.

`edgeacc demo --cluster` runs the same scenario on the distributed deployment (cluster_site):
every peer is an `edgeacc node` process ordering through a 3-member etcd, and the peers run
the re-execution check as the "provenance" validator their deployment.json names.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import tempfile
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import fsspec
import numpy as np
from tqdm import tqdm

import ledger
import ledger.cluster.authority
import ledger.cluster.local
from ledger import CertificateAuthority, Identity
from ledger.provenance.audit import AuditReport, Auditor
from ledger.provenance.devices import Device, SignedReading, decode_reading, encode_reading
from ledger.provenance.errors import DeviceError, ProvenanceError
from ledger.provenance.network_ledger import NetworkLedger, chain_policy, write_policy
from ledger.provenance.recorder import CloudRecorder, EdgeRecorder, load_tensors
from ledger.provenance.records import Ref
from ledger.provenance.trainers import Hyperparameters, load_digits_split, trainer_for

EDGES = 3
DEVICES_PER_EDGE = 10
CONSTRAINED_EVERY = 5  # every fifth device delegates signing to its edge's peer
UPLOAD = 32  # readings an edge gateway forwards at once


@dataclass
class DemoResult:
    accuracy: list[float] = field(default_factory=list)       # global model, round 0..R
    audits: list[AuditReport] = field(default_factory=list)   # the passing audit, per edge
    tamper_audits: list[AuditReport] = field(default_factory=list)
    rejected_at_ingest: list[str] = field(default_factory=list)
    tampered: tuple[int, str] = (0, "")                       # checkpoint step, reading tx
    status: dict = field(default_factory=dict)
    transactions: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    manifests: list = field(default_factory=list)              # per edge, its run's RunManifest


def data_order(readings: list[Ref], steps: int, batch_size: int, seed: int) -> list[list[Ref]]:
    """Seeded epochs over an edge's readings, cut into the batches of every step."""
    rng = np.random.default_rng(seed)
    stream: list[Ref] = []
    while len(stream) < steps * batch_size:
        stream += [readings[i] for i in rng.permutation(len(readings))]
    return [stream[i * batch_size:(i + 1) * batch_size] for i in range(steps)]


def count_transactions(net: ledger.Network) -> dict[str, dict[str, int]]:
    """Per chain: Type-I records, Type-II and Type-III statuses."""
    counts = {}
    for chain_id, info in net.status().items():
        kinds = {"type1": 0, "type2": 0, "type3": 0}
        for height in range(info["height"]):
            for tx in net.block(chain_id, height).transactions:
                kinds[f"type{int(tx.kind)}"] += 1
        counts[chain_id] = kinds
    return counts


@dataclass
class Site:
    """Where the demo runs: the deployment as a client sees it (a ledger.api.Ledger), the
    identities the demo's parties hold (devices; the edges' gateways sign as their peers),
    the recorders' NetworkLedger and a maker of independent auditors' views."""
    ledger: object
    identity: Callable[..., Identity]
    chain: NetworkLedger
    auditor_view: Callable[[], NetworkLedger]


def device_names(edge: str) -> list[str]:
    return [f"{edge}.sensor{k}" for k in range(DEVICES_PER_EDGE)]


@contextlib.contextmanager
def embedded_site(workdir: Path, params=None, endorse_mode: str = "reexecute") -> Iterator[Site]:
    """The embedded deployment (one process) in the empty directory `workdir`."""
    with ledger.Network.init(workdir, subchains=EDGES, peers_per_chain=2, params=params) as net:
        chain = NetworkLedger(net, endorse=endorse_mode)  # the chains' policy, held by their peers
        yield Site(net, net.identity, chain, lambda: NetworkLedger(net))


@contextlib.contextmanager
def cluster_site(workdir: Path, params=None, endorse_mode: str = "reexecute") -> Iterator[Site]:
    """The distributed deployment on this machine: laid out in the empty `workdir` with every
    chain's peers running the "provenance" validator under `endorse_mode` (POLICY_FILE) and
    the devices' certificates in the nodes' trust bundle, `edgeacc cluster up`, the demo's
    client through ledger.connect, and `edgeacc cluster down` at the end."""
    authority, local = ledger.cluster.authority, ledger.cluster.local
    local.create(workdir, subchains=EDGES, peers_per_chain=2, endorsement_threshold=2,
                 params_hex=format(params.n, "x") if params is not None else None, validators=["provenance"])
    chain_ids = [c["id"] for c in json.loads((workdir / "deployment.json").read_text())["chains"]]
    write_policy(workdir, chain_policy(chain_ids, endorse_mode))
    for edge in chain_ids[1:]:
        for name in device_names(edge):
            authority.issue(workdir / "ca", name, "device", workdir / "devices" / name, edge)
    local.publish_trust(workdir)

    def identity(name: str, role: str | None = None, chain_id: str | None = None) -> Identity:
        return authority.load_identity(workdir / "devices" / name if role == "device"
                                       else workdir / "nodes" / name / "credentials")

    info = local.up(workdir)
    try:
        with ledger.connect(info.client_config) as client:
            gateways = {f"{cid}.peer0": identity(f"{cid}.peer0") for cid in chain_ids}
            yield Site(client, identity, NetworkLedger(client, signers=gateways), lambda: NetworkLedger(client))
    finally:
        local.down(workdir)


def run_demo(workdir: Path, *, rounds: int = 8, hyperparameters: Hyperparameters = Hyperparameters(),
             trainer_name: str = "numpy-mlp", audit_fraction: float = 0.25, seed: int = 0,
             endorse_mode: str = "reexecute", params=None, progress: bool = True,
             audit_seed: int | None = None, cluster: bool = False) -> DemoResult:
    """Run the whole scenario in the empty directory `workdir`, on the embedded deployment or
    (`cluster`) on a local distributed one; `params` defaults to the RSA-2048 modulus (tests
    pass a small insecure one). `seed` makes the data and its order; the audits draw their
    samples from fresh randomness unless `audit_seed` reproduces one. `endorse_mode` is the
    chains' endorsement policy, set when the deployment is set up."""
    if rounds * hyperparameters.local_steps < 2:
        raise ProvenanceError("the demo needs at least two training steps (one is tampered with)")
    started = time.perf_counter()
    with (cluster_site if cluster else embedded_site)(workdir, params, endorse_mode) as site:
        result = run_on(site, rounds=rounds, hyperparameters=hyperparameters, trainer_name=trainer_name,
                        audit_fraction=audit_fraction, seed=seed, progress=progress, audit_seed=audit_seed)
    result.seconds["total"] = time.perf_counter() - started
    return result


def run_on(site: Site, *, rounds: int, hyperparameters: Hyperparameters, trainer_name: str = "numpy-mlp",
           audit_fraction: float = 0.25, seed: int = 0, progress: bool = True,
           audit_seed: int | None = None) -> DemoResult:
    """The scenario of run_demo on a deployment that is up."""
    result = DemoResult()
    started = time.perf_counter()
    trainer = trainer_for(trainer_name, hyperparameters)
    hp = trainer.hyperparameters
    pixels, labels, test_pixels, test_labels = load_digits_split(seed=seed)
    net, chain = site.ledger, site.chain
    edges = [f"edge-{e}" for e in range(EDGES)]
    recorders = [EdgeRecorder(chain, edge, f"{edge}.peer0", trainer, net.trust) for edge in edges]
    cloud = CloudRecorder(chain, net.main_chain_id, f"{net.main_chain_id}.peer0")

    # Data collection (section V.A): every device signs; peers check before recording.
    devices = []
    for e, edge in enumerate(edges):
        for k, name in enumerate(device_names(edge)):
            identity = site.identity(name, role="device", chain_id=edge)
            delegate = site.identity(f"{edge}.peer1") if k % CONSTRAINED_EVERY == CONSTRAINED_EVERY - 1 else None
            devices.append((e, Device(identity, delegate)))
    signed: list[list[SignedReading]] = [[] for _ in edges]
    for i in range(len(labels)):
        e, device = devices[i % len(devices)]
        signed[e].append(device.read(pixels[i], int(labels[i])))
    readings: list[list[Ref]] = [[] for _ in edges]
    with tqdm(total=len(labels), desc="readings", unit="rd", disable=not progress) as bar:
        for start in range(0, max(len(s) for s in signed), UPLOAD):
            for e, recorder in enumerate(recorders):  # each edge's gateway uploads in turn
                upload = signed[e][start:start + UPLOAD]
                readings[e] += recorder.record_readings(upload)
                bar.update(len(upload))
    result.rejected_at_ingest = _ingest_attacks(recorders[0], devices[0][1], pixels[0])
    chain.flush()
    result.seconds["collection"] = time.perf_counter() - started

    # Training (section V.B) and FedAvg on the main chain, interlocked every round.
    training_started = time.perf_counter()
    steps = rounds * hp.local_steps
    global_ref, global_model = cloud.record_initial(trainer)
    result.accuracy.append(trainer.accuracy(global_model, test_pixels, test_labels))
    for e, recorder in enumerate(recorders):
        recorder.start_run(data_order(readings[e], steps, hp.batch_size, seed + e), global_ref, seed + e)
    bar = tqdm(total=steps * EDGES, desc="training", unit="step", disable=not progress)
    for round_index in range(1, rounds + 1):
        for recorder in recorders:
            recorder.use_global(global_ref)
            order = recorder.data_order
            for _ in range(hp.local_steps):
                index = recorder.step_index + 1
                batch = recorder.record_batch(order[index - 1])
                recorder.record_step(trainer.step(recorder.model, recorder.global_model, batch, index))
                bar.update()
        global_ref = cloud.record_aggregation([r.steps[-1] for r in recorders])  # weights from the ledger
        global_model = load_tensors(chain, global_ref.digest)[1]
        result.accuracy.append(trainer.accuracy(global_model, test_pixels, test_labels))
        bar.set_postfix(round=round_index, accuracy=f"{result.accuracy[-1]:.3f}")
    bar.close()
    chain.flush()
    net.interlock()
    result.seconds["training"] = time.perf_counter() - training_started

    # An independent audit: its own view of the ledger, each edge checked from another edge's
    # chain; FedAvg inputs must be steps of the three runs, at their manifests' positions.
    audit_started = time.perf_counter()
    auditor_view = site.auditor_view()
    manifests = [recorder.manifest() for recorder in recorders]
    result.manifests = manifests
    for e, manifest in enumerate(tqdm(manifests, desc="audit", unit="edge", disable=not progress)):
        auditor = Auditor(auditor_view, net.trust, edges[(e + 1) % EDGES])
        result.audits.append(auditor.audit(manifest, fraction=audit_fraction, seed=audit_seed,
                                           federation=manifests))
    result.seconds["audit"] = time.perf_counter() - audit_started

    # Tampering on disk, then a full re-audit of the two edges concerned.
    tampered_step = recorders[0].steps[steps // 2]
    overwrite_object(tampered_step.obj.url, chain.load(recorders[0].steps[steps // 2 - 1].digest))
    victim = recorders[1].data_order[steps // 3][0]
    device, sequence, reading_pixels, label = decode_reading(chain.load(victim.digest))
    overwrite_object(victim.obj.url, encode_reading(device, sequence, reading_pixels, (label + 1) % 10))
    for e in (0, 1):
        auditor = Auditor(auditor_view, net.trust, edges[(e + 1) % EDGES])
        result.tamper_audits.append(auditor.audit(manifests[e], fraction=1.0, federation=manifests))
    result.tampered = (steps // 2 + 1, victim.tx_id.hex()[:12])
    result.status = net.status()
    result.transactions = count_transactions(net)
    result.seconds["scenario"] = time.perf_counter() - started
    return result


def overwrite_object(url: str, data: bytes) -> None:
    """Overwrite a stored object in place: what an attacker with disk access would do."""
    fs, path = fsspec.core.url_to_fs(url)
    with fs.open(path, "wb") as f:
        f.write(data)


def _ingest_attacks(recorder: EdgeRecorder, device: Device, pixels: np.ndarray) -> list[str]:
    """A forged signature and an unknown device: both refused before anything is recorded."""
    refused = []
    forged = dataclasses.replace(device.read(pixels, 3), signature=bytes(64))
    rogue = Device(CertificateAuthority.create("rogue CA").issue("rogue-sensor", "device")).read(pixels, 3)
    for name, reading in (("forged signature", forged), ("unknown device", rogue)):
        try:
            recorder.record_reading(reading)
        except DeviceError as exc:
            refused.append(f"{name}: {exc}")
    return refused


def write_plot(result: DemoResult, path: Path) -> None:
    """Accuracy of the global model per round, and audit cost per sampled step per edge."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(range(len(result.accuracy)), result.accuracy, marker="o")
    left.set(xlabel="FedAvg round", ylabel="test accuracy", title="Global model (main chain)", ylim=(0, 1))
    left.grid(alpha=0.3)
    names = [report.chain_id for report in result.audits]
    batched = [1000 * r.protocol1_seconds / max(len(r.verdicts), 1) for r in result.audits]
    per_step = [1000 * sum(v.seconds for v in r.verdicts) / max(len(r.verdicts), 1) for r in result.audits]
    right.bar(names, batched, label="Protocol 1 (batched), per step")
    right.bar(names, per_step, bottom=batched, label="fetch, signatures, re-execution")
    right.set(ylabel="ms per sampled step", title="Audit cost per sampled step")
    right.legend(loc="lower center", framealpha=0.9)
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_report(result: DemoResult, rounds: int, hp: Hyperparameters, trainer_name: str) -> str:
    lines = [f"edgeacc demo: {EDGES} edge sub-chains x 2 peers + main chain, {EDGES * DEVICES_PER_EDGE} devices "
             f"({EDGES * DEVICES_PER_EDGE // CONSTRAINED_EVERY} delegate signing), {rounds} FedAvg rounds x "
             f"{hp.local_steps} local steps, trainer {trainer_name}", "chains:"]
    for chain_id, info in result.status.items():
        tx = result.transactions[chain_id]
        lines.append(f"  {chain_id:7s} height {info['height']:4d}  Type-I {tx['type1']:5d}  "
                     f"Type-II {tx['type2']:3d}  Type-III {tx['type3']:3d}")
    lines.append("refused at ingest: " + ("; ".join(result.rejected_at_ingest) or "nothing (unexpected)"))
    lines.append("accuracy per round: " + " ".join(f"{r}:{a:.3f}" for r, a in enumerate(result.accuracy)))
    lines.append("independent audit (sampled, exact re-execution):")
    for report in result.audits:
        per_step = report.seconds / max(len(report.verdicts), 1)
        lines.append(f"  {report.chain_id}: {'PASS' if report.passed else 'FAIL'}  {len(report.verdicts)}/"
                     f"{report.total_steps} steps (sample seed {report.seed:#x}), {per_step * 1000:.0f} ms "
                     f"per sampled step (of which Protocol 1, batched: {report.protocol1_seconds:.2f} s in all)")
        if not report.passed:
            lines.append(report.summary())
    step, reading = result.tampered
    lines.append(f"tampering: checkpoint M_{step} of edge-0 swapped on disk; reading {reading} of edge-1 relabelled")
    for report in result.tamper_audits:
        lines.append(f"  full re-audit of {report.chain_id}: {'PASS (not caught!)' if report.passed else 'FAIL'}"
                     f"  failed steps {report.failed_steps}")
        failing = [v for v in report.verdicts if not v.ok]
        if failing:
            lines.append(f"    step {failing[0].index}: {failing[0].failures[0]}")
    lines.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))
    return "\n".join(lines)


def demo_succeeded(result: DemoResult) -> bool:
    """Honest audits pass, both tamperings are caught, both ingest attacks are refused."""
    return (all(r.passed for r in result.audits) and not any(r.passed for r in result.tamper_audits)
            and len(result.rejected_at_ingest) == 2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=8, help="FedAvg rounds (default 8)")
    parser.add_argument("--local-steps", type=int, default=8, help="local steps per round (default 8)")
    parser.add_argument("--trainer", choices=["numpy-mlp", "torch-mlp"], default="numpy-mlp",
                        help="torch-mlp needs the optional extra edgeacc[torch]")
    parser.add_argument("--audit-fraction", type=float, default=0.25, help="share of steps sampled (default 0.25)")
    parser.add_argument("--endorse", choices=["reexecute", "signatures"], default="reexecute",
                        help="the chains' endorsement policy: peers re-execute each step, or check records only")
    parser.add_argument("--audit-seed", type=lambda text: int(text, 0),
                        help="reproduce an audit's sample (default: fresh randomness; the report shows the seed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cluster", action="store_true",
                        help="run on a distributed deployment on this machine (edgeacc cluster up: a 3-member "
                             "etcd and every peer as its own process; needs etcd) instead of the embedded one")
    parser.add_argument("--dir", type=Path, help="keep the deployment here (default: a temporary directory)")
    parser.add_argument("--plot", type=Path, default=Path("edgeacc-demo.png"), help="plot file (PNG)")


def add_demo_parser(subparsers) -> None:
    """Register `edgeacc demo` on the console script's subcommands (ledger/cli.py)."""
    parser = subparsers.add_parser("demo", help="protected federated training on the ledger (embedded, or --cluster), then an audit")
    add_arguments(parser)
    parser.set_defaults(func=run_from_args)


def run_from_args(args: argparse.Namespace) -> int:
    hp = Hyperparameters(local_steps=args.local_steps)
    with tempfile.TemporaryDirectory(prefix="edgeacc-demo-") as scratch:
        workdir = args.dir or Path(scratch) / "deployment"
        result = run_demo(workdir, rounds=args.rounds, hyperparameters=hp, trainer_name=args.trainer,
                          audit_fraction=args.audit_fraction, seed=args.seed, endorse_mode=args.endorse,
                          audit_seed=args.audit_seed, cluster=args.cluster,
                          progress=getattr(args, "progress", sys.stderr.isatty()))  # cli: tty, not --quiet
    write_plot(result, args.plot)
    print(format_report(result, args.rounds, hp, args.trainer))
    print(f"plot: {args.plot}")
    ok = demo_succeeded(result)
    print("demo: OK (honest run audited clean, tampering caught)" if ok else "demo: FAILED")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edgeacc demo", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
