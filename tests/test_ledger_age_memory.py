"""Memory that grows with neither the chain's height nor its transaction count (issue 13): the
index rows a store holds and the ids a chain state remembers are bounded by rows, not blocks;
the status records are flat columns, served as a view read back from their blocks."""
import shutil

import pytest

import ledger
import ledger.chain
import ledger.store
from ledger.chain import StatusColumns, StatusRecord, StatusRecords, status_records
from ledger.errors import ArgumentError, NotFound

TXS = 5  # records per block


def test_held_index_rows_and_remembered_ids_are_bounded_by_rows(tmp_path, toy, monkeypatch):
    """The old store batched every TX_INDEX_BATCH blocks whatever they held, and the chain
    state kept RECENT_BLOCKS blocks' ids: memory grew with the transactions per block."""
    monkeypatch.setattr(ledger.store, "TX_INDEX_ROWS", 12)
    monkeypatch.setattr(ledger.chain, "RECENT_TXS", 8)
    with ledger.Network.init(tmp_path / "net", subchains=1, params=toy, auto_interlock=False) as net:
        first = None
        for i in range(12):
            receipts = [p.result() for p in net.submit_transactions(
                [net.record("edge-0", b"r %d.%d" % (i, j)) for j in range(TXS)])]
            first = first or receipts[0]
            for peer in net.service("edge-0").peers:
                assert peer.store._held_rows == sum(len(rows) for rows, _ in peer.store._unindexed.values())
                assert peer.store._held_rows < 12 + TXS
                assert len(peer.state._recent) < 8 + 12 + 2 * TXS
        edge = net.peer("edge-0")
        assert edge.store.indexed_height() >= 8  # (batched by rows: 12 rows fill in 3 blocks)
        assert edge.locate(first.tx_id) == (first.height, first.position)  # (answered by the stored index)
    with ledger.Network.open(tmp_path / "net", auto_interlock=False, revalidate=True) as net:
        assert net.peer("edge-0").locate(first.tx_id) == (first.height, first.position)


@pytest.fixture(scope="module")
def rounds(tmp_path_factory, toy):
    """Four interlocking rounds over one sub-chain, closed."""
    path = tmp_path_factory.mktemp("rounds") / "net"
    with ledger.Network.init(path, subchains=1, params=toy, auto_interlock=False) as net:
        for i in range(4):
            net.submit("edge-0", b"r %d" % i).result()
            net.interlock()
    return path


def from_blocks(peer, source):
    return [record for h in range(peer.height) for _, record in status_records(h, peer.block(h).transactions)
            if record.source_chain == source]


@pytest.mark.parametrize("reopened", [False, True])
def test_status_records_are_a_view_of_flat_columns(rounds, reopened):
    """No StatusRecord per round is held (but the latest): the columns the lookups search, the
    records read back from their blocks; after a reopen the columns come from the stored
    records (chained to the signed checkpoint), and they are the same."""
    with ledger.Network.open(rounds, auto_interlock=False, revalidate=not reopened) as net:
        for holder, source in (("main", "edge-0"), ("edge-0", "main")):
            peer = net.peer(holder)
            columns = peer.state._statuses[source]
            assert isinstance(columns, StatusColumns) and not hasattr(columns, "__dict__")
            view = peer.statuses(source)
            expected = from_blocks(peer, source)
            assert isinstance(view, StatusRecords) and len(view) == len(expected) == 4
            assert list(view) == expected and view[:] == expected and list(reversed(view)) == expected[::-1]
            assert view[-1] == expected[-1] == columns.last and view[0] == expected[0]
            assert [tuple(h) for h in view.heads(1)] == [(r.source_chain, r.source_height, r.height, r.source_digest)
                                                         for r in expected[1:]]
            for record in expected:
                i = view.first_at_or_after(record.source_height)
                assert view[i] == record and view.first_at_or_after(record.source_height + 1) == \
                    expected.index(record) + 1
                assert view.last_held_by(record.height) == record
                assert view.last_below(record.source_height + 1).source_height == record.source_height
            assert view.last_held_by(expected[0].height - 1) is None and view.last_below(0) is None
            for bad, error in ((4, NotFound), (-5, NotFound), ("0", ArgumentError), (1.0, ArgumentError)):
                with pytest.raises(error):
                    view[bad]


def test_a_view_does_not_change_with_later_rounds(rounds, tmp_path):
    shutil.copytree(rounds, tmp_path / "net")
    with ledger.Network.open(tmp_path / "net", auto_interlock=False) as net:
        view = net.peer("main").statuses("edge-0")
        last = view[-1]
        net.submit("edge-0", b"later").result()
        net.interlock()
        assert len(view) == 4 and view[-1] == last and len(net.peer("main").statuses("edge-0")) == 5
        assert isinstance(net.peer("main").statuses("edge-0")[-1], StatusRecord)
        assert len(net.peer("main").statuses("nobody")) == 0


def test_a_remote_readers_list_is_searched_like_the_view(rounds):
    """The verifier searches a peer's view on its columns and a remote reader's list of
    records (ledger.cluster) by bisection on their source heights (without bisect's `key`,
    which Python 3.9 lacks): both give the same index."""
    from ledger.verifier import _first_at_or_after

    with ledger.Network.open(rounds, auto_interlock=False) as net:
        view = net.peer("main").statuses("edge-0")
        records = list(view)
        for height in range(-1, records[-1].source_height + 2):
            assert _first_at_or_after(records, height) == _first_at_or_after(view, height) \
                == sum(r.source_height < height for r in records)


def test_a_record_read_back_is_kept_a_while(rounds, monkeypatch):
    """A verification reads its covering records more than once (ledger.verifier): each was
    one block read and decode a time. Now kept once read, at most STATUS_CACHE of them."""
    monkeypatch.setattr(ledger.chain, "STATUS_CACHE", 2)
    reads, real = [], ledger.chain.ChainState.block
    monkeypatch.setattr(ledger.chain.ChainState, "block", lambda self, h: reads.append(h) or real(self, h))
    with ledger.Network.open(rounds, auto_interlock=False) as net:
        peer = net.peer("main")
        view = peer.statuses("edge-0")
        expected = [view[i] for i in range(3)]
        assert len(reads) == 3 and len(peer.state._status_cache) == 2
        assert [view[i] for i in (1, 2, 1)] == [expected[1], expected[2], expected[1]] and len(reads) == 3
        assert view[0] == expected[0] and len(reads) == 4 and len(peer.state._status_cache) == 2
