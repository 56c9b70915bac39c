"""Per peer, an append-only block log and a SQLite file: a block is on disk before it is reported.

The store keeps bytes only; what they mean is checked by ledger.peer on every open (fully
above the peer's validated checkpoint, by the hashes its checkpoint signed below it), and every
block or header read back later must be the one the peer validated (ChainState.block,
ChainState.signed_header); an index row found is checked against its block (ChainState.locate),
an absence counts only while the SQLite file is as this store wrote it (changed_files; else
ledger.peer sums the rows again against its own index sum).

Layout (version 4). PATH.blocks, the log: a header (LOG_MAGIC, the version, the store's
random id, which the SQLite file names too: a log is never read as another store's), then one
record per block in height order (record_bytes: magic, height, length, digest, the CRC-32 of
the data, the CRC-32 of those fields, then the block's bytes). PATH (SQLite, WAL,
synchronous=FULL): meta (schema, chain, the log's id, 'indexed', the checkpoint), and, written
in batches of TX_INDEX_BATCH blocks, each block's offset in the log (blocks) and the
transaction index (txs), complete up to indexed_height(). Reading block h is one offset lookup
and one read; open reads the headers of the records above the last batch only.

Durability. append writes the record and fdatasyncs the log before it returns (creating the
log fsyncs it and its directory): a power loss loses no block reported stored. It can leave
the record under way torn, the log ending inside it: open ignores that record and the next
append cuts it off. This relies on a file's length growing only with its data written (ext4
data=ordered, XFS, btrfs); everything else that does not fit (a complete record failing a
checksum, a wrong height or magic, a batch naming a record the log lacks, another store's
log) is a StorageError naming the block, never repaired. An append that raised may still
have reached the disk (then it is stored, as Peer.commit assumes). The checksums catch
damage, not an attack (whoever edits the file can fix them): ledger.peer catches a changed
block. set_checkpoint is one synchronous=FULL transaction: a power loss loses none written.
The batches are derived data: a power loss can lose the offsets and index rows of at most
the last TX_INDEX_BATCH - 1 blocks, which open reads back from the log and Peer.load indexes
again from their bytes (index_tail). close() writes the pending batch.

Write amplification. An append writes its block once, plus RECORD_HEADER bytes; a batch
writes the pages its rows change into the WAL and once more into the database at the WAL's
checkpoint. The index's keys are random: once the tree has many more leaves than a batch has
rows, each row rewrites a leaf and interior pages of its own, and only a larger batch shares
them (at 10^6 one-transaction 787-byte blocks, batches of 1024 blocks wrote 4.05x the
stored bytes, of 16384 3.0x, growing slowly with the tree's depth). The price: up to
TX_INDEX_BATCH - 1 blocks indexed again after a power loss, and a longer append every
TX_INDEX_BATCH blocks. Syncing every block costs the device at least one filesystem page
per append however few bytes it holds. bench/ledger_age.py measures both (write() and
device bytes).

Version-3 stores (blocks inside SQLite) are refused with a StorageError, not migrated.
"""
from __future__ import annotations

import bisect
import json
import os
import secrets
import sqlite3
import struct
import threading
import zlib
from pathlib import Path
from typing import Iterator

from ledger.encoding import U32_MAX, U64_MAX
from ledger.errors import StorageError

SCHEMA_VERSION = 4  # 4: blocks in a log beside the SQLite file, offsets batched with the index
LOG_SUFFIX = ".blocks"
LOG_MAGIC = b"edgeacc block log\n\x00\x00"
_LOG_HEADER = struct.Struct(">20sI16s")  # magic, version, store id
DIGEST_SIZE = 32
_RECORD = struct.Struct(f">4sQI{DIGEST_SIZE}sI")  # magic, height, length, digest, CRC-32 of the data
RECORD_MAGIC = b"BLK\n"
RECORD_HEADER = _RECORD.size + 4  # and the CRC-32 of those fields
PAGE_SIZE = 512
TX_INDEX_BATCH = 16384  # blocks whose offsets and index rows are written together (module docstring)
WAL_AUTOCHECKPOINT = 1000  # pages (SQLite's default)
FETCH_ROWS = 512  # blocks read per step when streaming
FETCH_BYTES = 1 << 22  # (at least one block)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS txs (tx_id BLOB PRIMARY KEY, height INTEGER NOT NULL,
                                position INTEGER NOT NULL) WITHOUT ROWID;
