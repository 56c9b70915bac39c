"""Red team of the version-5 store (issue 13: O(1) reopen; group hashes, the digests table,
persisted status records and index sums): an operator or intruder with write access to a
peer's files (not its key) edits them before an open or under the running peer. Each attack
is refused with a StorageError, or served only with what the peer validated, and leaves the
chains and the files as they were."""
from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

import ledger
import ledger.store
from ledger.errors import ArgumentError, LedgerError, StorageError
from ledger.store import PeerStore
from tests.test_redteam_age import built_in_pairs, peer0, refused_on_open, sql  # noqa: F401 (a fixture)


@pytest.fixture
def path(built_in_pairs, tmp_path):
    """edge-0 in groups of 2 blocks: 0..4 below/at its peers' checkpoint (4), 5..6 above it,
    all batched (by close, at 7 blocks: the incomplete group 3 holds block 6, batched)."""
    copy = tmp_path / "net"
    shutil.copytree(built_in_pairs, copy)
    return copy


FORGE_OPEN_GROUP = 'UPDATE digests SET digests = zeroblob(32) WHERE "group" = 3'


def test_the_built_store_has_a_batched_block_in_its_incomplete_group(path):
    db = sqlite3.connect(peer0(path))
    try:
        assert db.execute("SELECT value FROM meta WHERE key = 'indexed'").fetchone() == ("6",)
        assert db.execute('SELECT length(digests) FROM digests WHERE "group" = 3').fetchone() == (32,)
    finally:
        db.close()


def test_a_forged_digests_row_of_the_incomplete_group_is_refused_on_open(path):
    """The row of the group still incomplete was never checked on open (its digests were
    read from its records), but became the group's checked digests when an append completed
    it: the peer then served the forged digest of block 6 (the block itself refused forever),
    and signed it in its next checkpoint."""
    sql(path, FORGE_OPEN_GROUP)
    refused_on_open(path, "stored digests of group 3 differ from its records")


def test_a_digests_row_forged_under_the_running_peer_is_never_served(path):
    """The same row changed under the running peer before an append completes the group:
    the group's hash of digests is its records', so the forged row is refused on read (and the
    next open refuses the store), never served as block 6's digest."""
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge, other = net.service("edge-0").peers
        genuine = other.digest(6)
        sql(path, FORGE_OPEN_GROUP)
        assert net.submit("edge-0", b"completes group 3").result().height == 7
        edge.store._digest_cache.clear()
        with pytest.raises(StorageError, match="changed under it"):
            edge.store.digest(6)
        # (the peer answers for a recent block with the digest it validated, from memory: the
        # forged row is not what it serves, and the block's own stored bytes are still genuine)
        assert edge.digest(6) == other.digest(6) == genuine and edge.block(6).digest == genuine
        assert edge.height == 8
    refused_on_open(path, "differ from the ones this peer validated")


# --- hostile arguments to the store's queries and writes ---------------------------------

