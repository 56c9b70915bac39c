"""Measure distributed modulus generation (issue 6): wall time, messages and bytes per
party, candidates tried and how well sieving and trial division work, as the median of
several ceremonies per (bits, k).

    python bench/dkg_run.py --bits 1024 2048 --parties 3 5 --runs 5 [--in-process] [--json out.json]

Process mode (the default) starts one OS process per party over TLS on loopback, exactly as
``python -m edgeacc.dkg ceremony`` does.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from edgeacc.dkg import DkgConfig, run_in_process
from edgeacc.dkg import math as dm
from edgeacc.dkg.party import run_ceremony


def measure(bits: int, parties: int, runs: int, in_process: bool, batch_size: int) -> dict:
    rows = []
    for _ in range(runs):
        config = DkgConfig(parties=parties, bits=bits, batch_size=batch_size, timeout=120)
        start = time.perf_counter()
        result = run_in_process(config).result if in_process else run_ceremony(config)
        wall = time.perf_counter() - start
        first = result.stats[0]
        rows.append({
            "wall_seconds": wall,
            "candidates": first.candidates,
            "trial_division_survivors": first.trial_division_survivors,
            "biprimality_tests": first.biprimality_tests,
            "messages_sent_per_party": statistics.median(s.messages_sent for s in result.stats),
            "bytes_sent_per_party": statistics.median(s.bytes_sent for s in result.stats),
            "bytes_received_per_party": statistics.median(s.bytes_received for s in result.stats),
        })
        print(f"  bits={bits} k={parties}: {wall:.1f} s, {first.candidates} candidates", flush=True)
    lay = dm.layout(bits, parties)
    summary = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    summary.update(
        bits=bits, parties=parties, runs=runs, mode="in-process" if in_process else "processes",
        wall_seconds_min=min(r["wall_seconds"] for r in rows),
        wall_seconds_max=max(r["wall_seconds"] for r in rows),
        sieve_primes=f"5..{lay.sieve_primes[-1]} ({len(lay.sieve_primes)} primes, M of "
                     f"{lay.sieve_modulus.bit_length()} bits)",
        expected_candidates_sieved=round(lay.expected_candidates()),
        expected_candidates_unsieved=round(lay.unsieved_candidates()),
        trial_division_survival=summary["trial_division_survivors"] / summary["candidates"],
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bits", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument("--parties", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--json", help="also write the summaries to this file")
    args = parser.parse_args()
    summaries = []
    for bits in args.bits:
        for parties in args.parties:
            summary = measure(bits, parties, args.runs, args.in_process, args.batch_size)
            summaries.append(summary)
            print(json.dumps(summary), flush=True)
    print("\n| bits | k | runs | median wall s (min–max) | candidates | past trial div. | "
          "msgs sent/party | MB sent/party | expected cand. sieved / unsieved |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        print(f"| {s['bits']} | {s['parties']} | {s['runs']} | {s['wall_seconds']:.1f} "
              f"({s['wall_seconds_min']:.1f}–{s['wall_seconds_max']:.1f}) | {s['candidates']:.0f} | "
              f"{s['trial_division_survival']:.0%} | {s['messages_sent_per_party']:.0f} | "
              f"{s['bytes_sent_per_party'] / 1e6:.1f} | {s['expected_candidates_sieved']} / "
              f"{s['expected_candidates_unsieved']} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(summaries, out, indent=1)


if __name__ == "__main__":
    main()
