"""Where a cluster transaction's latency goes, from an EDGEACC_TRACE file of bench/table1.py:

    EDGEACC_TRACE=/tmp/trace.jsonl python bench/table1.py --cluster --paced --sizes 32 --tx-per-client 1000
    python bench/trace_stages.py /tmp/trace.jsonl

The cutter writes one line per block (ledger.cluster.node: when its cut started and the
seconds of each stage: propose, Endorse, etcd append, store, the other peers' Stored), table1
one per transaction (submitted, committed, its block). Per transaction: the queue (from just
before signing to its block's cut: signing, sending, waiting for the cut in progress), each
stage of its block, and delivery (from the last attestation to the client's receipt check).
It measures, it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import statistics

STAGES = ("propose", "endorse", "append", "store", "attest")


def breakdown(lines) -> tuple[dict[str, list[float]], int]:
    """stage -> the seconds of every transaction whose block the trace has; and the block count."""
    blocks, txs = {}, []
    for line in lines:
        if line.strip():
            record = json.loads(line)
            if "stages" in record:
                blocks[record["h"]] = record
            else:
                txs.append(record)
    series: dict[str, list[float]] = {name: [] for name in ("queue", *STAGES, "deliver", "total")}
    for tx in txs:
        block = blocks.get(tx["h"])
        if block is None or len(block["stages"]) != len(STAGES):  # (a block not stored: no stages)
            continue
        series["queue"].append(block["t"] - tx["s"])
        for name, seconds in zip(STAGES, block["stages"]):
            series[name].append(seconds)
        series["deliver"].append(tx["c"] - block["t"] - sum(block["stages"]))
        series["total"].append(tx["c"] - tx["s"])
    return series, len(blocks)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace", help="the EDGEACC_TRACE file")
    args = ap.parse_args(argv)
    with open(args.trace) as f:
        series, blocks = breakdown(f)
    count = len(series["total"])
    if not count:
        print("no transaction of the trace has its block's stage line")
        return 1
    print(f"{count} transactions in {blocks} blocks ({count / blocks:.1f} per block)")
    for name, values in series.items():
        print(f"{name:>8}  mean {1000 * statistics.mean(values):7.2f} ms  median {1000 * statistics.median(values):7.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
