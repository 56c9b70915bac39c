"""The transaction index in sorted runs (ledger.store, version 6): each batch's rows are a new
run, RUN_FANOUT runs of a level are merged into one of the next in the batch's transaction.
Lookups equal a dict's after any batches, merges and reopens; a row moved between runs by
another connection gives the same answers, one deleted or altered in any run is caught by the
first absence it could fake; a crash in the middle of a merge loses no block and no row (the
batch is derived again from the log)."""
from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.store
from ledger.errors import StorageError
from ledger.store import PeerStore

ROOT = Path(__file__).resolve().parents[1]


def tx_id(height: int, position: int) -> bytes:
    return hashlib.sha256(b"tx %d.%d" % (height, position)).digest()


def append(store: PeerStore, height: int, txs: int) -> None:
    data = b"block %d" % height
    store.append(height, hashlib.sha256(data).digest(), data, [tx_id(height, p) for p in range(txs)])


def small_runs(fanout: int = 2, rows: int = 4):
    """A batch every `rows` index rows, `fanout` runs merged: merges after a few blocks."""
    return mock.patch.multiple(ledger.store, RUN_FANOUT=fanout, TX_INDEX_ROWS=rows)


def levels(store: PeerStore) -> dict[int, int]:
    out: dict[int, int] = {}
    for _, level in store._runs:
        out[level] = out.get(level, 0) + 1
    return out


def expected_after(sizes: list[int]) -> dict[bytes, tuple[int, int]]:
    return {tx_id(h, p): (h, p) for h, n in enumerate(sizes) for p in range(n)}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=1, max_size=40),
       st.integers(2, 4), st.integers(1, 8))
def test_lookups_after_random_batches_merges_and_reopens_equal_a_dict(tmp_path_factory, blocks, fanout, rows):
    path = tmp_path_factory.mktemp("runs") / "p.sqlite"
    with small_runs(fanout, rows):
        store = PeerStore(path, "edge-0")
        try:
            for height, (txs, reopen) in enumerate(blocks):
                append(store, height, txs)
                if reopen:
                    store.close()
                    store = PeerStore(path, "edge-0")
            expected = expected_after([n for n, _ in blocks])
            assert store.tx_index() == expected
            indexed = store.indexed_height()
            for tx, (height, position) in expected.items():
                assert store.location(tx) == ((height, position) if height <= indexed else None)
            for probe in range(20):  # (absences: each bucket summed, equal to what the store wrote)
                assert store.location(hashlib.sha256(b"absent %d" % probe).digest()) is None
            assert all(count < fanout for count in levels(store).values())  # (every full level merged)
            assert len(store._runs) <= (fanout - 1) * len(levels(store))
        finally:
            store.close()


@pytest.fixture
def merged(tmp_path):
    """A store whose index holds runs of levels 0 and 1 (one block, 4 rows, a batch)."""
    with small_runs():
        store = PeerStore(tmp_path / "p.sqlite", "edge-0")
        for height in range(3):
            append(store, height, 4)
        assert levels(store) == {0: 1, 1: 1}
        yield store
        store.close()


def edit(store: PeerStore, *statements: str) -> None:
    db = sqlite3.connect(store.path, isolation_level=None)
    try:
        for statement in statements:
            db.execute(statement)
    finally:
        db.close()


def run_of(store: PeerStore, level: int) -> str:
    return ledger.store.run_table(next(r for r, lv in store._runs if lv == level))


def test_a_row_moved_between_runs_by_another_connection_gives_the_same_answers(merged):
    old, new, moved = run_of(merged, 1), run_of(merged, 0), tx_id(0, 1).hex()
    edit(merged, f"INSERT INTO {new} SELECT * FROM {old} WHERE tx_id = x'{moved}'",
         f"DELETE FROM {old} WHERE tx_id = x'{moved}'")
    assert merged.changed_files() is not None
    assert merged.location(tx_id(0, 1)) == (0, 1)
    assert merged.location(tx_id(0, 1)[:2] + bytes(30)) is None  # (its bucket's rows sum as written)
    assert merged.tx_index() == expected_after([4, 4, 4])


@pytest.mark.parametrize("change", ["DELETE FROM {run} WHERE tx_id = x'{tx}'",
                                    "UPDATE {run} SET height = 1 WHERE tx_id = x'{tx}'",
                                    "UPDATE {run} SET tx_id = zeroblob(32) WHERE tx_id = x'{tx}'"])
@pytest.mark.parametrize("level", [0, 1])
def test_a_row_deleted_or_altered_in_any_run_is_caught_by_the_absence_it_could_fake(merged, change, level):
    """(Before runs, the same edits of the one txs table: tests/test_ledger_store_index.py.)"""
    target = tx_id(0, 2) if level == 1 else tx_id(2, 2)
    edit(merged, change.format(run=run_of(merged, level), tx=target.hex()))
    with pytest.raises(StorageError, match="transaction index was changed"):
        merged.location(target if "DELETE" in change or "zeroblob" in change else target[:2] + bytes(30))


def test_a_run_dropped_by_another_connection_is_a_storage_error(merged):
    edit(merged, f"DROP TABLE {run_of(merged, 1)}")
    with pytest.raises(StorageError, match="no such table"):
        merged.location(tx_id(0, 0))


CRASH_IN_MERGE = """
import hashlib, os, sys
sys.path.insert(0, {root!r})
from unittest import mock
import ledger.store
from tests.test_ledger_store_runs import append, small_runs
with small_runs():
    store = ledger.store.PeerStore({path!r}, "edge-0")
    for height in range(3):
        append(store, height, 4)
    with mock.patch.object(ledger.store.PeerStore, "_drop_runs", lambda self, runs: os._exit(7)):
        append(store, 3, 4)  # (its batch's merge: the merged run written, the old ones not dropped)
"""


def test_a_crash_in_the_middle_of_a_merge_loses_no_block_and_no_row(tmp_path):
    """The merge runs in the batch's transaction: a crash (the process killed inside it)
    leaves the index as it was before the batch, the block is in the log, and the rows are
    derived again from it (index_tail, as Peer.load does) and written with the next batch."""
    path = tmp_path / "p.sqlite"
    child = subprocess.run([sys.executable, "-c", CRASH_IN_MERGE.format(root=str(ROOT), path=str(path))])
    assert child.returncode == 7
    with small_runs():
        store = PeerStore(path, "edge-0")
        try:
            assert store.height() == 4 and store.indexed_height() == 2 and levels(store) == {0: 1, 1: 1}
            assert store.location(tx_id(0, 0)) == (0, 0) and store.location(tx_id(3, 0)) is None
            store.index_tail(3, [tx_id(3, p) for p in range(4)])
            append(store, 4, 4)
            assert store.indexed_height() == 4 and levels(store) == {2: 1}
            for tx, where in expected_after([4] * 5).items():
                assert store.location(tx) == where
            assert store.location(hashlib.sha256(b"absent").digest()) is None
        finally:
            store.close()
    db, reopened = sqlite3.connect(path), PeerStore(path, "edge-0")
    try:
        names = {n for n, in db.execute("SELECT name FROM sqlite_master WHERE name GLOB 'txs_*'")}
        assert names == {ledger.store.run_table(r) for r, _ in reopened._runs}  # (no run left behind)
    finally:
        db.close()
        reopened.close()


def test_operators_view_txs_holds_every_run_s_rows(merged):
    db = sqlite3.connect(merged.path)
    try:
        rows = db.execute("SELECT tx_id, height, position FROM txs").fetchall()
    finally:
        db.close()
    assert {t: (h, p) for t, h, p in rows} == expected_after([4, 4, 4])
