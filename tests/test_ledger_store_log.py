"""The block log (ledger.store, version 6): a block is durable (fdatasync) before append
returns; a torn last record (a crash under way) is dropped and no block reported stored is
lost; anything else that does not fit (a flipped byte, a cut or hand-extended log, another
store's log, offsets that name other records, an old-format store) is a StorageError naming
the block, and a refused open changes no file."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger
import ledger.store
from ledger.errors import StorageError
from ledger.store import RECORD_HEADER, PeerStore, record_bytes
from tests import store_tamper


def block(height: int, size: int = 40) -> tuple[int, bytes, bytes, list[bytes]]:
    data = hashlib.sha256(b"%d" % height).digest() * (size // 32 + 1)
    return height, hashlib.sha256(data[:size]).digest(), data[:size], [hashlib.sha256(b"tx %d" % height).digest()]


def filled(tmp_path, n=3, **kw) -> PeerStore:
    store = PeerStore(tmp_path / "p.sqlite", "edge-0")
    for h in range(n):
        store.append(*block(h, **kw))
    return store


def abandon(store: PeerStore) -> None:
    """Leave the store's files as a crash would: nothing batched (no close)."""
    store._db.close()
    os.close(store._log)


def files(tmp_path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in tmp_path.iterdir() if f.suffix in (".sqlite", ".blocks")}


def refused(tmp_path, match: str, chain: str = "edge-0") -> None:
    before = files(tmp_path)
    with pytest.raises(StorageError, match=match):
        store = PeerStore(tmp_path / "p.sqlite", chain)
        try:
            list(store.blocks(0))  # (what Peer.load reads)
        finally:
            store.close()
    assert files(tmp_path) == before


def test_an_append_is_fdatasynced_before_it_returns_and_the_log_created_durably(tmp_path, monkeypatch):
    synced = []
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda fd, real=real, name=name: synced.append(
            (name, os.path.realpath(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size)) or real(fd))
    store = PeerStore(tmp_path / "p.sqlite", "edge-0")
    log = str(store_tamper.log_of(store.path))
    assert [s[:2] for s in synced] == [("fsync", log), ("fsync", str(tmp_path))]
    assert synced[0][2] == ledger.store._LOG_HEADER.size
    synced.clear()
    store.append(*block(0))
    assert synced == [("fdatasync", log, os.path.getsize(log))]  # (the whole record: after the write)
    store.close()


@pytest.mark.parametrize("cut", [1, RECORD_HEADER - 1, RECORD_HEADER, RECORD_HEADER + 39])
def test_a_torn_last_record_is_dropped_and_cut_off_by_the_next_append(tmp_path, cut):
    filled(tmp_path).close()
    store_tamper.append_raw(tmp_path / "p.sqlite", record_bytes(*block(3)[:3])[:cut])  # the crash under way
    store = PeerStore(tmp_path / "p.sqlite", "edge-0")
    assert store.height() == 3 and store.get(3) is None and [h for h, _, _ in store.blocks()] == [0, 1, 2]
    store.append(*block(3))
    store.close()
    store = PeerStore(tmp_path / "p.sqlite", "edge-0")
    assert [(h, d, data) for h, d, data in store.blocks()] == [block(h)[:3] for h in range(4)]
    assert os.path.getsize(store.log_path) == ledger.store._LOG_HEADER.size + 4 * len(record_bytes(*block(0)[:3]))
    store.close()


