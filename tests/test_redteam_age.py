"""Red team of issue 13's reopen shortcut, the on-demand chain state and the v4 block log: an
operator or intruder with write access to a peer's files (not its key) edits the block log or
the SQLite file, before an open or under a running peer, or asks the new queries hostile
things. Each attack is refused with a StorageError/LedgerError and leaves the chains as they
were."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

import ledger
from ledger.errors import ArgumentError, LedgerError, NotFound, StorageError
from ledger.peer import Peer
import ledger.store
from ledger.store import PeerStore
from tests import store_tamper

TOY = None


def _build(path):
    """A network whose edge-0 holds blocks 0..3 below its peers' checkpoint (4), and 5..6
    above it (committed without a checkpoint, as after a crash)."""
    with ledger.Network.init(path, subchains=1, params=TOY, auto_interlock=False) as net:
        for i in range(4):
            net.submit("edge-0", b"record %d" % i).result()
        net.interlock()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(Peer, "checkpoint_if_behind", lambda self: None)
        with ledger.Network.open(path, auto_interlock=False) as net:
            for i in range(2):
                net.submit("edge-0", b"after %d" % i).result()
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, toy):
    global TOY
    TOY = toy
    return _build(tmp_path_factory.mktemp("age") / "net")


@pytest.fixture(scope="module")
def built_in_pairs(tmp_path_factory, toy):
    """The same, in a store of groups of 2 blocks (complete groups below and above the checkpoint)."""
    global TOY
    TOY = toy
    with pytest.MonkeyPatch.context() as m:
        m.setattr(ledger.store, "GROUP_BLOCKS", 2)
        return _build(tmp_path_factory.mktemp("pairs") / "net")


@pytest.fixture
def path(built, tmp_path):
    copy = tmp_path / "net"
    shutil.copytree(built, copy)
    return copy


def peer0(path):
    return store_tamper.store_path(path, "edge-0.peer0")


def sql(path, *statements):
    db = sqlite3.connect(peer0(path), isolation_level=None)
    try:
        for statement in statements:
            store_tamper.index_sql(db, statement)
    finally:
        db.close()


def refused_on_open(path, match):
    before = store_tamper.store_bytes(path)
    with pytest.raises(StorageError, match=match):
        ledger.Network.open(path, auto_interlock=False)
    assert store_tamper.store_bytes(path) == before


# --- under a running peer: the stored index no longer answers for absence -----------------

@pytest.mark.parametrize("edit", ["delete", "key changed", "raw byte"])
def test_an_index_row_removed_under_a_running_peer_does_not_let_its_transaction_in_again(path, edit):
    """Peer.load checks the stored index (its rows' sum is signed in the checkpoint), then the
    index answers for the absence of old transactions. A row deleted after that let the peer
    propose, endorse and (1-of-n) commit a replay of a committed transaction."""
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        old = net.block("edge-0", 0).transactions[0]
        assert edge.store.indexed_height() == edge.height - 1 and old.tx_id not in edge.state._recent
        if edit == "raw byte":  # (not through SQLite: the key's bytes in the file itself)
            raw = bytearray(peer0(path).read_bytes())
            at = raw.index(old.tx_id)
            raw[at] ^= 1
            with open(peer0(path), "r+b") as f:
                f.seek(at)
                f.write(raw[at:at + 1])
        else:
            sql(path, "DELETE FROM txs WHERE tx_id = x'%s'" % old.tx_id.hex() if edit == "delete"
                else "UPDATE txs SET tx_id = zeroblob(32) WHERE tx_id = x'%s'" % old.tx_id.hex())
        heights = {cid: net.height(cid) for cid in net.chain_ids}
        with pytest.raises(LedgerError):
            edge.check_transaction(old)
        block, rejected = edge.propose([old])
        assert block.transactions == () and len(rejected) == 1 and isinstance(rejected[0][1], LedgerError)
        assert {cid: net.height(cid) for cid in net.chain_ids} == heights
        assert edge.block(0).transactions[0].tx_id == old.tx_id


def test_an_edit_that_keeps_the_index_lets_the_peer_answer_again(path):
    """Any write to the SQLite file by another makes the peer sum its index rows again once;
    when they are still the ones it checked, it answers absences (and commits) as before."""
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        old = net.block("edge-0", 0).transactions[0]
        sql(path, "UPDATE meta SET value = value WHERE key = 'chain'")
        assert edge.store.changed_files() is not None
        assert edge.locate(b"\1" * 32) is None and edge.store.changed_files() is None
        with pytest.raises(LedgerError, match="already on"):
            edge.check_transaction(old)
        assert net.submit("edge-0", b"still served").result().height == 7


# --- a power loss between a checkpoint and the next batch -------------------------------

def test_an_index_batch_lost_below_the_checkpoint_is_written_again(path):
    """The batches are derived data: a power loss loses the rows of the blocks after the last
    one, and a checkpoint (every CHECKPOINT_EVERY blocks) is usually above it. The restored
    blocks' rows were not held again, so the store never wrote a batch after that: every later
    open decoded every block since (and memory held all their ids)."""
    sql(path, "DELETE FROM txs", "DELETE FROM blocks", "DELETE FROM meta WHERE key = 'indexed'")
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        assert edge.store.indexed_height() == -1 and edge.height == 7
        tx_ids = [net.block("edge-0", h).transactions[0].tx_id for h in range(7)]
    db = sqlite3.connect(peer0(path))
    try:
        assert db.execute("SELECT value FROM meta WHERE key = 'indexed'").fetchone() == ("6",)
        assert sorted(db.execute("SELECT tx_id, height FROM txs").fetchall()) == sorted(zip(tx_ids, range(7)))
    finally:
        db.close()
    with ledger.Network.open(path, auto_interlock=False) as net:
        assert net.peer("edge-0").store.indexed_height() == 6 and net.peer("edge-0").locate(tx_ids[0]) == (0, 0)


# --- stored values of the wrong type or range --------------------------------------------

@pytest.mark.parametrize("edit", [
    "UPDATE txs SET position = -1 WHERE height = 0",
    "UPDATE txs SET position = 99999999999 WHERE height = 0",
    "UPDATE txs SET height = -1 WHERE height = 0",
    "UPDATE txs SET height = 0.5 WHERE height = 0",
    "UPDATE txs SET tx_id = 'abc' WHERE height = 0",
    "UPDATE txs SET tx_id = x'00' WHERE height = 0",
])
def test_an_index_row_of_another_type_or_range_is_a_storage_error_on_its_lookup(path, edit):
    """A position or height out of the signed message's range crashed the open with a bare
    OverflowError (or a wrapped TypeError/AttributeError). Open reads no row now; the lookup
    of the transaction (its row found, or its bucket summed) refuses."""
    sql(path, edit)
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        tx_id = net.service("edge-0").peers[1].block(0).transactions[0].tx_id
        with pytest.raises(StorageError, match="transaction index"):
            edge.locate(tx_id)
        assert edge.height == 7


def test_an_index_row_of_another_type_under_a_running_peer_is_a_storage_error(path):
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        tx_id = net.block("edge-0", 1).transactions[0].tx_id
        sql(path, "UPDATE txs SET height = 1.5 WHERE tx_id = x'%s'" % tx_id.hex())
        for read in (edge.locate, edge.receipt, edge.transaction):
            with pytest.raises(StorageError, match="index row"):
                read(tx_id)
        assert edge.block(1).transactions[0].tx_id == tx_id


# --- the records open reads instead of the old blocks: status records, index sums, group size -

@pytest.mark.parametrize("edit", [
    "DELETE FROM statuses",
    "UPDATE statuses SET record = record || x'00'",
    "UPDATE statuses SET record = x'00'",
    "UPDATE statuses SET height = height - 1",
    "UPDATE statuses SET position = 1",
    "INSERT INTO statuses SELECT height - 2, position, record FROM statuses",  # (a copy at another block)
    "UPDATE statuses SET height = 'x'",
])
def test_a_stored_status_record_forged_dropped_or_moved_is_caught_on_open(path, edit):
    """Open takes the status records (what interlocking and the verifier trust) from the
    store instead of decoding the status blocks: they must chain to the hash the checkpoint
    signed."""
    sql(path, edit)
    refused_on_open(path, "status record")


@pytest.mark.parametrize("edit", [
    "UPDATE index_sums SET total = zeroblob(256) WHERE bucket = (SELECT MIN(bucket) FROM index_sums)",
    "DELETE FROM index_sums WHERE bucket = (SELECT MIN(bucket) FROM index_sums)",
    "INSERT OR REPLACE INTO index_sums VALUES (4095, randomblob(256))",
    "UPDATE index_sums SET bucket = bucket + 1 WHERE bucket = (SELECT MAX(bucket) FROM index_sums)",
    "UPDATE index_sums SET total = x'00'",
    "UPDATE index_sums SET bucket = 99999 WHERE bucket = (SELECT MIN(bucket) FROM index_sums)",
])
def test_a_stored_index_sum_forged_is_caught_on_open(path, edit):
    sql(path, edit)
    refused_on_open(path, "index")


def test_an_index_row_deleted_with_its_buckets_sum_recomputed_is_caught_on_open(path):
    """The lazy check of an absence compares a bucket's rows with its stored sum; an operator
    who deletes a row and recomputes the sums fools that comparison, not the checkpoint's
    signature over the sums."""
    db = sqlite3.connect(peer0(path), isolation_level=None)
    try:
        store_tamper.index_sql(db, "DELETE FROM txs WHERE height = 1")
        store_tamper.resum_index(db)
    finally:
        db.close()
    refused_on_open(path, "transaction index differs")


@pytest.mark.parametrize("value", ["2", "0", "x", "65537"])
def test_a_changed_group_size_is_refused_on_open(path, value):
    sql(path, f"UPDATE meta SET value = '{value}' WHERE key = 'group'")
    refused_on_open(path, "edge-0.peer0")


# --- the log: any changed, moved, dropped or added record below / at / above the checkpoint -

def _edited(rows, edit, height):
    data = {h: d for h, _, d in rows}
    out = list(rows)
    if edit == "data byte":
        out[height] = (height, rows[height][1], data[height][:-9] + bytes([data[height][-9] ^ 1]) + data[height][-8:])
    elif edit == "digest":
        out[height] = (height, bytes(32), data[height])
    elif edit == "swap":
        out[height], out[height + 1] = (height, rows[height + 1][1], data[height + 1]), (height + 1, *rows[height][1:])
    elif edit == "duplicate":
        out[height + 1] = (height + 1, *rows[height][1:])
    elif edit == "drop":
        out = [(h if h < height else h - 1, d, b) for h, d, b in rows if h != height]
    return out


@pytest.mark.parametrize("height", [0, 4, 5])  # below, at, above the checkpoint
@pytest.mark.parametrize("edit", ["data byte", "digest", "swap", "duplicate", "drop"])
def test_a_log_record_edited_with_its_checksums_fixed_is_caught_on_open(path, height, edit):
    store = peer0(path)
    rows = _edited(store_tamper.rows(store), edit, height)
    store_tamper.rewrite_log(store, rows)
    sql(path, "DELETE FROM blocks WHERE height >= %d" % len(rows))
    refused_on_open(path, "edge-0.peer0")


def test_another_peers_log_and_database_of_the_same_chain_are_only_its_blocks(path):
    """Peer 1's files under peer 0's name: the checkpoint is peer 1's (another signer), so
    every block is validated; the blocks are the chain's, so it opens with them."""
    store_tamper.copy_store(store_tamper.store_path(path, "edge-0.peer1"), peer0(path))
    with ledger.Network.open(path, auto_interlock=False) as net:
        assert [p.height for p in net.service("edge-0").peers] == [7, 7]


# --- a block changed after open, under the running peer ----------------------------------

@pytest.mark.parametrize("height", [0, 3, 4, 5])  # in complete groups below and above the checkpoint (4), its own
@pytest.mark.parametrize("edit", ["data byte", "digest"])
def test_a_block_changed_under_the_running_peer_is_refused_on_any_read(built_in_pairs, tmp_path, height, edit):
    """Open hashed every record; a record rewritten afterwards (its checksums fixed) is not
    served by any read: the block, its header, its digest, a proof, the stream."""
    path = tmp_path / "net"
    shutil.copytree(built_in_pairs, path)
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge, other = net.service("edge-0").peers
        tx_id = other.block(height).transactions[0].tx_id
        original, content, digest = edge.block(height).to_bytes(), edge.store.content_digest(6), edge.digest(height)
        store_tamper.rewrite_log(peer0(path), _edited(store_tamper.rows(peer0(path)), edit, height))
        assert edge.block(height).to_bytes() == original  # (from the store's cache of checked groups)
        edge.state._headers.clear(), edge.store._groups.clear()  # (the caches: every read goes to the file)
        for read in (lambda: edge.block(height), lambda: edge.signed_header(height),
                     lambda: edge.inclusion_proof(tx_id, 6), lambda: list(edge.store.blocks(0)),
                     lambda: edge.transactions([tx_id]), lambda: net.transactions([b"\x03" * 32, tx_id])):
            with pytest.raises(StorageError, match="changed under it"):
                read()
        assert edge.store.content_digest(6) == content  # (a checkpoint signs the bytes read or written)
        assert edge.digest(height) == digest  # (from the digests table, checked: not the record's)
        assert edge.height == 7 and other.block(height).transactions[0].tx_id == tx_id


@pytest.mark.parametrize("under", [False, True])
def test_a_stored_digest_changed_in_the_digests_table_is_refused(built_in_pairs, tmp_path, under):
    """The digests of the batched blocks are read from the digests table (one row per group),
    checked against the hashes of what the store read on open or wrote: a row changed
    before open changes the content digest the checkpoint signed, one changed under the
    running peer is refused by the read."""
    path = tmp_path / "net"
    shutil.copytree(built_in_pairs, path)
    edit = "UPDATE digests SET digests = CAST(zeroblob(32) || substr(digests, 33) AS BLOB) WHERE \"group\" = 0"
    if not under:
        sql(path, edit)
        refused_on_open(path, "differ from the ones this peer validated")
        return
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        sql(path, edit)
        edge.store._digest_cache.clear()
        with pytest.raises(StorageError, match="changed under it"):
            edge.digest(0)
        with pytest.raises(StorageError, match="changed under it"):
            edge.block(1)
        assert edge.height == 7


@pytest.mark.parametrize("height", [0, 1, 3, 4])
def test_a_block_changed_before_open_in_a_hashed_group_is_caught_on_open(built_in_pairs, tmp_path, height):
    """The records up to the checkpoint are hashed, not parsed, on open: the changed group
    changes the content digest the checkpoint signed."""
    path = tmp_path / "net"
    shutil.copytree(built_in_pairs, path)
    store_tamper.rewrite_log(peer0(path), _edited(store_tamper.rows(peer0(path)), "data byte", height))
    refused_on_open(path, "differ from the ones this peer validated")


# --- hostile inputs to the on-demand queries ---------------------------------------------

def test_the_queries_refuse_hostile_arguments(path):
    with ledger.Network.open(path, auto_interlock=False) as net:
        edge = net.peer("edge-0")
        ids = [net.block("edge-0", h).transactions[0].tx_id for h in (0, 1)]
        assert edge.block_witnesses([], 3) == {} and edge.inclusion_proofs([], 3) == []
        for call in (lambda: edge.block_witnesses(None, 3), lambda: edge.inclusion_proofs(ids, "3"),
                     lambda: edge.inclusion_proofs(None, 3), lambda: edge.state.transaction_at(ids[0], 0, "0"),
                     lambda: edge.signed_header(True), lambda: edge.transaction(5), lambda: edge.holds(None),
                     lambda: edge.state.transaction_at(5, 0, 0)):
            with pytest.raises(ArgumentError):
                call()
        for call in (lambda: edge.block(1 << 80), lambda: edge.inclusion_proofs(ids, 1 << 70),
                     lambda: edge.block_witness(-1, 3), lambda: edge.accumulator_value(1 << 64),
                     lambda: edge.receipt(b"\0" * 31)):
            with pytest.raises(NotFound):
                call()
        with pytest.raises(StorageError, match="an integer of 81 bits") as info:  # (a row pointing nowhere)
            edge.state.transaction_at(ids[0], 1 << 80, 1 << 80)
        assert str(1 << 80) not in str(info.value)
        assert edge.locate("zz") is None and edge.locate(b"\0" * 33) is None
        assert net.verify(ids[0], "main").ok