"""


def record_bytes(height: int, digest: bytes, data: bytes) -> bytes:
    """One block's record in the log (the layout: module docstring)."""
    head = _RECORD.pack(RECORD_MAGIC, height, len(data), digest, zlib.crc32(data))
    return head + zlib.crc32(head).to_bytes(4, "big") + data


def _short(value) -> str:
    return str(value)[:20]


class PeerStore:
    """Append-only block storage of one peer for one chain."""

    def __init__(self, path: Path, chain_id: str, *, durable: bool = True) -> None:
        """`durable=False` (bulk builds only, set_durable): appends and transactions are not
        synced, so a power loss may lose any block not synced since."""
        self.path = Path(path)
        self._durable = True
        self.log_path = self.path.with_suffix(LOG_SUFFIX)
        if self.log_path == self.path:
            raise StorageError(f"{self.path}: the SQLite file may not end in {LOG_SUFFIX}")
        self._lock = threading.Lock()
        self._appending = threading.Lock()  # one append at a time (its fdatasync outside _lock)
        self._unindexed: dict[int, list[tuple[bytes, int, int]]] = {}  # height -> its rows, not yet in txs
        self._log: int | None = None
        self._tail: list[int] = []  # offsets of the blocks from _batched on, not in the blocks table yet
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall()) if self._has_meta() else {}
            if rows.get("schema", str(SCHEMA_VERSION)) == str(SCHEMA_VERSION):  # (a refused store is left as it is)
                self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # (no effect once created)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            if not rows:
                rows = {"schema": str(SCHEMA_VERSION), "chain": chain_id, "log": self._create_log().hex()}
                self._db.executescript(_SCHEMA)
                with self._transaction():
                    self._db.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())
            elif rows.get("schema") != str(SCHEMA_VERSION):
                raise StorageError(f"{self.path}: a version-{_short(rows.get('schema'))} store; this version reads "
                                   f"version {SCHEMA_VERSION} only (it does not migrate older stores)")
            elif rows.get("chain") != chain_id:
                raise StorageError(f"{self.path}: not a store of chain {chain_id}")
            self._open_log(rows.get("log"))
            self._changed_under, self._as_written = False, self._db_files()  # (before anything is read)
            if not durable:
                self.set_durable(False)
        except (sqlite3.Error, OSError, StorageError) as exc:
            self._close_files()
            if isinstance(exc, StorageError):
                raise
            raise StorageError(f"{self.log_path if isinstance(exc, OSError) else self.path}: {exc}") from None

    def _db_files(self) -> tuple:
        """What a write to the SQLite file or its WAL changes (inode, size, times; ctime is
        set by the kernel on every write, even one that resets mtime)."""
        out = []
        for name in (self.path, Path(f"{self.path}-wal")):
            try:
                st = os.stat(name)
                out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
            except OSError:  # (missing: no WAL yet)
                out.append(None)
        return tuple(out)

    def _own_write(self):
        """Around each write of this store's: the files' state after it is this store's, unless
        they had changed before it (then they stay changed: changed_files)."""
        store, transaction = self, self._transaction()

        class _Write:
            def __enter__(self_inner):
                store._changed_under = store._changed_under or store._db_files() != store._as_written
                transaction.__enter__()

            def __exit__(self_inner, *exc):
                try:
                    return transaction.__exit__(*exc)
                finally:
                    store._as_written = store._db_files()

        return _Write()

    def changed_files(self) -> tuple | None:
        """None while the SQLite file and its WAL are as this store last wrote them (or as
        index_checked took them); otherwise their state now: another writer (an operator's
        sqlite3, a raw edit) may have moved or deleted index rows since Peer.load checked
        them, so an absence from the index proves nothing until they are checked again
        (ledger.peer._StoredBlocks.tx_location)."""
        with self._lock:
            files = self._guard(self._db_files)
            return files if self._changed_under or files != self._as_written else None

    def index_checked(self, files: tuple) -> None:
        """The rows were checked again, in the files' state `files` (changed_files)."""
        with self._lock:
            self._changed_under, self._as_written = False, files

    def _has_meta(self) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is not None

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self_inner):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, exc_type, exc, tb):
                db.execute("COMMIT" if exc_type is None else "ROLLBACK")
                return False

        return _Tx()

    # --- the log -------------------------------------------------------------------------

    def _create_log(self) -> bytes:
        """A new, empty, durable log (one left by a creation that crashed before its database
        row may be replaced; one holding blocks may not)."""
        self._log = os.open(self.log_path, os.O_RDWR | os.O_CREAT, 0o644)
        if os.fstat(self._log).st_size > _LOG_HEADER.size:
            raise StorageError(f"{self.log_path}: holds blocks, but {self.path.name} has no store: not its log")
        store_id = secrets.token_bytes(16)
        os.ftruncate(self._log, 0)
        self._write_at(_LOG_HEADER.pack(LOG_MAGIC, SCHEMA_VERSION, store_id), 0)
        os.fsync(self._log)
        directory = os.open(self.log_path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return store_id

    def _open_log(self, store_id: str | None) -> None:
        """Check the log is this store's, then find its end: the batched blocks' offsets are in
        the database, the headers of the records after them are read (the last may be torn)."""
        if self._log is None:
            try:
                self._log = os.open(self.log_path, os.O_RDWR)
            except FileNotFoundError:
                raise StorageError(f"{self.log_path}: the block log of {self.path.name} is missing") from None
        header = os.pread(self._log, _LOG_HEADER.size, 0)
        if (len(header) != _LOG_HEADER.size or _LOG_HEADER.unpack(header)[:2] != (LOG_MAGIC, SCHEMA_VERSION)
                or _LOG_HEADER.unpack(header)[2].hex() != store_id):
            raise StorageError(f"{self.log_path}: not the version-{SCHEMA_VERSION} block log of {self.path.name}")
        # the batched blocks: the offsets and the index rows up to 'indexed', both (one transaction)
        top = self._db.execute("SELECT MAX(height) FROM blocks").fetchone()[0]
        try:
            indexed = int(self._one_row("SELECT value FROM meta WHERE key = 'indexed'"))
        except (TypeError, ValueError):  # (anyone with the file may have written it: then index everything)
            indexed = -1
        self._batched = max(0, min(top + 1 if isinstance(top, int) else 0, indexed + 1))
        size = os.fstat(self._log).st_size
        self._count, self._end, self._torn = self._batched, size, False  # (_offsets checks against _end)
        if self._batched:
            start = self._offsets(self._batched - 1, self._batched - 1)[0]
            self._end = start + RECORD_HEADER + self._header(os.pread(self._log, RECORD_HEADER, start),
                                                             self._batched - 1)[0]
        else:
            self._end = _LOG_HEADER.size
        while self._end < size:
            head = os.pread(self._log, RECORD_HEADER, self._end)
            if len(head) < RECORD_HEADER:
                self._torn = True
                break
            length = self._header(head, self._count)[0]
            if self._end + RECORD_HEADER + length > size:
                self._torn = True
                break
            self._tail.append(self._end)
            self._count, self._end = self._count + 1, self._end + RECORD_HEADER + length
        if self._end > size:
            raise StorageError(f"{self.log_path}: block {self._batched - 1} is cut short (the log ends at {size})")

    def _one_row(self, query: str):
        row = self._db.execute(query).fetchone()
        return row[0] if row else None

    def _header(self, head: bytes, height: int) -> tuple[int, bytes]:
        """(length, digest) of the record of block `height` whose header is `head`."""
        if len(head) < RECORD_HEADER:
            raise StorageError(f"{self.log_path}: the record of block {height} is cut short")
        magic, stored_height, length, digest, _ = _RECORD.unpack_from(head)
        if zlib.crc32(head[:_RECORD.size]) != int.from_bytes(head[_RECORD.size:RECORD_HEADER], "big"):
            raise StorageError(f"{self.log_path}: the record header of block {height} fails its checksum")
        if magic != RECORD_MAGIC or stored_height != height:
            raise StorageError(f"{self.log_path}: the record at block {height}'s place is of block {stored_height}")
        return length, digest

    def _record(self, record: bytes, height: int) -> tuple[bytes, bytes]:
        """(digest, data) of block `height` from its whole record."""
        length, digest = self._header(record[:RECORD_HEADER], height)
        data = record[RECORD_HEADER:]
        if len(data) != length:
            raise StorageError(f"{self.log_path}: the record of block {height} is {len(data)} bytes, not {length}")
        if zlib.crc32(data) != _RECORD.unpack_from(record)[4]:
            raise StorageError(f"{self.log_path}: block {height} fails its checksum")
        return digest, data

    def _offsets(self, lo: int, hi: int) -> list[int]:
        """The log offsets of blocks lo..hi (hi <= the number of blocks, whose 'offset' is the
        log's end); checked to be increasing integers within the log."""
        out: list[int] = []
        if lo < self._batched:
            top = min(hi, self._batched - 1)
            out = [row[0] for row in self._db.execute(
                "SELECT offset FROM blocks WHERE height BETWEEN ? AND ? ORDER BY height", (lo, top))]
            if len(out) != top - lo + 1:
                raise StorageError(f"{self.path}: the offsets of blocks {lo} to {top} are missing")
        if hi >= self._batched:
            out += self._tail[max(lo - self._batched, 0):hi - self._batched + 1]
            if hi == self._count:
                out.append(self._end)
        previous = _LOG_HEADER.size - 1
        for i, offset in enumerate(out):
            if not isinstance(offset, int) or not previous < offset <= self._end:
                raise StorageError(f"{self.path}: the offset of block {lo + i} is not in the log, after the "
                                   "block before")
            previous = offset
        return out

    @property
    def _fd(self) -> int:
        """The log's descriptor (StorageError once closed)."""
        if self._log is None:
            raise StorageError(f"{self.log_path}: the store is closed")
        return self._log

    def _write_at(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written

    # --- writing -------------------------------------------------------------------------

    def set_durable(self, durable: bool) -> None:
        """Sync every append and transaction (True, the default) or none (False: for a bulk
        build, bench/ledger_age.py; the module docstring's durability holds only from the
        switch back to True on, which syncs what was written before)."""
        if not isinstance(durable, bool):
            raise StorageError(f"{self.path}: durable must be True or False")
        with self._appending, self._lock:
            self._guard(self._db.execute, f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
            if durable and not self._durable:
                self._guard(os.fsync, self._fd)
                self._guard(self._db.execute, "PRAGMA wal_checkpoint(FULL)")
            self._durable = durable

    def append(self, height: int, digest: bytes, data: bytes, tx_ids: list[bytes]) -> None:
        """Store a validated block durably (the log fdatasynced before this returns), with the
        offsets and the transaction index of the blocks not batched yet once they are
        TX_INDEX_BATCH (module docstring). Appends run one at a time; reads (get, digest,
        location, ...) do not wait for an append's fdatasync: the record becomes visible
        only once it is durable."""
        with self._appending:
            with self._lock:
                if height != self._count:
                    raise StorageError(f"{self.log_path}: cannot append block {height}: it holds {self._count} blocks")
                if len(digest) != DIGEST_SIZE:
                    raise StorageError(f"{self.log_path}: cannot append block {height}: its digest is not "
                                       f"{DIGEST_SIZE} bytes")
                # (once the append is at the next height, never a stored block's: kept on failure
                # too, a write reported failed may have reached disk; a retry at this height
                # replaces them)
                self._hold_index(height, tx_ids)
                record, end = record_bytes(height, digest, data), self._end
                try:
                    size = os.fstat(self._fd).st_size
                    if size != end and not (self._torn and size > end):
                        raise StorageError(f"{self.log_path}: cannot append block {height}: the log is {size} "
                                           f"bytes, not the {end} this store wrote")
                    if size != end:
                        os.ftruncate(self._log, end)  # the torn record of a crash, or of a failed write
                except OSError as exc:
                    raise StorageError(f"{self.log_path}: cannot append block {height}: {exc}") from None
                self._torn = True  # (until it is durable)
            try:
                self._write_at(record, end)
                if self._durable:
                    os.fdatasync(self._fd)
            except OSError as exc:
                raise StorageError(f"{self.log_path}: cannot append block {height}: {exc}") from None
            with self._lock:
                self._torn = False
                self._tail.append(end)
                self._count, self._end = self._count + 1, end + len(record)
                if len(self._tail) >= TX_INDEX_BATCH:
                    self._write_batch()

    def _write_batch(self) -> None:
        """The offsets and the index rows of every block not batched yet, and 'indexed', in one
        transaction; not before Peer.load handed the index rows of the blocks it read
        (index_tail). Best effort: the block is durable already, a failed batch is written
        with the next one."""
        top = self._count - 1
        if not self._tail or any(h not in self._unindexed for h in range(self._batched, self._count)):
            return
        rows = sorted(row for h in self._unindexed if h <= top for row in self._unindexed[h])
        try:
            with self._own_write():
                self._db.executemany("INSERT OR REPLACE INTO blocks VALUES (?, ?)",
                                     zip(range(self._batched, self._count), self._tail))
                self._db.executemany("INSERT OR REPLACE INTO txs VALUES (?, ?, ?)", rows)
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('indexed', ?)", (str(top),))
        except sqlite3.Error:
            return
        self._batched, self._tail, self._unindexed = self._count, [], {}

    def index_tail(self, height: int, tx_ids: list[bytes]) -> None:
        """Hold the index rows of a stored block above indexed_height (Peer.load), to be
        written with the next batch or on close."""
        with self._lock:
            self._hold_index(height, tx_ids)

    def _hold_index(self, height: int, tx_ids: list[bytes]) -> None:
        self._unindexed[height] = [(t, height, i) for i, t in enumerate(tx_ids)]

    def set_checkpoint(self, checkpoint: dict) -> None:
        """Replace the validated checkpoint (one durable transaction)."""
        with self._lock:
            try:
                with self._own_write():
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('checkpoint', ?)", (json.dumps(checkpoint),))
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot write the checkpoint: {exc}") from None

    # --- reading -------------------------------------------------------------------------

    def indexed_height(self) -> int:
        """The height up to which the stored transaction index (and the offsets) are
        complete (-1: none)."""
        with self._lock:
            return self._batched - 1

    def height(self) -> int:
        """One past the highest stored height: the number of blocks whose records the log
        holds now (fewer than this store wrote if the file was cut under it)."""
        with self._lock:
            size = self._guard(os.fstat, self._fd).st_size
            if size >= self._end:
                return self._count
            # cut under the store (its database too, maybe): count the records left, reading
            # their headers (an attack's path, and the network stops)
            count, offset = 0, _LOG_HEADER.size
            while offset + RECORD_HEADER <= size:
                head = self._guard(os.pread, self._log, RECORD_HEADER, offset)
                offset += RECORD_HEADER + self._header(head, count)[0]
                if offset > size:
                    break
                count += 1
            return count

    def _index_row(self, row) -> tuple[bytes, int, int]:
        """A stored index row (tx id, height, position), checked to be one (anyone with the
        file may have written any value of any type there)."""
        tx_id, height, position = row
        if not (isinstance(tx_id, bytes) and len(tx_id) == DIGEST_SIZE and type(height) is int
                and 0 <= height <= U64_MAX and type(position) is int and 0 <= position <= U32_MAX):
            raise StorageError(f"{self.path}: a transaction index row is not (a {DIGEST_SIZE}-byte id, a height, "
                               f"a position): ({_short(tx_id)!r}, {_short(height)}, {_short(position)})")
        return tx_id, height, position

    def _guard(self, call, *args):
        try:
            return call(*args)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from None
        except OSError as exc:
            raise StorageError(f"{self.log_path}: {exc}") from None

    def _stored(self, height) -> bool:
        return isinstance(height, int) and 0 <= height < self._count

    def digest(self, height: int) -> bytes | None:
        """The stored digest of block `height`, or None (read from its record's header)."""
        with self._lock:
            if not self._stored(height):
                return None
            start = self._offsets(height, height)[0]
            head = self._guard(os.pread, self._fd, RECORD_HEADER, start)
        return self._header(head, height)[1]

    def get(self, height: int) -> bytes | None:
        """The stored bytes of block `height`, or None."""
        with self._lock:
            if not self._stored(height):
                return None
            start, end = self._offsets(height, height + 1)
            record = self._guard(os.pread, self._fd, end - start, start)
        return self._record(record, height)[1]

    def blocks(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
        """(height, digest, data) from `start` on, in height order, streamed at most FETCH_ROWS
        blocks or FETCH_BYTES at a time (memory does not grow with the chain)."""
        height = max(start, 0)
        while True:
            with self._lock:
                if height >= self._count:
                    return
                offsets = self._offsets(height, min(height + FETCH_ROWS, self._count))
                n = max(1, bisect.bisect_right(offsets, offsets[0] + FETCH_BYTES) - 1)
                chunk = self._guard(os.pread, self._fd, offsets[n] - offsets[0], offsets[0])
            for i in range(n):
                record = chunk[offsets[i] - offsets[0]:offsets[i + 1] - offsets[0]]
                yield (height + i, *self._record(record, height + i))
            height += n

    def checkpoint(self) -> dict | None:
        """The peer's validated checkpoint (what Peer.load trusts below), or None."""
        with self._lock:
            value = self._guard(self._one_row, "SELECT value FROM meta WHERE key = 'checkpoint'")
        try:
            checkpoint = json.loads(value) if value is not None else None
        except (ValueError, TypeError, RecursionError):  # (anyone with the file may have written it)
            return None
        return checkpoint if isinstance(checkpoint, dict) else None

    def checkpoint_height(self) -> int | None:
        """The height the checkpoint names (not checked), or None."""
        cp = self.checkpoint()
        return cp.get("height") if cp is not None else None

    def tx_index(self) -> dict[bytes, tuple[int, int]]:
        """Every indexed transaction id -> (height, position): the stored rows up to
        indexed_height, then the rows not written yet."""
        with self._lock:
            indexed = self._batched - 1
            rows = self._guard(lambda: self._db.execute("SELECT tx_id, height, position FROM txs WHERE height <= ?",
                                                        (indexed,)).fetchall())
            pending = [row for h in sorted(self._unindexed) if h > indexed for row in self._unindexed[h]]
        return {t: (h, p) for t, h, p in map(self._index_row, rows + pending)}

    def close(self) -> None:
        """Write the pending batch (best effort: the next open reads it back) and close the
        files (after an append under way: its write must not reach a closed, maybe reused,
        descriptor)."""
        with self._appending, self._lock:
            if self._log is not None:
                self._write_batch()
            self._close_files()

    def _close_files(self) -> None:
        try:
            self._db.close()
        except (AttributeError, sqlite3.Error):  # (a failed open may not have got as far)
            pass
        if self._log is not None:
            os.close(self._log)
            self._log = None

    # --- queries for a chain state that reads the store on demand (issue 13) ---

    def location(self, tx_id: bytes) -> tuple[int, int] | None:
        """(height, position) of `tx_id` in the stored index up to indexed_height, or None
        (the rows not written yet are of blocks the peer's chain state holds in memory)."""
        with self._lock:
            row = self._guard(lambda: self._db.execute("SELECT tx_id, height, position FROM txs WHERE tx_id = ? "
                                                       "AND height <= ?", (tx_id, self._batched - 1)).fetchone())
        return self._index_row(row)[1:] if row else None

    def index_sum(self, up_to: int, term, *, held: bool = False) -> int:
        """The sum of term(tx_id, height, position) over the stored index rows of the blocks
        up to height `up_to` (no mod: the caller reduces), streamed FETCH_ROWS at a time;
        `held`: up to indexed_height, and the held rows of the stored blocks above it."""
        def total() -> int:
            cursor, result = self._db.execute("SELECT tx_id, height, position FROM txs WHERE height <= ?", (up_to,)), 0
            while rows := cursor.fetchmany(FETCH_ROWS):
                result += sum(term(*self._index_row(row)) for row in rows)
            return result

        with self._lock:
            if held:
                up_to = self._batched - 1
                held_rows = (row for h in range(self._batched, self._count) for row in self._unindexed.get(h, ()))
                return sum(term(*row) for row in held_rows) + self._guard(total)
            return self._guard(total)
