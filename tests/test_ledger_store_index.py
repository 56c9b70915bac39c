"""The transaction index (and the blocks' offsets) are written in batches
(ledger.store.TX_INDEX_BATCH): a power loss loses at most those rows, never a block, and open
indexes the stored blocks above the stored index again; a changed or deleted index row is
still caught on open."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

import ledger
from ledger.errors import StorageError
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


@pytest.mark.parametrize("tamper", [
    "UPDATE txs SET position = 1 WHERE height = 1",
    "DELETE FROM txs WHERE height = 1",  # (then the transaction could be committed again)
    "INSERT INTO txs VALUES (zeroblob(32), 0, 1)",
    "UPDATE txs SET tx_id = zeroblob(32) WHERE height = 1",  # (its place kept: only the index sum sees it)
])
def test_a_changed_index_row_is_caught_on_open(tmp_path, toy, tamper):
    path = tmp_path / "net"
    with ledger.Network.init(path, subchains=1, params=toy, auto_interlock=False) as net:
        for i in range(3):
            net.submit("edge-0", b"record %d" % i).result()
    db = sqlite3.connect(store_tamper.store_path(path, "edge-0.peer0"), isolation_level=None)
    db.execute(tamper)
    db.close()
    before = store_tamper.store_bytes(path)
    with pytest.raises(StorageError, match="transaction index differs"):
        ledger.Network.open(path, auto_interlock=False)
    assert store_tamper.store_bytes(path) == before
