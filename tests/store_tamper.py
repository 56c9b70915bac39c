"""An operator's edits of a peer's store (ledger.store, version 6: the block log beside the
SQLite file), made through the files as an attacker with disk access would, fixing the
checksums and the offsets unless told otherwise."""
from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import ledger.store
from ledger.store import _LOG_HEADER, _RECORD, LOG_SUFFIX, RECORD_HEADER, record_bytes


def log_of(store: Path) -> Path:
    return Path(store).with_suffix(LOG_SUFFIX)


def store_path(path: Path, peer: str) -> Path:
    """The SQLite file of `peer` in the network at `path`."""
    return Path(path) / "peers" / f"{peer}.sqlite"


def store_bytes(path: Path) -> dict[str, bytes]:
    """The bytes of every peer's store files (SQLite and log) in the network at `path`."""
    return {f.name: f.read_bytes() for f in sorted((Path(path) / "peers").iterdir())
            if f.suffix in (".sqlite", LOG_SUFFIX)}


def records(store: Path) -> list[tuple[int, int, bytes, bytes]]:
    """(offset, height, digest, data) of every complete record in the log, as written."""
    raw = log_of(store).read_bytes()
    out, offset = [], _LOG_HEADER.size
    while offset + RECORD_HEADER <= len(raw):
        _, height, length, digest, _ = _RECORD.unpack_from(raw, offset)
        if offset + RECORD_HEADER + length > len(raw):
            break
        out.append((offset, height, digest, raw[offset + RECORD_HEADER:offset + RECORD_HEADER + length]))
        offset += RECORD_HEADER + length
    return out


def rows(store: Path) -> list[tuple[int, bytes, bytes]]:
    """(height, digest, data) of every stored block."""
    return [(h, d, data) for _, h, d, data in records(store)]


def block(store: Path, height: int) -> bytes:
    return next(data for _, h, _, data in records(store) if h == height)


def rewrite_log(store: Path, blocks: list[tuple[int, bytes, bytes]]) -> None:
    """Write `blocks` as the log's records, in place (a running store's descriptor sees it),
    and move the batched offsets to match."""
    log = log_of(store)
    header = log.read_bytes()[:_LOG_HEADER.size]
    body, offsets = b"", []
    for height, digest, data in blocks:
        offsets.append((_LOG_HEADER.size + len(body), height))
        body += record_bytes(height, digest, data)
    offsets.append((_LOG_HEADER.size + len(body), len(blocks)))  # (the end of a batch there)
    with open(log, "r+b") as f:
        f.write(header + body)
        f.truncate()
    db = sqlite3.connect(store, isolation_level=None)
    try:
        db.executemany("UPDATE blocks SET offset = ? WHERE height = ?", offsets)
    finally:
        db.close()


def rewrite(store: Path, height: int, *, data: bytes | None = None, digest: bytes | None = None) -> None:
    """Replace block `height`'s bytes and/or stored digest (checksums and offsets fixed)."""
    rewrite_log(store, [(h, digest if h == height and digest is not None else d,
                          data if h == height and data is not None else old) for h, d, old in rows(store)])


def truncate(store: Path, height: int) -> None:
    """Cut the store back to its first `height` blocks, consistently: the log, the batched
    offsets, digests, index rows, status records and index sums (recomputed for the rows
    kept)."""
    kept = [r for r in rows(store) if r[0] < height]
    rewrite_log(store, kept)
    db = sqlite3.connect(store, isolation_level=None)
    try:
        indexed = int((db.execute("SELECT value FROM meta WHERE key = 'indexed'").fetchone() or ["-1"])[0])
        top = min(indexed, height - 1)
        offsets = [o for o, h, _, _ in records(store)] + [log_of(store).stat().st_size]
        for table in ("txs", "statuses", "blocks"):
            index_sql(db, f"DELETE FROM {table} WHERE height > ?", (top,))
        db.execute("INSERT INTO blocks VALUES (?, ?)", (top + 1, offsets[top + 1]))
        group = int(db.execute("SELECT value FROM meta WHERE key = 'group'").fetchone()[0])
        db.execute('DELETE FROM digests WHERE "group" * ? > ?', (group, top))
        db.execute('UPDATE digests SET digests = substr(digests, 1, 32 * (? - "group" * ?)) WHERE "group" * ? + ? > ?',
                   (top + 1, group, group, group, top + 1))
        resum_index(db)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('indexed', ?)", (str(top),))
    finally:
        db.close()


def drop_checkpoint(store: Path) -> None:
    """Delete the peer's signed checkpoint (then its open validates every block it holds)."""
    db = sqlite3.connect(store, isolation_level=None)
    try:
        db.execute("DELETE FROM meta WHERE key = 'checkpoint'")
    finally:
        db.close()


def index_sql(db: sqlite3.Connection, statement: str, params: tuple = ()) -> None:
    """Run `statement`; one naming the index table txs (a view of the runs: ledger.store) is
    run on each run's table instead (an INSERT on the newest run's only)."""
    if not re.search(r"\b(UPDATE|INTO|DELETE FROM) txs\b", statement):
        db.execute(statement, params)
        return
    runs = [r for r, in db.execute("SELECT run FROM runs ORDER BY run DESC")]
    insert = statement.lstrip().upper().startswith("INSERT")
    if insert and not runs:  # (the row would go nowhere: a tamper test would test nothing)
        raise AssertionError("the store has no index run to insert into (no batch written yet)")
    for run in runs[:1] if insert else runs:
        db.execute(re.sub(r"\btxs\b", ledger.store.run_table(run), statement), params)


def resum_index(db: sqlite3.Connection) -> None:
    """Write the index sums of the rows the txs table holds now (as the store computes them)."""
    sums = [0] * ledger.store.INDEX_BUCKETS
    ledger.store.add_index_rows(sums, db.execute("SELECT tx_id, height, position FROM txs").fetchall())
    db.execute("DELETE FROM index_sums")
    db.executemany("INSERT INTO index_sums VALUES (?, ?)", [(b, v.to_bytes(ledger.store.INDEX_BYTES, "big"))
                                                             for b, v in enumerate(sums) if v])


def flip_byte(store: Path, height: int, at: int) -> None:
    """Flip one byte of block `height`'s record (`at` from the record's start), checksums
    left as they were."""
    offset = next(o for o, h, _, _ in records(store) if h == height) + at
    with open(log_of(store), "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 1]))


def copy_store(source: Path, target: Path) -> None:
    """Replace the store at `target` by a copy of the one at `source` (both files)."""
    shutil.copy(source, target)
    shutil.copy(log_of(source), log_of(target))


def append_raw(store: Path, raw: bytes) -> None:
    """Append bytes to the log by hand."""
    with open(log_of(store), "ab") as f:
        f.write(raw)
