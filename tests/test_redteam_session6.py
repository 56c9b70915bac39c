"""Red team of session 6's trust code: rollback refusal and repair (ledger.peer), the
certificate registry, status transactions and the revocation fence (ledger.cluster.node).
Each test mounts one attack by a dishonest participant and asserts its refusal and the
unchanged state."""
from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

import ledger
from ledger.errors import ChainIntegrityError, ForkDetected
from tests import store_tamper
from tests.test_ledger_reopen import build


def checkpoint_row(store) -> str:
    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()[0]
    finally:
        db.close()


def set_checkpoint_row(store, value: str) -> None:
    db = sqlite3.connect(store, isolation_level=None)
    try:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('checkpoint', ?)", (value,))
    finally:
        db.close()


@pytest.fixture
def forked(tmp_path, toy):
    """Two copies of one deployment that diverged after an interlocking round (each committed
    its own two unanchored records on edge-0, then closed cleanly: checkpoints at the heads).
    Returns (the deployment, its diverged copy)."""
    path, other = tmp_path / "net", tmp_path / "backup"
    build(path, toy)
    shutil.copytree(path, other)
    for where, tag in ((path, b"acknowledged"), (other, b"replacement")):
        with ledger.Network.open(where, auto_interlock=False) as net:
            for i in range(2):
                net.submit("edge-0", b"%s %d" % (tag, i)).result()
    return path, other


def test_a_log_swapped_for_another_history_under_the_peers_own_checkpoints_is_refused(forked):
    """The operator replaces edge-0's logs by those of a diverged copy (the same keys endorsed
    them, so every block validates) and keeps each peer's own checkpoint, which signed another
    block at its height. The old open took the mismatch for a stale checkpoint, validated the
    other history, opened on it (the acknowledged records gone) and signed a checkpoint of it,
    erasing the evidence. Refused now, naming the height, and nothing is written."""
    path, other = forked
    for peer in ("edge-0.peer0", "edge-0.peer1"):
        store = store_tamper.store_path(path, peer)
        kept = checkpoint_row(store)
        store_tamper.copy_store(store_tamper.store_path(other, peer), store)
        set_checkpoint_row(store, kept)
    before = store_tamper.store_bytes(path)
    with pytest.raises(ChainIntegrityError, match="edge-0.peer0.sqlite.*signed checkpoint vouches for block") as info:
        ledger.Network.open(path, auto_interlock=False)
    exc = info.value
    top = len(store_tamper.rows(store_tamper.store_path(path, "edge-0.peer0")))
    assert (exc.chain_id, exc.height) == ("edge-0", top - 1)
    assert exc.expected.hex() in str(exc) and exc.found.hex() in str(exc) and exc.found != exc.expected
    assert "restore this peer's files from a copy that holds that block" in str(exc)
    assert store_tamper.store_bytes(path) == before


def test_a_repair_from_a_peer_holding_another_history_writes_nothing_and_keeps_the_evidence(forked):
    """edge-0.peer0's log is cut back below its checkpoint; the operator hands the repair a
    peer1 holding a diverged history (the same keys endorsed it: it validates). The repair
    caught peer0 up with that history, then refused it (not the checkpointed block): but the
    blocks were written, and the next plain open validated the other history, opened on it and
    signed a checkpoint of it. Now the catch-up refuses the block that contradicts the
    checkpoint before writing it, and every later open refuses the same way."""
    path, other = forked
    peer0, peer1 = (store_tamper.store_path(path, p) for p in ("edge-0.peer0", "edge-0.peer1"))
    store_tamper.copy_store(store_tamper.store_path(other, "edge-0.peer1"), peer1)
    top = len(store_tamper.rows(peer0))
    store_tamper.truncate(peer0, top - 2)
    before = store_tamper.store_bytes(path)
    with pytest.raises(ForkDetected, match="on edge-0.peer1, but edge-0.peer0's signed checkpoint anchored"):
        ledger.Network.open(path, auto_interlock=False, repair=["edge-0.peer0"])
    assert store_tamper.store_bytes(path) == before
    with pytest.raises(ChainIntegrityError, match="edge-0.peer0"):
        ledger.Network.open(path, auto_interlock=False)
    assert store_tamper.store_bytes(path) == before


@pytest.mark.xfail(strict=True, raises=pytest.fail.Exception, reason=(
    "the only evidence of the height a peer validated is its checkpoint, kept in the store the attacker "
    "edits: an older one of its own signature, swapped in with the log cut back to it, is indistinguishable "
    "from a clean close there (as a deleted one is from none: "
    "test_ledger_anchors.py::test_unanchored_blocks_cut_back_open); only the other layer's anchors catch a "
    "cut below a reported height. Closing it needs a record of the height outside the operator's reach "
    "(another party's store, etcd)"))
def test_an_older_checkpoint_swapped_in_with_the_log_cut_back_to_it_is_refused(tmp_path, toy):
    path = tmp_path / "net"
    build(path, toy)
    peers = [store_tamper.store_path(path, p) for p in ("edge-0.peer0", "edge-0.peer1")]
    older = {store: (checkpoint_row(store), len(store_tamper.rows(store))) for store in peers}
    with ledger.Network.open(path, auto_interlock=False) as net:
        for i in range(2):
            net.submit("edge-0", b"acknowledged %d" % i).result()
    for store, (row, height) in older.items():
        store_tamper.truncate(store, height)
        set_checkpoint_row(store, row)
    with pytest.raises(ChainIntegrityError):
        ledger.Network.open(path, auto_interlock=False).close()
