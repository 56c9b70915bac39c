"""A chain's block log in etcd (DESIGN.md section 4, "Ordering across machines").

Keys, under etcdauth.CHAINS_PREFIX/<chain>/ (etcdauth.chain_prefix):

    block/<slot>        an entry of the log (12-digit zero-padded slot number; slots are log
                        positions, not chain heights), one of:
                        - a block's signed header: ledger.block.SignedHeader.to_bytes(), the
                          header (which binds the transactions by its Merkle root and count)
                          and the endorsements, canonical ("EASH" ...). The transactions, the
                          body, are not in etcd: peers keep and serve them (Body), and a
                          follower takes an entry only with the body its header binds
                          (ledger.cluster.follower, Bodies);
                        - a CRL entry (ledger.cluster.ordered_crl.crl_entry);
                        - a term entry (ledger.cluster.follower.term_entry): an elected
                          cutter's, signed by it, appended under its fence before it proposes; a follower
                          takes a header only of the term the entries before it started
                          (follower, Terms);
                        anything else is junk every follower skips
    checkpoint          "blocks 0..h have digest D; slot S holds block h, the entries below are trimmed",
                        with the CRL entries among them and a quorum of peers' signed
                        attestations of all that (ledger.cluster.follower)
    cutter              the elected block cutter's name, attached to its lease

Peers watch block/: the watch brings each new entry's bytes (EtcdLog.arrived), so a peer
follows a block without a read of its own (each read was a round trip and a linearizable
read on etcd's leader, every block, for bytes the watch sends anyway); a gap in what the
watch brought (a watch re-established) is read from the log.

A block is appended by one etcd transaction that succeeds only if its slot is still empty and
`cutter` is still the key the appender's election wrote (same modification revision): two
cutters can never both write a slot, and a deposed one cannot append after its lease expired.
The fence is a compare only an honest appender makes: any peer may put an entry at an empty
slot without one (a CRL entry must be appendable so), so what a deposed or dishonest cutter
appends later - an old endorsed header - is judged by the entries alone: a header of a term
the log ended is skipped by every follower (follower, Terms), and that is what lets an
endorser drop the bodies of an ended term.
etcd gives crash tolerance (Raft), not trust: it admits only the chain's peers to write this
prefix (ledger.cluster.etcdauth), and any of them may be dishonest. Peers read the entries in
slot order and store an entry only if it validates as the next block of their chain; any other entry (junk, a bad endorsement, a fork)
is skipped, by every honest peer alike (ledger.cluster.follower), and the next cutter appends
at the next slot.

Request size. etcd refuses requests above its --max-request-bytes (1.5 MiB by default). A
block's entry is its signed header, a few hundred bytes whatever its transactions (what etcd
writes and ships per block no longer grows with them: three members' WAL, fsync and bbolt
writes, and Raft's copies, of a ~1 MB block were a third of the cluster's CPU at 32 KiB
transactions). MAX_BLOCK_BYTES (1 MiB) now bounds a block's encoding where it still travels
whole, in gRPC messages (Endorse, Body, Block: transport's message limit) and in a peer's
store; EtcdLog.append refuses an entry above it (a CRL entry, the largest one, and a
checkpoint fit well below etcd's limit). A single transaction above MAX_TX_BYTES is refused at
submission with TransactionTooLarge. Bulk data (readings, checkpoints) belongs in the object
store; a transaction carries its digest.
Space: etcd keeps every entry until the cutter trims the log below an attested checkpoint
(Node, `trim_blocks`) and compacts etcd's history.

aetcd is asynchronous: an EtcdLog runs its client (over mutual TLS: etcdauth.client) on an
event loop thread of its own and offers blocking methods with a deadline; a member that is
down is skipped by the channel (pick-first over every endpoint) and no quorum is
ServiceUnavailable after `timeout`; what etcd's RBAC refuses is AccessDenied.
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import aetcd
import grpc
import aetcd.exceptions
from aetcd import rpc

from ledger import checks
from ledger.cluster import etcdauth
from ledger.errors import AccessDenied, LedgerError, ServiceUnavailable

MAX_REQUEST_BYTES = 1536 * 1024      # etcd's default --max-request-bytes
MAX_BLOCK_BYTES = 1024 * 1024        # a block's encoding stays below this (room for the txn)
MAX_TX_BYTES = MAX_BLOCK_BYTES - 64 * 1024  # the block's header and endorsements fit beside it
_RANGE_BLOCKS = 64                   # blocks per range read while catching up
ARRIVED_KEPT = 64                    # entries the watch brought that a log keeps for its follower ...
ARRIVED_BYTES = 8 << 20              # ... and their bytes (past either, the highest slots go: read again)
# what an unreachable or quorum-less etcd raises (the raw stubs raise grpc's errors)
_FAILURES = (aetcd.exceptions.ClientError, grpc.RpcError, asyncio.TimeoutError, ConnectionError, OSError)


def _slot_key(slot: int) -> bytes:
    return b"%012d" % slot


def _slot_of(key: bytes) -> int | None:
    """The slot a key under block/ names (None for a key that is not one: any peer may write it)."""
    return int(key) if len(key) == 12 and key.isdigit() else None


class ArrivedEntries:
    """The entries (slot -> bytes) a log's watch brought and its follower has not taken yet,
    as the log holds them after the events so far (a slot deleted is forgotten: a read now
    finds it empty): at most `kept` entries and `max_bytes` bytes, the highest slots forgotten
    first (the follower reads them from the log when it gets there; any peer may write a slot
    far ahead, and such entries must not push out the next ones)."""

    def __init__(self, kept: int = ARRIVED_KEPT, max_bytes: int = ARRIVED_BYTES) -> None:
        self.kept, self.max_bytes = kept, max_bytes
        self._entries: dict[int, bytes] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def keep(self, slot: int, value: bytes) -> None:
        """Keep `value`, the entry at `slot` as etcd sent it (a later write of the slot replaces it)."""
        with self._lock:
            self._bytes += len(value) - len(self._entries.pop(slot, b""))
            self._entries[slot] = value
            while len(self._entries) > self.kept or self._bytes > self.max_bytes:
                self._bytes -= len(self._entries.pop(max(self._entries)))

    def forget(self, slot: int) -> None:
        """The entry at `slot` was deleted (a trim, or any writer)."""
        with self._lock:
            self._bytes -= len(self._entries.pop(slot, b""))

    def clear(self) -> None:
        """Forget every entry (a watch lost: what they became meanwhile is read from the log)."""
        with self._lock:
            self._entries, self._bytes = {}, 0

    def since(self, start: int) -> list[tuple[int, bytes]]:
        """The entries (slot, bytes) from slot `start` on without a gap, as the log held them
        after the events etcd sent so far (what a read at that moment returned); those below
        `start` are forgotten."""
        with self._lock:
            for slot in [s for s in self._entries if s < start]:
                self._bytes -= len(self._entries.pop(slot))
            entries = []
            while start + len(entries) in self._entries:
                entries.append((start + len(entries), self._entries[start + len(entries)]))
            return entries


@dataclass(frozen=True)
class Leadership:
    """A won election: the lease that holds the cutter key and the key's revision."""

    lease_id: int
    revision: int


