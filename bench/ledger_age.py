"""Costs against the chain's age (issue 13): build chains of N one-record blocks on one
sub-chain (2 peers, 2-of-any endorsement, an interlocking round every K blocks, every block
durable before it is reported: ledger.store), then, each in a fresh process: reopen time, the
prover's and the verifier's time of Protocol 1 (a verifier on the main chain) for the oldest,
a middle and the newest record (cold wall and CPU time, warm wall time: measure), resident
memory, and the bytes written per block (write() bytes during the build and the close over
the bytes stored; and the page-cache bytes it dirtied for the device, over the bytes
stored), and a table of every column at every size with its growth exponent between each two
consecutive sizes and the first and last (d log value / d log blocks; 0: independent of age,
1: linear).

    python bench/ledger_age.py                     # N = 1000, 10000
    python bench/ledger_age.py --sizes 10000,100000,1000000 --bulk --keep DIR
    python bench/ledger_age.py --sizes 10000,100000,1000000 --keep DIR --reuse   # measure again
    python bench/ledger_age.py --sizes 100000 --txs-per-block 100 --bulk   # 10^7 transactions
    python bench/ledger_age.py --breakdown DIR/chain-1000000   # where a reopen spends its time

--stop-after M stops a bulk build after M minutes (at an interlocking round) and measures the
prefix built (its rows are keyed by the blocks built).

--bulk builds with bulk_blocks (the same blocks, without syncs: ~1.7 ms of CPU a block, of
which ~0.6 ms hash-to-prime, the accumulator's and the continuity witness's exponentiations
and the signatures); the reopen, prover and verifier figures are measured on the normal code,
the bytes written are then those of a build without syncs (measure the write amplification
of the durable path without --bulk).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ledger  # noqa: E402
from ledger.protocol1 import check_cross_chain  # noqa: E402


def written_bytes() -> tuple[int, int]:
    """(bytes this process passed to write(), bytes it queued for the device) so far:
    /proc/self/io wchar and write_bytes (whole pages, each counted again when dirtied again
    after a sync; 0 where the kernel does not account block I/O)."""
    with open("/proc/self/io") as f:
        io = dict(line.split(": ") for line in f.read().splitlines())
    return int(io["wchar"]), int(io["write_bytes"])


def build(path: Path, n: int, interlock_blocks: int, txs_per_block: int = 1, bulk: bool = False,
          stop_at: float | None = None) -> dict:
    """N blocks of `txs_per_block` records on edge-0, an interlocking round every
    `interlock_blocks`; `bulk` builds them with bulk_blocks (same blocks, no fsync), stopping
    early after the first interlocking round past `stop_at` (time.time()) if given."""
    with ledger.Network.init(path, subchains=1, params=None, auto_interlock=False) as net:
        start, t0, cpu = written_bytes(), time.perf_counter(), time.process_time()
        if bulk:
            n = bulk_blocks(net, "edge-0", n, interlock_blocks, txs_per_block, stop_at)
        else:
            for i in tqdm(range(n), desc=f"building {n}", unit="blk", leave=False):
                net.submit_transactions([net.record("edge-0", b"reading %08d.%03d" % (i, j))
                                         for j in range(txs_per_block)])[-1].result()
                if (i + 1) % interlock_blocks == 0:
                    net.interlock()
        net.interlock()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu
        stored = blocks = 0
        for cid in net.chain_ids:
            peers = net.service(cid).peers
            stored += sum(len(data) for _, _, data in peers[0].store.blocks(0)) * len(peers)
            blocks += net.height(cid) * len(peers)
    end = written_bytes()  # (after close, which writes what is pending)
    written, device = end[0] - start[0], end[1] - start[1]
    return {"built_blocks": n, "build_s": seconds, "build_cpu_ms_per_block": cpu / n * 1e3, "written_per_block": written / blocks,
            "stored_per_block": stored / blocks, "write_amplification": written / stored,
            "device_write_amplification": device / stored}


BULK_BATCH = 256  # blocks whose transactions are signed and admitted together


def bulk_blocks(net: "ledger.Network", chain_id: str, n: int, interlock_blocks: int, txs_per_block: int,
                stop_at: float | None = None) -> int:
    """The bulk build path: the blocks the sequencer would build, byte for byte (the leader
    proposes, which checks each transaction and computes the element and value; the policy's
    peers endorse; every peer stores and applies it), driven from this thread without the
    sequencer's queue; interlocking rounds run the normal code. Shortcuts, for the build
    only: the records are made BULK_BATCH blocks at a time on another thread (_records) and
    taken as admitted (their signatures not checked again: the build signed them); the
    leader's validation stands for the other peers', and no peer checks the endorsements just
    made (bulk_store); the stores do not sync (PeerStore.set_durable(False), durable again
    after). A full re-validation on open accepts every block, and the blocks equal the
    sequencer's (tests/test_ledger_age.py); the measured reopen, prover and verifier run the
    normal code. Stops after the first interlocking round once time.time() passes `stop_at`;
    returns the number of blocks built."""
    service = net.service(chain_id)
    leader = service.leader
    stores = [p.store for s in net.services.values() for p in s.peers]
    for store in stores:
        store.set_durable(False)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool, \
                tqdm(total=n, desc=f"bulk {n}", unit="blk", leave=False, mininterval=5) as bar:
            firsts = range(0, n, BULK_BATCH)
            batch = pool.submit(_records, net, chain_id, range(0, min(BULK_BATCH, n)), txs_per_block)
            for first in firsts:
                heights, batches = batch.result()
                with leader._lock:
                    leader._admitted.update((tx.tx_id, tx.signature) for txs in batches for tx in txs)
                if first + BULK_BATCH < n:  # (the next batch on the other thread meanwhile)
                    batch = pool.submit(_records, net, chain_id,
                                        range(first + BULK_BATCH, min(first + 2 * BULK_BATCH, n)), txs_per_block)
                for i, txs in zip(heights, batches):
                    block, rejected = leader._propose(txs)
                    assert not rejected, rejected
                    for peer in service.peers:  # the leader's validation stands for the endorsers'
                        peer._validated.add(block.digest)
                    block = service._endorsed(block)
                    for peer in service.peers:
                        bulk_store(peer, block)
                    if (i + 1) % interlock_blocks == 0:
                        net.interlock()
                        if stop_at is not None and time.time() > stop_at:
                            batch.cancel()
                            return i + 1
                bar.update(len(heights))
    finally:
        for store in stores:
            store.set_durable(True)
    return n


def _records(net: "ledger.Network", chain_id: str, heights: range, txs_per_block: int) -> tuple:
    """(heights, the signed records of each block): made on a thread beside the block loop,
    which spends much of its time in C without the GIL (hash_to_prime, the exponentiations)."""
    return heights, [[net.record(chain_id, b"reading %08d.%03d" % (i, j)) for j in range(txs_per_block)]
                     for i in heights]


def bulk_store(peer: "ledger.Peer", block: "ledger.Block") -> None:
    """Peer._commit without its checks (the leader validated `block`, its endorsements were
    just made): store and apply."""
    with peer._lock:
        peer._store_and_apply(block)


# (phase, the method whose calls it times, inclusive; the phases below a row are taken out of it)
OPEN_PHASES = (("store open", "ledger.store.PeerStore.__init__"),
               ("SHA-256 pass over the log", "ledger.store.PeerStore._hash_groups"),
               ("digests rows (read, hashed)", "ledger.store.PeerStore._hash_digest_rows"),
               ("offsets rows", "ledger.store.PeerStore._batched_offsets"),
               ("index sums", "ledger.store.PeerStore._stored_sums"),
               ("peer load", "ledger.peer.Peer.load"),
               ("restore at the checkpoint", "ledger.peer.Peer._restore"),
               ("status records (read, chained)", "ledger.peer.Peer._stored_statuses"),
               ("layer check (every anchor)", "ledger.network.Network._check_layers"),
               ("catch-up", "ledger.network.catch_up"),
               ("checkpoints", "ledger.peer.Peer.checkpoint_if_behind"))


def open_breakdown(path: str) -> dict:
    """Network.open of `path`, its seconds split by phase (summed over the peers): the
    store's SQLite open (the rest of `store open`), its SHA-256 pass over the log, the
    digests, offsets and index sums rows; the peer's restore at its checkpoint (the head's
    decode and the content hash compared, the rest of `restore`), the status records; the
    validation of the blocks since the checkpoint (the rest of `peer load`); the layer check,
    catch-up and checkpoints. Each method is timed inclusively, nested ones taken out."""
    import importlib
    totals: dict[str, float] = {name: 0.0 for name, _ in OPEN_PHASES}
    undo = []
    for name, dotted in OPEN_PHASES:
        module_name, _, attr = dotted.rpartition(".")
        try:
            owner = importlib.import_module(module_name)
        except ImportError:
            module_name, _, cls = module_name.rpartition(".")
            owner = getattr(importlib.import_module(module_name), cls)
        real = getattr(owner, attr)

        def timed(*args, __real=real, __name=name, **kwargs):
            t0 = time.perf_counter()
            try:
                return __real(*args, **kwargs)
            finally:
                totals[__name] += time.perf_counter() - t0
        setattr(owner, attr, timed)
        undo.append((owner, attr, real))
    try:
        t0 = time.perf_counter()
        ledger.Network.open(path, auto_interlock=False).close()
        total = time.perf_counter() - t0
    finally:
        for owner, attr, real in reversed(undo):
            setattr(owner, attr, real)
    t = totals
    return {"total": total,
            "SQLite open (store open less the rest)": t["store open"] - t["SHA-256 pass over the log"]
            - t["digests rows (read, hashed)"] - t["offsets rows"] - t["index sums"],
            "SHA-256 pass over the log": t["SHA-256 pass over the log"],
            "digests rows (read, hashed)": t["digests rows (read, hashed)"],
            "offsets rows": t["offsets rows"], "index sums": t["index sums"],
            "status records (read, chained)": t["status records (read, chained)"],
            "head decode, content hash (restore less statuses)":
                t["restore at the checkpoint"] - t["status records (read, chained)"],
            "since-checkpoint validation (load less restore)": t["peer load"] - t["restore at the checkpoint"],
            "layer check (every anchor)": t["layer check (every anchor)"],
            "catch-up": t["catch-up"], "checkpoints": t["checkpoints"],
            "other (manifest, identities, services)": total - t["store open"] - t["peer load"]
            - t["layer check (every anchor)"] - t["catch-up"] - t["checkpoints"]}


REPEATS = 5  # warm runs of the prover and the verifier, after the first (cold) one


def measure(path: str) -> dict:
    """In a fresh process: reopen, then Protocol 1 for the oldest, a middle and the newest
    record (the verifier on the main chain, which trusts its own history: acc_M is its own
    header at the first Type-II covering the block, as ledger.verifier picks it). Each
    prover and verifier figure is the first run's wall time (cold: the store read from disk
    or page cache, nothing memoized), its CPU time (this thread's: what other processes on
    the machine cannot inflate) and the shortest of REPEATS more (warm)."""
    t0, c0 = time.perf_counter(), time.process_time()
    net = ledger.Network.open(path, auto_interlock=False)
    out = {"reopen_s": time.perf_counter() - t0, "reopen_cpu_s": time.process_time() - c0}
    with net:
        edge = net.service("edge-0").leader
        main = net.service("main").leader
        for name, start in (("oldest", 0), ("middle", edge.height // 2), ("newest", edge.height - 1)):
            height = next(h for h in range(start, -1, -1)  # (a record block: not a Type-III one)
                          if net.block("edge-0", h).transactions[0].kind == ledger.TxKind.RECORD)
            tx_id = net.block("edge-0", height).transactions[0].tx_id

            def prove():
                # the first Type-II covering the block, proved under main's own header there
                records = main.statuses("edge-0")
                record = records[records.first_at_or_after(height)]
                return (main.signed_header(record.height), main.inclusion_proof(record.tx_id, record.height),
                        edge.inclusion_proofs([tx_id], record.source_height)[0])

            def verify(main_status, status_proof, tx_proof):
                verdict = check_cross_chain(net.params, tx_id=tx_id, chain_id="edge-0", main_chain_id="main",
                                            main_status=main_status, status_proof=status_proof, tx_proof=tx_proof,
                                            endorsement_policy=net.deployment.check_endorsed)
                assert verdict.ok, verdict.reason

            proofs = _timed(out, f"prover_{name}", prove)
            _timed(out, f"verifier_{name}", verify, *proofs)
            assert net.verify(tx_id, "main").ok  # (the Verifier's own path agrees)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _timed(out: dict, key: str, call, *args):
    """call(*args): its first run's wall and CPU milliseconds and the shortest wall of REPEATS
    more (the least disturbed by other processes), into `out`; returns the first run's result."""
    w0, c0 = time.perf_counter(), time.thread_time()
    result = call(*args)
    out[f"{key}_ms"], out[f"{key}_cpu_ms"] = (time.perf_counter() - w0) * 1e3, (time.thread_time() - c0) * 1e3
    walls = []
    for _ in range(REPEATS):
        w0 = time.perf_counter()
        call(*args)
        walls.append((time.perf_counter() - w0) * 1e3)
    out[f"{key}_warm_ms"] = min(walls)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--interlock-blocks", type=int, default=50)
    ap.add_argument("--txs-per-block", type=int, default=1)
    ap.add_argument("--bulk", action="store_true", help="build with bulk_blocks (no fsync while building)")
    ap.add_argument("--keep", help="build under this directory and keep the chains")
    ap.add_argument("--stop-after", type=float, help="--bulk: stop a build after this many minutes (at an "
                    "interlocking round) and measure the blocks built")
    ap.add_argument("--reuse", action="store_true", help="--keep: measure the chains an earlier run kept there "
                    "(its build figures, chain-N.build.json) instead of building them again")
    ap.add_argument("--measure", help=argparse.SUPPRESS)  # the fresh-process half
    ap.add_argument("--breakdown", metavar="DIR", help="print where Network.open of the chain in DIR spends its time")
    args = ap.parse_args(argv)
    if args.breakdown:
        for phase, seconds in open_breakdown(args.breakdown).items():
            print(f"{phase:<52} {seconds:8.3f} s")
        return 0
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    base = Path(args.keep or tempfile.mkdtemp(prefix="edgeacc-age-"))
    rows = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        path, saved = base / f"chain-{n}", base / f"chain-{n}.build.json"
        if args.reuse and saved.exists():  # (a chain kept by an earlier run: measured again, not rebuilt)
            row = json.loads(saved.read_text())
        else:
            stop_at = time.time() + args.stop_after * 60 if args.stop_after else None
            row = build(path, n, args.interlock_blocks, args.txs_per_block, args.bulk, stop_at)
            saved.write_text(json.dumps(row))
        out = subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True,
                             capture_output=True, text=True).stdout
        row.update(json.loads(out.strip().splitlines()[-1]))
        rows[row.get("built_blocks", n)] = row
        print(json.dumps({"blocks": n, **{k: round(v, 3) for k, v in row.items()}}), flush=True)
    if len(rows) > 1:
        print(growth_table(rows))
    return 0


