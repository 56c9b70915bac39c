"""The layer check on the nodes (ledger.anchors.check_chain, as the embedded Network runs it):
a sub-chain whose operator cuts its history back (or rewrites it) in etcd and in its peers'
stores is caught by its own restarted node against the Type-II anchors the main chain holds,
the violation shows in the node's status, and the node refuses to interlock."""
import time

import pytest

from ledger import errors
from ledger.cluster import local
from ledger.cluster.client import connect
from ledger.store import LOG_SUFFIX

from cluster_helpers import need_etcd

need_etcd()

EDGE, NODE = "edge-0", "edge-0.peer0"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    directory = local.create(tmp_path_factory.mktemp("layers") / "c", subchains=1, peers_per_chain=1,
                             endorsement_threshold=1)
    c = local.LocalCluster(directory)
    try:
        yield c.up()
    finally:
        c.down()


def _rewrite_history(cluster) -> None:
    """What the edge's operator does: stop its peer, empty its store and the chain's etcd log."""
    cluster.kill_node(NODE)
    store = cluster.directory / "nodes" / NODE / "store.sqlite"
    for f in [*store.parent.glob(store.name + "*"), store.with_suffix(LOG_SUFFIX)]:
        if not f.name.endswith(".crl.pem"):
            f.unlink()
    log = cluster.etcd_log(EDGE)
    try:
        log._run(log._client.delete_prefix(log.key(b"")), "delete")
    finally:
        log.close()


def _restart(cluster) -> dict:
    cluster.start_node(NODE)
    cluster.wait_ready(30, names=[NODE])
    with connect(cluster.client_config) as client:
        deadline = time.monotonic() + 20
        while (status := client.node_status(NODE))["layer_violation"] is None and time.monotonic() < deadline:
            time.sleep(0.3)
        assert status["layer_violation"] is not None, f"{NODE} reported no layer violation within 20 s of its start"
        return status


def _first_interlock(client):
    """The set-up's interlock round, again after a refusal: right after the cluster starts, a
    node's channel to a peer may still be in gRPC's reconnect backoff, and the round's read of
    that peer's attestation is then refused (seen once in CI: UnprovenAnswer naming a refused
    connection)."""
    for attempt in range(3):
        try:
            return client.interlock()
        except (errors.UnprovenAnswer, errors.ServiceUnavailable):
            if attempt == 2:
                raise
            time.sleep(1.5)


def test_cut_back_then_rewritten_subchain_is_caught_by_its_own_node(cluster):
    with connect(cluster.client_config) as client:
        client.submit(EDGE, b"reading 1").result(60)
        assert _first_interlock(client).type2  # main now anchors edge-0's block
        assert client.node_status(NODE)["layer_violation"] is None
        main_before = client.height("main")
    _rewrite_history(cluster)
    status = _restart(cluster)  # the start-up check: main anchors a block edge-0 no longer holds
    assert "RollbackDetected" in status["layer_violation"] or "cut back" in status["layer_violation"]
    with connect(cluster.client_config) as client:
        with pytest.raises(errors.RollbackDetected):
            client.interlock(timeout=10)
        assert client.height("main") == main_before  # nothing reported for the cut-back chain
        client.submit(EDGE, b"another reading 1").result(60)  # a new block 0: the history is rewritten
    cluster.kill_node(NODE)
    status = _restart(cluster)
    assert "rewritten" in status["layer_violation"]
    with connect(cluster.client_config) as client:
        with pytest.raises(errors.ForkDetected):
            client.interlock(timeout=10)
        assert client.height("main") == main_before
