"""The paper's Table I on the embedded ledger: 10 training clients x 100 transactions each on
one sub-chain, transaction payloads of 32 B, 8 KiB, 16 KiB and 32 KiB, accumulator and 2-of-any
endorsement on (the deployment's defaults), every block durable (SQLite WAL, synchronous=FULL)
on every peer before a client is told.

Each row runs twice on one deployment. Paced: every client thread signs and submits at a
fixed rate (like a Caliper fixed-rate driver), the goal's throughput / clients each (--rate
overrides it). Burst: everything at once, queued (its latency is mostly queueing). Latency is
from just before the client signs to the moment every peer has committed the block (the
client's receipt, whose block the other peers attest); throughput is transactions /
(last commit - first submission).

The goal (embedded: >= 10x the paper's throughput and <= 1/10 of its average latency; the
cluster: 5x and 1/5) is judged on the burst's throughput (what the deployment sustains) and
the paced run's average latency (latency at an offered load that meets the throughput goal,
not behind an unbounded queue). Both runs also report the CPU seconds per 1000 transactions
summed over every process of the run (utime + stime of this process - the clients - and, on
the cluster, of every etcd member and node): a figure that load on a shared machine disturbs
far less than throughput.

    python bench/table1.py                   # the four rows beside the paper's figures
    python bench/table1.py --burst --sizes 32
    python bench/table1.py --cluster         # the same on the distributed deployment (needs etcd)
    EDGEACC_TRACE=FILE python bench/table1.py --cluster --paced
        # FILE gets a JSON line per transaction (submitted, committed: perf_counter; its block)
        # and, from the cutter, one per block with its stage times (ledger.cluster.node)
    python bench/trace_stages.py FILE    # the mean latency of each stage per transaction
"""
from __future__ import annotations

import argparse
import contextlib
import json
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


GOAL = {False: 10, True: 5}  # cluster? -> the factor on the paper's throughput and latency
DEFAULT_RATE = 1000.0        # tx/s offered by the paced run of a payload size the paper lacks


@dataclass
class Run:
    max_latency: float
    avg_latency: float
    throughput: float
    blocks: int
    cpu_per_1000: float  # CPU seconds per 1000 transactions, every process of the run


@dataclass
class Row:
    size: int
    offered: float      # tx/s of the paced run (every client together)
    paced: Run | None
    burst: Run | None


def goal_rate(size: int, cluster: bool) -> float:
    """The throughput goal of a row in tx/s (GOAL x the paper's)."""
    return GOAL[cluster] * PAPER[size][2]


def run(size: int, clients: int, per_client: int, rate: float | None, peers: int, workdir: str,
        cluster: bool = False, modes: tuple[str, ...] = ("paced", "burst"), settings: dict | None = None) -> Row:
    """One row on a fresh deployment: `clients` threads each submitting `per_client` records,
    paced at `rate` per client (default: the goal's rate) and/or all at once. `settings`: the
    cluster's deployment settings beyond local.create's (cut_ahead, ...)."""
    rate = rate or (goal_rate(size, cluster) if size in PAPER else DEFAULT_RATE) / clients
    if cluster:
        with _cluster(os.path.join(workdir, f"cluster-{size}"), clients, peers, settings or {}) as (submitters, pids):
            return _row(size, clients, per_client, rate, submitters, pids, modes)
    with ledger.Network.init(os.path.join(workdir, f"net-{size}"), subchains=1, peers_per_chain=peers) as net:
        signers = [net.identity(f"trainer-{i}", role="client") for i in range(clients)]
        return _row(size, clients, per_client, rate,
                    [lambda data, s=s: net.submit("edge-0", data, signer=s) for s in signers], [], modes)


def _row(size, clients, per_client, rate, submitters, pids, modes) -> Row:
    runs = {m: _measure(size, clients, per_client, rate if m == "paced" else None, submitters, pids)
            for m in modes}
    return Row(size, rate * clients, runs.get("paced"), runs.get("burst"))


@contextlib.contextmanager
def _cluster(directory: str, clients: int, peers: int, settings: dict):
    """The distributed deployment on loopback (3-member etcd, every peer its own process), with
    deployment `settings`; one connection per training client, each with its own certificate.
    Yields the submitters and the pids of the etcd members and nodes."""
    from ledger.cluster import authority, local

    local.create(directory, subchains=1, peers_per_chain=peers)
    if settings:
        path = os.path.join(directory, "deployment.json")
        with open(path) as f:
            deployment = json.load(f)
        with open(path, "w") as f:
            json.dump({**deployment, **settings}, f, indent=2)
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
        pids = [p.pid for p in cluster.etcd.processes if p is not None] + \
               [p.pid for p in cluster.nodes.values() if p is not None]
        yield [lambda data, c=c: c.submit("edge-0", data) for c in connections], pids
    finally:
        for c in connections:
            c.close()
        cluster.down()


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of this process and of `pids` (a process that is gone counts 0)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = sum(os.times()[:2])
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            pass
    return total