def growth_exponent(size_a: int, a: float, size_b: int, b: float) -> float:
    """d log(value) / d log(blocks) between two sizes (0: independent of the chain's age,
    1: linear in it)."""
    return math.log(max(b, 1e-9) / max(a, 1e-9)) / math.log(size_b / size_a)


def growth_table(rows: dict[int, dict]) -> str:
    """A Markdown table: each column's value at every size, its growth exponent between each
    two consecutive sizes and between the first and the last."""
    sizes = sorted(rows)
    pairs = list(zip(sizes, sizes[1:])) + ([(sizes[0], sizes[-1])] if len(sizes) > 2 else [])
    keys = [k for k in rows[sizes[0]] if k != "built_blocks" and all(k in rows[n] for n in sizes)]
    def shown(n: int) -> str:
        power = round(math.log10(n))
        return f"10^{power}" if 10 ** power == n else f"{n:,}"
    head = ["column"] + [shown(n) for n in sizes] + [f"exp {shown(a)}→{shown(b)}" for a, b in pairs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in keys:
        values = [f"{rows[n][key]:.4g}" for n in sizes]
        exps = [f"{growth_exponent(a, rows[a][key], b, rows[b][key]):+.2f}" for a, b in pairs]
        lines.append("| " + " | ".join([key] + values + exps) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
