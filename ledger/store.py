"""Per peer, an append-only block log and a SQLite file: a block is on disk before it is reported.

The store keeps bytes, and checks that every byte it reads back is one it read on open or
wrote since: what they mean is checked by ledger.peer on every open (fully above the peer's
validated checkpoint; below it, the signed content_digest must be the one of the bytes the
store read on open), and an index row found is checked against its block
(ChainState.locate), an absence only once the rows of its bucket sum to what this store
wrote (location).

Layout (version 6). PATH.blocks, the log: a header (LOG_MAGIC, the version, the store's
random id, which the SQLite file names too: a log is never read as another store's), then one
record per block in height order (record_bytes: magic, height, length, digest, the CRC-32 of
the data, the CRC-32 of those fields, then the block's bytes). The records of blocks
g*GROUP_BLOCKS .. (g+1)*GROUP_BLOCKS - 1 are group g, one contiguous byte range. PATH (SQLite,
WAL, synchronous=FULL): meta (schema, chain, the log's id, 'group' (GROUP_BLOCKS when it was
created), 'indexed', the checkpoint), and, written in batches of TX_INDEX_BATCH blocks or
fewer once they hold TX_INDEX_ROWS transactions (one transaction, up to 'indexed'): the log offset of each group's first record and of the end of
the batched records (blocks), each group's digests (digests: one row, the 32-byte digests of
its batched blocks), the transaction index in sorted runs (runs: each run's number and
level; its table txs_RUN: tx id -> height, position, WITHOUT ROWID; the view txs over every
run, for operators), each status transaction's record
(statuses, opaque to the store: ledger.peer encodes them) and, per bucket of tx ids (their
first INDEX_BUCKET_BITS bits), the sum of index_row_hash over its rows (index_sums).

Proposals (the cluster deployment, ledger.cluster.follower "Bodies" and "Terms"): PATH.pending/,
one file TIME-HEIGHT-DIGEST-TERM.body per block this peer endorsed or proposed and has not seen
ordered yet (the block's encoding), written and fdatasynced under a temporary name, renamed,
and the directory fsynced before the peer signs or appends it; deleted once their height is
filled or the log ended their term (in the next such write, and on the node's start), never
before: no honest follower can need a body then, and may need it until then. At most
PENDING_PER_TERM files of one term: past it keep_pending refuses (TermQuotaExceeded), so the
peer endorses nothing more of that term (a cutter blocks only its own term). Files,
not rows: a 1 MiB row cost 4.3 ms CPU (the WAL, the checkpoint's second write, the freed
pages), a file 0.75 ms. Nothing checks them on open: a file is checked against the ordered
header that names it when it is read (a changed one is a body refused, and the peers serve the
right one).

Open reads the batched offsets (a row per group), digests (a row per group, 32 bytes a
block) and index sums, the headers of the records after the last batch, and hashes each group's
records (one SHA-256 over each byte range, at the hash's speed: no record below the last
batch is parsed, this is the only work proportional to the log's bytes) and its digests.
Memory keeps 72 bytes per group (the two hashes and the offset, in flat arrays: about one
byte per block), the record hashes and the digests of the last, incomplete group, and the
digests and held rows of the blocks not batched yet (fewer than TX_INDEX_BATCH blocks' and
about TX_INDEX_ROWS rows): no object per block or per transaction, however large the blocks.
Every read of a block (get, blocks, the partial group of content_digest) reads its whole group and checks
its hash (each record's, in the incomplete group), then its checksums; a digest read
(digest) reads its group's row and checks the hash of its digests (a group's hash of
digests is its records', never its row's: open checks the incomplete group's row). So a
byte changed in the log or the digests table after open, however the checksums were
fixed, is a StorageError on any read of it (a group kept checked in memory serves the bytes it checked); one changed
before open changes content_digest, which covers both hashes of every group, so
ledger.peer refuses the open (Peer.load).

The index runs. A batch's rows, sorted by tx id, are a new run of level 0; in the same
transaction every level holding RUN_FANOUT runs is merged into one run of the next level
(SQLite merges the runs, each read in key order, into the new table in key order: no sort,
no temporary file), the merged ones dropped. A lookup is one query over every run (the key
constraint is pushed into each: one B-tree probe a run); there are fewer than RUN_FANOUT runs
a level and about log_FANOUT(rows / TX_INDEX_ROWS) levels (15 or fewer runs at 10^7
transactions). The guarantees are the rows', not the runs': an index row found is checked
against its block by the caller, an absence believed once its bucket's rows, in every run,
sum to index_sums (a merge moves rows, never changes them: the sums hold across merges, and a
row moved to another run by another writer gives the same answers:
tests/test_ledger_store_runs.py). The price is the lookup's: a probe a run (10 runs at 2*10^6
rows: a found row 40-60 us, an absence in a checked bucket 110-190 us, against 6 and 15-40 us
for the one tree, interleaved at load ~10); a Bloom filter a run would make absences one probe.

Why a pass of SHA-256 over the log's bytes is the only work of open proportional to the chain.
The rule is that any changed byte of any stored block is caught on open; a byte open does not
read cannot be caught, so open reads every byte of the log, and its floor is a pass over them.
The issue's own example, the header hash chain back to the endorsed, checkpointed head, costs
at least that: following it reads and parses every header and hashes it, and it catches a
changed transaction only if every block's Merkle root is recomputed too, which hashes every
transaction's bytes again, one leaf and one tree node at a time. One SHA-256 over each
group's raw bytes hashes each byte once, with no parse and no per-block Python work: the same
pass at the lowest constant (the hash's speed: hashlib's SHA-256 with SHA-NI, 1.5-1.8 GB/s a core
here; the log is read in whole groups into two reused buffers, the next chunk on another
thread while this one's groups are hashed on two: _hash_groups). What else open does that grows
with the chain is per group of GROUP_BLOCKS blocks (its offsets and digests rows: the digests
hashed are 32 bytes a block, a second, 25x smaller byte-hash pass) or per interlocking round
in ledger.peer and ledger.interlock (a status record read and chained, an anchor compared:
1/K of the blocks), each a few microseconds. The blocks since the checkpoint are the only ones
decoded or validated (and the head, decoded to restore from: tests/test_ledger_reopen.py).
Measured at 10^6 one-transaction blocks (4 stores, 1.76 GB of logs, page cache warm:
`python bench/ledger_age.py --breakdown DIR`): 3.4-3.9 s, of which 2.0 s the SHA-256 pass,
0.3 s the digests rows, 0.35 s the status records, 0.55-0.75 s the layer check of every
anchor, 0.03 s the blocks since the checkpoint, 0.01 s the head's decode and < 0.01 s
SQLite's open.
At 10^7 transactions (10^5 blocks of 100, 3.3 GB of logs, a copy of the chain of
`bench/ledger_age.py --sizes 100000 --txs-per-block 100 --bulk`), machine load ~10 on 2 cores:
reopen 3.0-4.0 s wall (2.3-2.6 s CPU) against 5.0-7.7 s (2.4-2.7 s CPU) for the pass of one
1 MiB pread and hash at a time before it, interleaved; with the logs dropped from the page
cache 4.5-8.6 s against 8.8-10.2 s. The CPU is the hash's: the rest of a slow open is the
wait for a core.

Durability. append writes the record and fdatasyncs the log before it returns (creating the
log fsyncs it and its directory): a power loss loses no block reported stored. It can leave
the record under way torn, the log ending inside it: open ignores that record and the next
append cuts it off. This relies on a file's length growing only with its data written (ext4
data=ordered, XFS, btrfs); everything else that does not fit (a complete record failing a
checksum, a wrong height or magic, a batch naming a record the log lacks, another store's
log) is a StorageError naming the block, never repaired. An append that raised may still
have reached the disk (then it is stored, as Peer.commit assumes). The checksums catch
damage, not an attack (whoever edits the file can fix them): the group hashes and ledger.peer
catch a changed block. set_checkpoint is one synchronous=FULL transaction: a power loss
loses none written. The batches are derived data: a power loss can lose the rows of at most
the last TX_INDEX_BATCH - 1 blocks, which open reads back from the log and Peer.load derives
again from their bytes (index_tail); a merge is in its batch's transaction, so a power loss
inside one leaves the runs as the batch before wrote them (tests/test_ledger_store_runs.py).
close() writes the pending batch.

Write amplification. An append writes its block once, plus RECORD_HEADER bytes (and a
filesystem page per fdatasync, for the device). A batch writes the pages its rows change into
the WAL and once more into the database at the WAL's checkpoint (synchronous=FULL, WAL: the
double write is the price of a commit that a power loss cannot tear). Up to version 5 the
index was one B-tree on random keys: once it had many more leaves than a batch had rows, each
~50-byte row rewrote a 512-byte leaf of its own (13.8x the stored bytes at 10^7 transactions
in 100-transaction blocks). A run is written in key order at its table's right edge, every
page once, so a row costs its own bytes, twice (WAL, database), once per level it is merged
through (about log_FANOUT of the runs: 2-3 at 10^7 transactions); a dropped run's pages are
freed, not written. What else a batch writes: the index sums (INDEX_BUCKETS rows of
INDEX_BYTES, about 1 MiB each batch, written twice), each group's digests and first offset,
the status records, 'indexed'. set_checkpoint writes one row. The SQLite file has 4 KiB
pages (a 256-byte index sum a page at 512 bytes) and secure_delete=FAST (a build with
SQLITE_SECURE_DELETE, as this machine's, zeroes and writes every page a merge frees: +0.8x at
2*10^6 rows). Measured (write() bytes over the blocks' bytes, device bytes in brackets),
`python bench/store_write_amplification.py --blocks N --txs T --size S`, 15.7 KB blocks of 100
transactions: version 5 2.94x (3.39x) at 2*10^5 transactions, 8.60x (10.5x) at 2*10^6 (13.8x
at 10^7, bench/ledger_age.py --bulk); version 6 1.92x (2.18x), 2.35x (2.61x), and 2.93x
(3.20x) at 6*10^6 (exponent +0.2: one level more every factor RUN_FANOUT; the SQLite file 68
bytes a row, freed pages of merges included).
790-byte blocks of one transaction, 10^5 blocks: 1.98x (7.21x) -> 1.54x (6.72x: the device
writes a 4 KiB page per fdatasync). The whole ledger, durable (bench/ledger_age.py, 2 peers a
chain, no --bulk): 3000 blocks of 100 transactions 3.38x (3.63x) -> 1.84x (2.11x); 10^4 of one
1.87x (7.05x) both.
The price of the batches: up to TX_INDEX_BATCH - 1 blocks (or TX_INDEX_ROWS rows) indexed
again after a power loss, and a longer append every batch (the merges: the largest, rare,
rewrites RUN_FANOUT runs of the top level). bench/ledger_age.py measures both (write() and
device bytes).

Stores of versions 3, 4 and 5 are refused with a StorageError, not migrated.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import struct
import sys
import threading
import time
import zlib
from array import array
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

from ledger import checks
from ledger.encoding import U32_MAX, U64_MAX
from ledger.errors import ArgumentError, StorageError, TermQuotaExceeded

SCHEMA_VERSION = 6  # 6: the index in sorted runs; 5: group hashes, status records and index sums; 4: blocks in a log
LOG_SUFFIX = ".blocks"
LOG_MAGIC = b"edgeacc block log\n\x00\x00"
_LOG_HEADER = struct.Struct(">20sI16s")  # magic, version, store id
DIGEST_SIZE = 32
_RECORD = struct.Struct(f">4sQI{DIGEST_SIZE}sI")  # magic, height, length, digest, CRC-32 of the data
RECORD_MAGIC = b"BLK\n"
RECORD_HEADER = _RECORD.size + 4  # and the CRC-32 of those fields
PAGE_SIZE = 4096
TX_INDEX_BATCH = 16384  # blocks whose offsets and index rows are written together (module docstring)
TX_INDEX_ROWS = 1 << 16  # or fewer blocks, once they hold this many index rows (memory: per row, not per block)
GROUP_BLOCKS = 64  # blocks whose records one hash covers (a read hashes its block's group), in a new store
MAX_GROUP_BLOCKS = 1 << 16
GROUP_CACHE = 8  # groups kept checked (a witness's window reads the headers of a few)
DIGEST_CACHE = 256  # groups whose checked digests are kept (2 KiB each at 64 blocks a group)
DIGEST_PREFETCH = 32  # groups whose digests a miss reads
WAL_AUTOCHECKPOINT = 1000  # pages (SQLite's default)
FETCH_ROWS = 512  # index rows read per step when summing a bucket
HASH_CHUNK = 2 << 20  # log bytes read per step when hashing it on open (whole groups, at least one)
CONTENT_DOMAIN = b"edgeacc-ledger block log content/5\0"
INDEX_BYTES = 256
INDEX_MODULUS = 1 << 8 * INDEX_BYTES
INDEX_DOMAIN = b"edgeacc-ledger index row/1\0"
INDEX_BUCKET_BITS = 12
INDEX_BUCKETS = 1 << INDEX_BUCKET_BITS
RUN_FANOUT = 8  # runs of one level merged into one of the next (each row rewritten once per level)
MAX_RUN_LEVEL = 64
SUMS_DOMAIN = b"edgeacc-ledger index sums/5\0"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY, level INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS statuses (height INTEGER NOT NULL, position INTEGER NOT NULL, record BLOB NOT NULL,
                                     PRIMARY KEY (height, position)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_sums (bucket INTEGER PRIMARY KEY, total BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS digests ("group" INTEGER PRIMARY KEY, digests BLOB NOT NULL);
"""
PENDING_SUFFIX = ".pending"  # the directory of the proposals a peer keeps (PeerStore.keep_pending)
PENDING_PER_TERM = 64  # proposals of one term a store keeps for unfilled heights (past it: TermQuotaExceeded)


