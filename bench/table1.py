"""The paper's Table I on the embedded ledger: 10 training clients x 100 transactions each on
one sub-chain, transaction payloads of 32 B, 8 KiB, 16 KiB and 32 KiB, accumulator and 2-of-any
endorsement on (the deployment's defaults), every block durable (SQLite WAL, synchronous=FULL)
on every peer before a client is told.

Each client thread signs and submits its transactions at a fixed rate (--rate per client,
like a Caliper fixed-rate driver); --burst submits everything at once instead. Latency is
from just before the client signs to the moment every peer has committed the block;
throughput is transactions / (last commit - first submission).

    python bench/table1.py                   # the four rows beside the paper's figures
    python bench/table1.py --burst --sizes 32
    python bench/table1.py --cluster         # the same on the distributed deployment (needs etcd)
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from tqdm import tqdm

import ledger

PAPER = {  # payload bytes: (max latency s, avg latency s, throughput tx/s), Hyperledger Fabric
    32: (0.65, 0.33, 193.33),
    8192: (0.70, 0.41, 173.04),
    16384: (0.97, 0.54, 131.98),
    32768: (2.35, 1.09, 65.69),
}


@dataclass
class Row:
    size: int
    max_latency: float
    avg_latency: float
    throughput: float
    blocks: int


def run(size: int, clients: int, per_client: int, rate: float | None, peers: int, workdir: str,
        cluster: bool = False) -> Row:
    """One row: a fresh deployment, `clients` threads each submitting `per_client` records."""
    if cluster:
        with _cluster(os.path.join(workdir, f"cluster-{size}"), clients, peers) as submitters:
            return _measure(size, clients, per_client, rate, submitters)
    with ledger.Network.init(os.path.join(workdir, f"net-{size}"), subchains=1, peers_per_chain=peers) as net:
        signers = [net.identity(f"trainer-{i}", role="client") for i in range(clients)]
        return _measure(size, clients, per_client, rate,
                        [lambda data, s=s: net.submit("edge-0", data, signer=s) for s in signers])


@contextlib.contextmanager
def _cluster(directory: str, clients: int, peers: int):
    """The distributed deployment on loopback (3-member etcd, every peer its own process);
    one connection per training client, each with its own certificate."""
    from ledger.cluster import authority, local

    local.create(directory, subchains=1, peers_per_chain=peers)
    cluster = local.LocalCluster(directory).up()
    connections = []
    try:
        for i in range(clients):
            creds = authority.issue(os.path.join(directory, "ca"), f"trainer-{i}", "client",
                                    os.path.join(directory, "clients", f"trainer-{i}"))
            connections.append(ledger.connect({"name": f"trainer-{i}", "credentials": str(creds),
                                               "deployment": os.path.join(directory, "deployment.json")}))
        for c in connections:  # registration and channel set-up outside the measurement
            c.submit("edge-0", b"warm-up").result(60)
        yield [lambda data, c=c: c.submit("edge-0", data) for c in connections]
    finally:
        for c in connections:
            c.close()
        cluster.down()


def _measure(size: int, clients: int, per_client: int, rate: float | None, submitters) -> Row:
    payloads = [[os.urandom(size) for _ in range(per_client)] for _ in range(clients)]
    submitted: list[list[float]] = [[0.0] * per_client for _ in range(clients)]
    committed: list[list[float]] = [[0.0] * per_client for _ in range(clients)]
    pendings: list[list] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    t0_box: list[float] = []

    def client(i: int) -> None:
        start.wait()
        t0 = t0_box[0]
        for j in range(per_client):
            if rate:
                delay = t0 + (j + i / clients) / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            submitted[i][j] = time.perf_counter()
            p = submitters[i](payloads[i][j])
            p.add_done_callback(lambda _p, i=i, j=j: committed[i].__setitem__(j, time.perf_counter()))
            pendings[i].append(p)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    t0_box.append(time.perf_counter() + 0.05)
    start.wait()
    for t in threads:
        t.join()
    receipts = [p.result(120) for ps in pendings for p in ps]  # raises if any was rejected
    latencies = [c - s for cs, ss in zip(committed, submitted) for c, s in zip(cs, ss)]
    first = min(min(s) for s in submitted)
    last = max(max(c) for c in committed)
    return Row(size, max(latencies), sum(latencies) / len(latencies), len(latencies) / (last - first),
               len({r.height for r in receipts}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--tx-per-client", type=int, default=100)
    ap.add_argument("--sizes", default="32,8192,16384,32768", help="payload sizes in bytes")
    ap.add_argument("--rate", type=float, default=250.0, help="transactions per second per client")
    ap.add_argument("--burst", action="store_true", help="submit everything at once (no pacing)")
    ap.add_argument("--peers", type=int, default=2, help="peers on the sub-chain (2-of-any endorsement)")
    ap.add_argument("--cluster", action="store_true",
                    help="the distributed deployment: a 3-member etcd and every peer its own process (needs etcd)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rate = None if args.burst else args.rate
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgeacc-table1-") as workdir:
        for size in tqdm(sizes, desc="Table I", unit="row", file=sys.stderr):
            rows.append(run(size, args.clients, args.tx_per_client, rate, args.peers, workdir, args.cluster))
    load = "burst" if args.burst else f"{args.rate:g} tx/s per client ({args.rate * args.clients:g} tx/s offered)"
    where = "cluster: 3-member etcd, peers as processes, gRPC mTLS" if args.cluster else "embedded"
    print(f"Table I ({where}): {args.clients} clients x {args.tx_per_client} tx, one sub-chain, {args.peers} peers, "
          f"2-of-any endorsement, accumulator on, {load}; {os.cpu_count()} CPUs")
    print(f"{'payload':>8} | {'max lat (s)':>11} {'paper':>6} | {'avg lat (s)':>11} {'paper':>6} | "
          f"{'tx/s':>8} {'paper':>7} {'x paper':>7} | {'blocks':>6} | goal (>=10x tx/s, <=1/10 avg lat)")
    all_met = True
    for r in rows:
        pmax, pavg, ptp = PAPER.get(r.size, (float("nan"),) * 3)
        met = r.throughput >= 10 * ptp and r.avg_latency <= pavg / 10
        all_met &= met
        print(f"{r.size:>8} | {r.max_latency:>11.4f} {pmax:>6.2f} | {r.avg_latency:>11.4f} {pavg:>6.2f} | "
              f"{r.throughput:>8.1f} {ptp:>7.2f} {r.throughput / ptp:>7.1f} | {r.blocks:>6} | "
              f"{'met' if met else 'NOT met'}")
    return 0 if all_met else 1


if __name__ == "__main__":
    raise SystemExit(main())
