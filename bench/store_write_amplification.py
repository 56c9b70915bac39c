"""Write amplification of ledger.store alone (issue 13): N durable appends of blocks of SIZE
random bytes holding T transactions (random ids), then close; prints the bytes this process
passed to write() and the bytes it queued for the device (/proc/self/io wchar, write_bytes),
each over the blocks' bytes. No crypto, no chain: the store's own cost, at index sizes the
full bench (bench/ledger_age.py, durable path) takes hours to reach.

    python bench/store_write_amplification.py --blocks 20000 --txs 100 --size 15700   # 2*10^6 rows
    python bench/store_write_amplification.py --blocks 100000 --txs 1 --size 790
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ledger_age import written_bytes  # noqa: E402
from ledger.store import PeerStore  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=20000)
    ap.add_argument("--txs", type=int, default=100, help="transactions a block")
    ap.add_argument("--size", type=int, default=15700, help="bytes a block")
    args = ap.parse_args(argv)
    if min(args.blocks, args.size) < 1 or args.txs < 0:
        ap.error("--blocks and --size must be at least 1, --txs at least 0")  # (the ratios divide by the bytes)
    with tempfile.TemporaryDirectory(prefix="edgeacc-store-wa-", dir=os.environ.get("TMPDIR")) as tmp:
        store = PeerStore(Path(tmp) / "p.sqlite", "edge-0")
        start, t0, stored = written_bytes(), time.perf_counter(), 0
        for height in range(args.blocks):
            data = os.urandom(args.size)
            store.append(height, hashlib.sha256(data).digest(), data, [os.urandom(32) for _ in range(args.txs)])
            stored += len(data)
        store.close()
        end = written_bytes()
        print(f"blocks {args.blocks} x {args.txs} tx x {args.size} B: write() {(end[0] - start[0]) / stored:.2f}x, "
              f"device {(end[1] - start[1]) / stored:.2f}x the stored bytes, "
              f"SQLite file {os.path.getsize(Path(tmp) / 'p.sqlite') / 1e6:.1f} MB, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
