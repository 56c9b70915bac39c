"""The distributed deployment's recovery figures on loopback: the block cutter's failover time
and the catch-up rate of a restarted peer.

One sub-chain with 3 peers (2-of-any), a 3-member etcd. Failover: a client submits one record
after another; the cutter is killed (kill -9); the figure is the time from the kill to the next
acknowledged record (the lease expiring, another peer winning the election, the client's
resubmission). Catch-up: a peer is killed, the chain grows by --blocks blocks, the peer is
restarted; the figure is the blocks it read from etcd and validated per second before serving.

    python bench/cluster_faults.py [--blocks 300]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time



def main(argv=None) -> int:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from cluster_helpers import Harness  # the test suite's loopback harness (imported here: asv
    # imports every module of bench/ to discover benchmarks)

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=300, help="blocks the stopped peer misses")
    ap.add_argument("--tx-per-block", type=int, default=10)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgeacc-faults-") as workdir:
        h = Harness(os.path.join(workdir, "c")).start()
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
            victim = next(n for n in h.names if n != h.wait_cutter())
            h.cluster.kill_node(victim)
            for b in range(args.blocks):
                pendings = client.submit_transactions([client.record(h.chain, b"b%d-%d" % (b, i))
                                                       for i in range(args.tx_per_block)])
                for p in pendings:
                    p.result(60)
            h.restart_node(victim)
            start = h.status(victim)["start"]
            rate = start["caught_up"] / start["catch_up_seconds"]
            print(f"catch-up of a restarted peer: {start['caught_up']} blocks ({args.tx_per_block} tx each) read "
                  f"from etcd and validated in {start['catch_up_seconds']:.2f} s = {rate:.0f} blocks/s "
                  f"(after re-validating its {start['stored']} stored blocks in {start['load_seconds']:.2f} s)")
        finally:
            h.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
