"""Catch-up of a restarted peer alone, two code trees alternating on one grown chain: the
figure bench/cluster_faults.py prints as "catch-up from etcd" (or, with --trim, "from peers"),
without the failover part, repeated on the same log so trees compare in the same minutes.

One sub-chain with 3 peers (2-of-any), a 3-member etcd, run from this tree. A peer that is not
the cutter is killed, the chain grows by --blocks rounds of --tx-per-block records, the
peer's directory is copied. Then for each run and each tree of --trees (alternating): the
other two peers are restarted under that tree (they serve Body, Header, Block), the copy is
put back, and the peer is built under that tree in a process of its own (DRIVER) whose first
sync - the catch-up - is timed: wall seconds and the process's CPU seconds (all its threads),
and the serving peers' CPU seconds meanwhile (/proc). CPU per block is the figure to compare
on a shared machine; wall blocks/s is what cluster_faults.py prints.

    python bench/catch_up.py [--blocks 300] [--runs 3] [--trees BASELINE_TREE .] [--trim 0]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_node(cluster, name: str, tree: str) -> None:
    """Start peer `name` with `tree` first on its PYTHONPATH (LocalCluster.start_node, another tree)."""
    node_dir = cluster.directory / "nodes" / name
    with open(node_dir / "node.log", "ab") as log:
        cluster.nodes[name] = subprocess.Popen([sys.executable, "-m", "ledger.cli", "node", str(node_dir / "node.json")],
                                               stdout=log, stderr=log, start_new_session=True, cwd=tree,
                                               env={**os.environ, "PYTHONPATH": str(Path(tree).resolve())})


# The restarted peer: a Node built in this process (its first sync, in __init__, is the
# catch-up), timed in wall and process CPU seconds (every thread: etcd's, gRPC's), then gone.
DRIVER = """
import json, logging, os, sys, time
from pathlib import Path
from ledger.cluster import node
logging.basicConfig(level=logging.WARNING)
first, sync = {}, node.Node.sync
def threads():
    out = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as f:
                name, _, rest = f.read().partition("(")[2].rpartition(")")
            fields = rest.split()
            out[task] = (name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
        except OSError:
            pass
    return out
def timed(self):
    if first:
        return sync(self)
    cpu, wall, before = time.process_time(), time.perf_counter(), threads()
    first["started"] = True
    try:
        return sync(self)
    finally:
        first.update(cpu=time.process_time() - cpu, wall=time.perf_counter() - wall)
        by_name = {}
        for task, (name, seconds) in threads().items():
            by_name[name] = by_name.get(name, 0.0) + seconds - before.get(task, (name, 0.0))[1]
        first["threads"] = {k: round(v, 3) for k, v in sorted(by_name.items(), key=lambda kv: -kv[1]) if v > 0}
node.Node.sync = timed
config = Path(sys.argv[1])
n = node.build(node.Node, json.loads(config.read_text()), config.parent, config)
print(json.dumps({**first, "module": node.__file__, "start": n.catch_up, "log": n.follower.status()}, default=str), flush=True)
os._exit(0)
"""


def run_restarted(node_dir: Path, tree: str, profile: str | None) -> dict:
    """The restarted peer's catch-up figures (DRIVER), under py-spy when `profile` (a file:
    its raw stacks, idle ones included)."""
    spy = ["py-spy", "record", "--idle", "--threads", "--format", "raw", "-r", "250", "-o", profile, "--"] \
        if profile else []
    out = subprocess.run(spy + [sys.executable, "-c", DRIVER, str(node_dir / "node.json")], check=True,
                         capture_output=True, text=True, timeout=600, cwd=tree,  # (-c and -m import from the cwd first)
                         env={**os.environ, "PYTHONPATH": str(Path(tree).resolve())})
    st = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("{")))
    if not Path(st["module"]).resolve().is_relative_to(Path(tree).resolve()):
        raise SystemExit(f"the restarted peer ran {st['module']}, not {tree}'s")
    return st


def main(argv=None) -> int:
    here = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(here / "tests"))
    from cluster_helpers import Harness  # (imported here: asv imports every module of bench/)

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=300, help="blocks the stopped peer misses")
    ap.add_argument("--blocks-before", type=int, default=20, help="blocks it stores before it stops")
    ap.add_argument("--tx-per-block", type=int, default=10)
    ap.add_argument("--trim", type=int, default=0, help="trim_blocks (0: no trim, all from etcd)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--trees", nargs="+", default=[str(here)],
                    help="code trees to alternate (e.g. a worktree of main, then this one); default: this tree")
    ap.add_argument("--profile", help="a directory: each restarted peer runs under py-spy (slower), its raw "
                                      "stacks, idle ones included, to DIR/TREE-RUN.txt")
    args = ap.parse_args(argv)
    results: dict[str, list[dict]] = {t: [] for t in args.trees}
    with tempfile.TemporaryDirectory(prefix="edgeacc-catchup-") as workdir:
        h = Harness(os.path.join(workdir, "c"), trim_blocks=args.trim).start()
        try:
            client = h.client
            for i in range(args.blocks_before):
                client.submit(h.chain, b"warm-up %d" % i).result(60)
            h.wait_heights_equal()
            victim = next(n for n in h.names if n != h.wait_cutter())
            servers = [n for n in h.names if n != victim]
            h.cluster.kill_node(victim)
            for b in range(args.blocks):
                for p in client.submit_transactions([client.record(h.chain, b"b%d-%d" % (b, i))
                                                     for i in range(args.tx_per_block)]):
                    p.result(60)
            victim_dir = h.cluster.directory / "nodes" / victim
            copy = Path(workdir) / "victim"
            shutil.copytree(victim_dir, copy)
            for run in range(args.runs):
                for tree in args.trees:
                    for name in servers:
                        h.cluster.kill_node(name)
                    for name in servers:
                        start_node(h.cluster, name, tree)
                    h.cluster.wait_ready(60, names=servers)
                    shutil.rmtree(victim_dir)
                    shutil.copytree(copy, victim_dir)
                    profile = (os.path.join(os.path.abspath(args.profile), f"{Path(tree).resolve().name}-{run}.txt")
                               if args.profile else None)
                    before = {n: cpu_seconds(h.cluster.nodes[n].pid) for n in servers}
                    st = run_restarted(victim_dir, tree, profile)
                    served = sum(cpu_seconds(h.cluster.nodes[n].pid) - before[n] for n in servers)
                    start, peers = st["start"], st["log"]["from_peers"]
                    r = {"blocks": start["caught_up"], "seconds": st["wall"], "cpu": st["cpu"],
                         "servers_cpu": served, "peers_blocks": peers.get("blocks", 0),
                         "peers_seconds": peers.get("seconds", 0.0), "fetched": st["log"]["fetched"]}
                    results[tree].append(r)
                    print(f"run {run} {tree}: {r['blocks']} blocks in {r['seconds']:.2f} s = "
                          f"{r['blocks'] / r['seconds']:.0f} blocks/s"
                          + (f" ({r['peers_blocks']} from peers in {r['peers_seconds']:.2f} s = "
                             f"{r['peers_blocks'] / max(r['peers_seconds'], 1e-9):.0f}/s)" if r["peers_blocks"] else "")
                          + f"; CPU ms/block: restarted peer {1000 * r['cpu'] / r['blocks']:.2f}, serving peers "
                          f"{1000 * served / r['blocks']:.2f}; fetched {r['fetched']}; CPU s by thread {st.get('threads')}", flush=True)
        finally:
            h.stop()
    def median(xs):
        return sorted(xs)[len(xs) // 2]
    print(f"\n{'tree':32} {'blocks/s (each run)':24} {'CPU ms/block (each run)':28} {'servers':>8}")
    summary = {}
    for tree, rs in results.items():
        rates = [r["blocks"] / r["seconds"] for r in rs]
        cpus = [1000 * r["cpu"] / r["blocks"] for r in rs]
        served = 1000 * sum(r["servers_cpu"] for r in rs) / sum(r["blocks"] for r in rs)
        summary[tree] = median(rates), median(cpus)
        print(f"{tree:32} {' '.join(f'{x:.0f}' for x in rates):24} {' '.join(f'{x:.2f}' for x in cpus):28} "
              f"{served:8.2f}")
    if len(args.trees) == 2:
        (rate_a, cpu_a), (rate_b, cpu_b) = (summary[t] for t in args.trees)
        print(f"{args.trees[1]} against {args.trees[0]} (medians): rate x{rate_b / rate_a:.2f}, "
              f"restarted peer's CPU per block x{cpu_b / cpu_a:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
