"""A distributed deployment on loopback for tests: its own etcd and node processes, all
stopped (kill -9 at worst) when the fixture ends."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from ledger.block import Block
from ledger.cluster import local
from ledger.cluster.client import connect
from ledger.errors import LedgerError


def need_etcd():
    if shutil.which("etcd") is None:
        pytest.skip("etcd is not installed (apt-get install etcd-server)")
    pytest.importorskip("aetcd")


class Harness:
    """One chain's peers (edge-0) running as node processes, the main chain's only laid out."""

    def __init__(self, directory, peers: int = 3, threshold: int = 2, chain: str = "edge-0", **settings) -> None:
        local.create(directory, subchains=1, peers_per_chain=peers, endorsement_threshold=threshold)
        if settings:  # deployment settings (trim_blocks, ...)
            path = Path(directory) / "deployment.json"
            path.write_text(json.dumps({**json.loads(path.read_text()), **settings}, indent=2))
        self.cluster = local.LocalCluster(directory)
        self.chain = chain
        self.names = [n for n in self.cluster.nodes if self.cluster.chain_of(n) == chain]
        self.client = None

    def start(self) -> "Harness":
        self.cluster.start_etcd()
        for name in self.names:
            self.cluster.start_node(name)
        self.wait_cutter()
        self.client = connect(self.cluster.client_config)
        return self

    def wait_cutter(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        with connect(self.cluster.client_config) as client:
            while time.monotonic() < deadline:
                for name in self.names:
                    if self.cluster.nodes[name] is None:
                        continue
                    try:
                        if client.node_status(name)["cutter"]:
                            return name
                    except LedgerError:
                        pass
                time.sleep(0.1)
        raise AssertionError(f"no block cutter on {self.chain} after {timeout} s")

    def restart_node(self, name: str) -> None:
        self.cluster.start_node(name)
        self.cluster.wait_ready(30, names=[name])

    def status(self, name: str) -> dict:
        return self.client.node_status(name)

    def blocks_of(self, name: str) -> list[Block]:
        """Every block peer `name` holds, read from that peer."""
        address = {p["name"]: p["address"] for c in self.cluster.deployment["chains"] for p in c["peers"]}[name]
        channel = self.client._channel(name, address)
        height = self.status(name)["height"]
        return [Block.from_bytes(channel.call("Block", str(h).encode(), 10)) for h in range(height)]

    def tx_ids_of(self, name: str) -> list[bytes]:
        return [tx.tx_id for b in self.blocks_of(name) for tx in b.transactions]

    def wait_heights_equal(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                heights = {self.status(n)["height"] for n in self.names if self.cluster.nodes[n] is not None}
                if len(heights) == 1:
                    return heights.pop()
            except LedgerError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the peers do not reach one height: {self._statuses()}")

    def _statuses(self) -> dict:
        out = {}
        for n in self.names:
            try:
                out[n] = self.status(n)
            except LedgerError as exc:
                out[n] = str(exc)[:200]
        return out

    def assert_exactly_once(self, receipts) -> None:
        """Every acknowledged transaction is on every running peer once, where its receipt says."""
        self.wait_heights_equal()
        for name in self.names:
            if self.cluster.nodes[name] is None:
                continue
            ids = self.tx_ids_of(name)
            assert len(ids) == len(set(ids)), f"{name} holds a transaction twice"
            held = set(ids)
            missing = [r for r in receipts if r.tx_id not in held]
            assert not missing, f"{name} lacks {len(missing)} acknowledged transactions"

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        for name in self.names:
            self.cluster.kill_node(name)
        for i in range(len(self.cluster.etcd.names)):
            self.cluster.etcd.kill(i)


class OrderedEntries(dict):
    """A stand-in log's entries (slot -> bytes): a block's encoding put at a slot is ordered as
    its signed header, what a cutter appends (ledger.cluster.ordering), and its body kept for
    `bodies` - a peer that serves the body of every block put (Follower `bodies`)."""

    def __init__(self, entries=()) -> None:
        super().__init__()
        self.served: dict[bytes, bytes] = {}
        for slot, data in dict(entries).items():
            self[slot] = data

    def __setitem__(self, slot, data) -> None:
        if data.startswith(b"EABK"):
            block = Block.from_bytes(data)
            self.served[block.digest] = data
            data = block.signed.to_bytes()
        super().__setitem__(slot, data)

    def update(self, entries=(), **_) -> None:
        for slot, data in dict(entries).items():
            self[slot] = data

    def setdefault(self, slot, data):
        if slot not in self:
            self[slot] = data
        return self[slot]

    def body(self, ids) -> list[bytes]:
        """fetch_bodies of ledger.cluster.follower.Follower: b"" for a body not served."""
        return [self.served.get(digest, b"") for _, digest in ids]

    def bodies(self):
        return [("a peer", self.body)]


def empty_block_on(params, previous, at_ms: int, endorsers) -> Block:
    """An empty block on header `previous` dated `at_ms`, endorsed by `endorsers` (Identities):
    what holders of enough keys can write to the log without any peer's help."""
    import edgeacc
    from ledger.block import BlockHeader, SignedHeader
    from ledger.merkle import merkle_root

    content = BlockHeader(previous.chain_id, previous.height + 1, previous.digest, at_ms, merkle_root(()), 0, 0, 0, b"")
    x, k = edgeacc.hash_to_prime(content.element_data())
    value = edgeacc.update_witness(params, edgeacc.decode_element(params, previous.acc_value), [x])
    header = BlockHeader(previous.chain_id, previous.height + 1, previous.digest, at_ms, merkle_root(()), 0, x, k,
                         edgeacc.encode_element(params, value))
    return Block(SignedHeader(header, ()), ()).with_endorsements(
        [(i.fingerprint, i.sign(header.endorsement_message())) for i in endorsers])


def pooled(pool, call):
    """A ChainReader `start` that runs `call` on `pool`'s threads (stand-ins for peers answer
    synchronously; Channel.call_future is the real one)."""
    return lambda name, method, request, timeout: pool.submit(call, name, method, request, timeout)