class EtcdLog:
    """One chain's block log and cutter election in an etcd cluster (`endpoints`: host:port of
    every member), over mutual TLS with `credentials` (etcdauth.EtcdCredentials: etcd admits
    the chain's peers, and the operator's root, only)."""

    def __init__(self, endpoints: list[str], chain_id: str, credentials: etcdauth.EtcdCredentials,
                 timeout: float = 5.0) -> None:
        endpoints = etcdauth.checked_endpoints(endpoints)
        checks.instance(credentials, etcdauth.EtcdCredentials, "credentials")
        self.chain_id = checks.text(chain_id, "chain_id")
        self.timeout = checks.number(timeout, "timeout")
        self._prefix = etcdauth.chain_prefix(chain_id)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"etcd-{chain_id}", daemon=True)
        self._thread.start()
        self._credentials = credentials
        self._client = self._dial(endpoints)
        leader = self._leader(endpoints)
        if leader not in (None, endpoints[0]):  # to the leader first: a follower member would relay every block
            self._close_client()
            self._client = self._dial([leader] + [e for e in endpoints if e != leader])
        self._changed = threading.Event()
        self.head: int | None = None  # the slot of the last entry the watch brought (None: unknown)
        self._arrived = ArrivedEntries()
        self._watch_task = None

    def _dial(self, endpoints: list[str]):
        # one gRPC target naming every member (pick-first, in this order), so the channel moves
        # to another member when one dies
        return etcdauth.client(endpoints, self._credentials, self.timeout, {
            "grpc.max_receive_message_length": 256 << 20, "grpc.max_send_message_length": MAX_REQUEST_BYTES,
            "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 1000})

    def _leader(self, endpoints: list[str], wait: float = 1.0) -> str | None:
        """The endpoint of the member that leads now; None if that is not known within `wait`
        seconds (a hint only: whichever member the channel reaches relays to the leader)."""
        async def find():
            await self._client.connect()
            status = await asyncio.wait_for(self._client.status(), wait)
            urls = status.leader.client_urls if status.leader else []
            return next((e for e in endpoints if any(u.rstrip("/").endswith("//" + e) for u in urls)), None)
        try:
            return asyncio.run_coroutine_threadsafe(find(), self._loop).result(wait + 0.5)
        except Exception:  # any failure: keep the configured order
            return None

    def _close_client(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(3)
        except Exception:
            pass

    def key(self, name: bytes) -> bytes:
        return self._prefix + name

    def _run(self, coro, what: str):
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self.timeout + 1)
        except _FAILURES as exc:
            future.cancel()
            if "permission denied" in str(exc):  # RBAC (etcdauth): not a fault that retrying mends
                raise AccessDenied(f"etcd refuses the {what} of {self.chain_id} to this identity") from None
            raise ServiceUnavailable(f"etcd ({what} of {self.chain_id}): {type(exc).__name__}: {exc}"[:400]) from None
        except TimeoutError:
            future.cancel()
            raise ServiceUnavailable(f"etcd ({what} of {self.chain_id}) did not answer within {self.timeout} s "
                                     "(no quorum?)") from None

    # --- the log -----------------------------------------------------------------------

    def blocks(self, start: int, limit: int = _RANGE_BLOCKS) -> list[tuple[int, bytes]]:
        """Up to `limit` entries (slot, bytes) from slot `start`, in slot order."""
        checks.integer(start, "start", lo=0)
        base = self.key(b"block/")

        async def get():
            await self._client.connect()
            key = base + _slot_key(start)
            while True:  # (keys that name no slot - anyone may write them - are passed over)
                request = rpc.RangeRequest(key=key, range_end=base + b"~", sort_order=rpc.RangeRequest.ASCEND,
                                           sort_target=rpc.RangeRequest.KEY, limit=limit)
                kvs = (await self._client.kvstub.Range(request, timeout=self.timeout)).kvs
                entries = [(_slot_of(kv.key[len(base):]), kv.value) for kv in kvs]
                entries = [(slot, value) for slot, value in entries if slot is not None]
                if entries or len(kvs) < limit:
                    return entries
                key = kvs[-1].key + b"\0"
        return self._run(get(), "block read")

    def _fence(self, leadership: Leadership, cutter: str) -> list:
        t = self._client.transactions
        return [t.mod(self.key(b"cutter")) == leadership.revision, t.value(self.key(b"cutter")) == cutter.encode()]

    def append(self, slot: int, entry: bytes, leadership: Leadership | None = None, cutter: str | None = None) -> bool:
        """Put `entry` at `slot` if the slot is empty and `cutter` still holds the election
        (without `leadership`: if the slot is empty, as any peer may write an entry - the
        revocation fence a dishonest cutter held back, node.Node._fence_if_due); False when
        either changed (the caller re-reads the log)."""
        if len(entry) > MAX_BLOCK_BYTES:
            raise LedgerError(f"an entry of {len(entry)} bytes exceeds the ordering limit {MAX_BLOCK_BYTES}")
        t = self._client.transactions
        key = self.key(b"block/" + _slot_key(slot))
        compare = [t.create(key) == 0] + (self._fence(leadership, cutter) if leadership is not None else [])
        success = [t.put(key, entry)]

        async def txn():
            await self._client.connect()
            ok, _ = await self._client.transaction(compare=compare, success=success, failure=[])
            return ok
        return self._run(txn(), "append")

    def checkpoint(self) -> bytes | None:
        """The checkpoint entry's bytes (ledger.cluster.follower.Checkpoint), None without one."""
        async def get():
            await self._client.connect()
            kv = await self._client.get(self.key(b"checkpoint"))
            return kv.value if kv else None
        return self._run(get(), "checkpoint read")

    def trim(self, checkpoint: bytes, previous: bytes | None, slot: int, leadership: Leadership,
             cutter: str) -> bool:
        """Replace the checkpoint entry `previous` (None: there is none) by `checkpoint` and
        delete the entries below `slot`, if `cutter` still holds the election and nobody
        changed the checkpoint meanwhile; then compact etcd's history up to that revision
        (freeing the space the entries held). False when the fence failed. (`checkpoint`
        carries the CRL entries it deletes, attested: ledger.cluster.follower, Trimming.)"""
        t = self._client.transactions
        key, base = self.key(b"checkpoint"), self.key(b"block/")
        compare = self._fence(leadership, cutter)
        compare.append(t.version(key) == 0 if previous is None else t.value(key) == previous)

        async def txn():
            await self._client.connect()
            ok, responses = await self._client.transaction(
                compare=compare, success=[t.put(key, checkpoint), t.delete(base, range_end=base + _slot_key(slot))],
                failure=[])
            if ok:  # the history of the deleted entries goes too
                kv = await self._client.get(key)
                try:
                    await self._client.compact(kv.mod_revision)
                except _FAILURES:
                    pass  # compacted already (by another cutter): the space is freed either way
            return ok
        return self._run(txn(), "trim")

    def put_raw(self, name: bytes, value: bytes) -> None:
        """Write a key of this chain's prefix directly (tests: what a faulty orderer could do)."""
        async def put():
            await self._client.put(self.key(name), value)
        self._run(put(), "put")

    # --- watching --------------------------------------------------------------------

    def start_watch(self) -> None:
        """Watch the log's entries: keep each new one's bytes for `arrived` (and forget a
        deleted one) and set `changed` (readers poll the log too: what a lost watch missed
        waits for that poll)."""
        base = self.key(b"block/")

        async def cancel(w) -> None:
            """Stop `w` at etcd (best effort: a lost member's watch is gone with it)."""
            if w is not None:
                try:
                    await asyncio.wait_for(w.cancel(), 1.0)
                except Exception:
                    pass

        async def watch():
            while True:
                w = None
                try:  # (a new watch starts now: the writes and deletes since the last one came in none)
                    self._arrived.clear()
                    w = await self._client.watch(base, range_end=etcdauth._prefix_end(base))  # (every key under block/)
                    async for event in w:
                        slot = _slot_of(event.kv.key[len(base):])
                        if slot is None:
                            continue
                        if event.kind == "PUT":
                            self._arrived.keep(slot, event.kv.value)
                            self.head = slot
                            self._changed.set()
                        else:  # DELETE: a read finds the slot empty now, so must the watch's taker
                            self._arrived.forget(slot)
                except asyncio.CancelledError:
                    await cancel(w)  # (etcd stops sending: pause_watch, close)
                    raise
                except Exception:  # etcd down or the member moved: watch again shortly, the old one
                    self._changed.set()  # cancelled first (each re-watch left one open at the client)
                    await cancel(w)
                    await asyncio.sleep(0.2)
        if self._watch_task is None:
            self._watch_task = asyncio.run_coroutine_threadsafe(watch(), self._loop)

    def pause_watch(self) -> None:
        """Stop watching until start_watch (a block cutter: the entries it appends it holds
        already, and receiving each back cost etcd and the cutter a block's bytes; an entry
        another peer writes fills the slot its next append wants, so the append fails and it
        reads the log, and its follower reads the log every second meanwhile)."""
        task, self._watch_task = self._watch_task, None
        if task is not None:
            task.cancel()
            self._arrived.clear()
            self.head = None

    def arrived(self, start: int) -> list[tuple[int, bytes]]:
        """The entries the watch brought from slot `start` on (ArrivedEntries.since)."""
        return self._arrived.since(start)

    def wait_change(self, timeout: float) -> bool:
        """Block until the watch brought an entry (True) or `timeout` passed (False)."""
        changed = self._changed.wait(timeout)
        self._changed.clear()
        return changed

    # --- election --------------------------------------------------------------------

    def campaign(self, name: str, ttl: int) -> Leadership | None:
        """Try once to become the block cutter: a lease of `ttl` seconds and the cutter key, if
        no one holds it. None when another holds it."""
        t = self._client.transactions
        key = self.key(b"cutter")

        async def run():
            await self._client.connect()
            lease = await self._client.lease(ttl)
            ok, _ = await self._client.transaction(compare=[t.create(key) == 0],
                                                   success=[t.put(key, name.encode(), lease)], failure=[])
            if not ok:
                await self._client.revoke_lease(lease.id)
                return None
            kv = await self._client.get(key)
            return Leadership(lease.id, kv.mod_revision) if kv and kv.value == name.encode() else None
        return self._run(run(), "campaign")

    def keep_alive(self, leadership: Leadership) -> bool:
        """Refresh the lease; False once it expired (the election is lost)."""
        async def refresh():
            reply = await self._client.refresh_lease(leadership.lease_id)
            return reply is not None and reply.TTL > 0
        return self._run(refresh(), "lease refresh")

    def resign(self, leadership: Leadership) -> None:
        async def revoke():
            await self._client.revoke_lease(leadership.lease_id)
        try:
            self._run(revoke(), "resign")
        except ServiceUnavailable:
            pass  # the lease expires on its own

    def cutter(self) -> str | None:
        """The name of the current block cutter, or None while there is none."""
        async def get():
            kv = await self._client.get(self.key(b"cutter"))
            return kv.value.decode() if kv else None
        return self._run(get(), "cutter")

    # --- public trust material -------------------------------------------------------

    def publish_certificate(self, publisher: str, fingerprint: bytes, pem: bytes) -> None:
        """Publish a member's ledger certificate in `publisher`'s (this peer's) directory of
        the registry, for the other peers (ledger.cluster.etcdauth: nobody else may change it)."""
        async def put():
            await self._client.put(etcdauth.certificate_key(publisher, fingerprint), pem)
        self._run(put(), "certificate")

    def certificates(self, fingerprint: bytes, publishers: list[str]) -> list[bytes]:
        """Every copy of the certificate of `fingerprint` that `publishers` published (each
        from a source not trusted for it: node.admit_certificates checks)."""
        t = self._client.transactions
        keys = [etcdauth.certificate_key(p, fingerprint) for p in publishers]

        async def get():
            await self._client.connect()
            copies = []
            for i in range(0, len(keys), 64):  # (etcd bounds the operations of one transaction)
                _, responses = await self._client.transaction(compare=[], success=[t.get(k) for k in keys[i:i + 64]],
                                                               failure=[])
                copies += [value for kvs in responses for value, _ in kvs]
            return copies
        return self._run(get(), "certificate")

    def close(self) -> None:
        async def shutdown():
            if self._watch_task is not None:
                self._watch_task.cancel()
            await self._client.close()
        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(3)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(3)
