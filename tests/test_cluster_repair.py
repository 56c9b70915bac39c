"""A node whose store was cut back below its own signed checkpoint (ledger.peer: RollbackDetected)
is refused at start, and repaired only when the operator asks (`edgeacc node CONFIG --repair`):
it then catches up from the chain's ordered log - below the log's trimmed checkpoint from the
chain's other peers, chained to the digest a quorum attested - and must hold the block its
checkpoint vouches for. Real etcd and node processes (tests/cluster_helpers.py)."""
import json

from ledger.chain import Deployment
from ledger.cluster import authority
from ledger.cluster.node import KeptCertificates, chain_configs, deployment_params, load_trust
from ledger.peer import Peer
from ledger.store import PeerStore
from cluster_helpers import Harness, need_etcd
from store_tamper import truncate


def _sign_checkpoint(directory, name, chain):
    """What a committing peer does every CHECKPOINT_EVERY blocks: sign "I validated all my blocks"."""
    deployment = json.loads((directory / "deployment.json").read_text())
    trust = load_trust(directory / "trust")
    store = directory / "nodes" / name / "store.sqlite"
    KeptCertificates(store).load_into(trust)
    identity = authority.load_identity(directory / "nodes" / name / "credentials")
    peer = Peer(Deployment(deployment_params(deployment), trust, chain_configs(deployment)), identity,
                PeerStore(store, chain))
    try:
        peer.load()
        peer.record_checkpoint()
        return peer.height
    finally:
        peer.close()


def test_a_cut_back_node_is_refused_and_repaired_only_when_the_operator_asks(tmp_path):
    need_etcd()
    h = Harness(tmp_path / "c", trim_blocks=2)  # (the log's prefix is trimmed: the repair needs the peers)
    try:
        h.start()
        receipts = [h.client.submit(h.chain, b"r-%d" % i).result(30) for i in range(6)]
        height = h.wait_heights_equal()
        name = next(n for n in h.names if not h.status(n)["cutter"])
        h.cluster.kill_node(name)
        directory = h.cluster.directory
        assert _sign_checkpoint(directory, name, h.chain) == height
        truncate(directory / "nodes" / name / "store.sqlite", 1)  # the operator's disk lost all but block 0

        h.cluster.start_node(name)
        process = h.cluster.nodes[name]
        assert process.wait(120) != 0  # refused at start, never opened at the shorter height
        h.cluster.nodes[name] = None
        refusal = (directory / "nodes" / name / "node.log").read_text()
        assert "the log was cut back" in refusal and "edgeacc node CONFIG --repair" in refusal

        h.client.submit(h.chain, b"meanwhile").result(30)
        h.cluster.start_node(name, repair=True)
        h.cluster.wait_ready(60, names=[name])
        h.assert_exactly_once(receipts)
        assert h.status(name)["log"]["from_peers"]["blocks"] > 0  # below the trimmed checkpoint: from a peer
        assert h.status(name)["refused"] is None
        # the repaired node runs on as any other: a restart without --repair is accepted now
        h.cluster.kill_node(name)
        h.restart_node(name)
        assert h.wait_heights_equal() == height + 1
    finally:
        h.stop()
