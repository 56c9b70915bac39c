"""One interface, two implementations: the same client operations on the embedded Network and
on the distributed deployment (ledger.connect to peers running as processes, ordered by etcd)."""
import inspect

import pytest

import ledger
from ledger.api import Ledger
from ledger import errors
from ledger.cluster import local

from cluster_helpers import need_etcd


@pytest.fixture(scope="module", params=["embedded", "cluster"])
def net(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(request.param) / "d"
    if request.param == "embedded":
        with ledger.Network.init(directory, subchains=2, peers_per_chain=2) as network:
            yield network
        return
    need_etcd()
    local.create(directory, subchains=2, peers_per_chain=2)
    cluster = local.LocalCluster(directory).up()
    try:
        with ledger.connect(cluster.client_config) as client:
            yield client
    finally:
        cluster.down()


def test_both_implement_the_client_interface(net):
    assert isinstance(net, Ledger)
    for name in [n for n, v in vars(Ledger).items() if (not n.startswith("_") or n in ("__enter__", "__exit__"))
                 and callable(v)]:
        params = lambda f: [(p.name, p.kind) for p in inspect.signature(f).parameters.values()]
        assert params(getattr(type(net), name)) == params(getattr(Ledger, name)), name


def test_chains(net):
    assert net.main_chain_id == "main" and net.subchain_ids == ["edge-0", "edge-1"]
    assert net.chain_ids == ["main", "edge-0", "edge-1"]
    assert set(net.status()) == set(net.chain_ids)


def test_submit_read_back_and_resubmit(net):
    tx = net.record("edge-0", b"reading 42")
    receipt = net.submit_transaction(tx).result(60)
    assert receipt.chain_id == "edge-0" and receipt.tx_id == tx.tx_id
    assert net.locate(receipt.tx_id) == receipt
    assert net.transaction(receipt.tx_id).payload == b"reading 42"
    assert net.block("edge-0", receipt.height).transactions[receipt.position].tx_id == tx.tx_id
    assert net.height("edge-0") > receipt.height
    assert net.submit_transaction(ledger.Transaction.from_bytes(tx.to_bytes())).result(60) == receipt  # idempotent
    many = [p.result(60) for p in net.submit_transactions([net.record("edge-1", b"r%d" % i) for i in range(20)])]
    assert len({r.tx_id for r in many}) == 20


def test_batch_read_is_the_single_reads(net):
    """transactions() of ids on several chains and blocks (with an unknown, a malformed and a
    repeated id) gives exactly what transaction() and locate() give for each, with its block's
    time, in the order asked, and leaves out the ids no chain holds; one id in place of a
    collection is the caller's error."""
    pending = net.submit_transactions([net.record(c, b"batch %d" % i) for i in range(3) for c in ("edge-0", "edge-1")])
    ids = [p.result(60).tx_id for p in pending]
    ids.append(net.submit("main", b"batch on main").result(60).tx_id)
    unknown = b"\x04" * 32
    found = net.transactions([unknown, *ids, ids[0], "zz", ids[1].hex()])
    assert list(found) == ids
    for tx_id, (tx, receipt, block_time_ms) in found.items():
        assert tx.to_bytes() == net.transaction(tx_id).to_bytes() and receipt == net.locate(tx_id)
        assert block_time_ms == net.block(receipt.chain_id, receipt.height).header.timestamp_ms
    assert len({(r.chain_id, r.height) for _, r, _ in found.values()}) > 2  # (several chains and blocks)
    assert net.transactions([]) == {} and net.transactions([unknown]) == {}
    with pytest.raises(errors.ArgumentError):
        net.transactions(ids[0])
    with pytest.raises(errors.ArgumentError):
        net.transactions([ids[0], 7])


def test_objects(net):
    ref = net.put_object(b"model weights")
    assert net.get_object(ref) == b"model weights"
    receipt = net.submit("edge-1", b"meta", obj=ref).result(60)
    tx = net.transaction(receipt.tx_id)
    assert tx.object_digest == ref.digest and net.get_object(tx.object_digest) == b"model weights"


def test_protocol1_across_chains(net):
    receipt = net.submit("edge-0", b"to verify").result(60)
    net.interlock()
    verdict = net.verify(receipt.tx_id, "edge-1")
    assert verdict.ok, verdict.reason
    assert verdict.chain_id == "edge-0" and verdict.transaction.payload == b"to verify"
    assert net.verify(receipt.tx_id, "main").ok
    verdicts = net.verify_many([receipt.tx_id, b"\x01" * 32], "edge-1")
    assert verdicts[receipt.tx_id].ok and verdicts[b"\x01" * 32].code == "unknown-transaction"
    assert net.verify("zz", "edge-1").code == "malformed"


def test_bad_input_is_a_ledger_error(net):
    with pytest.raises(errors.LedgerError):
        net.record("no-such-chain", b"x")
    with pytest.raises(errors.ArgumentError):
        net.record("edge-0", "text, not bytes")
    with pytest.raises(errors.NotFound):
        net.locate(b"\x02" * 32)