def record_bytes(height: int, digest: bytes, data: bytes) -> bytes:
    """One block's record in the log (the layout: module docstring)."""
    head = _RECORD.pack(RECORD_MAGIC, height, len(data), digest, zlib.crc32(data))
    return head + zlib.crc32(head).to_bytes(4, "big") + data


def index_row_hash(tx_id: bytes, height: int, position: int) -> int:
    """The term of one transaction-index row in its bucket's sum: a 2048-bit extendable-output
    hash, summed mod 2^2048 over the bucket's rows (an order-free multiset hash, so the rows
    in any order give the same sum; at this width a set of forged rows that sums to a deleted
    one's term is out of reach of generalized-birthday attacks)."""
    row = INDEX_DOMAIN + tx_id + height.to_bytes(8, "big") + position.to_bytes(4, "big")
    return int.from_bytes(hashlib.shake_256(row).digest(INDEX_BYTES), "big")


def index_bucket(tx_id: bytes) -> int:
    """The bucket of a transaction id: its first INDEX_BUCKET_BITS bits (a key range of txs)."""
    return int.from_bytes(tx_id[:4], "big") >> 32 - INDEX_BUCKET_BITS


def add_index_rows(sums: list[int], rows: Iterable[tuple[bytes, int, int]], sign: int = 1) -> set[int]:
    """Add (sign 1) or take away (-1) the index_row_hash of each of `rows` (tx id, height,
    position) to its bucket's sum in `sums`; returns the buckets changed."""
    changed = set()
    for tx_id, height, position in rows:
        bucket = index_bucket(tx_id)
        sums[bucket] = (sums[bucket] + sign * index_row_hash(tx_id, height, position)) % INDEX_MODULUS
        changed.add(bucket)
    return changed