def test_a_crash_in_the_middle_of_an_append_loses_no_reported_block(tmp_path, toy, monkeypatch):
    """The power fails while both peers write a block: what is on disk then (the torn
    records) opens with every reported block, and the chain goes on."""
    path, lost = tmp_path / "net", tmp_path / "after-power-loss"
    with ledger.Network.init(path, subchains=1, params=toy, auto_interlock=False) as net:
        receipts = [net.submit("edge-0", b"record %d" % i).result() for i in range(3)]

        real = os.pwrite

        def torn_write(fd, data, offset):
            real(fd, bytes(data[:len(data) // 2]), offset)
            shutil.copytree(path, lost, dirs_exist_ok=True)  # the power fails here
            raise OSError(5, "power lost")

        monkeypatch.setattr(os, "pwrite", torn_write)
        with pytest.raises(StorageError, match="stored on no peer"):
            net.submit("edge-0", b"under way").result()
        monkeypatch.undo()
    assert all(len(store_tamper.records(f)) == 3 for f in (lost / "peers").glob("edge-0.*.sqlite"))
    assert all(f.stat().st_size > store_tamper.records(f.with_suffix(".sqlite"))[-1][0] + RECORD_HEADER
               for f in (lost / "peers").glob("edge-0.*.blocks"))  # (torn records after them)
    with ledger.Network.open(lost, auto_interlock=False) as net:
        assert [net.locate(r.tx_id) for r in receipts] == receipts
        assert net.submit("edge-0", b"after").result().height == 3
    with ledger.Network.open(lost, auto_interlock=False) as net:
        assert [p.height for p in net.service("edge-0").peers] == [4, 4]


@pytest.mark.parametrize("at, match", [(RECORD_HEADER + 5, "block 1 fails its checksum"),
                                       (10, "record header of block 1 fails its checksum"),
                                       (0, "record header of block 1 fails")])
@pytest.mark.parametrize("batched", [False, True])
def test_a_flipped_byte_in_the_log_is_refused_naming_the_block(tmp_path, at, match, batched):
    filled(tmp_path).close() if batched else abandon(filled(tmp_path))
    store_tamper.flip_byte(tmp_path / "p.sqlite", 1, at)
    refused(tmp_path, match)


def test_a_flipped_byte_in_the_last_record_is_not_taken_for_a_torn_one(tmp_path):
    abandon(filled(tmp_path))
    store_tamper.flip_byte(tmp_path / "p.sqlite", 2, RECORD_HEADER + 39)
    refused(tmp_path, "block 2 fails its checksum")


@pytest.mark.parametrize("cut", ["mid-record", "at a record"])
def test_a_log_cut_below_the_batched_offsets_is_refused(tmp_path, cut):
    filled(tmp_path).close()  # (close batches the offsets)
    offset = store_tamper.records(tmp_path / "p.sqlite")[2][0] + (RECORD_HEADER if cut == "mid-record" else 0)
    os.truncate(store_tamper.log_of(tmp_path / "p.sqlite"), offset)
    refused(tmp_path, "block 2 is cut short")


@pytest.mark.parametrize("extra", ["a valid frame out of order", "garbage", "the last record again"])
def test_a_record_appended_by_hand_is_refused(tmp_path, extra):
    filled(tmp_path).close()
    last = store_tamper.records(tmp_path / "p.sqlite")[-1]
    raw = {"a valid frame out of order": record_bytes(*block(7)[:3]), "garbage": os.urandom(RECORD_HEADER + 9),
           "the last record again": record_bytes(last[1], last[2], last[3])}[extra]
    store_tamper.append_raw(tmp_path / "p.sqlite", raw)
    refused(tmp_path, "block 3")


def test_a_valid_record_appended_by_hand_is_a_block_the_peer_refuses(tmp_path, toy):
    path = tmp_path / "net"
    with ledger.Network.init(path, subchains=1, params=toy, auto_interlock=False) as net:
        net.submit("edge-0", b"record").result()
        forged = net.block("edge-0", 0)
    store_tamper.append_raw(store_tamper.store_path(path, "edge-0.peer0"), record_bytes(1, forged.digest,
                                                                                      forged.to_bytes()))
    before = store_tamper.store_bytes(path)
    with pytest.raises(StorageError, match="edge-0.peer0.sqlite: block 1 fails re-validation"):
        ledger.Network.open(path, auto_interlock=False)
    assert store_tamper.store_bytes(path) == before


@pytest.mark.parametrize("other", ["another peer of the chain", "another chain's peer", "a fresh store"])
def test_a_log_swapped_with_another_stores_is_refused(tmp_path, other):
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.mkdir(), theirs.mkdir()
    filled(mine).close()
    store = PeerStore(theirs / "p.sqlite", "main" if other == "another chain's peer" else "edge-0")
    for h in range(0 if other == "a fresh store" else 3):
        store.append(*block(h))
    store.close()
    shutil.copy(store_tamper.log_of(theirs / "p.sqlite"), store_tamper.log_of(mine / "p.sqlite"))
    refused(mine, "not the version-6 block log of p.sqlite")


def test_a_missing_log_or_database_is_refused(tmp_path):
    filled(tmp_path).close()
    log = store_tamper.log_of(tmp_path / "p.sqlite")
    shutil.move(log, tmp_path / "saved")
    refused(tmp_path, "block log of p.sqlite is missing")
    shutil.move(tmp_path / "saved", log)
    (tmp_path / "p.sqlite").unlink()
    with pytest.raises(StorageError, match="holds blocks, but p.sqlite has no store"):
        PeerStore(tmp_path / "p.sqlite", "edge-0")
    assert len(store_tamper.records(tmp_path / "p.sqlite")) == 3  # (the log is left as it was)


@pytest.mark.parametrize("edit", ["UPDATE blocks SET offset = offset + 1 WHERE height = 2",
                                  "UPDATE blocks SET offset = (SELECT offset FROM blocks WHERE height = 0) "
                                  "WHERE height = 2",
                                  "UPDATE blocks SET offset = 'x' WHERE height = 2",
                                  "UPDATE blocks SET offset = 1 << 60 WHERE height = 2",
                                  "DELETE FROM blocks WHERE height = 2",
                                  "UPDATE blocks SET offset = offset - 1 WHERE height = 3",  # (the batch's end)
                                  "UPDATE blocks SET offset = offset + 1 WHERE height = 0"])
def test_edited_offsets_are_refused_naming_the_block(tmp_path, edit, monkeypatch):
    """The batched offsets: of each group's first record and of the batch's end."""
    monkeypatch.setattr(ledger.store, "GROUP_BLOCKS", 2)
    filled(tmp_path).close()
    with sqlite3.connect(tmp_path / "p.sqlite") as db:
        db.execute(edit)
    refused(tmp_path, r"blocks? [0-3]\b")


def test_a_version_3_store_is_refused_not_migrated(tmp_path):
    db = sqlite3.connect(tmp_path / "p.sqlite", isolation_level=None)
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "CREATE TABLE blocks (height INTEGER PRIMARY KEY, digest BLOB NOT NULL, data BLOB NOT NULL);"
                     "INSERT INTO meta VALUES ('schema', '3'), ('chain', 'edge-0');")
    db.close()
    refused(tmp_path, "a version-3 store; this version reads version 6 only")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 700), st.sampled_from(["append", "reopen", "torn"])), max_size=30),
       st.integers(1, 4), st.integers(1, 5))
