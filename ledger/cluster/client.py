"""The client SDK of the distributed deployment: `ledger.connect(CONFIG)` gives the embedded
Network's operations over gRPC with mutual TLS.

CONFIG (JSON, or a dict): {"name": ..., "credentials": DIR (identity.key/.crt, tls.key/.crt,
ca.crt: what `edgeacc ca issue` wrote), "deployment": deployment.json}

A submission goes on one stream per chain to the chain's block cutter (SubmitStream: each
transaction is sent as soon as it is submitted and answered as soon as its block is in etcd;
the cutter relays the attestations of the policy's threshold of peers that they store the
block, which the client checks signature by signature, asking the peers itself only when
they are missing). When the stream fails, or the peer, the block cutter or etcd cannot take
a transaction, it goes again as a Submit call to a peer of the chain, and the client sends the same signed bytes again (to the next peer) until
its deadline: resubmission is idempotent (a transaction already on the chain gets its
receipt), so a transaction is never ordered twice and never re-signed; past the deadline the
result is ServiceUnavailable, a clear error and not a hang.

A process's connections that check by the same rules (deployment, CA, CRL) check a block's
endorsements and attestations once for all of them (_Checked); each receipt's Merkle path is
checked on its own.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import itertools
import json
import queue
import threading
import time
from pathlib import Path

import grpc
from cryptography.hazmat.primitives import serialization

from ledger import checks
from ledger.block import Block, SignedHeader
from ledger.chain import Committed, Receipt, now_ms
from ledger.chain import Deployment
from ledger.cluster.follower import check_attested, confirm_blocks
from ledger.cluster import reads
from ledger.cluster.reads import ChainReader
from ledger.cluster.node import (build, chain_configs, decode_receipt, deployment_params,
                                 load_trust, peer_addresses, proven_receipt, read_json)
from ledger.interlock import InterlockReport
from ledger.cluster.transport import Channel, Credentials, aio_loop, number, pack, remote_error, unpack
from ledger.errors import ArgumentError, LedgerError, NotFound, ServiceUnavailable
from ledger.identity import Identity, load_certificate, load_private_key
from ledger.sequencer import PendingTx
from ledger.objects import ObjectRef, ObjectStore
from ledger.tx import Transaction, TxKind
from ledger.recent import Recent

RETRY_SECONDS = 0.2
MAX_BATCH = 500   # transactions per Submit call, and per message of a submission stream
IN_FLIGHT = 2     # Submit calls under way at once when no stream is open
STREAM_STALL = 10.0   # seconds a stream's oldest transaction waits for its answer before the
                      # stream is given up (its transactions go the Submit way)
STREAM_RETRY = 2.0    # seconds without a stream to a chain after one failed
CONFIRMED_BLOCKS = 4096  # attested blocks a process remembers (header digests: proven_receipt's bound)
DECODED_HEADERS = 64    # decoded headers of the latest receipts a process keeps
CHECKED_RULES = 8       # sets of rules (deployment, CA, CRL) a process keeps what it checked by


class _Checked:
    """What the connections of this process that check by the same rules (the deployment
    description, the CA certificate, the installed CRL: Client._checked) checked once for
    all of them: the digests of headers whose endorsements satisfy the policy
    (proven_receipt), the (height, digest) of blocks the policy's threshold of peers attest
    (check_attested, confirm_blocks), and the decodings of the latest receipts' headers by
    their encoding (a decoding is its bytes': nothing checked is in it). Each receipt's own
    Merkle path is still checked against the header it came with, and that header's digest
    must be one checked here. (Set and dict operations are atomic; a cleared entry is only
    checked again.)"""

    def __init__(self) -> None:
        self.headers: set[bytes] = set()
        self.confirmed: set[tuple[int, bytes]] = set()
        self.decoded: dict[bytes, SignedHeader] = {}

    def remember_confirmed(self, block: tuple[int, bytes]) -> None:
        if len(self.confirmed) > CONFIRMED_BLOCKS:
            self.confirmed.clear()
        self.confirmed.add(block)


# (rules, CRL) digests -> what was checked by them: the latest few (every CRL change makes a key)
_CHECKED: Recent[tuple[bytes, bytes], _Checked] = Recent(CHECKED_RULES)
_CHECKED_LOCK = threading.Lock()


class Client:
    """A connection to a distributed deployment (see the module docstring)."""

    def __init__(self, config: dict, base: Path = Path(".")) -> None:
        self.deployment = read_json((base / config["deployment"]).resolve(), "deployment description")
        creds = (base / config["credentials"]).resolve()
        self.credentials = Credentials.load(creds)
        self.identity_ = Identity(load_private_key(creds / "identity.key"), load_certificate(creds / "identity.crt"))
        self.objects = ObjectStore(self.deployment["objects"])
        self.params = deployment_params(self.deployment)
        # the public trust material, for checking endorsements (Protocol 1)
        self.trust = load_trust((base / config.get("trust", creds)).resolve())
        self.deployment_rules = Deployment(self.params, self.trust, chain_configs(self.deployment))
        self.main_chain_id = next(c["id"] for c in self.deployment["chains"] if c["kind"] == "main")
        self.subchain_ids = [c["id"] for c in self.deployment["chains"] if c["kind"] == "sub"]
        self._channels: dict[str, Channel] = {}
        self._nonce = itertools.count(time.time_ns())
        self.submit_timeout = checks.number(config.get("submit_timeout", 60.0), "submit_timeout")
        self._next = itertools.count()
        self._pool = concurrent.futures.ThreadPoolExecutor(32, thread_name_prefix="client")
        self._registered: set[tuple[str, bytes]] = set()
        self._cutters: dict[str, str] = {}
        # what receipts were checked by (_checked): the deployment's rules and trust anchor
        self._rules = hashlib.sha256(json.dumps(self.deployment, sort_keys=True).encode() +
                                     self.trust.ca_certificate.public_bytes(serialization.Encoding.DER)).digest()
        self._crl_seen: tuple[object, bytes] = (None, b"")  # (the installed CRL, its digest)
        self._readers: dict[str, ChainReader] = {}
        self._certificates: dict[bytes, bytes] = {}  # fingerprint -> PEM of identities this client signed with
        self._outboxes: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()
        self._in_flight = threading.Semaphore(IN_FLIGHT)
        self._streams: set[_SubmitStream] = set()
        self._open: dict[str, _SubmitStream] = {}  # chain id -> the stream its sender thread opened

    # --- plumbing --------------------------------------------------------------------

    def _checked(self) -> _Checked:
        """What this process checked by this client's rules: shared with its other
        connections of the same deployment description, CA and installed CRL (_Checked)."""
        crl = self.trust.revocation_list
        if crl is not self._crl_seen[0]:
            self._crl_seen = (crl, b"" if crl is None else
                              hashlib.sha256(crl.public_bytes(serialization.Encoding.DER)).digest())
        key = (self._rules, self._crl_seen[1])
        checked = _CHECKED.get(key)
        if checked is None:
            with _CHECKED_LOCK:
                checked = _CHECKED.get(key)
                if checked is None:
                    _CHECKED[key] = checked = _Checked()
        return checked

    def _channel(self, name: str, address: str) -> Channel:
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = Channel(address, name, self.credentials)
        return channel

    def _peers(self, chain_id: str) -> list[tuple[str, str]]:
        return list(peer_addresses(self.deployment, checks.text(chain_id, "chain_id")).items())

    def _call_any(self, chain_id: str, method: str, request: bytes, timeout: float = 10.0,
                  first: str | None = None) -> bytes:
        """`method` on the peers of `chain_id` in turn (peer `first`, else the last known
        cutter, first), until one answers. A peer that lacks what was asked may only lag
        behind the cutter: NotFound when none of those that answer has it."""
        return self._call_any_named(chain_id, method, request, timeout, first)[1]

    def _call_any_named(self, chain_id: str, method: str, request: bytes, timeout: float = 10.0,
                        first: str | None = None) -> tuple[str, bytes]:
        """_call_any, with the name of the peer that answered."""
        peers = self._peers(chain_id)
        start = next(self._next)
        order = [peers[(start + i) % len(peers)] for i in range(len(peers))]
        order.sort(key=lambda p: p[0] != (first or self._cutters.get(chain_id)))
        failures, missing = [], None
        for name, address in order:
            try:
                return name, self._channel(name, address).call(method, request, timeout)
            except ServiceUnavailable as exc:
                failures.append(str(exc))
            except NotFound as exc:
                missing = missing or exc
        if missing is not None:
            raise missing
        raise ServiceUnavailable(f"no peer of {chain_id} answers: {'; '.join(failures)}"[:1000])

    def _cutter(self, chain_id: str) -> str | None:
        """The peer that cut `chain_id`'s blocks when last asked (a submission sent to it saves
        the hop a forwarding peer adds); None when none answers."""
        if chain_id not in self._cutters:
            for name, _ in self._peers(chain_id):
                try:
                    if self.node_status(name)["cutter"]:
                        self._cutters[chain_id] = name
                        break
                except LedgerError:
                    continue
        return self._cutters.get(chain_id)

    def node_status(self, name: str) -> dict:
        """The Status of one node, by its peer name."""
        for c in self.deployment["chains"]:
            for p in c["peers"]:
                if p["name"] == name:
                    return json.loads(self._channel(name, p["address"]).call("Status", b"", 3.0))
        raise NotFound(f"no peer {checks.shown(name)}")

    # --- the Network interface -------------------------------------------------------

    def identity(self, name: str | None = None, role: str | None = None, chain_id: str | None = None) -> Identity:
        """This client's own identity (new identities are issued by the operator: `edgeacc ca issue`)."""
        if name is not None and name != self.identity_.name:
            raise ArgumentError(f"this client holds the identity {self.identity_.name!r} only; "
                                f"issue {checks.shown(name)} with `edgeacc ca issue`")
        return self.identity_

    def put_object(self, data: bytes) -> ObjectRef:
        return self.objects.put(data)

    def get_object(self, ref: ObjectRef | bytes) -> bytes:
        return self.objects.get(ref)

    def record(self, chain_id: str, payload: bytes = b"", *, obj: ObjectRef | None = None,
               signer: Identity | str | None = None) -> Transaction:
        """A signed Type-I transaction for `chain_id` (not yet submitted)."""
        if obj is not None:
            checks.instance(obj, ObjectRef, "obj")
        signer = self.identity(signer) if signer is None or isinstance(signer, str) \
            else checks.instance(signer, Identity, "signer")
        if signer.fingerprint not in self._certificates:  # (encoded once, not on every record)
            self._certificates[signer.fingerprint] = signer.certificate.public_bytes(serialization.Encoding.PEM)
        self._peers(chain_id)
        return Transaction.create(signer, TxKind.RECORD, chain_id, payload, timestamp_ms=now_ms(),
                                  nonce=next(self._nonce), object_digest=obj.digest if obj else b"",
                                  object_url=obj.url if obj else "")

    def submit(self, chain_id: str, payload: bytes = b"", *, obj: ObjectRef | None = None,
               signer: Identity | str | None = None) -> PendingTx:
        """Sign and submit a Type-I record."""
        # (record built it from checked fields: no caller's object to re-read from its bytes)
        return self._queue([self.record(chain_id, payload, obj=obj, signer=signer)])[0]

    def submit_transaction(self, tx: Transaction) -> PendingTx:
        """Submit an already signed transaction to its chain."""
        return self.submit_transactions([tx])[0]

    def submit_transactions(self, txs: list[Transaction]) -> list[PendingTx]:
        """Submit signed transactions; PendingTx.result() is the Receipt once the block is in
        etcd and stored by the chain's cutter, or ServiceUnavailable when that did not happen
        within `submit_timeout` seconds of resubmitting. A receipt is accepted only with its
        proof (node.proven_receipt: the block's endorsed header and the Merkle path) and the
        attestations of the policy's threshold of peers that they store that
        block (follower.confirm_blocks: it is the ordered log's block at that height); one
        without is resubmitted to another peer, and is the error past the deadline."""
        return self._queue([checks.decoded(tx, Transaction, "tx") for tx in checks.instance(txs, (list, tuple), "txs")])

    def _queue(self, txs: list[Transaction]) -> list[PendingTx]:
        """Send `txs` on their chain's open submission stream from this thread (one thread
        switch less per transaction), or put them in the chain's outbox (_send) when none is
        open or a signer's certificate is still to register."""
        pendings = [PendingTx(tx) for tx in txs]
        deadline = time.monotonic() + self.submit_timeout
        by_chain: dict[str, list[tuple[PendingTx, float]]] = {}
        for p in pendings:
            by_chain.setdefault(p.chain_id, []).append((p, deadline))
        for chain_id, items in by_chain.items():
            stream = self._open.get(chain_id)
            if stream is not None and all((chain_id, p.transaction.submitter) in self._registered for p, _ in items):
                try:
                    stream.send(items)
                    continue
                except ServiceUnavailable:
                    pass  # (closed meanwhile: the outbox opens another or goes the Submit way)
            box = self._outbox(chain_id)
            for item in items:
                box.put(item)
        return pendings

    def _outbox(self, chain_id: str) -> queue.Queue:
        """The chain's queue of submissions: a sender thread takes whatever accumulated into
        one Submit call (several in flight), as the cutter takes its queue into one block."""
        with self._lock:
            box = self._outboxes.get(chain_id)
            if box is None:
                box = self._outboxes[chain_id] = queue.Queue()
                threading.Thread(target=self._send, args=(chain_id, box), name=f"send-{chain_id}", daemon=True).start()
        return box

    def _send(self, chain_id: str, box: queue.Queue) -> None:
        """Send what accumulated in the chain's outbox: on a submission stream to the chain's
        cutter when one is open (each message answered as its blocks are appended), otherwise
        as Submit calls, IN_FLIGHT at once."""
        stream: _SubmitStream | None = None
        retry_stream = 0.0
        while True:
            try:
                first = box.get(timeout=1.0)
            except queue.Empty:
                if stream is not None:
                    stream.check_stall()
                continue
            if first is None:
                if stream is not None:
                    stream.close()
                return
            items = [first]
            while len(items) < MAX_BATCH:
                try:
                    item = box.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    box.put(None)
                    break
                items.append(item)
            if stream is not None and stream.broken:
                stream, retry_stream = None, time.monotonic() + STREAM_RETRY
                self._open.pop(chain_id, None)
            if stream is None and time.monotonic() >= retry_stream:
                stream = self._open_stream(chain_id)
                if stream is None:
                    retry_stream = time.monotonic() + STREAM_RETRY
            if stream is not None:
                try:
                    self._register(chain_id, [p.transaction for p, _ in items])
                    stream.send(items)
                    self._open[chain_id] = stream  # (its signers registered: submitters send on it directly)
                    stream.check_stall()
                    continue
                except LedgerError:
                    pass  # (registration failed: the Submit way retries it)
            self._in_flight.acquire()
            future = self._pool.submit(self._submit_group, chain_id, [p for p, _ in items], min(d for _, d in items))
            future.add_done_callback(lambda _f: self._in_flight.release())

    def _open_stream(self, chain_id: str) -> "_SubmitStream | None":
        cutter = self._cutter(chain_id)
        if cutter is None:
            return None
        return _SubmitStream(self, chain_id, cutter, self._channel(cutter, dict(self._peers(chain_id))[cutter]))

    def _settle(self, chain_id: str, answering: str, answered: list[tuple[PendingTx, float, bytes]],
                relayed: bytes = b"") -> None:
        """Resolve submissions from the outcomes `answering` sent (PendingTx, deadline, outcome):
        each proven and confirmed receipt (proven_receipt, _confirm) is the result, each error
        that is not ServiceUnavailable too; the others are resubmitted the Submit way.
        `relayed` packs the attestations the cutter gathered per block (_take_relayed). It runs
        on the stream's reader thread: receipts of blocks confirmed already are resolved there,
        and asking the peers (_confirm of a block the relay did not confirm) goes to the pool."""
        deadlines = {id(p): d for p, d, _ in answered}
        try:
            self._take_relayed(chain_id, relayed)
            proven, failed = self._sort_outcomes(chain_id, [(p, o) for p, _, o in answered])
        except LedgerError:  # an outcome that does not decode: every undecided one goes again
            self._resubmit(chain_id, [(p, d) for p, d, _ in answered if not p.done()])
            return
        self._resubmit(chain_id, [(p, deadlines[id(p)]) for p, _ in failed])
        confirmed = self._checked().confirmed
        if all((r.height, r.block_digest) in confirmed for _, r in proven):
            self._confirm(chain_id, answering, proven)  # (nobody to ask: resolved on this thread)
            return

        def confirm() -> None:
            self._resubmit(chain_id, [(p, deadlines[id(p)]) for p, _ in self._confirm(chain_id, answering, proven)])
        try:
            self._pool.submit(confirm)
        except RuntimeError:  # the client is closed
            self._resubmit(chain_id, [(p, deadlines[id(p)]) for p, _ in proven])

    def _take_relayed(self, chain_id: str, relayed: bytes) -> None:
        """Blocks whose relayed attestations (pack of (height, digest, (fingerprint, signature)...))
        show the policy's threshold of peers store them count as confirmed (follower.check_attested:
        each signature is checked, whoever relayed it); the others are confirmed by asking the
        peers (_confirm)."""
        checked = self._checked()
        for entry in unpack(relayed, what="relayed attestations") if relayed else ():
            try:
                height, digest, *pairs = unpack(entry, what="relayed attestation")
                block = (number(height, "height"), bytes(digest))
                if block not in checked.confirmed:
                    check_attested(self.deployment_rules, chain_id, *block,
                                   [tuple(unpack(pair, 2, "attestation")) for pair in pairs])
                    checked.remember_confirmed(block)
            except LedgerError:
                continue  # not proven here: _confirm asks the peers

    def _resubmit(self, chain_id: str, items: list[tuple[PendingTx, float]]) -> None:
        """Submit again the Submit way (with its retries until each deadline)."""
        if not items:
            return
        self._cutters.pop(chain_id, None)
        try:
            self._pool.submit(self._submit_group, chain_id, [p for p, _ in items], min(d for _, d in items))
        except RuntimeError:  # the client is closed
            for p, _ in items:
                if not p.done():
                    p._future.set_exception(LedgerError("the client closed before the transaction was committed"))

    def _register(self, chain_id: str, txs: list[Transaction]) -> None:
        """Hand every peer of the chain the certificates of signers they may not know yet (the
        identities this client signed with): each publishes it for the others, and no one peer
        withholding it denies this client (ledger.cluster.etcdauth). ServiceUnavailable when
        no peer took it."""
        for fp in {tx.submitter for tx in txs}:
            if (chain_id, fp) not in self._registered and fp in self._certificates:
                calls = [self._channel(name, address).call_future("Register", self._certificates[fp], 5.0)
                         for name, address in self._peers(chain_id)]
                failures = [call.exception() for call in calls]  # (every peer's answer: each publishes a copy)
                if all(failures):
                    raise ServiceUnavailable(f"no peer of {chain_id} takes the certificate {fp.hex()[:16]}: "
                                             f"{failures[0]}"[:500])
                self._registered.add((chain_id, fp))

    def _submit_group(self, chain_id: str, group: list[PendingTx], deadline: float) -> None:
        waiting = list(group)
        last: LedgerError = ServiceUnavailable(f"{chain_id}: not ordered before the deadline")
        try:
            while waiting and time.monotonic() < deadline:
                try:
                    self._register(chain_id, [p.transaction for p in waiting])
                    answering, answer = self._call_any_named(
                        chain_id, "Submit", pack(*(p.transaction.to_bytes() for p in waiting)),
                        max(1.0, deadline - time.monotonic()), self._cutter(chain_id))
                    answer = unpack(answer, len(waiting), "outcomes")
                except ServiceUnavailable as exc:
                    self._cutters.pop(chain_id, None)
                    last = exc
                    time.sleep(RETRY_SECONDS)
                    continue
                proven, failed = self._sort_outcomes(chain_id, list(zip(waiting, answer)))
                retry = failed + self._confirm(chain_id, answering, proven)
                if retry:
                    self._cutters.pop(chain_id, None)
                    last = retry[-1][1]
                waiting = [p for p, _ in retry]
                if waiting:
                    time.sleep(RETRY_SECONDS)
        except LedgerError as exc:
            last = exc
        except Exception as exc:  # never leave a PendingTx unanswered
            last = LedgerError(f"internal error: {exc!r}")
        for p in waiting:
            if not p.done():
                p._future.set_exception(last)

    def _sort_outcomes(self, chain_id: str, outcomes: list[tuple[PendingTx, bytes]]):
        """(proven, failed) of (pending, outcome) pairs: (pending, receipt) of each receipt that
        proves itself (proven_receipt; its block is still to confirm), (pending, error) of each
        to submit again elsewhere (a receipt that does not prove itself, ServiceUnavailable);
        any other error is the pending's result."""
        proven, failed = [], []
        checked = self._checked()
        if len(checked.decoded) > DECODED_HEADERS:
            checked.decoded.clear()
        for p, outcome in outcomes:
            kind, *rest = unpack(outcome, what="outcome")
            if kind == b"R":
                try:
                    proven.append((p, proven_receipt(
                        self.deployment_rules, p.transaction, rest, checked.headers,
                        lambda fp: self._call_any(chain_id, "Certificate", fp), checked.decoded)))
                except LedgerError as forged:  # the peer that answered lies: ask another
                    failed.append((p, forged))
                continue
            exc = remote_error(rest[0].decode(), rest[1].decode())
            if isinstance(exc, ServiceUnavailable):
                failed.append((p, exc))
            else:
                p._future.set_exception(exc)
        return proven, failed

    def _confirm(self, chain_id: str, answering: str, proven: list) -> list[tuple[PendingTx, LedgerError]]:
        """Resolve each (pending, receipt) whose block other peers attest (confirm_blocks);
        the (pending, error) of the others."""
        checked = self._checked()
        blocks = {(r.height, r.block_digest) for _, r in proven} - checked.confirmed
        peers = dict(self._peers(chain_id))
        ask = lambda name, request, timeout: self._channel(name, peers[name]).call_future(  # noqa: E731
            "Stored", request, timeout)
        refused = {}
        for block in blocks:
            try:
                confirm_blocks(self.deployment_rules, chain_id, [block], answering, list(peers), ask)
                checked.remember_confirmed(block)
            except LedgerError as exc:
                refused[block] = exc
        failed = []
        for p, receipt in proven:
            exc = refused.get((receipt.height, receipt.block_digest))
            if exc is None:
                p._future.set_result(receipt)
            else:
                failed.append((p, exc))
        return failed

    def locate(self, tx_id: bytes | str) -> Receipt:
        """Where a committed transaction is, on whichever chain's peers prove it (reads.locate)."""
        tx_id = checks.identifier(tx_id, "tx_id", "transaction id")
        return reads.locate([self.reader(c["id"]) for c in self.deployment["chains"]], tx_id)

    def reader(self, chain_id: str) -> ChainReader:
        """Checked reads of `chain_id` from its peers (ledger.cluster.reads: what the chain's
        peers serve is taken only when it is the chain's endorsed and ordered state)."""
        with self._lock:
            reader = self._readers.get(chain_id)
            if reader is None:
                peers = dict(self._peers(chain_id))
                reader = self._readers[chain_id] = ChainReader(
                    self.deployment_rules, chain_id, list(peers),
                    lambda name, method, request, timeout:
                        self._channel(name, peers[name]).call(method, request, timeout),
                    lambda name, method, request, timeout:
                        self._channel(name, peers[name]).call_future(method, request, timeout))
        return reader

    def block(self, chain_id: str, height: int) -> Block:
        """Block `height` of `chain_id`: the chain's ordered block (ChainReader.block)."""
        return self.reader(chain_id).block(checks.integer(height, "height", lo=0))

    def transaction(self, tx_id: bytes | str) -> Transaction:
        receipt = self.locate(tx_id)  # (proven: the ordered block holds it there)
        return self.block(receipt.chain_id, receipt.height).transactions[receipt.position]

    def transactions(self, tx_ids) -> dict[bytes, Committed]:
        """transaction() and locate() of many ids, each block read once (reads.transactions)."""
        return reads.transactions([self.reader(c["id"]) for c in self.deployment["chains"]],
                                  list(dict.fromkeys(checks.identifiers(tx_ids, "tx_ids", "transaction id"))))

    def status(self) -> dict:
        """Per chain: the heights its peers report (ServiceUnavailable for a silent one)."""
        out = {}
        for c in self.deployment["chains"]:
            peers = {}
            for p in c["peers"]:
                try:
                    peers[p["name"]] = self.node_status(p["name"])
                except LedgerError as exc:
                    peers[p["name"]] = {"error": str(exc)}
            out[c["id"]] = {"kind": c["kind"], "height": max((s.get("height", 0) for s in peers.values()), default=0),
                            "peers": peers}
        return out

    def interlock(self, timeout: float = 60.0) -> InterlockReport:
        """One interlocking round now: every sub-chain's cutter reports its chain to the main
        chain (Type-II), then the main chain's cutter reports it to every sub-chain (Type-III)."""
        type2 = [decode_receipt(r) for cid in self.subchain_ids for r in unpack(self._on_cutter(cid, "Interlock", timeout))]
        type3 = [decode_receipt(r) for r in unpack(self._on_cutter(self.main_chain_id, "Interlock", timeout))]
        return InterlockReport(tuple(type2), tuple(type3))

    def _on_cutter(self, chain_id: str, method: str, timeout: float) -> bytes:
        """`method` on the chain's block cutter (the peers are asked in turn until it answers)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._call_any(chain_id, method, b"", max(1.0, deadline - time.monotonic()),
                                      self._cutter(chain_id))
            except ServiceUnavailable:
                self._cutters.pop(chain_id, None)
                if time.monotonic() > deadline:
                    raise
                time.sleep(RETRY_SECONDS)

    def verifier(self, chain_id: str):
        """A Protocol 1 verifier attached to chain `chain_id`: it trusts that chain's peers for
        the chain's own state (acc_M from its latest Type-III) and checks every proof the
        other chains' peers send (ledger.verifier.Verifier over remote reads)."""
        from ledger.cluster.remote import RemotePeer, RemoteService
        from ledger.verifier import Verifier

        services = {cid: RemoteService(RemotePeer(self, cid)) for cid in self.chain_ids}
        return Verifier(services, self.deployment_rules, chain_id)

    def verify(self, tx_id: bytes | str, from_chain: str):
        """Protocol 1 for `tx_id`, run by a verifier on `from_chain`."""
        return self.verifier(from_chain).verify(tx_id)

    def verify_many(self, tx_ids, from_chain: str):
        return self.verifier(from_chain).verify_many(tx_ids)

    @property
    def chain_ids(self) -> list[str]:
        """Ids of every chain, the main chain first."""
        return [self.main_chain_id] + self.subchain_ids

    def height(self, chain_id: str) -> int:
        """Number of blocks of `chain_id`: the most advanced latest header a peer proves is the
        chain's ordered block (ChainReader.latest). A peer's own word (Status) is not taken:
        a dishonest one could claim any height, or serve an endorsed twin never ordered."""
        latest = self.reader(chain_id).latest()
        return latest.header.height + 1 if latest is not None else 0

    def close(self) -> None:
        for box in self._outboxes.values():
            box.put(None)
        for stream in list(self._streams):
            stream.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for ch in self._channels.values():
            ch.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _SubmitStream:
    """A client's submission stream to a chain's cutter (the node's SubmitStream) over
    grpc.aio, on the process's one event loop thread (transport.aio_loop): `send` numbers the
    transactions as the node does, from the submitting thread, and wakes the loop's writer
    once for whatever queued until it runs (what submitters queue while a message is under way
    goes in the next one, up to MAX_BATCH each); the loop reads each answer message and
    settles it (Client._settle). No thread per stream: a synchronous stream took two (the
    request consumer and the reader), each woken per message. When the stream fails or stalls
    (STREAM_STALL), every transaction it did not answer is resubmitted the Submit way
    (resubmission is idempotent)."""

    def __init__(self, client: Client, chain_id: str, name: str, channel: Channel) -> None:
        self.client, self.chain_id, self.name = client, chain_id, name
        self.broken = False
        self._lock = threading.Lock()
        self._outstanding: dict[int, tuple[PendingTx, float, float]] = {}  # number -> (pending, deadline, sent)
        self._sequence = 0
        self._unsent: list[bytes] = []  # transactions' bytes, in their numbers' order, not yet written
        self._woken = False  # a wake of the writer is scheduled and it has not taken _unsent since
        self._wake = asyncio.Event()  # (set on the loop only)
        self._call: grpc.aio.StreamStreamCall | None = None
        self._loop = aio_loop()
        client._streams.add(self)
        asyncio.run_coroutine_threadsafe(self._run(channel), self._loop)

    def send(self, items: list[tuple[PendingTx, float]]) -> None:
        now = time.monotonic()
        with self._lock:
            if self.broken:
                raise ServiceUnavailable(f"the submission stream to {self.name} is closed")
            for p, deadline in items:
                self._outstanding[self._sequence] = (p, deadline, now)
                self._sequence += 1
                self._unsent.append(p.transaction.to_bytes())
            wake, self._woken = not self._woken, True
        if wake:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self, channel: Channel) -> None:
        writer = None
        try:
            if self.broken:
                return
            call = self._call = channel.aio_stream("SubmitStream")
            writer = asyncio.ensure_future(self._write(call))
            while True:
                message = await call.read()
                if message is grpc.aio.EOF:
                    break
                self._answer(message)
        except Exception:  # the stream failed (the node's error, unreachable) or was closed
            pass
        finally:
            if writer is not None:
                writer.cancel()
            self.close()

    async def _write(self, call: grpc.aio.StreamStreamCall) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                with self._lock:
                    unsent, self._unsent, self._woken = self._unsent, [], False
                    if self.broken:
                        return
                for i in range(0, len(unsent), MAX_BATCH):
                    await call.write(pack(*unsent[i:i + MAX_BATCH]))
        except (asyncio.CancelledError, grpc.RpcError, grpc.aio.UsageError):
            return  # (closed: the reader ends the stream)

    def _answer(self, message: bytes) -> None:
        """Settle one answer message (on the loop: its receipts' checks are this process's CPU
        whichever thread runs them)."""
        answered = []
        pairs, attestations = unpack(message, 2, "stream answer")
        with self._lock:
            for pair in unpack(pairs, what="stream answer"):
                number_, outcome = unpack(pair, 2, "stream outcome")
                entry = self._outstanding.pop(int(number_), None) if number_.isdigit() else None
                if entry is not None:  # (a number it does not wait for: a lying peer's, ignored)
                    answered.append((entry[0], entry[1], outcome))
        if answered:
            try:
                self.client._settle(self.chain_id, self.name, answered, attestations)
            except Exception as exc:  # never leave a PendingTx unanswered
                for p, _, _ in answered:
                    if not p.done():
                        p._future.set_exception(LedgerError(f"internal error: {exc!r}"))

    def check_stall(self) -> None:
        with self._lock:
            oldest = min((sent for _, _, sent in self._outstanding.values()), default=None)
        if oldest is not None and time.monotonic() - oldest > STREAM_STALL:
            self.close()

    def _cancel(self) -> None:
        """(on the loop) End the call and let the writer see the stream closed."""
        if self._call is not None:
            self._call.cancel()
        self._wake.set()

    def close(self) -> None:
        """End the stream; what it did not answer goes the Submit way."""
        with self._lock:
            first, self.broken = not self.broken, True
            left, self._outstanding = list(self._outstanding.values()), {}
        if first:
            self._loop.call_soon_threadsafe(self._cancel)
        self.client._streams.discard(self)
        if self.client._open.get(self.chain_id) is self:
            self.client._open.pop(self.chain_id, None)
        self.client._resubmit(self.chain_id, [(p, d) for p, d, _ in left])


def connect(config: str | Path | dict) -> Client:
    """A Client of the distributed deployment described by `config` (a client.json path or
    its dict; relative paths in a file are relative to it)."""
    if isinstance(config, dict):
        return build(Client, config, Path("."), "the client configuration")
    path = checks.path(config, "config")
    return build(Client, read_json(path, "client configuration"), path.parent, path)