def test_the_store_refuses_hostile_arguments_with_its_own_errors(tmp_path):
    """The queries raised bare TypeErrors (location of a str or None, statuses, index_digest,
    blocks of a str or float; an adjust of the wrong length was cut short by zip); an append
    with a tx id that is not bytes was stored, and its batch then failed with a TypeError on
    every later append and on close."""
    store = PeerStore(tmp_path / "p.sqlite", "c")
    store.append(0, b"\1" * 32, b"block 0", [b"\2" * 32])
    for call in (lambda: store.location("ab" * 32), lambda: store.location(None), lambda: store.location(5),
                 lambda: store.statuses("1"), lambda: store.statuses(None), lambda: store.index_digest("0"),
                 lambda: store.index_digest(0, [1]), lambda: store.index_digest(0, [None] * ledger.store.INDEX_BUCKETS),
                 lambda: store.blocks("0"), lambda: store.blocks(0.5),
                 lambda: store.append(1, b"\3" * 32, b"block 1", ["not bytes"]),
                 lambda: store.append(1, b"\3" * 32, b"block 1", [b"\4" * 31]),
                 lambda: store.append(1, b"\3" * 32, b"block 1", [], [(0, "not bytes")]),
                 lambda: store.append(1.0, b"\3" * 32, b"block 1", []),
                 lambda: store.append(1, "\3" * 32, b"block 1", []), lambda: store.index_tail("1", [])):
        with pytest.raises(ArgumentError):
            call()
    assert store.location(b"\2" * 31) is None and list(store.blocks(1 << 80)) == []
    assert store.height() == 1 and list(store.blocks(0)) == [(0, b"\1" * 32, b"block 0")]
    store.append(1, b"\3" * 32, b"block 1", [b"\4" * 32])
    store.close()
    store = PeerStore(tmp_path / "p.sqlite", "c")
    try:
        assert store.indexed_height() == 1 and store.tx_index() == {b"\2" * 32: (0, 0), b"\4" * 32: (1, 0)}
    finally:
        store.close()


# --- the index under a running peer: another writer's commit, whatever the file times say ---

def refused_again(net, edge, old):
    """`old` (committed, its index row deleted) is refused again, and no chain grew."""
    heights = {cid: net.height(cid) for cid in net.chain_ids}
    with pytest.raises(LedgerError):
        edge.check_transaction(old)
    block, rejected = edge.propose([old])
    assert block.transactions == () and len(rejected) == 1
    assert {cid: net.height(cid) for cid in net.chain_ids} == heights


def test_an_index_row_deleted_by_another_connection_is_seen_with_file_times_that_do_not_move(path, monkeypatch):
    """changed_files compared only the files' inode, size and times: a commit of another
    connection (an operator's sqlite3) within the coarse clock tick of the store's own write,
    into a WAL restarted at the same size, kept them all, and the bucket summed before was
    believed again: the deleted row let a committed transaction be proposed again. Here the
    files' times and sizes are frozen; SQLite's data_version still moves."""
    class FrozenStat:  # (the filesystem as such a write leaves it)
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def stat(name):
            return os.stat_result((0o644, 1, 1, 1, 0, 0, 4096, 0, 0, 0))

    monkeypatch.setattr(ledger.store, "os", FrozenStat())
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        old = net.block("edge-0", 0).transactions[0]
        assert edge.locate(old.tx_id[:2] + bytes(30)) is None  # (its bucket summed: absences believed)
        sql(path, "DELETE FROM txs WHERE tx_id = x'%s'" % old.tx_id.hex())
        refused_again(net, edge, old)
        assert edge.block(0).transactions[0].tx_id == old.tx_id


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_index_row_deleted_by_another_connection_around_the_stores_own_write_is_seen(path, when):
    """The store took the files' state for its own just before its write (then took the write
    lock) and just after its commit: a commit of another connection landing between the check
    and the lock, or between the commit and the snapshot, was taken for the store's own, and
    the deleted row let a committed transaction be proposed again. Both ends are now taken
    under SQLite's write lock."""
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        old = net.block("edge-0", 0).transactions[0]
        assert edge.locate(old.tx_id[:2] + bytes(30)) is None  # (its bucket summed: absences believed)
        delete = "DELETE FROM txs WHERE tx_id = x'%s'" % old.tx_id.hex()
        real = edge.store._transaction

        def raced():
            tx = real()

            class Raced:
                def __enter__(self):
                    if when == "before":
                        sql(path, delete)
                    return tx.__enter__()

                def __exit__(self, *exc):
                    try:
                        return tx.__exit__(*exc)
                    finally:
                        if when == "after":
                            sql(path, delete)
            return Raced()

        edge.store._transaction = raced
        edge.record_checkpoint()  # (one write of the store's own)
        del edge.store._transaction
        assert edge.store.changed_files() is not None
        refused_again(net, edge, old)