def test_the_store_reads_back_what_it_stored_across_batches_reopens_and_torn_tails(tmp_path_factory, steps, batch,
                                                                                   group):
    """Against a model: heights, digests, blocks by height and streamed, the index."""
    tmp_path = tmp_path_factory.mktemp("model")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ledger.store, "TX_INDEX_BATCH", batch)
        mp.setattr(ledger.store, "GROUP_BLOCKS", group)
        store, model, torn, contents = PeerStore(tmp_path / "p.sqlite", "edge-0"), [], False, {}
        for size, step in steps:
            if step == "append":
                store.append(*block(len(model), size))
                model.append(block(len(model), size))
                torn = False
            else:
                store.close()
                if step == "torn" and not torn:  # (the store never writes after a torn record)
                    store_tamper.append_raw(tmp_path / "p.sqlite", record_bytes(*block(len(model), size)[:3])[:size])
                    torn = True
                store = PeerStore(tmp_path / "p.sqlite", "edge-0")
                for h in range(store.indexed_height() + 1, store.height()):  # (what Peer.load does)
                    store.index_tail(h, model[h][3])
            assert store.height() == len(model)
            assert [(h, d, data) for h, d, data in store.blocks()] == [b[:3] for b in model]
            assert [(store.digest(h), store.get(h)) for h in range(len(model) + 1)] == [
                b[1:3] for b in model] + [(None, None)]
            assert store.tx_index() == {b[3][0]: (b[0], 0) for b in model}
            assert all(store.location(b[3][0]) in (None, (b[0], 0)) for b in model)
            for h in range(len(model)):  # (what a checkpoint signs: the same bytes, the same hash)
                assert contents.setdefault(h, store.content_digest(h)) == store.content_digest(h)
        store.close()


def test_a_digests_row_changed_before_its_group_completes_is_not_taken_as_the_stores(tmp_path, monkeypatch):
    """A batch that ends inside a group (close) writes that group's digests so far; the ones
    the group's hash covers once it completes are those the store read on open (from the
    records) or appended, not the row: a row changed meanwhile is refused by a read, and the
    content digest a checkpoint signs is the true one."""
    monkeypatch.setattr(ledger.store, "GROUP_BLOCKS", 4)
    filled(tmp_path, n=2).close()
    store = PeerStore(tmp_path / "p.sqlite", "edge-0")
    with sqlite3.connect(tmp_path / "p.sqlite") as db:
        db.execute('UPDATE digests SET digests = zeroblob(64) WHERE "group" = 0')
    for h in (2, 3):
        store.append(*block(h))
    (tmp_path / "honest").mkdir()
    honest = filled(tmp_path / "honest", n=4)
    assert store.content_digest(3) == honest.content_digest(3)
    with pytest.raises(StorageError, match="changed under it"):
        store.digest(0)
    store.close(), honest.close()
