"""One SQLite file per peer (WAL, synchronous=FULL): a block is on disk before it is reported.

The store keeps bytes only; what they mean is re-validated by ledger.chain on every open.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Iterator

from ledger.errors import StorageError

SCHEMA_VERSION = 1
PAGE_SIZE = 65536
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE,
                                   data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txs (tx_id BLOB PRIMARY KEY, height INTEGER NOT NULL,
                                position INTEGER NOT NULL);
"""


class PeerStore:
    """Append-only block storage of one peer for one chain."""

    def __init__(self, path: Path, chain_id: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            # Blocks are large blobs: big pages avoid long overflow chains (no effect once created).
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
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
        """Store a validated block and its transaction index in one durable transaction."""
        with self._lock:
            try:
                with self._transaction():
                    self._db.execute("INSERT INTO blocks VALUES (?, ?, ?)", (height, digest, data))
                    self._db.executemany("INSERT INTO txs VALUES (?, ?, ?)",
                                         [(t, height, i) for i, t in enumerate(tx_ids)])
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot append block {height}: {exc}") from None

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
        """(height, digest, data) from `start` on, in height order."""
        with self._lock:
            try:
                rows = self._db.execute("SELECT height, digest, data FROM blocks WHERE height >= ? "
                                        "ORDER BY height", (start,)).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from None
        yield from rows

    def get(self, height: int) -> bytes | None:
        """The stored bytes of block `height`, or None."""
        return self._one("SELECT data FROM blocks WHERE height = ?", (height,))

    def tx_index(self) -> dict[bytes, tuple[int, int]]:
        """Every stored transaction id -> (height, position)."""
        with self._lock:
            try:
                rows = self._db.execute("SELECT tx_id, height, position FROM txs").fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {exc}") from None
        return {bytes(t): (h, p) for t, h, p in rows}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
