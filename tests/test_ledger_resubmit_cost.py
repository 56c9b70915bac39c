"""Answering resubmissions of committed transactions reads each block holding them once per
batch (Peer.held), not once per transaction: a client replaying a block's transactions must not
make the cutter decode that block once for each of them."""
import ledger
from ledger.chain import ChainState
from ledger.tx import Transaction


def test_a_resubmitted_block_is_read_once_per_batch(tmp_path, monkeypatch):
    with ledger.Network.init(tmp_path / "net", subchains=1, peers_per_chain=2) as net:
        txs = [net.record("edge-0", b"r%d" % i) for i in range(60)]
        receipts = [p.result() for p in net.submit_transactions(txs)]
        assert len({r.height for r in receipts}) == 1
        reads = []
        original = ChainState.block
        monkeypatch.setattr(ChainState, "block", lambda self, h: reads.append(h) or original(self, h))
        again = [p.result() for p in net.submit_transactions(txs)]  # (idempotent: the same receipts)
        assert again == receipts
        assert 1 <= reads.count(receipts[0].height) <= 3, reads  # (held, then the answer's proof)


def test_held_tells_exact_copies_from_other_bytes_under_one_id(tmp_path):
    with ledger.Network.init(tmp_path / "net", subchains=1, peers_per_chain=2) as net:
        tx = net.record("edge-0", b"x")
        net.submit_transaction(tx).result()
        peer = net.peer("edge-0")
        other = net.record("edge-0", b"not committed")
        resigned = Transaction(tx.kind, tx.chain_id, tx.submitter, tx.timestamp_ms, tx.nonce, tx.payload,
                               signature=bytes(64))  # (its id, other bytes)
        assert resigned.tx_id == tx.tx_id
        assert peer.held([tx, other, resigned]) == {id(tx)}
        assert peer.holds(tx) and not peer.holds(other)


def test_receipts_of_recent_blocks_do_not_read_the_store(tmp_path, monkeypatch):
    """A receipt's digest of a recent block (not the latest) comes from memory: the store's
    digest of a block in its incomplete group reads and hashes that whole group."""
    from ledger.store import PeerStore
    with ledger.Network.init(tmp_path / "net", subchains=1, peers_per_chain=2) as net:
        first = [net.submit_transaction(net.record("edge-0", b"b%d" % i)).result() for i in range(4)]
        assert len({r.height for r in first}) == 4
        reads = []
        original = PeerStore.digest
        monkeypatch.setattr(PeerStore, "digest", lambda self, h: reads.append(h) or original(self, h))
        peer = net.peer("edge-0")
        assert [peer.receipt(r.tx_id) for r in first] == first
        assert reads == []