def sums_digest(sums: list[int]) -> bytes:
    """The hash of every bucket's index sum (what a checkpoint signs)."""
    return hashlib.sha256(SUMS_DOMAIN + b"".join(s.to_bytes(INDEX_BYTES, "big") for s in sums)).digest()


def _bucket_range(bucket: int) -> tuple[bytes, bytes]:
    """[lo, hi) of the 32-byte ids in `bucket` (hi: above every id of the last bucket)."""
    shift = 32 - INDEX_BUCKET_BITS
    hi = ((bucket + 1) << shift).to_bytes(4, "big") if bucket + 1 < INDEX_BUCKETS else b"\xff" * (DIGEST_SIZE + 1)
    return (bucket << shift).to_bytes(4, "big"), hi


def run_table(run: int) -> str:
    """The table of index run `run` (tx_id -> height, position, sorted by tx_id)."""
    return f"txs_{run}"


def runs_union(runs: Iterable[int]) -> str:
    """One SELECT of the rows of every run in `runs` (a constraint on it is pushed into each
    run's search by SQLite: one B-tree probe a run); also the operator's view txs."""
    return " UNION ALL ".join(f"SELECT tx_id, height, position FROM {run_table(r)}" for r in runs) \
        or "SELECT NULL AS tx_id, NULL AS height, NULL AS position WHERE 0"


def _short(value) -> str:
    return str(value)[:20]


