"""One SQLite file per peer (WAL, synchronous=FULL): a block is on disk before it is reported.

The store keeps bytes only; what they mean is checked by ledger.peer on every open (fully
above the peer's validated checkpoint, by the hashes its checkpoint signed below it), and every
block or header read back later must be the one the peer validated (ChainState.block,
ChainState.signed_header); an index row found is checked against its block (ChainState.locate).

Durability. Every append is one transaction, fsynced (WAL with synchronous=FULL) before it
returns: a power loss loses no block reported stored, and can lose only the append under way
(its transaction is all or nothing). The transaction index (txs) is derived data, written in
batches of TX_INDEX_BATCH blocks inside an append's transaction, with the height it is
complete to (meta 'indexed'): a power loss can lose the index rows of at most the last
TX_INDEX_BATCH - 1 blocks, never a block, and Peer.load indexes those blocks again from
their stored bytes (index_tail) before the store is used. close() writes the pending rows.

Write amplification. Each append writes, into the WAL, the pages it changes (the new leaf of
the blocks table, its overflow page, the b-tree's right edge); SQLite copies each page once
more into the database when it checkpoints the WAL (every WAL_AUTOCHECKPOINT pages).
PAGE_SIZE-byte pages keep that close to the block's bytes (64 KiB pages wrote ~350x a
747-byte block); a random-keyed index row per append would add a random leaf every time,
hence the batches. bench/ledger_age.py measures the figure.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

from ledger.errors import StorageError

SCHEMA_VERSION = 3  # 3: 512-byte pages, the transaction index in batches (meta 'indexed')
PAGE_SIZE = 512
TX_INDEX_BATCH = 1024  # blocks whose index rows are written together
WAL_AUTOCHECKPOINT = 1000  # pages (SQLite's default)
FETCH_ROWS = 512  # blocks read per step when streaming
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, digest BLOB NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txs (tx_id BLOB PRIMARY KEY, height INTEGER NOT NULL,
                                position INTEGER NOT NULL) WITHOUT ROWID;
"""


