"""The transaction index (and the blocks' offsets) are written in batches
(ledger.store.TX_INDEX_BATCH): a power loss loses at most those rows, never a block, and open
indexes the stored blocks above the stored index again; a changed or deleted index row is
caught by the first lookup it could mislead."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

import ledger
from ledger.errors import StorageError
from ledger.store import PeerStore
from tests import store_tamper


def rows(path, peer="edge-0.peer0"):
    db = sqlite3.connect(store_tamper.store_path(path, peer))
    try:
        return (db.execute("SELECT tx_id, height, position FROM txs ORDER BY height, position").fetchall(),
                dict(db.execute("SELECT key, value FROM meta").fetchall()).get("indexed"))
    finally:
        db.close()


def test_a_power_loss_loses_only_index_rows_and_open_rebuilds_them(tmp_path, toy):
    path, lost = tmp_path / "net", tmp_path / "after-power-loss"
    with ledger.Network.init(path, subchains=1, params=toy, auto_interlock=False) as net:
        receipts = [net.submit("edge-0", b"record %d" % i).result() for i in range(3)]
        # every append is durable (its record fdatasynced in the block log) before it returns: a copy now is what a power loss leaves
        shutil.copytree(path, lost)
    assert rows(lost) == ([], None)  # no batch written yet: only the blocks
    with ledger.Network.open(lost, auto_interlock=False) as net:
        assert [net.locate(r.tx_id) for r in receipts] == receipts
        assert net.submit("edge-0", b"after").result().height == 3
    index, indexed = rows(lost)
    assert indexed == "3" and [(h, p) for _, h, p in index] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert rows(path)[0] == index[:3]  # a clean close wrote the same rows


@pytest.mark.parametrize("tamper, probe", [
    ("UPDATE txs SET position = 1 WHERE height = 1", 1),
    ("DELETE FROM txs WHERE height = 1", 1),  # (then the transaction could be committed again)
    ("INSERT INTO txs VALUES (zeroblob(32), 0, 1)", None),
    ("UPDATE txs SET tx_id = zeroblob(32) WHERE height = 1", 1),  # (its place kept: only the bucket's sum sees it)
])
def test_a_changed_index_row_is_caught_on_the_first_lookup_it_could_mislead(tmp_path, toy, tamper, probe):
    """Open reads no index row (the signed checkpoint covers the stored index sums); a row
    changed, added or deleted is caught by the first lookup it answers: a row found is
    checked against its block, an absence against its bucket's sum. The transaction is not
    committed again and the chains are unchanged."""
    path = tmp_path / "net"
    with ledger.Network.init(path, subchains=1, params=toy, auto_interlock=False) as net:
        for i in range(3):
            net.submit("edge-0", b"record %d" % i).result()
    db = sqlite3.connect(store_tamper.store_path(path, "edge-0.peer0"), isolation_level=None)
    store_tamper.index_sql(db, tamper)
    db.close()
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.service("edge-0").peers[0]
        old = net.service("edge-0").peers[1].block(1).transactions[0]
        heights = {cid: net.height(cid) for cid in net.chain_ids}
        with pytest.raises(StorageError, match="index"):
            edge.locate(old.tx_id if probe else bytes(32))
        block, rejected = edge.propose([old])
        assert block.transactions == () and len(rejected) == 1
        assert {cid: net.height(cid) for cid in net.chain_ids} == heights and edge.block(1).transactions == (old,)


def test_a_refused_append_at_a_stored_height_leaves_that_blocks_index_rows(tmp_path):
    store = PeerStore(tmp_path / "p.sqlite", "c")
    try:
        store.append(0, b"\1" * 32, b"block 0", [b"\2" * 32])
        with pytest.raises(StorageError, match="cannot append block 0"):
            store.append(0, b"\3" * 32, b"another block 0", [b"\4" * 32])
        assert store.tx_index() == {b"\2" * 32: (0, 0)}
        assert store.get(0) == b"block 0" and store.height() == 1
    finally:
        store.close()


def test_close_waits_for_an_append_under_way(tmp_path, monkeypatch):
    import os
    import threading
    store = PeerStore(tmp_path / "p.sqlite", "c")
    syncing, release, sync = threading.Event(), threading.Event(), os.fdatasync

    def slow_sync(fd):
        syncing.set()
        release.wait(10)
        sync(fd)

    monkeypatch.setattr(os, "fdatasync", slow_sync)
    appending = threading.Thread(target=store.append, args=(0, b"\1" * 32, b"block 0", [b"\2" * 32]))
    appending.start()
    assert syncing.wait(10)
    closing = threading.Thread(target=store.close)
    closing.start()
    closing.join(0.2)
    assert closing.is_alive()  # (it waits for the append, not the other way round)
    release.set()
    appending.join(10)
    closing.join(10)
    monkeypatch.undo()
    store = PeerStore(tmp_path / "p.sqlite", "c")
    try:
        assert store.get(0) == b"block 0" and store.tx_index() == {b"\2" * 32: (0, 0)}
    finally:
        store.close()