def _fsync_directory(path: Path) -> None:
    """Make the names in directory `path` durable (a file created or renamed there)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(data) -> bytes:
    return hashlib.sha256(data).digest()


class PeerStore:
    """Append-only block storage of one peer for one chain."""

    def __init__(self, path: Path, chain_id: str, *, durable: bool = True) -> None:
        """`durable=False` (bulk builds only, set_durable): appends and transactions are not
        synced, so a power loss may lose any block not synced since."""
        self.path = Path(path)
        self._durable = True
        self.log_path = self.path.with_suffix(LOG_SUFFIX)
        self.pending_dir = self.path.with_suffix(PENDING_SUFFIX)
        self._pending_lock = threading.Lock()
        self._pending_written = 0  # the time (ns) in the name of the last proposal kept (keep_pending)
        self._db_names = (str(self.path), f"{self.path}-wal")  # (_db_files stats them on every index miss)
        if self.path.suffix in (LOG_SUFFIX, PENDING_SUFFIX):
            raise StorageError(f"{self.path}: the SQLite file may not end in {self.path.suffix}")
        self._lock = threading.Lock()
        self._appending = threading.Lock()  # one append at a time (its fdatasync outside _lock)
        # height -> (its index rows, its (position, status record)s), not batched yet
        self._unindexed: dict[int, tuple[list[tuple[bytes, int, int]], list[tuple[int, bytes]]]] = {}
        self._held_rows = 0  # index rows in _unindexed
        self._log: int | None = None
        self._starts = array("q")  # the log offset of each group's first record
        self._group_hashes = bytearray()  # SHA-256 of each complete group's records
        self._digest_hashes = bytearray()  # SHA-256 of each complete group's digests (the digests table's rows)
        self._tail_digests = bytearray()  # the digests of the blocks not batched yet
        self._digest_cache: OrderedDict[int, bytes] = OrderedDict()  # checked digests of a group (LRU)
        self._open_hashes: list[bytes] = []  # SHA-256 of each record of the incomplete group
        self._open_digests = bytearray()  # the digests of the incomplete group's records
        self._open_group = hashlib.sha256()  # over the incomplete group's records
        self._groups: OrderedDict[int, tuple[bytes, list[tuple[bytes, int, int]]]] = OrderedDict()  # checked (LRU)
        self._sums = [0] * INDEX_BUCKETS  # index_row_hash summed per bucket over the batched rows
        self._runs: list[tuple[int, int]] = []  # (run, level) of the index's runs, oldest first
        self._checked_buckets: set[int] = set()  # buckets whose rows were summed since the files were as written
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall()) if self._has_meta() else {}
            if rows.get("schema", str(SCHEMA_VERSION)) == str(SCHEMA_VERSION):  # (a refused store is left as it is)
                self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # (no effect once created)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                # (a merged run's freed pages are not zeroed and written: builds with SQLITE_SECURE_DELETE
                # would write them all again; the index holds nothing secret)
                self._db.execute("PRAGMA secure_delete=FAST")
                self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            if not rows:
                rows = {"schema": str(SCHEMA_VERSION), "chain": chain_id, "group": str(GROUP_BLOCKS),
                        "log": self._create_log().hex()}
                self._db.executescript(_SCHEMA)
                self._db.execute(f"CREATE VIEW IF NOT EXISTS txs AS {runs_union(())}")
                with self._transaction():
                    self._db.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())
            elif rows.get("schema") != str(SCHEMA_VERSION):
                raise StorageError(f"{self.path}: a version-{_short(rows.get('schema'))} store; this version reads "
                                   f"version {SCHEMA_VERSION} only (it does not migrate older stores)")
            elif rows.get("chain") != chain_id:
                raise StorageError(f"{self.path}: not a store of chain {chain_id}")
            group = rows.get("group")
            if not (isinstance(group, str) and group.isascii() and group.isdigit()
                    and 0 < int(group) <= MAX_GROUP_BLOCKS):
                raise StorageError(f"{self.path}: its group size {_short(group)!r} is not one")
            self._group_blocks = int(group)
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
        set by the kernel on every write, even one that resets mtime, but from a coarse clock:
        a write of the same size within a few ms of this store's own keeps all three), and
        SQLite's data_version, which every commit of another connection changes."""
        out = []
        for name in self._db_names:
            try:
                st = os.stat(name)
                out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
            except OSError:  # (missing: no WAL yet)
                out.append(None)
        return (*out, self._data_version())

    def _data_version(self) -> int:
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    def _own_write(self):
        """Around each write of this store's: the files' state after it is this store's, unless
        they had changed before it (then they stay changed: changed_files). Both ends are
        taken under SQLite's write lock (no other connection commits while it is held): a
        commit of another just before the write or just after it is not taken for this
        store's own."""
        store, transaction = self, self._transaction()

        class _Write:
            def __enter__(self_inner):
                transaction.__enter__()
                try:
                    changed = store._db_files() != store._as_written
                except BaseException:
                    transaction.__exit__(*sys.exc_info())
                    raise
                store._changed_under = store._changed_under or changed

            def __exit__(self_inner, *exc):
                try:
                    version = store._data_version()  # (this store's own commit leaves it as it is)
                except sqlite3.Error:
                    version = None
                try:
                    return transaction.__exit__(*exc)
                finally:
                    store._as_written = store._db_files()
                    store._changed_under = store._changed_under or store._as_written[-1] != version

        return _Write()

    def changed_files(self) -> tuple | None:
        """None while the SQLite file and its WAL are as this store last wrote them (or as
        location found them when it summed a bucket again); otherwise their state now: another
        writer (an operator's sqlite3, a raw edit) may have moved or deleted index rows, so an
        absence from the index proves nothing until its bucket is summed again (location)."""
        with self._lock:
            files = self._guard(self._db_files)
            return files if self._changed_under or files != self._as_written else None

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
        """Check the log is this store's, find its end (the batched groups' offsets are in the
        database, the headers of the records after them are read; the last may be torn), hash
        every complete group and each record of the incomplete one, and read the index sums."""
        if self._log is None:
            try:
                self._log = os.open(self.log_path, os.O_RDWR)
            except FileNotFoundError:
                raise StorageError(f"{self.log_path}: the block log of {self.path.name} is missing") from None
        header = os.pread(self._log, _LOG_HEADER.size, 0)
        if (len(header) != _LOG_HEADER.size or _LOG_HEADER.unpack(header)[:2] != (LOG_MAGIC, SCHEMA_VERSION)
                or _LOG_HEADER.unpack(header)[2].hex() != store_id):
            raise StorageError(f"{self.log_path}: not the version-{SCHEMA_VERSION} block log of {self.path.name}")
        try:
            indexed = int(self._one_row("SELECT value FROM meta WHERE key = 'indexed'"))
        except (TypeError, ValueError):  # (anyone with the file may have written it: then index everything)
            indexed = -1
        self._batched = max(indexed + 1, 0)
        size = os.fstat(self._log).st_size
        self._count, self._end, self._torn = self._batched, self._batched_offsets(), False
        if self._end > size:
            raise StorageError(f"{self.log_path}: block {self._batched - 1} is cut short (the log ends at {size})")
        while self._end < size:
            head = os.pread(self._log, RECORD_HEADER, self._end)
            if len(head) < RECORD_HEADER:
                self._torn = True
                break
            length, digest = self._header(head, self._count)
            if self._end + RECORD_HEADER + length > size:
                self._torn = True
                break
            self._tail_digests += digest
            if self._count % self._group_blocks == 0:
                self._starts.append(self._end)
            self._count, self._end = self._count + 1, self._end + RECORD_HEADER + length
        complete = self._count // self._group_blocks
        self._group_hashes += self._hash_groups(0, complete)
        row = self._hash_digest_rows(complete)
        if self._count % self._group_blocks:
            start = self._starts[-1]
            region = self._read(start, self._end)
            for digest, begin, end in self._parse(region, len(self._starts) - 1):
                self._open_hashes.append(_sha256(region[begin:end]))
                self._open_digests += digest
            self._open_group.update(region)
            # (its row is read back by no query, but one that is not its records' digests is
            # another writer's: refused like every other edit)
            if row is not None and row[1] != self._open_digests[:len(row[1])]:
                raise StorageError(f"{self.path}: the stored digests of group {complete} differ from its records")
        if self._batched:
            self._sums, self._runs = self._stored_sums(), self._stored_runs()

    def _hash_digest_rows(self, complete: int) -> tuple[int, bytes] | None:
        """Hash the digests of each of the `complete` groups (its row of the digests table and
        its blocks not batched yet) into _digest_hashes; returns the row of the next group."""
        rows = self._batched_digests()
        row = next(rows, None)
        for group in range(complete):
            batched = b""
            if row is not None and row[0] == group:
                batched, row = row[1], next(rows, None)
            self._digest_hashes += _sha256(self._digests_of(group, batched))
        return row

    def _hash_groups(self, first: int, stop: int) -> bytes:
        """The SHA-256 of each of groups first..stop-1 (complete ones), read HASH_CHUNK bytes or
        so at a time (whole groups) into two reused buffers: the next chunk is read on another
        thread while this one is hashed, its groups split between two threads (hashlib and the
        read release the GIL), the kernel told the read is sequential (a larger readahead)."""
        stop = min(stop, self._count // self._group_blocks)
        spans, group = [], first
        while group < stop:
            last = group
            while last + 1 < stop and self._group_end(last + 1) - self._starts[group] <= HASH_CHUNK:
                last += 1
            spans.append(range(group, last + 1))
            group = last + 1
        if not spans:
            return b""
        self._advise(self._starts[first], self._group_end(stop - 1), "POSIX_FADV_SEQUENTIAL")
        buffers, out = [bytearray(), bytearray()], bytearray()
        try:
            with ThreadPoolExecutor(2, thread_name_prefix="log-hash") as pool:
                reading = pool.submit(self._read_groups, buffers[0], spans[0])
                for number, span in enumerate(spans):
                    view = reading.result()
                    if number + 1 < len(spans):
                        reading = pool.submit(self._read_groups, buffers[(number + 1) % 2], spans[number + 1])
                    base, half = self._starts[span[0]], span[:len(span) // 2]
                    hash_span = lambda groups: b"".join(
                        _sha256(view[self._starts[g] - base:self._group_end(g) - base]) for g in groups)
                    other = pool.submit(hash_span, half)
                    rest = hash_span(span[len(half):])
                    out += other.result() + rest
                    view.release()
        finally:
            self._advise(self._starts[first], self._group_end(stop - 1), "POSIX_FADV_NORMAL")
        return bytes(out)

    def _read_groups(self, buffer: bytearray, groups: range) -> memoryview:
        """The bytes of `groups` read into `buffer` (grown to fit), as a view of it."""
        start, end = self._starts[groups[0]], self._group_end(groups[-1])
        if len(buffer) < end - start:
            buffer.extend(bytes(end - start - len(buffer)))
        view, done = memoryview(buffer)[:end - start], 0
        while done < end - start:
            read = os.preadv(self._fd, [view[done:]], start + done)
            if read == 0:
                view.release()
                raise StorageError(f"{self.log_path}: the log ends at {start + done}, inside the records up to "
                                   f"{end} (cut or changed under it)")
            done += read
        return view

    def _advise(self, start: int, end: int, advice: str) -> None:
        """posix_fadvise where the platform has it (a hint: its failure changes nothing read)."""
        if hasattr(os, advice):
            try:
                os.posix_fadvise(self._fd, start, end - start, getattr(os, advice))
            except OSError:
                pass

    def _batched_offsets(self) -> int:
        """Read the offsets of the batched groups into _starts; returns the end of the batched
        records (StorageError naming the block when one is missing or out of place)."""
        if not self._batched:
            return _LOG_HEADER.size
        wanted = list(range(0, self._batched, self._group_blocks)) + [self._batched]
        found = dict(self._db.execute("SELECT height, offset FROM blocks WHERE height <= ? AND (height % ? = 0 "
                                      "OR height = ?)", (self._batched, self._group_blocks, self._batched)).fetchall())
        previous = _LOG_HEADER.size - 1
        for height in wanted:
            offset = found.get(height)
            if offset is None:
                raise StorageError(f"{self.path}: the offset of block {height} is missing")
            if type(offset) is not int or not previous < offset <= U64_MAX \
                    or (height == 0 and offset != _LOG_HEADER.size):
                raise StorageError(f"{self.path}: the offset of block {height} is not in the log, after the "
                                   "block before")
            previous = offset
        self._starts.extend(found[h] for h in wanted[:-1])
        return found[self._batched]

    def _batched_digests(self, lo: int = 0, hi: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(group, its row of the digests table: the digests of its batched blocks) of the
        groups lo..hi (every group with a batched block when hi is None) in group order,
        checked to be the size its batched blocks need."""
        last = -(-self._batched // self._group_blocks) - 1 if hi is None else hi
        for number, blob in self._db.execute('SELECT "group", CAST(digests AS BLOB) FROM digests WHERE "group" '
                                             'BETWEEN ? AND ? ORDER BY "group"', (lo, last)):
            want = min(self._group_blocks, self._batched - number * self._group_blocks) * DIGEST_SIZE \
                if type(number) is int and number >= 0 else -1
            if not isinstance(blob, bytes) or len(blob) != want:
                raise StorageError(f"{self.path}: the stored digests of group {_short(number)} are not those of its "
                                   "batched blocks")
            yield number, blob

    def _digests_of(self, group: int, batched: bytes) -> bytes:
        """The digests of group `group`'s blocks: `batched` (its row of the digests table),
        then those of its blocks not batched yet."""
        first = group * self._group_blocks
        if first + self._group_blocks <= self._batched and len(batched) == self._group_blocks * DIGEST_SIZE:
            return batched  # (a group batched whole: the common case, on every open and lookup)
        want = (min(first + self._group_blocks, self._count) - max(first, self._batched)) * DIGEST_SIZE
        if first < self._batched and len(batched) != (min(self._batched, first + self._group_blocks) - first) \
                * DIGEST_SIZE:
            raise StorageError(f"{self.path}: the stored digests of group {group} are missing")
        start = max(first - self._batched, 0) * DIGEST_SIZE
        return batched + bytes(self._tail_digests[start:start + max(want, 0)])

    def _stored_sums(self) -> list[int]:
        sums = [0] * INDEX_BUCKETS
        for bucket, total in self._db.execute("SELECT bucket, total FROM index_sums"):
            if not (type(bucket) is int and 0 <= bucket < INDEX_BUCKETS and isinstance(total, bytes)
                    and len(total) == INDEX_BYTES):
                raise StorageError(f"{self.path}: an index sum is not (a bucket, {INDEX_BYTES} bytes): "
                                   f"({_short(bucket)}, {_short(total)!r})")
            sums[bucket] = int.from_bytes(total, "big")
        return sums

    def _stored_runs(self) -> list[tuple[int, int]]:
        runs = self._db.execute("SELECT run, level FROM runs ORDER BY run").fetchall()
        for run, level in runs:
            if not (type(run) is int and 0 <= run <= U64_MAX and type(level) is int and 0 <= level < MAX_RUN_LEVEL):
                raise StorageError(f"{self.path}: an index run is not (a number, a level): "
                                   f"({_short(run)}, {_short(level)})")
        return runs

    def _index_rows(self, condition: str, params: tuple) -> sqlite3.Cursor:
        """The index rows (tx id, height, position) of every run that meet `condition`."""
        return self._db.execute(f"SELECT tx_id, height, position FROM ({runs_union(r for r, _ in self._runs)}) "
                                f"WHERE {condition}", params)

    def _read(self, start: int, end: int) -> bytes:
        data = os.pread(self._fd, end - start, start)
        if len(data) != end - start:
            raise StorageError(f"{self.log_path}: the log ends at {start + len(data)}, inside the records up to {end} "
                               "(cut or changed under it)")
        return data

    def _group_end(self, group: int) -> int:
        return self._starts[group + 1] if group + 1 < len(self._starts) else self._end

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

    def _parse(self, region: bytes, group: int) -> list[tuple[bytes, int, int]]:
        """(digest, start, end) in `region`, the bytes of group `group`, of each of its records,
        checked (headers, heights, lengths, data checksums, and that they fill the region)."""
        out, at, view = [], 0, memoryview(region)
        first = group * self._group_blocks
        for height in range(first, min(first + self._group_blocks, self._count)):
            length, digest = self._header(region[at:at + RECORD_HEADER], height)
            end = at + RECORD_HEADER + length
            if end > len(region):
                raise StorageError(f"{self.log_path}: the record of block {height} is cut short (by the next "
                                   "record's offset)")
            if zlib.crc32(view[at + RECORD_HEADER:end]) != _RECORD.unpack_from(region, at)[4]:
                raise StorageError(f"{self.log_path}: block {height} fails its checksum")
            out.append((digest, at, end))
            at = end
        if at != len(region):
            raise StorageError(f"{self.log_path}: the records of blocks {first} to {first + len(out) - 1} do not end "
                               "where the next block's begins")
        return out

    def _group(self, group: int) -> tuple[bytes, list[tuple[bytes, int, int]]]:
        """The bytes of group `group` and its records (_parse), checked to be the ones this
        store read on open or wrote since (the group's hash; each record's in the incomplete
        group): StorageError otherwise."""
        cached = self._groups.get(group)
        if cached is not None:
            self._groups.move_to_end(group)
            return cached
        region = self._guard(self._read, self._starts[group], self._group_end(group))
        first, complete = group * self._group_blocks, group < len(self._group_hashes) // DIGEST_SIZE
        if complete and _sha256(region) != self._group_hashes[group * DIGEST_SIZE:(group + 1) * DIGEST_SIZE]:
            raise StorageError(f"{self.log_path}: blocks {first} to {first + self._group_blocks - 1} are not the bytes this "
                               "store read on open or wrote (changed under it)")
        records = self._parse(region, group)
        if not complete:
            for i, (_, start, end) in enumerate(records):
                if _sha256(memoryview(region)[start:end]) != self._open_hashes[i]:
                    raise StorageError(f"{self.log_path}: block {first + i} is not the bytes this store read on "
                                       "open or wrote (changed under it)")
            return region, records
        self._groups[group] = (region, records)
        while len(self._groups) > GROUP_CACHE:
            self._groups.popitem(last=False)
        return region, records

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

    def append(self, height: int, digest: bytes, data: bytes, tx_ids: list[bytes],
               statuses: Iterable[tuple[int, bytes]] = ()) -> None:
        """Store a validated block durably (the log fdatasynced before this returns), with the
        offsets, index rows and `statuses` ((position, record) of its status transactions) of
        the blocks not batched yet once they are TX_INDEX_BATCH (module docstring). Appends
        run one at a time; reads (get, digest, location, ...) do not wait for an append's
        fdatasync: the record becomes visible only once it is durable."""
        height, digest, data = checks.integer(height, "height", hi=U64_MAX), checks.data(digest, "digest"), \
            checks.data(data, "data")
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
                self._hold_index(height, tx_ids, statuses)
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
                if self._count % self._group_blocks == 0:
                    self._starts.append(end)
                self._open_group.update(record)
                self._open_hashes.append(_sha256(record))
                self._open_digests += digest
                self._tail_digests += digest
                self._count, self._end = self._count + 1, end + len(record)
                if self._count % self._group_blocks == 0:
                    self._group_hashes += self._open_group.digest()
                    self._digest_hashes += _sha256(self._open_digests)
                    self._open_group, self._open_hashes, self._open_digests = hashlib.sha256(), [], bytearray()
                if self._count - self._batched >= TX_INDEX_BATCH or self._held_rows >= TX_INDEX_ROWS:
                    self._write_batch()

    def _write_batch(self) -> None:
        """The offsets, index rows, status records and index sums of every block not batched
        yet, and 'indexed', in one transaction; not before Peer.load handed the rows of the
        blocks it read (index_tail). Best effort: the block is durable already, a failed batch
        is written with the next one."""
        heights = range(self._batched, self._count)
        if not heights or any(h not in self._unindexed for h in heights):
            return
        rows = sorted(row for h in heights for row in self._unindexed[h][0])
        statuses = [(h, position, record) for h in heights for position, record in self._unindexed[h][1]]
        sums = list(self._sums)
        changed = add_index_rows(sums, rows)
        offsets = [(h, self._starts[h // self._group_blocks]) for h in heights if h % self._group_blocks == 0]
        groups, complete = range(self._batched // self._group_blocks, (self._count - 1) // self._group_blocks + 1), \
            len(self._digest_hashes) // DIGEST_SIZE
        try:  # (checked, or this store's own: a row changed under it is not written back as its own)
            digests = [(g, self._group_digests(g) if g < complete else bytes(self._open_digests)) for g in groups]
        except StorageError:
            return
        try:
            with self._own_write():
                if not self._batched:  # (rows a lost 'indexed' left behind: derived again)
                    self._db.execute("DELETE FROM index_sums")
                    self._drop_runs([r for r, in self._db.execute("SELECT run FROM runs")])
                runs = self._write_run(rows)
                self._db.executemany("INSERT OR REPLACE INTO blocks VALUES (?, ?)", offsets + [(self._count, self._end)])
                self._db.executemany("INSERT OR REPLACE INTO digests VALUES (?, ?)", digests)
                self._db.execute("DELETE FROM statuses WHERE height >= ?", (self._batched,))
                self._db.executemany("INSERT INTO statuses VALUES (?, ?, ?)", statuses)
                self._db.executemany("INSERT OR REPLACE INTO index_sums VALUES (?, ?)",
                                     [(b, sums[b].to_bytes(INDEX_BYTES, "big")) for b in sorted(changed)])
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('indexed', ?)", (str(self._count - 1),))
        except sqlite3.Error:
            return
        self._batched, self._unindexed, self._sums, self._tail_digests = self._count, {}, sums, bytearray()
        self._runs = runs
        self._held_rows = 0

    def _write_run(self, rows: list[tuple[bytes, int, int]]) -> list[tuple[int, int]]:
        """In the batch's transaction: `rows` (sorted) as a new run of level 0, then every level
        holding RUN_FANOUT runs merged into one run of the next (a merge of runs sorted by
        tx_id: SQLite reads each in key order and writes the new run in key order, so every
        page of it is written once, at the right edge); returns the runs then."""
        runs = list(self._runs if self._batched else [])
        number = max((r for r, _ in runs), default=-1) + 1
        if rows:
            self._create_run(number)
            self._db.executemany(f"INSERT OR REPLACE INTO {run_table(number)} VALUES (?, ?, ?)", rows)
            runs.append((number, 0))
            number += 1
        for level in range(MAX_RUN_LEVEL - 1):
            merged = [r for r, lv in runs if lv == level]
            if len(merged) < RUN_FANOUT:
                continue
            self._create_run(number)
            self._db.execute(f"INSERT OR REPLACE INTO {run_table(number)} {runs_union(merged)} ORDER BY tx_id")
            self._drop_runs(merged)
            runs = [(r, lv) for r, lv in runs if r not in merged] + [(number, level + 1)]
            number += 1
        self._db.executemany("INSERT INTO runs VALUES (?, ?)", [item for item in runs if item not in self._runs])
        self._db.execute("DROP VIEW IF EXISTS txs")
        self._db.execute(f"CREATE VIEW txs AS {runs_union(r for r, _ in runs)}")
        return runs

    def _create_run(self, run: int) -> None:
        self._db.execute(f"DROP TABLE IF EXISTS {run_table(run)}")  # (none: only another writer's)
        self._db.execute(f"CREATE TABLE {run_table(run)} (tx_id BLOB PRIMARY KEY, height INTEGER NOT NULL, "
                         "position INTEGER NOT NULL) WITHOUT ROWID")

    def _drop_runs(self, runs: list[int]) -> None:
        for run in runs:
            if type(run) is int:
                self._db.execute(f"DROP TABLE IF EXISTS {run_table(run)}")
        self._db.executemany("DELETE FROM runs WHERE run = ?", [(r,) for r in runs])

    def index_tail(self, height: int, tx_ids: list[bytes], statuses: Iterable[tuple[int, bytes]] = ()) -> None:
        """Hold the index rows and status records of a stored block above indexed_height
        (Peer.load), to be written with the next batch or on close."""
        with self._lock:
            self._hold_index(height, tx_ids, statuses)

    def _hold_index(self, height: int, tx_ids: list[bytes], statuses: Iterable[tuple[int, bytes]]) -> None:
        """Hold block `height`'s index rows and status records, checked to be ones (a value of
        another type would be stored and then fail the batch, on every later append and close)."""
        height, rows = checks.integer(height, "height", hi=U64_MAX), []
        for position, tx_id in enumerate(checks.items(tx_ids, "tx_ids")):
            if len(checks.data(tx_id, "each tx id")) != DIGEST_SIZE:
                raise ArgumentError(f"each tx id must be {DIGEST_SIZE} bytes, got {len(tx_id)}")
            rows.append((bytes(tx_id), height, position))
        held = []
        for item in checks.items(statuses, "statuses"):
            if not isinstance(item, tuple) or len(item) != 2:
                raise ArgumentError(f"each status must be (a position, a record), not {checks.shown(item)}")
            held.append((checks.integer(item[0], "a status position", hi=U32_MAX),
                         checks.data(item[1], "a status record")))
        replaced = self._unindexed.get(height)
        self._held_rows += len(rows) - (len(replaced[0]) if replaced else 0)
        self._unindexed[height] = (rows, held)

    def set_checkpoint(self, checkpoint: dict) -> None:
        """Replace the validated checkpoint (one durable transaction)."""
        with self._lock:
            try:
                with self._own_write():
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('checkpoint', ?)", (json.dumps(checkpoint),))
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot write the checkpoint: {exc}") from None

    def keep_pending(self, height: int, digest: bytes, data: bytes, below: int, term: int = 0,
                     live: int | None = None) -> None:
        """Keep `data`, the encoding of a proposed block `height` of ordering term `term` with
        header digest `digest`, durably (its file and name synced: on disk when this returns),
        and delete the proposals kept for heights below `below` (the peer's height: those
        heights are filled) and of terms below `live` (the log's current term as this peer
        read it, `term` by default: the log ended those terms, ledger.cluster.follower).
        TermQuotaExceeded, and nothing written, when PENDING_PER_TERM proposals of `term` are
        kept already: a cutter sending proposal after proposal within its term fills no disk,
        and makes this peer drop none it endorsed (it refuses to endorse instead)."""
        height, below = checks.integer(height, "height", hi=U64_MAX), checks.integer(below, "below", hi=U64_MAX)
        term = checks.integer(term, "term", hi=U64_MAX)
        live = term if live is None else checks.integer(live, "live", hi=U64_MAX)
        digest, data = checks.data(digest, "digest"), checks.data(data, "data")
        with self._pending_lock:
            try:
                if not self.pending_dir.is_dir():
                    self.pending_dir.mkdir()
                    _fsync_directory(self.pending_dir.parent)
                kept = self._drop_kept(below, live)
                if digest in kept:
                    return
                if sum(1 for _, t, _ in kept.values() if t == term) >= PENDING_PER_TERM:
                    raise TermQuotaExceeded(f"{self.pending_dir.name} keeps {PENDING_PER_TERM} proposals of term "
                                            f"{term} for unfilled heights: it keeps no more of that term")
                self._pending_written = max(time.time_ns(), self._pending_written + 1)
                name = f"{self._pending_written:020d}-{height}-{bytes(digest).hex()}-{term}"
                partial = self.pending_dir / f"{name}.partial"
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
                os.replace(partial, self.pending_dir / f"{name}.body")
                _fsync_directory(self.pending_dir)
            except OSError as exc:
                raise StorageError(f"{self.pending_dir}: cannot keep proposal {height}: {exc}") from None

    def _kept_proposals(self) -> dict[bytes, tuple[int, int, Path]]:
        """digest -> (height, term, file) of each proposal kept (files of other names: a write a
        crash cut short, or not this store's, are passed over)."""
        kept = {}
        for path in self.pending_dir.glob("*.body"):
            _, height, digest, term = (path.stem.split("-") + ["", "", ""])[:4]
            if height.isascii() and height.isdigit() and term.isascii() and term.isdigit() \
                    and len(digest) == 2 * DIGEST_SIZE:
                try:
                    kept[bytes.fromhex(digest)] = (int(height), int(term), path)
                except ValueError:
                    continue
        return kept

    def _drop_kept(self, below: int, live: int) -> dict[bytes, tuple[int, int, Path]]:
        """Delete the proposals of heights below `below` or terms below `live`; the rest."""
        kept = self._kept_proposals()
        for h, t, path in kept.values():
            if h < below or t < live:
                path.unlink(missing_ok=True)
        return {d: (h, t, path) for d, (h, t, path) in kept.items() if h >= below and t >= live}

    def drop_pending(self, below: int, live: int = 0) -> None:
        """Delete the proposals kept for heights below `below` or of terms below `live`
        (keep_pending), and what a write a crash cut short left."""
        below, live = checks.integer(below, "below", hi=U64_MAX), checks.integer(live, "live", hi=U64_MAX)
        with self._pending_lock:
            try:
                if not self.pending_dir.is_dir():
                    return
                self._drop_kept(below, live)
                for path in self.pending_dir.glob("*.partial"):
                    path.unlink(missing_ok=True)
            except OSError as exc:
                raise StorageError(f"{self.pending_dir}: cannot delete proposals: {exc}") from None

    def pending(self, digest: bytes) -> bytes | None:
        """The proposal kept under header digest `digest` (keep_pending), or None: its bytes as
        the file holds them now (the reader checks them against the header it has)."""
        digest = checks.data(digest, "digest")
        with self._pending_lock:
            try:
                found = self._kept_proposals().get(bytes(digest))
                return found[2].read_bytes() if found else None
            except OSError as exc:
                raise StorageError(f"{self.pending_dir}: {exc}") from None

    def pending_digests(self) -> frozenset[bytes]:
        """The header digests of the proposals kept now (keep_pending), from one listing of
        the directory: for a reader about to look up many (pending() lists it every call)."""
        with self._pending_lock:
            try:
                return frozenset(self._kept_proposals())
            except OSError as exc:
                raise StorageError(f"{self.pending_dir}: {exc}") from None

    def pending_heights(self) -> list[int]:
        """The heights of the proposals kept (one per proposal, ascending)."""
        with self._pending_lock:
            return sorted(h for h, _, _ in self._kept_proposals().values())

    # --- reading -------------------------------------------------------------------------

    def indexed_height(self) -> int:
        """The height up to which the stored transaction index (and the offsets, the status
        records, the index sums) are complete (-1: none)."""
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
        return type(height) is int and 0 <= height < self._count

    def _entry(self, height: int) -> tuple[bytes, bytes] | None:
        """(digest, data) of block `height`, checked (_group), or None."""
        with self._lock:
            if not self._stored(height):
                return None
            region, records = self._group(height // self._group_blocks)
        digest, start, end = records[height % self._group_blocks]
        return digest, region[start + RECORD_HEADER:end]

    def digest(self, height: int) -> bytes | None:
        """The stored digest of block `height`, or None: of a complete group from the digests
        table, checked against the hash of that group's digests (one row, not the group's
        records), of the incomplete group from its checked record."""
        with self._lock:
            if not self._stored(height):
                return None
            group = height // self._group_blocks
            if group >= len(self._digest_hashes) // DIGEST_SIZE:
                return self._group(group)[1][height % self._group_blocks][0]
            at = height % self._group_blocks * DIGEST_SIZE
            return self._group_digests(group)[at:at + DIGEST_SIZE]

    def _group_digests(self, group: int) -> bytes:
        """The digests of complete group `group`, checked; a miss reads the rows of the next
        DIGEST_PREFETCH groups too (in one query: lookups in height order, as the layer
        check's, read each row once)."""
        cached = self._digest_cache.get(group)
        if cached is not None:
            self._digest_cache.move_to_end(group)
            return cached
        last = min(group + DIGEST_PREFETCH, len(self._digest_hashes) // DIGEST_SIZE) - 1
        rows = dict(self._guard(lambda: list(self._batched_digests(group, last))))
        for number in range(group, last + 1):
            digests = self._digests_of(number, rows.get(number, b"") if number * self._group_blocks < self._batched
                                       else b"")
            if _sha256(digests) != self._digest_hashes[number * DIGEST_SIZE:(number + 1) * DIGEST_SIZE]:
                first = number * self._group_blocks
                raise StorageError(f"{self.path}: the digests of blocks {first} to {first + self._group_blocks - 1} "
                                   "are not the ones this store read on open or wrote (changed under it)")
            self._digest_cache[number] = digests
        while len(self._digest_cache) > DIGEST_CACHE:
            self._digest_cache.popitem(last=False)
        return self._digest_cache[group]

    def record_digest(self, height: int) -> bytes | None:
        """The digest in block `height`'s record header as the file holds it now, unchecked
        (StorageError if the headers before it in its group do not parse), or None: only to
        compare copies of a chain (ledger.sequencer.store_copy), never to serve a block."""
        with self._lock:
            if not self._stored(height):
                return None
            group = height // self._group_blocks
            offset = self._starts[group]
            for at in range(group * self._group_blocks, height + 1):
                length, digest = self._header(self._guard(os.pread, self._fd, RECORD_HEADER, offset), at)
                offset += RECORD_HEADER + length
        return digest

    def get(self, height: int) -> bytes | None:
        """The stored bytes of block `height`, or None."""
        entry = self._entry(height)
        return entry[1] if entry else None

    def blocks(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
        """(height, digest, data) from `start` on, in height order, checked, read one group at
        a time (memory does not grow with the chain)."""
        return self._blocks_from(max(checks.integer(start, "start", lo=-(1 << 63)), 0))

    def _blocks_from(self, height: int) -> Iterator[tuple[int, bytes, bytes]]:
        while True:
            with self._lock:
                if height >= self._count:
                    return
                group = height // self._group_blocks
                region, records = self._group(group)
            for digest, begin, end in records[height - group * self._group_blocks:]:
                yield height, digest, region[begin + RECORD_HEADER:end]
                height += 1

    def content_digest(self, height: int) -> bytes:
        """The hash of the log's records of blocks 0..`height` and of their digests (the
        digests table), as this store read them on open or wrote them: SHA-256 over
        CONTENT_DOMAIN, the hashes of the complete groups' records, of their digests, and of
        the records and the digests of the rest (what a checkpoint signs:
        Peer.record_checkpoint)."""
        with self._lock:
            if not self._stored(height):
                raise StorageError(f"{self.log_path}: holds no block {_short(height)}")
            complete, rest = divmod(height + 1, self._group_blocks)
            parts = [bytes(self._group_hashes[:complete * DIGEST_SIZE]), bytes(self._digest_hashes[:complete * DIGEST_SIZE])]
            if rest and height == self._count - 1:  # (the incomplete group, from memory)
                parts += [self._open_group.copy().digest(), _sha256(self._open_digests)]
            elif rest:
                region, records = self._group(complete)
                digests = self._group_digests(complete) if complete < len(self._digest_hashes) // DIGEST_SIZE \
                    else self._open_digests
                parts += [_sha256(memoryview(region)[:records[rest - 1][2]]), _sha256(digests[:rest * DIGEST_SIZE])]
        return _sha256(CONTENT_DOMAIN + b"".join(parts))

    def statuses(self, up_to: int) -> Iterator[tuple[int, int, bytes]]:
        """(height, position, record) of the batched status records of the blocks up to
        `up_to`, in order (as stored: ledger.peer checks them against its checkpoint), read
        FETCH_ROWS at a time (memory does not grow with the chain)."""
        return self._statuses_up_to(checks.integer(up_to, "up_to", lo=-(1 << 63)))

    def _statuses_up_to(self, up_to: int) -> Iterator[tuple[int, int, bytes]]:
        after = (-1, -1)
        while True:
            with self._lock:
                rows = self._guard(lambda: self._db.execute(
                    "SELECT height, position, CAST(record AS BLOB) FROM statuses WHERE height <= ? AND "
                    "(height, position) > (?, ?) ORDER BY height, position LIMIT ?",
                    (min(up_to, self._batched - 1), *after, FETCH_ROWS)).fetchall())
            for height, position, record in rows:
                if not (type(height) is int and type(position) is int and isinstance(record, bytes)):
                    raise StorageError(f"{self.path}: a status row is not (a height, a position, bytes): "
                                       f"({_short(height)}, {_short(position)}, {_short(record)!r})")
            yield from rows
            if len(rows) < FETCH_ROWS:
                return
            after = rows[-1][:2]

    def index_digest(self, up_to: int, adjust: list[int] | None = None) -> bytes:
        """sums_digest of the index sums over the rows of the blocks up to `up_to`: the batched
        ones plus the held rows of the blocks above them up to `up_to` (every one held:
        index_tail), plus `adjust` per bucket (Peer.load: what the blocks say the sums at its
        checkpoint differ from the batched ones by)."""
        up_to = checks.integer(up_to, "up_to", lo=-(1 << 63))
        if adjust is not None and (len(checks.items(adjust, "adjust")) != INDEX_BUCKETS
                                   or any(type(a) is not int for a in adjust)):
            raise ArgumentError(f"adjust must be {INDEX_BUCKETS} integers (one per bucket)")
        with self._lock:
            sums = list(self._sums) if adjust is None else [(s + a) % INDEX_MODULUS for s, a in zip(self._sums, adjust)]
            for height in range(self._batched, up_to + 1):
                if height not in self._unindexed:
                    raise StorageError(f"{self.path}: the index rows of block {height} are not held")
                add_index_rows(sums, self._unindexed[height][0])
        return sums_digest(sums)

    def checkpoint(self) -> dict | None:
        """The peer's validated checkpoint (what Peer.load trusts below), or None."""
        with self._lock:
            value = self._guard(self._one_row, "SELECT value FROM meta WHERE key = 'checkpoint'")
        try:
            checkpoint = json.loads(value) if value is not None else None
        except (ValueError, TypeError, RecursionError):  # (anyone with the file may have written it)
            return None
        return checkpoint if isinstance(checkpoint, dict) else None

    def tx_index(self) -> dict[bytes, tuple[int, int]]:
        """Every indexed transaction id -> (height, position): the stored rows up to
        indexed_height, then the rows not written yet."""
        with self._lock:
            indexed = self._batched - 1
            rows = self._guard(lambda: self._index_rows("height <= ?", (indexed,)).fetchall())
            pending = [row for h in sorted(self._unindexed) if h > indexed for row in self._unindexed[h][0]]
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

    # --- the transaction index (issue 13) ----------------------------------------------

    def location(self, tx_id: bytes) -> tuple[int, int] | None:
        """(height, position) of `tx_id` in the stored index up to indexed_height, or None
        (the rows not written yet are of blocks the peer's chain state holds in memory): one
        query. A row found is the caller's to check (ChainState.locate); an absence is
        believed once the rows of the id's bucket sum to the index sum this store wrote (Peer.
        load checked those sums against its checkpoint), summed again once after every write
        of another to the SQLite file (changed_files): else a deleted or moved row would let a
        committed transaction in again (StorageError)."""
        tx_id = checks.data(tx_id, "tx_id")
        if len(tx_id) != DIGEST_SIZE:  # (no row has it)
            return None
        with self._lock:
            indexed = self._batched - 1
            find = lambda: self._index_rows("tx_id = ? AND height <= ?", (tx_id, indexed)).fetchone()
            row = self._guard(find)
            if row is not None:
                return self._index_row(row)[1:]
            files = self._guard(self._db_files)
            if self._changed_under or files != self._as_written:
                self._checked_buckets.clear()
                self._changed_under, self._as_written = False, files
            bucket = index_bucket(tx_id)
            if bucket in self._checked_buckets:
                return None
            if self._guard(self._bucket_sum, bucket, indexed) != self._sums[bucket]:
                raise StorageError(f"{self.path}: the transaction index was changed (a row of bucket {bucket} moved "
                                   "or deleted): it does not answer for absence")
            row = self._guard(find)  # (again, in the rows as summed)
            if self._guard(self._db_files) != files:
                raise StorageError(f"{self.path}: the transaction index keeps changing under the running peer")
            self._checked_buckets.add(bucket)
        return self._index_row(row)[1:] if row else None

    def _bucket_sum(self, bucket: int, indexed: int) -> int:
        lo, hi = _bucket_range(bucket)
        cursor, total = self._index_rows("tx_id >= ? AND tx_id < ? AND height <= ?", (lo, hi, indexed)), 0
        while rows := cursor.fetchmany(FETCH_ROWS):
            total += sum(index_row_hash(*self._index_row(row)) for row in rows)
        return total % INDEX_MODULUS
