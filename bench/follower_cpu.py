"""The CPU a follower spends per block it catches up, without etcd, gRPC or other processes:
what bench/catch_up.py measures on a cluster, less the noise of a shared machine.

A deployment's peer builds --blocks blocks of --tx-per-block records (2-of-3 endorsed); the
log's entries are their signed headers and a stand-in peer serves their bodies (the stored
block, as Body does). For each run and each tree of --trees (alternating, a process of its own
importing that tree) a fresh peer follows that log from slot 0: the process CPU seconds of its
sync (validation, storing - fdatasync per block as always - decoding, the bodies' checks).

    python bench/follower_cpu.py [--blocks 300] [--runs 5] [--trees BASELINE_TREE .]
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

CHAIN = "edge-0"

# One run: follow the pickled log with a fresh peer (the tree on PYTHONPATH) and print its CPU.
DRIVER = """
import json, pickle, sys, time
from pathlib import Path
from ledger.chain import Deployment
from ledger.cluster import follower as follower_module
from ledger.cluster.follower import Follower, attestation_quorum
from ledger.cluster.node import chain_configs, deployment_params, load_trust
from ledger.cluster.authority import load_identity
from ledger.peer import Peer
from ledger.store import PeerStore
d, work = Path(sys.argv[1]), Path(sys.argv[2])
entries, bodies = pickle.loads((work / "log.pickle").read_bytes())
info = json.loads((d / "deployment.json").read_text())
rules = Deployment(deployment_params(info), load_trust(d / "trust"), chain_configs(info))
rules.trust.add_certificate(load_identity(d / "clients" / "client").certificate)
peer = Peer(rules, load_identity(d / "nodes" / "edge-0.peer2" / "credentials"), PeerStore(work / sys.argv[3], "edge-0"))
class Log:
    def blocks(self, start, limit=64):
        return [(s, entries[s]) for s in range(start, min(len(entries), start + limit))]
    def checkpoint(self):
        return None
def body(ids):
    return [bodies.get(digest, b"") for _, digest in ids]
f = Follower(peer, Log(), lambda txs: None, lambda: [], attestation_quorum(2, 3), bodies=lambda: [("peer", body)])
cpu, wall = time.process_time(), time.perf_counter()
height = f.sync()
print(json.dumps({"height": height, "cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "module": follower_module.__file__, "fetched": f.fetched}))
"""


def build(d: Path, work: Path, blocks: int, per_block: int) -> None:
    from ledger.chain import Deployment, now_ms
    from ledger.cluster import local
    from ledger.cluster.authority import load_identity
    from ledger.cluster.node import chain_configs, deployment_params, load_trust
    from ledger.peer import Peer
    from ledger.store import PeerStore
    from ledger.tx import Transaction, TxKind

    local.create(d, subchains=1, peers_per_chain=3)
    info = json.loads((d / "deployment.json").read_text())
    rules = Deployment(deployment_params(info), load_trust(d / "trust"), chain_configs(info))
    peers = [load_identity(d / "nodes" / f"{CHAIN}.peer{i}" / "credentials") for i in range(3)]
    client = load_identity(d / "clients" / "client")
    rules.trust.add_certificate(client.certificate)
    builder = Peer(rules, peers[0], PeerStore(work / "builder.sqlite", CHAIN))
    builder.store.set_durable(False)
    entries, bodies, nonce = [], {}, 0
    for b in range(blocks):
        txs = []
        for i in range(per_block):
            nonce += 1
            txs.append(Transaction.create(client, TxKind.RECORD, CHAIN, b"b%d-%d" % (b, i), timestamp_ms=now_ms(),
                                          nonce=nonce))
        block = builder._propose(txs)[0]
        block = block.with_endorsements([(p.fingerprint, p.sign(block.header.endorsement_message())) for p in peers[:2]])
        builder._commit(block)
        entries.append(block.signed.to_bytes())
        bodies[block.digest] = block.to_bytes()
    builder.close()
    (work / "log.pickle").write_bytes(pickle.dumps((entries, bodies)))


def main(argv=None) -> int:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=300)
    ap.add_argument("--tx-per-block", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--trees", nargs="+", default=[str(here)],
                    help="code trees to alternate (e.g. a worktree of main, then this one); default: this tree")
    args = ap.parse_args(argv)
    results: dict[str, list[float]] = {t: [] for t in args.trees}
    with tempfile.TemporaryDirectory(prefix="edgeacc-follower-cpu-") as workdir:
        work = Path(workdir)
        build(work / "d", work, args.blocks, args.tx_per_block)
        for run in range(args.runs):
            for i, tree in enumerate(args.trees):
                out = subprocess.run([sys.executable, "-c", DRIVER, str(work / "d"), str(work), f"r{run}-{i}.sqlite"],
                                     check=True, capture_output=True, text=True, timeout=600, cwd=tree,
                                     env={**os.environ, "PYTHONPATH": str(Path(tree).resolve())})
                st = json.loads(out.stdout.strip().splitlines()[-1])
                if not Path(st["module"]).resolve().is_relative_to(Path(tree).resolve()) or st["height"] != args.blocks:
                    raise SystemExit(f"{tree}: {st}")
                results[tree].append(1000 * st["cpu"] / args.blocks)
                print(f"run {run} {tree}: {1000 * st['cpu'] / args.blocks:.3f} ms CPU/block, "
                      f"{args.blocks / st['wall']:.0f} blocks/s", flush=True)
    medians = {t: sorted(v)[len(v) // 2] for t, v in results.items()}
    for tree, v in results.items():
        print(f"{tree:32} CPU ms/block {' '.join(f'{x:.3f}' for x in v)}  median {medians[tree]:.3f}")
    if len(args.trees) == 2:
        a, b = (medians[t] for t in args.trees)
        print(f"{args.trees[1]} against {args.trees[0]}: CPU per block x{b / a:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
