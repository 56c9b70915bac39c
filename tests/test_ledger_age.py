"""The bulk build of bench/ledger_age.py (issue 13): the blocks it writes are the normal path's,
byte for byte, and a full re-validation on open accepts them."""
import dataclasses
import itertools
import shutil
import sys
from pathlib import Path

import pytest

import ledger
from ledger.errors import StorageError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import ledger_age  # noqa: E402



def _chains(path: Path) -> dict:
    with ledger.Network.open(path, auto_interlock=False, revalidate=True) as net:
        return {cid: [p.store.get(h) for p in net.service(cid).peers for h in range(p.store.height())]
                for cid in net.chain_ids}


@pytest.mark.parametrize("txs_per_block", [1, 3])
def test_bulk_blocks_are_the_normal_blocks(tmp_path, monkeypatch, txs_per_block):
    """The same deployment (one init, copied), clock and nonces (the records' and the rounds'
    counted apart: the bulk build signs its records ahead): the bulk build and the
    sequencer write the same bytes in every store of every chain, including the interlocking
    rounds, and both reopen with every block re-validated."""
    frozen = ledger.chain.now_ms()  # (one clock for both builds, at which the deployment's certificates are valid)
    for module in (ledger.chain, ledger.network, ledger.interlock):
        monkeypatch.setattr(module, "now_ms", lambda: frozen)
    ledger.Network.init(tmp_path / "a", subchains=1, params=None, auto_interlock=False).close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    for name, bulk in (("a", False), ("b", True)):
        with ledger.Network.open(tmp_path / name, auto_interlock=False) as net:
            net._nonce, net.interlocker._nonce = itertools.count(1), itertools.count(1 << 40)
            if bulk:
                ledger_age.bulk_blocks(net, "edge-0", 7, 3, txs_per_block)
            else:
                for i in range(7):
                    net.submit_transactions([net.record("edge-0", b"reading %08d.%03d" % (i, j))
                                             for j in range(txs_per_block)])[-1].result()
                    if (i + 1) % 3 == 0:
                        net.interlock()
            assert all(p.store._durable for s in net.services.values() for p in s.peers)
    normal, bulk = _chains(tmp_path / "a"), _chains(tmp_path / "b")
    assert len(normal["edge-0"]) == 2 * (7 + 2) and len(normal["main"]) == 2 * 2
    assert bulk == normal


def test_a_bulk_build_with_a_bad_record_is_refused_on_open(tmp_path, monkeypatch):
    """The re-validation is real: a record with a bad signature that the bulk build let in
    (it takes its own records as admitted) is refused by the full
    re-validation on open, which names the block."""
    admitted = ledger_age._records

    def forged(net, chain_id, heights, txs_per_block):
        heights, batches = admitted(net, chain_id, heights, txs_per_block)
        tx = batches[1][0]
        batches[1][0] = dataclasses.replace(tx, signature=bytes([tx.signature[0] ^ 1]) + tx.signature[1:])
        return heights, batches

    monkeypatch.setattr(ledger_age, "_records", forged)
    with ledger.Network.init(tmp_path / "n", subchains=1, params=None, auto_interlock=False) as net:
        ledger_age.bulk_blocks(net, "edge-0", 3, 50, 1)
        assert net.height("edge-0") == 3
    with pytest.raises(StorageError, match="block 1 fails re-validation"):
        ledger.Network.open(tmp_path / "n", auto_interlock=False, revalidate=True).close()


def test_a_store_built_without_syncs_syncs_again_once_durable(tmp_path, monkeypatch):
    """PeerStore(durable=False) appends without fdatasync; set_durable(True) syncs what it
    wrote before (the log, and the SQLite file at a full WAL checkpoint) and every append
    after; anything but a bool is refused."""
    from ledger import store as store_module
    synced = []
    monkeypatch.setattr(store_module.os, "fdatasync", lambda fd: synced.append("fdatasync"))
    monkeypatch.setattr(store_module.os, "fsync", lambda fd: synced.append("fsync"))
    store = store_module.PeerStore(tmp_path / "p.sqlite", "edge-0", durable=False)
    synced.clear()  # (creating the log syncs it and its directory)
    store.append(0, bytes(32), b"block 0", [bytes([1]) * 32])
    assert synced == []
    store.set_durable(True)
    assert synced == ["fsync"]
    store.append(1, bytes([2]) * 32, b"block 1", [bytes([3]) * 32])
    assert synced == ["fsync", "fdatasync"]
    with pytest.raises(StorageError, match="durable"):
        store.set_durable(1)
    store.close()
    assert store_module.PeerStore(tmp_path / "p.sqlite", "edge-0").get(1) == b"block 1"
