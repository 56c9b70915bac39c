"""The distributed deployment's recovery figures on loopback: the block cutter's failover time
and the catch-up rate of a restarted peer, from etcd and from the other peers.

One sub-chain with 3 peers (2-of-any), a 3-member etcd. Failover: a client submits one record
after another; the cutter is killed (kill -9); the figure is the time from the kill to the next
acknowledged record (the lease expiring, another peer winning the election, the client's
resubmission). Catch-up: a peer is killed, the chain grows by --blocks blocks, the peer is
restarted; the figure is the blocks it validated per second before serving. From etcd: the log
is not trimmed (trim_blocks 0), every missed block is read from etcd. From peers: a second
deployment trims the log every --trim blocks while the peer is down, so the restarted peer
fetches the trimmed blocks from another peer (headers chained to the attested checkpoint, then
every block validated), the rest from etcd.

    python bench/cluster_faults.py [--blocks 300] [--trim 100]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time



def _restarted_after(h, args, status=False):
    """Kill a peer that is not the cutter, grow the chain by args.blocks blocks, restart it:
    its start figures (and its whole status)."""
    client = h.client
    victim = next(n for n in h.names if n != h.wait_cutter())
    h.cluster.kill_node(victim)
    for b in range(args.blocks):
        for p in client.submit_transactions([client.record(h.chain, b"b%d-%d" % (b, i))
                                             for i in range(args.tx_per_block)]):
            p.result(60)
    h.restart_node(victim)
    h.wait_heights_equal()
    st = h.status(victim)
    return (st["start"], st) if status else st["start"]


def main(argv=None) -> int:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from cluster_helpers import Harness  # the test suite's loopback harness (imported here: asv
    # imports every module of bench/ to discover benchmarks)

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=300, help="blocks the stopped peer misses")
    ap.add_argument("--tx-per-block", type=int, default=10)
    ap.add_argument("--trim", type=int, default=100, help="trim_blocks of the deployment that trims")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgeacc-faults-") as workdir:
        h = Harness(os.path.join(workdir, "c"), trim_blocks=0).start()
        try:
            client = h.client
            for i in range(20):
                client.submit(h.chain, b"warm-up %d" % i).result(60)
            cutter = h.wait_cutter()
            h.cluster.kill_node(cutter)
            killed = time.monotonic()
            client.submit(h.chain, b"after the kill").result(60)
            failover = time.monotonic() - killed
            print(f"block cutter failover: {failover:.2f} s from kill -9 of {cutter} to the next "
                  f"acknowledged record (lease TTL {h.cluster.deployment['cutter_ttl']} s)")
            h.restart_node(cutter)
            start = _restarted_after(h, args)
            rate = start["caught_up"] / start["catch_up_seconds"]
            print(f"catch-up of a restarted peer from etcd: {start['caught_up']} blocks ({args.tx_per_block} tx "
                  f"each) read and validated in {start['catch_up_seconds']:.2f} s = {rate:.0f} blocks/s "
                  f"(after re-validating its {start['stored']} stored blocks in {start['load_seconds']:.2f} s)")
        finally:
            h.stop()
        h = Harness(os.path.join(workdir, "t"), trim_blocks=args.trim).start()
        try:
            start, status = _restarted_after(h, args, status=True)
            peers = status["log"]["from_peers"]
            print(f"catch-up of a restarted peer from the other peers (log trimmed every {args.trim} blocks): "
                  f"{peers['blocks']} blocks fetched, checked against the attested checkpoint and validated in "
                  f"{peers['seconds']:.2f} s = {peers['blocks'] / max(peers['seconds'], 1e-9):.0f} blocks/s, "
                  f"then {start['caught_up'] - peers['blocks']} from etcd; all {start['caught_up']} in "
                  f"{start['catch_up_seconds']:.2f} s")
        finally:
            h.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