def _measure(size: int, clients: int, per_client: int, rate: float | None, submitters, pids=()) -> Run:
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
    cpu_before = cpu_seconds(list(pids))
    for t in threads:
        t.start()
    t0_box.append(time.perf_counter() + 0.05)
    start.wait()
    for t in threads:
        t.join()
    receipts = [p.result(120) for ps in pendings for p in ps]  # raises if any was rejected
    cpu = cpu_seconds(list(pids)) - cpu_before
    latencies = [c - s for cs, ss in zip(committed, submitted) for c, s in zip(cs, ss)]
    if os.environ.get("EDGEACC_TRACE"):  # the per-transaction series beside the cutter's per-block lines
        with open(os.environ["EDGEACC_TRACE"], "a") as f:
            for ss, cs, ps in zip(submitted, committed, pendings):
                for s, c, p in zip(ss, cs, ps):
                    f.write(json.dumps({"size": size, "paced": bool(rate), "s": s, "c": c,
                                        "h": p.result().height}) + "\n")
    first = min(min(s) for s in submitted)
    last = max(max(c) for c in committed)
    return Run(max(latencies), sum(latencies) / len(latencies), len(latencies) / (last - first),
               len({r.height for r in receipts}), 1000 * cpu / len(latencies))


def met(row: Row, cluster: bool) -> bool:
    """The goal (module docstring): the burst's throughput and the paced run's average latency."""
    factor, (_, pavg, ptp) = GOAL[cluster], PAPER[row.size]
    return (row.burst is not None and row.burst.throughput >= factor * ptp
            and row.paced is not None and row.paced.avg_latency <= pavg / factor)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--tx-per-client", type=int, default=100)
    ap.add_argument("--sizes", default="32,8192,16384,32768", help="payload sizes in bytes")
    ap.add_argument("--rate", type=float, default=None,
                    help="paced run: transactions per second per client (default: the goal's throughput / clients)")
    ap.add_argument("--burst", action="store_true", help="the burst run only (no paced run)")
    ap.add_argument("--paced", action="store_true", help="the paced run only (no burst run)")
    ap.add_argument("--peers", type=int, default=2, help="peers on the sub-chain (2-of-any endorsement)")
    ap.add_argument("--cluster", action="store_true",
                    help="the distributed deployment: a 3-member etcd and every peer its own process (needs etcd)")
    ap.add_argument("--cut-ahead", type=int, choices=(0, 1), default=None,
                    help="the cluster's cutter proposes this many blocks on the one being appended (node.CUT_AHEAD)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = ("burst",) if args.burst else ("paced",) if args.paced else ("paced", "burst")
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgeacc-table1-") as workdir:
        for size in tqdm(sizes, desc="Table I", unit="row", file=sys.stderr):
            rows.append(run(size, args.clients, args.tx_per_client, args.rate, args.peers, workdir, args.cluster,
                            modes, {} if args.cut_ahead is None else {"cut_ahead": args.cut_ahead}))
    factor = GOAL[args.cluster]
    where = "cluster: 3-member etcd, peers as processes, gRPC mTLS" if args.cluster else "embedded"
    print(f"Table I ({where}): {args.clients} clients x {args.tx_per_client} tx, one sub-chain, {args.peers} peers, "
          f"2-of-any endorsement, accumulator on; {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    print(f"goal: burst tx/s >= {factor}x the paper's, paced avg latency <= 1/{factor} of the paper's "
          "(paced: the goal's rate, offered evenly by every client)")
    print(f"{'payload':>8} | {'run':>5} {'offered':>8} | {'max lat (s)':>11} {'avg lat (s)':>11} {'paper':>6} | "
          f"{'tx/s':>8} {'paper':>7} {'x paper':>7} | {'blocks':>6} | {'CPU s/1000 tx':>13} | goal")
    all_met = True
    for r in rows:
        pmax, pavg, ptp = PAPER.get(r.size, (float("nan"),) * 3)
        ok = r.size in PAPER and met(r, args.cluster)
        all_met &= ok
        verdict = ("met" if ok else "NOT met") if r.paced and r.burst else "- (needs both runs)"
        for name, m in (("paced", r.paced), ("burst", r.burst)):
            if m is None:
                continue
            offered = f"{r.offered:8.0f}" if name == "paced" else f"{'all':>8}"
            print(f"{r.size:>8} | {name:>5} {offered} | {m.max_latency:>11.4f} {m.avg_latency:>11.4f} {pavg:>6.2f} | "
                  f"{m.throughput:>8.1f} {ptp:>7.2f} {m.throughput / ptp:>7.1f} | {m.blocks:>6} | "
                  f"{m.cpu_per_1000:>13.2f} | {verdict if m is (r.burst or r.paced) else ''}")
    return 0 if all_met else 1


if __name__ == "__main__":
    raise SystemExit(main())