class PeerStore:
    """Append-only block storage of one peer for one chain."""

    def __init__(self, path: Path, chain_id: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._unindexed: dict[int, list[tuple[bytes, int, int]]] = {}  # height -> its rows, not yet in txs
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # (no effect once created)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            self._db.executescript(_SCHEMA)
            rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            if not rows:
                with self._transaction():
                    self._db.executemany("INSERT INTO meta VALUES (?, ?)",
                                         [("schema", str(SCHEMA_VERSION)), ("chain", chain_id)])
            elif rows.get("schema") != str(SCHEMA_VERSION) or rows.get("chain") != chain_id:
                raise StorageError(f"{self.path}: not a version-{SCHEMA_VERSION} store of chain {chain_id}")
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from None

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self_inner):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, exc_type, exc, tb):
                db.execute("COMMIT" if exc_type is None else "ROLLBACK")
                return False

        return _Tx()

    def append(self, height: int, digest: bytes, data: bytes, tx_ids: list[bytes]) -> None:
        """Store a validated block in one durable transaction, with the transaction index of
        the blocks not indexed yet once they are TX_INDEX_BATCH (module docstring)."""
        with self._lock:
            # (kept on failure too: a commit reported failed may have reached disk; a retry at
            # this height replaces them)
            self._hold_index(height, tx_ids)
            try:
                with self._transaction():
                    self._db.execute("INSERT INTO blocks VALUES (?, ?, ?)", (height, digest, data))
                    if len(self._unindexed) >= TX_INDEX_BATCH:
                        self._write_index(height)
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot append block {height}: {exc}") from None
            if len(self._unindexed) >= TX_INDEX_BATCH:
                self._unindexed = {h: rows for h, rows in self._unindexed.items() if h > height}

    def _write_index(self, height: int) -> None:
        """The pending index rows, and 'indexed' = `height` (inside a transaction)."""
        rows = sorted(row for h in sorted(self._unindexed) if h <= height for row in self._unindexed[h])
        self._db.executemany("INSERT OR REPLACE INTO txs VALUES (?, ?, ?)", rows)
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('indexed', ?)", (str(height),))

    def indexed_height(self) -> int:
        """The height up to which the stored transaction index is complete (-1: none)."""
        value = self._one("SELECT value FROM meta WHERE key = 'indexed'", ())
        try:
            indexed = int(value) if value is not None else -1
        except ValueError:  # (anyone with the file may have written it: then index everything)
            indexed = -1
        return max(-1, min(indexed, self.height() - 1))

    def index_tail(self, height: int, tx_ids: list[bytes]) -> None:
        """Hold the index rows of a stored block above indexed_height (Peer.load), to be
        written with the next batch or on close."""
        with self._lock:
            self._hold_index(height, tx_ids)

    def _hold_index(self, height: int, tx_ids: list[bytes]) -> None:
        self._unindexed[height] = [(t, height, i) for i, t in enumerate(tx_ids)]

    def height(self) -> int:
        """One past the highest stored height: the number of blocks, as Peer.load refuses
        gaps (a lookup on the key, not a count of the table)."""
        return self._one("SELECT COALESCE(MAX(height) + 1, 0) FROM blocks", ())

    def digest(self, height: int) -> bytes | None:
        """The stored digest of block `height`, or None (without reading the block)."""
        value = self._one("SELECT digest FROM blocks WHERE height = ?", (height,))
        return bytes(value) if value is not None else None

    def _one(self, query: str, args: tuple):
        with self._lock:
            try:
                row = self._db.execute(query, args).fetchone()
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from None
        return row[0] if row else None

    def blocks(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
        """(height, digest, data) from `start` on, in height order, streamed FETCH_ROWS at a
        time (memory does not grow with the chain)."""
        next_height = start
        while True:
            with self._lock:
                try:
                    rows = self._db.execute("SELECT height, digest, data FROM blocks WHERE height >= ? "
                                            "ORDER BY height LIMIT ?", (next_height, FETCH_ROWS)).fetchall()
                except sqlite3.Error as exc:
                    raise StorageError(f"{self.path}: {exc}") from None
            if not rows:
                return
            yield from rows
            next_height = rows[-1][0] + 1

    def checkpoint(self) -> dict | None:
        """The peer's validated checkpoint (what Peer.load trusts below), or None."""
        value = self._one("SELECT value FROM meta WHERE key = 'checkpoint'", ())
        try:
            checkpoint = json.loads(value) if value is not None else None
        except (ValueError, TypeError, RecursionError):  # (anyone with the file may have written it)
            return None
        return checkpoint if isinstance(checkpoint, dict) else None

    def checkpoint_height(self) -> int | None:
        """The height the checkpoint names (not checked), or None."""
        cp = self.checkpoint()
        return cp.get("height") if cp is not None else None

    def set_checkpoint(self, checkpoint: dict) -> None:
        """Replace the validated checkpoint (one durable transaction)."""
        with self._lock:
            try:
                with self._transaction():
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('checkpoint', ?)", (json.dumps(checkpoint),))
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot write the checkpoint: {exc}") from None

    def get(self, height: int) -> bytes | None:
        """The stored bytes of block `height`, or None."""
        return self._one("SELECT data FROM blocks WHERE height = ?", (height,))

    def tx_index(self) -> dict[bytes, tuple[int, int]]:
        """Every indexed transaction id -> (height, position): the stored rows up to
        indexed_height, then the rows not written yet."""
        indexed = self.indexed_height()
        with self._lock:
            try:
                rows = self._db.execute("SELECT tx_id, height, position FROM txs WHERE height <= ?",
                                        (indexed,)).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from None
            pending = [row for h in sorted(self._unindexed) if h > indexed for row in self._unindexed[h]]
        return {bytes(t): (h, p) for t, h, p in rows + pending}

    def close(self) -> None:
        """Write the pending index rows (best effort: the next open indexes them again) and
        close the database."""
        with self._lock:
            try:
                stored = self._db.execute("SELECT MAX(height) FROM blocks").fetchone()[0]
                if self._unindexed and stored is not None:
                    with self._transaction():
                        self._write_index(stored)
            except sqlite3.Error:
                pass
            self._db.close()

    # --- queries for a chain state that reads the store on demand (issue 13) ---

    def location(self, tx_id: bytes) -> tuple[int, int] | None:
        """(height, position) of `tx_id` in the stored index up to indexed_height, or None
        (the rows not written yet are of blocks the peer's chain state holds in memory)."""
        indexed = self.indexed_height()
        with self._lock:
            try:
                row = self._db.execute("SELECT height, position FROM txs WHERE tx_id = ? AND height <= ?",
                                       (tx_id, indexed)).fetchone()
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from None
        return (row[0], row[1]) if row else None

    def index_sum(self, up_to: int, term) -> int:
        """The sum of term(tx_id, height, position) over the stored index rows of the blocks
        up to height `up_to` (no mod: the caller reduces), streamed FETCH_ROWS at a time."""
        total = 0
        with self._lock:
            try:
                cursor = self._db.execute("SELECT tx_id, height, position FROM txs WHERE height <= ?", (up_to,))
                while rows := cursor.fetchmany(FETCH_ROWS):
                    total += sum(term(bytes(t), h, p) for t, h, p in rows)
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from None
        return total
