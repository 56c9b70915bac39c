"""asv benchmarks of the ledger (issue 4): block encoding, committing a block of records on a
2-peer chain with 2-of-any endorsement, Protocol 1 verification, re-validation on open.

EDGEACC_BENCH_QUICK=1 skips the large parameter values."""
import shutil
import tempfile

import ledger
from ledger.block import Block

from .common import QUICK

SIZES = [1, 100] if QUICK else [1, 100, 1000]


def _network(subchains=2):
    path = tempfile.mkdtemp(prefix="edgeacc-bench-")
    return path, ledger.Network.init(f"{path}/net", subchains=subchains, auto_interlock=False)


class BlockEncoding:
    """Block.from_bytes / to_bytes of a block of n 32-byte records."""

    params = [SIZES]
    param_names = ["transactions"]

    def setup(self, n):
        self.path, net = _network(1)
        with net:
            receipts = [p.result() for p in [net.submit("edge-0", b"r" * 32) for _ in range(n)]]
            self.raw = net.block("edge-0", receipts[-1].height).to_bytes()

    def teardown(self, n):
        shutil.rmtree(self.path, ignore_errors=True)

    def time_decode(self, n):
        Block.from_bytes(self.raw)

    def time_round_trip(self, n):
        Block.from_bytes(self.raw).to_bytes()


class CommitRecords:
    """n records submitted at once and committed (validated, endorsed, stored on both peers)."""

    params = [SIZES]
    param_names = ["transactions"]
    number = 1
    warmup_time = 0  # a second call would replay the same transactions

    def setup(self, n):
        self.path, self.net = _network(1)
        self.txs = [self.net.record("edge-0", b"r%d" % i) for i in range(n)]

    def teardown(self, n):
        self.net.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def time_commit(self, n):
        for p in [self.net.submit_transaction(t) for t in self.txs]:
            p.result()


class Protocol1:
    """One cross-chain verification (verifier on edge-1, transaction on edge-0) on a sub-chain
    of `blocks` blocks: proof fetching (Merkle path, two witnesses) and checking."""

    params = [[10, 100] if QUICK else [10, 100, 1000]]
    param_names = ["blocks"]

    def setup(self, blocks):
        self.path, self.net = _network(2)
        self.tx_id = self.net.submit("edge-0", b"target").result().tx_id
        for i in range(blocks - 1):
            self.net.submit("edge-0", b"r%d" % i).result()
        self.net.interlock()
        self.verifier = self.net.verifier("edge-1")

    def teardown(self, blocks):
        self.net.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def time_verify(self, blocks):
        assert self.verifier.verify(self.tx_id).ok


class Reopen:
    """Network.open of a deployment whose sub-chain holds `blocks` one-record blocks: every
    block of every peer is re-validated."""

    params = [[10, 100] if QUICK else [10, 100, 1000]]
    param_names = ["blocks"]
    number = 1

    def setup(self, blocks):
        self.path, net = _network(1)
        with net:
            for i in range(blocks):
                net.submit("edge-0", b"r%d" % i).result()

    def teardown(self, blocks):
        shutil.rmtree(self.path, ignore_errors=True)

    def time_open(self, blocks):
        ledger.Network.open(f"{self.path}/net", auto_interlock=False).close()


class ChainAge:
    """Costs against the chain's age (issue 13; the script bench/ledger_age.py reports the
    same figures and the growth exponent, and builds 10^6): chains of n one-record blocks,
    K = 50, built by the bulk path (ledger_age.bulk_blocks); each figure from a fresh open."""

    params = [[300] if QUICK else [10000, 100000]]
    param_names = ["blocks"]
    timeout = 3600

    def setup_cache(self):
        from pathlib import Path

        from .ledger_age import build

        base = Path(tempfile.mkdtemp(prefix="edgeacc-age-"))
        return {n: (str(base / f"chain-{n}"), build(base / f"chain-{n}", n, 50, bulk=True)) for n in self.params[0]}

    def _measured(self, cache, n, key):
        from .ledger_age import measure

        return measure(cache[n][0])[key]

    def track_reopen_s(self, cache, n):
        return self._measured(cache, n, "reopen_s")

    def track_prover_oldest_ms(self, cache, n):
        return self._measured(cache, n, "prover_oldest_ms")

    def track_verifier_oldest_ms(self, cache, n):
        return self._measured(cache, n, "verifier_oldest_ms")

    def track_prover_oldest_cpu_ms(self, cache, n):  # (what a loaded machine does not inflate)
        return self._measured(cache, n, "prover_oldest_cpu_ms")

    def track_verifier_oldest_cpu_ms(self, cache, n):
        return self._measured(cache, n, "verifier_oldest_cpu_ms")

    def track_rss_mb(self, cache, n):
        return self._measured(cache, n, "rss_mb")

    def track_written_per_block(self, cache, n):
        return cache[n][1]["written_per_block"]

    def track_write_amplification(self, cache, n):
        return cache[n][1]["write_amplification"]
