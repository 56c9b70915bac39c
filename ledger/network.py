"""The embedded deployment: one main chain and N edge sub-chains with P peers each, in one
process, stored in a data directory.

    <dir>/network.json          the manifest (chains, peers, policy, interlocking, Params)
    <dir>/ca/ca.crt, ca.key     the deployment CA; ca/crl.pem its revocation list
    <dir>/identities/NAME.crt   certificates (and .key private keys) of peers, clients, devices
    <dir>/peers/NAME.sqlite     one SQLite store per peer
    <dir>/objects/              the content-addressed object store (file:// by default)

Each chain has a sequencer thread: it takes every pending transaction (up to max_block_txs)
into one block, so under load many transactions share one Merkle root, one accumulator
exponentiation and one fsync per peer. Its leader (the first peer holding the longest chain)
validates and proposes, the policy's endorsers validate and sign, and every peer stores the
block before submitters are told.

Commit semantics. The quorum is the policy's endorsement threshold. A block durable on at
least the quorum of peers is committed: its transactions get a Receipt. A block durable on
fewer (but at least one) is on the chain yet not committed: its transactions get
CommitPending, never a failure that invites signing them again. A block durable on no peer
failed: its transactions are on no chain, and may be submitted again. Submitting a
transaction that is already on the chain (the same bytes) is idempotent: it answers with its
Receipt (or CommitPending) and adds nothing. Lagging peers catch up before every block and on
open.

Rollback and fork detection (ledger.anchors). On open and before every interlocking round,
the main chain is checked against the Type-III statuses each sub-chain holds, and each
sub-chain against the Type-II statuses the main chain holds for it; the peers of a chain
must agree, and (on interlocking) every store still holds what its peer committed. A
mismatch raises RollbackDetected or ForkDetected, before anything is written.
"""
from __future__ import annotations

import concurrent.futures
import datetime
import fcntl
import itertools
import json
import os
import queue
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import edgeacc
from cryptography import x509
from edgeacc.errors import EdgeaccError

from ledger.anchors import Anchor, ChainCopy, anchors_from, check_chain
from ledger import checks
from ledger.block import Block, SignedHeader, SubchainStatus
from ledger.chain import MAIN, SUB, ChainConfig, Deployment, Peer, Receipt, Validator, now_ms
from ledger.errors import (ChainIntegrityError, CommitPending, ConfigurationError, EndorsementError,
                           LedgerError, NotFound, ReplayedTransaction, StorageError,
                           ValidationRejected)
from ledger.identity import (CertificateAuthority, Identity, TrustStore, load_certificate,
                             load_private_key, load_revocation_list, save_certificate, save_private_key)
from ledger.objects import ObjectRef, ObjectStore, write_local
from ledger.protocol1 import ProofRejected, Verdict, check_cross_chain, reject, verify_inclusion
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind

MANIFEST = "network.json"
FORMAT = "edgeacc-ledger/1"
MAIN_CHAIN_ID = "main"
DEFAULT_CLIENT = "client"
CATCH_UP_RETRY_SECONDS = 0.5


def subchain_id(i: int) -> str:
    """The id of the i-th sub-chain."""
    return f"edge-{i}"


def peer_name(chain_id: str, i: int) -> str:
    """The certificate name of peer i of a chain."""
    return f"{chain_id}.peer{i}"


def catch_up(peers: list[Peer]) -> dict[str, LedgerError]:
    """A crash between two peers' commits, or a failed write, leaves a peer behind: replay the
    longest copy's extra blocks to the others (each validates them as usual). Peers holding
    different blocks raise ForkDetected before anything is written. Returns the peers that
    could not store a block (name -> error): they stay behind until the next attempt."""
    check_chain([memory_copy(p) for p in peers], ())
    longest = max(peers, key=lambda p: p.height)
    failed: dict[str, LedgerError] = {}
    for peer in peers:
        try:
            for height in range(peer.height, longest.height):
                peer._commit(longest.block(height), live=False)  # decoded from the store
        except LedgerError as exc:
            failed[peer.name] = exc
    return failed


def memory_copy(peer: Peer) -> ChainCopy:
    """The chain as `peer` validated it (its memory)."""
    return ChainCopy(peer.chain_id, peer.name, peer.height, lambda h: peer.signed_header(h).header.digest)


def store_copy(peer: Peer) -> ChainCopy:
    """The chain as `peer`'s store holds it now (digests read from disk)."""
    return ChainCopy(peer.chain_id, f"the store of {peer.name}", peer.store.height(), peer.store.digest)


class PendingTx:
    """A submitted transaction: `tx_id` now, `result()` -> Receipt once the policy's quorum of
    peers stored its block (CommitPending when fewer did; or the LedgerError that rejected it)."""

    def __init__(self, tx: Transaction) -> None:
        self.transaction = tx
        self.tx_id = tx.tx_id
        self.chain_id = tx.chain_id
        self._future: concurrent.futures.Future = concurrent.futures.Future()

    def result(self, timeout: float | None = 60.0) -> Receipt:
        """The Receipt once the quorum stored the transaction's block. Raises CommitPending
        when fewer peers (at least one) stored it: it is on the chain, so submit this same
        transaction again for its receipt, never a re-signed copy; the LedgerError that
        rejected it (then it is on no peer); or LedgerError after `timeout` seconds."""
        if timeout is not None:
            timeout = checks.number(timeout, "timeout")
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise LedgerError(f"transaction {self.tx_id.hex()} not committed within {timeout} s") from None

    def done(self) -> bool:
        """True once the transaction is committed or rejected."""
        return self._future.done()

    def add_done_callback(self, fn: Callable[["PendingTx"], None]) -> None:
        """Call fn(pending) when the transaction is committed or rejected (on the sequencer's thread)."""
        checks.function(fn, "fn")
        self._future.add_done_callback(lambda _f: fn(self))


class ChainService:
    """A chain's peers and its sequencer thread."""

    def __init__(self, config: ChainConfig, peers: list[Peer], max_block_txs: int,
                 on_commit: Callable[[str], None]) -> None:
        self.config = config
        self.deployment = peers[0].deployment
        self.chain_id = config.chain_id
        self.peers = peers
        self.max_block_txs = max_block_txs
        self._queue: queue.Queue = queue.Queue()
        self._on_commit = on_commit
        self._stop = threading.Event()
        self._committers = concurrent.futures.ThreadPoolExecutor(len(peers), thread_name_prefix=f"commit-{self.chain_id}")
        self._thread = threading.Thread(target=self._run, name=f"sequencer-{self.chain_id}", daemon=True)
        self._thread.start()

    @property
    def leader(self) -> Peer:
        """The peer that proposes blocks: the first one holding the longest chain (a peer that
        failed to store a block and cannot catch up does not stop the others)."""
        return max(self.peers, key=lambda p: p.height)

    @property
    def quorum(self) -> int:
        """How many peers must hold a block durably before it is reported committed."""
        return self.config.endorsement_threshold

    def submit(self, tx: Transaction) -> PendingTx:
        """Have the policy's endorsers check `tx` now, on the caller's thread (signature checks
        release the GIL, so submitters check in parallel), then queue it for the next block.
        A transaction they refuse comes back as a PendingTx holding the error."""
        return self.submit_many([tx])[0]

    def submit_many(self, txs: list[Transaction]) -> list[PendingTx]:
        """submit() for several transactions that are queued together, so they share blocks
        (max_block_txs per block)."""
        txs = [checks.decoded(tx, Transaction, "tx") for tx in checks.instance(txs, (list, tuple), "txs")]
        return self._submit_decoded(txs)

    def _submit_decoded(self, txs: list[Transaction]) -> list[PendingTx]:
        # The trust boundary: peers check, sign and store the decoding of the submitted
        # bytes (checks.decoded), never fields an object carries beside them.
        if self._stop.is_set():
            raise LedgerError("the network is closed")
        admitted, out = [], []
        for tx in txs:
            pending = PendingTx(tx)
            out.append(pending)
            # one already on the chain is answered by the sequencer (idempotent resubmission)
            if self.leader.locate(tx.tx_id) is not None or self._admit(tx, pending):
                admitted.append(pending)
        for start in range(0, len(admitted), self.max_block_txs):
            self._queue.put(admitted[start:start + self.max_block_txs])
        return out

    def _admit(self, tx: Transaction, pending: PendingTx) -> bool:
        """Ask the peers in order until the policy's threshold admit `tx` (k of any). A broken
        ledger rule fails at once (every peer checks the same rules); a peer whose application
        validator refuses only does not endorse, and the next peer is asked."""
        threshold = self.config.endorsement_threshold
        admitted: list[Peer] = []
        refusals: list[ValidationRejected] = []
        try:
            tx.leaf  # hashed here, off the sequencer's thread
            for peer in self.peers:
                if len(admitted) == threshold:
                    break
                try:
                    peer._admit(tx)  # decoded by submit_many
                    admitted.append(peer)
                except ValidationRejected as exc:
                    refusals.append(exc)
            if len(admitted) < threshold:
                raise ValidationRejected(
                    f"{self.chain_id}: {len(admitted)} of the {threshold} endorsements the policy needs "
                    f"({'; '.join(map(str, refusals))})") from (refusals[0] if refusals else None)
        except LedgerError as exc:
            for peer in admitted:
                peer.forget(tx)
            pending._future.set_exception(exc)
            return False
        return True

    def _lagging(self) -> bool:
        return len({peer.height for peer in self.peers}) > 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:  # while a peer lags, retry its catch-up when idle too
                first = self._queue.get(timeout=CATCH_UP_RETRY_SECONDS if self._lagging() else None)
            except queue.Empty:
                try:
                    catch_up(self.peers)
                except LedgerError:
                    pass  # peers that disagree: the next block reports it to its submitters
                continue
            if first is None:  # close() wakes the thread
                break
            batch = list(first)
            while len(batch) < self.max_block_txs:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.extend(item)
            try:
                self._commit_batch(batch)
            except Exception as exc:  # never let the sequencer die with submitters waiting
                failure = exc if isinstance(exc, LedgerError) else LedgerError(f"internal error: {exc!r}")
                for p in batch:
                    if not p.done():
                        p._future.set_exception(failure)
        for p in self._drain():
            p._future.set_exception(LedgerError("the network closed before the transaction was committed"))

    def _drain(self) -> list[PendingTx]:
        out = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return out
            if item is not None:
                out.extend(item)

    def _commit_batch(self, batch: list[PendingTx]) -> None:
        """Propose, endorse and store one block of the batch's new transactions, then answer
        every submitter from what the peers hold (see the module docstring)."""
        if self._lagging():
            catch_up(self.peers)  # best effort: a peer whose store still fails stays behind
        leader = self.leader
        fresh = [p for p in batch if leader.locate(p.tx_id) is None]
        refused: dict[int, LedgerError] = {}
        stored: set[int] = set()
        failure: LedgerError | None = None
        if fresh:
            block, rejected = leader._propose([p.transaction for p in fresh])  # decoded on submission
            refused = {id(fresh[i]): exc for i, exc in rejected}
            if len(refused) < len(fresh):
                try:
                    self._store(self._endorsed(block))
                    stored = {id(p) for p in fresh if id(p) not in refused}
                except LedgerError as exc:
                    failure = exc
        for p in batch:
            if id(p) in stored or self._holds(p.transaction):
                self._answer(p)
            elif id(p) in refused:
                p._future.set_exception(refused[id(p)])
            elif self.leader.locate(p.tx_id) is not None:  # another transaction with this id
                p._future.set_exception(ReplayedTransaction(
                    f"another transaction with id {p.tx_id.hex()[:16]} is already on {self.chain_id}"))
            else:
                p._future.set_exception(failure or LedgerError(f"{self.chain_id}: block not stored"))
        if stored:
            self._on_commit(self.chain_id)

    def _endorsed(self, block: Block) -> Block:
        endorsements, refusals = [], []
        for peer in self.peers:
            if len(endorsements) == self.config.endorsement_threshold:
                break
            try:
                # A peer whose own certificate was revoked may still sign; skip it, as the
                # committing side would refuse its endorsement.
                self.deployment.trust.resolve(peer.identity.fingerprint, roles=("peer",), chain_id=self.chain_id)
                endorsements.append(peer._endorse(block))  # built by the leader from decoded txs
            except LedgerError as exc:
                refusals.append(f"{peer.name}: {exc}")
        if len(endorsements) < self.config.endorsement_threshold:
            raise EndorsementError(f"{self.chain_id}: endorsement policy not met ({'; '.join(refusals)})")
        return block.with_endorsements(endorsements)

    def _store(self, block: Block) -> None:
        """Every peer stores `block`, in parallel (SQLite releases the GIL while it writes and
        syncs); StorageError when none did, so the block is on no peer."""
        commits = [self._committers.submit(peer._commit, block) for peer in self.peers]
        concurrent.futures.wait(commits)
        if all(future.exception() is not None for future in commits):
            reasons = "; ".join(f"{peer.name}: {future.exception()}" for peer, future in zip(self.peers, commits))
            raise StorageError(f"{self.chain_id}: block {block.height} was stored on no peer, its transactions "
                               f"are on no chain ({reasons})")

    def _holds(self, tx: Transaction) -> bool:
        """Whether the chain holds exactly `tx` (not just a transaction with its id)."""
        leader = self.leader
        where = leader.locate(tx.tx_id)
        return where is not None and leader.block(where[0]).tx_bytes[where[1]] == tx.to_bytes()

    def _answer(self, pending: PendingTx) -> None:
        """Receipt when the quorum holds the transaction's block, CommitPending when fewer do."""
        receipt = self.leader.receipt(pending.tx_id)
        durable = sum(peer.height > receipt.height for peer in self.peers)  # copies agree below their heights
        if durable >= self.quorum:
            pending._future.set_result(receipt)
            return
        pending._future.set_exception(CommitPending(
            f"transaction {pending.tx_id.hex()} is in block {receipt.height} of {self.chain_id}, stored on "
            f"{durable} of {len(self.peers)} peers, below the quorum of {self.quorum}: it is not lost; submit "
            "the same transaction again for its receipt once the lagging peers caught up",
            receipt=receipt, durable=durable, quorum=self.quorum))

    def close(self) -> None:
        """Stop the sequencer (queued transactions fail) and close the peers' stores."""
        self._stop.set()
        self._queue.put(None)
        self._thread.join()
        self._committers.shutdown()
        for peer in self.peers:
            peer.close()


@dataclass(frozen=True)
class InterlockReport:
    """What one interlocking round committed: Type-II receipts and Type-III receipts."""

    type2: tuple[Receipt, ...]
    type3: tuple[Receipt, ...]


class Network:
    """An embedded two-layer deployment; create with :meth:`init`, reopen with :meth:`open`.

    Use it as a context manager, or call close(): it stops the sequencer threads."""

    def __init__(self, path: Path, manifest: dict, ca: CertificateAuthority, trust: TrustStore,
                 params: edgeacc.Params, progress: bool, auto_interlock: bool) -> None:
        self.path = path
        self.manifest = manifest
        self._ca = ca
        self.trust = trust
        self.params = params
        chains = [ChainConfig(c["id"], c["kind"], c["threshold"]) for c in manifest["chains"]]
        self.deployment = Deployment(params, trust, chains)
        self.main_chain_id = self.deployment.main_chain_id
        objects_url = manifest.get("objects") or (path / "objects").resolve().as_uri()
        self.objects = ObjectStore(objects_url)
        self._identities: dict[str, Identity] = {}
        self._nonce = itertools.count(time.time_ns())
        self._interlock_lock = threading.RLock()
        self._revoke_lock = threading.Lock()
        self._checked: dict[tuple[str, str], int] = {}  # status records checked by _check_layers
        self._closed = False
        self._last_round = time.monotonic()
        self.services: dict[str, ChainService] = {}
        opened: list[Peer] = []
        try:
            peers_by_chain = {}
            for c in manifest["chains"]:
                peers_by_chain[c["id"]] = [self._open_peer(name, c["id"], progress, opened) for name in c["peers"]]
            # Before catching up: a lagging peer must not receive blocks of a forged history.
            self._check_layers(peers_by_chain, stores=False)
            for chain_peers in peers_by_chain.values():
                failed = catch_up(chain_peers)
                if failed:
                    name, exc = next(iter(failed.items()))
                    raise StorageError(f"{name} cannot catch up: {exc}") from exc
        except BaseException:
            for peer in opened:  # a store that fails validation must not leave the others open
                peer.close()
            raise
        self._wake = threading.Condition()
        for c in chains:
            self.services[c.chain_id] = ChainService(c, peers_by_chain[c.chain_id],
                                                     manifest["max_block_txs"], self._committed)
        self._interlocker = None
        interlock = manifest["interlock"]
        if auto_interlock and (interlock["blocks"] > 0 or interlock["seconds"] > 0):
            self._interlocker = threading.Thread(target=self._interlock_loop, name="interlocker", daemon=True)
            self._interlocker.start()

    # --- creation and opening ------------------------------------------------------------

    @classmethod
    def init(cls, path: str | os.PathLike, *, subchains: int = 2, peers_per_chain: int = 2, endorsement_threshold: int = 2,
             interlock_blocks: int = 50, interlock_seconds: float = 2.0, max_block_txs: int = 2000,
             params: edgeacc.Params | None = None, objects_url: str | None = None,
             progress: bool = False, auto_interlock: bool = True) -> "Network":
        """Create a deployment in the empty or missing directory `path` and open it.

        Interlocking runs when a sub-chain has `interlock_blocks` new blocks or
        `interlock_seconds` passed since the last round, whichever comes first (0 disables
        that trigger). `params` defaults to the RSA-2048 challenge modulus."""
        path = checks.path(path, "path")
        subchains, peers_per_chain, endorsement_threshold, interlock_blocks, max_block_txs = (
            checks.integer(v, name, lo=-(1 << 63), hi=1 << 16) for v, name in (
                (subchains, "subchains"), (peers_per_chain, "peers_per_chain"),
                (endorsement_threshold, "endorsement_threshold"), (interlock_blocks, "interlock_blocks"),
                (max_block_txs, "max_block_txs")))
        interlock_seconds = checks.number(interlock_seconds, "interlock_seconds")
        if params is not None:
            checks.instance(params, edgeacc.Params, "params")
        checks.optional_text(objects_url, "objects_url")
        if subchains < 1 or peers_per_chain < 1:
            raise ConfigurationError("a deployment needs at least one sub-chain and one peer per chain")
        if not 1 <= endorsement_threshold <= peers_per_chain:
            raise ConfigurationError("the endorsement threshold must be between 1 and the peers per chain")
        if max_block_txs < 1 or interlock_blocks < 0 or interlock_seconds < 0:
            raise ConfigurationError("max_block_txs must be >= 1; interlock triggers >= 0")
        if path.exists() and any(path.iterdir()):
            raise ConfigurationError(f"{path} is not empty")
        params = params or edgeacc.Params.rsa2048()
        for sub in ("ca", "identities", "peers", "objects"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority.create()
        save_certificate(ca.certificate, path / "ca" / "ca.crt")
        save_private_key(ca.key, path / "ca" / "ca.key")
        (path / "ca" / "crl.pem").write_bytes(_pem(ca.revocation_list({})))
        chain_ids = [MAIN_CHAIN_ID] + [subchain_id(i) for i in range(subchains)]
        chains = []
        for cid in chain_ids:
            names = [peer_name(cid, i) for i in range(peers_per_chain)]
            for name in names:
                _save_identity(path, ca.issue(name, "peer", cid))
            chains.append({"id": cid, "kind": MAIN if cid == MAIN_CHAIN_ID else SUB,
                           "threshold": endorsement_threshold, "peers": names})
        _save_identity(path, ca.issue(DEFAULT_CLIENT, "client"))
        manifest = {
            "format": FORMAT,
            "params": {"modulus": "rsa2048"} if params == edgeacc.Params.rsa2048()
            else {"modulus_hex": hex(params.n), "insecure": params.insecure},
            "chains": chains,
            "interlock": {"blocks": interlock_blocks, "seconds": interlock_seconds},
            "max_block_txs": max_block_txs,
            "objects": objects_url,
        }
        _write_durably(path / MANIFEST, json.dumps(manifest, indent=2).encode())
        return cls.open(path, progress=progress, auto_interlock=auto_interlock)

    @classmethod
    def open(cls, path: str | os.PathLike, *, progress: bool = False, auto_interlock: bool = True) -> "Network":
        """Open a deployment: load identities and the CRL, re-validate every peer's chain,
        bring lagging peers up to date, start the sequencers (and the interlocker)."""
        path = checks.path(path, "path")
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise StorageError(f"{path} holds no readable {MANIFEST}: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise StorageError(f"{path / MANIFEST} is not a {FORMAT} manifest")
        _check_manifest(manifest, path / MANIFEST)
        try:
            if "modulus_hex" in manifest["params"]:
                params = edgeacc.Params(int(manifest["params"]["modulus_hex"], 16),
                                        insecure=bool(manifest["params"]["insecure"]))
            else:
                params = edgeacc.Params.rsa2048()
            ca = CertificateAuthority(load_private_key(path / "ca" / "ca.key"),
                                      load_certificate(path / "ca" / "ca.crt"))
            trust = TrustStore(ca.certificate)
            trust.set_revocation_list(load_revocation_list(path / "ca" / "crl.pem"))
            for cert_path in sorted((path / "identities").glob("*.crt")):
                trust.add_certificate(load_certificate(cert_path))
            return cls(path, manifest, ca, trust, params, progress, auto_interlock)
        except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
            if isinstance(exc, LedgerError):
                raise
            raise StorageError(f"{path}: cannot open the deployment: {exc!r}") from None

    def _open_peer(self, name: str, chain_id: str, progress: bool, opened: list[Peer]) -> Peer:
        identity = self.identity(name)
        if identity.role != "peer" or identity.chain_id != chain_id or identity.name != name:
            raise StorageError(f"the manifest lists {name} as a peer of {chain_id}, but its identity is "
                               f"{identity!r}")
        peer = Peer(self.deployment, identity, PeerStore(self.path / "peers" / f"{name}.sqlite", identity.chain_id))
        opened.append(peer)
        peer.load(progress=progress)
        return peer

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the interlocker and the sequencers and close every store."""
        if self._closed:
            return
        self._closed = True
        with self._wake:
            self._wake.notify_all()
        if self._interlocker is not None:
            self._interlocker.join()
        for service in self.services.values():
            service.close()

    # --- identities -------------------------------------------------------------------

    def identity(self, name: str, role: str | None = None, chain_id: str | None = None) -> Identity:
        """The identity `name` (with its private key). With `role` ("client" or "device") it is
        issued by the CA when it does not exist yet. `chain_id` binds a device to its edge
        sub-chain, in the certificate's subject as a peer is bound to its chain: the provenance
        layer accepts its readings on that chain only. Asking for an existing identity with
        another binding is a ConfigurationError."""
        checks.file_name(name, "name")
        checks.optional_text(role, "role")
        checks.optional_text(chain_id, "chain_id")
        if chain_id is not None:
            if role != "device":
                raise ConfigurationError("only a device identity is bound to a chain here (peers are made by init)")
            if chain_id not in self.subchain_ids:
                raise ConfigurationError(f"a device reports to an edge sub-chain, not {chain_id!r}")
        identity = self._identities.get(name) or self._load_or_issue(name, role, chain_id)
        if chain_id is not None and identity.chain_id != chain_id:
            raise ConfigurationError(f"{name} is bound to {identity.chain_id!r}, not {chain_id!r}")
        return identity

    def _load_or_issue(self, name: str, role: str | None, chain_id: str | None) -> Identity:
        crt, key = self.path / "identities" / f"{name}.crt", self.path / "identities" / f"{name}.key"
        if not crt.exists():
            if role is None:
                raise NotFound(f"no identity {name!r}")
            if role == "peer":
                raise ConfigurationError("new identities are clients or devices (peers are made by init)")
            identity = self._ca.issue(name, role, chain_id)
            _save_identity(self.path, identity)
            self.trust.add_certificate(identity.certificate)
        else:
            identity = Identity(load_private_key(key), load_certificate(crt))
        self._identities[name] = identity
        return identity

    def revoke(self, name: str) -> None:
        """Put `name`'s certificate on the CA's revocation list, effective now."""
        checks.text(name, "name")
        member = self.trust.by_name(name)
        crl_path = self.path / "ca" / "crl.pem"
        # Read, extend and replace the list under one lock, held against this process's
        # threads and other processes (flock), so no concurrent revocation is lost.
        with self._revoke_lock, open(self.path / "ca" / "crl.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = load_revocation_list(crl_path)
            revoked = {r.serial_number: r.revocation_date_utc for r in current}
            # X.509 dates have whole seconds: round up so blocks signed just before stay valid
            # on reopen (live checks reject a revoked certificate from now on regardless).
            now = datetime.datetime.now(datetime.timezone.utc)
            revoked.setdefault(member.certificate.serial_number,
                               now.replace(microsecond=0) + datetime.timedelta(seconds=1))
            crl = self._ca.revocation_list(revoked)
            _write_durably(crl_path, _pem(crl))
            self.trust.set_revocation_list(crl)

    # --- chains and transactions ------------------------------------------------------

    @property
    def subchain_ids(self) -> list[str]:
        """Ids of the edge sub-chains."""
        return [cid for cid, c in self.deployment.chains.items() if c.kind == SUB]

    @property
    def chain_ids(self) -> list[str]:
        """Ids of every chain, the main chain first."""
        return [self.main_chain_id] + self.subchain_ids

    def height(self, chain_id: str) -> int:
        """Number of committed blocks of `chain_id` (its leader's)."""
        return self.service(chain_id).leader.height

    def service(self, chain_id: str) -> ChainService:
        """The ChainService of `chain_id`."""
        try:
            return self.services[checks.text(chain_id, "chain_id")]
        except KeyError:
            raise NotFound(f"no chain {checks.shown(chain_id)}") from None

    def peer(self, chain_id: str, index: int = 0) -> Peer:
        """Peer `index` of chain `chain_id` (service(chain_id).leader proposes: peer 0 unless
        it lags)."""
        peers = self.service(chain_id).peers
        return peers[checks.position(index, "peer", len(peers), f"chain {chain_id}")]

    def add_validator(self, chain_id: str, validator: Validator) -> None:
        """Register an application check that every endorsing peer of `chain_id` runs on each
        Type-I transaction before it signs: validator(peer_name, tx) returns to accept and
        raises to refuse (ideally ledger.errors.ValidationRejected; any exception refuses).

        A refusing peer does not endorse; when fewer peers than the policy's threshold accept,
        the submission fails with ValidationRejected and the chain is unchanged. Validators run
        on submitters' threads, several at once, so they must be thread-safe. They are
        in-process callables of the embedded deployment: not stored with the network, so
        register them again after Network.open."""
        self.deployment.add_validator(chain_id, validator)

    def put_object(self, data: bytes) -> ObjectRef:
        """Store bulk bytes in the content-addressed object store."""
        return self.objects.put(data)

    def get_object(self, ref: ObjectRef | bytes) -> bytes:
        """Fetch bytes by reference or digest, checked against the digest."""
        return self.objects.get(ref)

    def record(self, chain_id: str, payload: bytes = b"", *, obj: ObjectRef | None = None,
               signer: Identity | str = DEFAULT_CLIENT) -> Transaction:
        """A signed Type-I transaction for `chain_id` (not yet submitted)."""
        if obj is not None:
            checks.instance(obj, ObjectRef, "obj")
        if isinstance(signer, str):
            signer = self.identity(signer)
        checks.instance(signer, Identity, "signer")
        self.service(chain_id)
        return Transaction.create(signer, TxKind.RECORD, chain_id, payload, timestamp_ms=now_ms(),
                                  nonce=next(self._nonce), object_digest=obj.digest if obj else b"",
                                  object_url=obj.url if obj else "")

    def submit(self, chain_id: str, payload: bytes = b"", *, obj: ObjectRef | None = None,
               signer: Identity | str = DEFAULT_CLIENT) -> PendingTx:
        """Sign and submit a Type-I record (inline `payload` and/or an object pointer)."""
        return self.submit_transaction(self.record(chain_id, payload, obj=obj, signer=signer))

    def submit_transaction(self, tx: Transaction) -> PendingTx:
        """Submit an already signed transaction to its chain."""
        return self.submit_transactions([tx])[0]

    def submit_transactions(self, txs: list[Transaction]) -> list[PendingTx]:
        """Submit signed transactions; those for one chain are queued together and share blocks."""
        txs = [checks.decoded(tx, Transaction, "tx") for tx in checks.instance(txs, (list, tuple), "txs")]
        by_chain: dict[str, list[int]] = {}
        for i, tx in enumerate(txs):
            self.service(tx.chain_id)
            by_chain.setdefault(tx.chain_id, []).append(i)
        out: list = [None] * len(txs)
        for chain_id, indices in by_chain.items():
            for i, pending in zip(indices, self.service(chain_id)._submit_decoded([txs[i] for i in indices])):
                out[i] = pending
        return out

    def locate(self, tx_id: bytes | str) -> Receipt:
        """Where a committed transaction is, on whichever chain holds it."""
        tx_id = checks.identifier(tx_id, "tx_id", "transaction id")
        for service in self.services.values():
            if service.leader.locate(tx_id) is not None:
                return service.leader.receipt(tx_id)
        raise NotFound(f"no transaction {tx_id.hex()}")

    def transaction(self, tx_id: bytes | str) -> Transaction:
        """The committed transaction `tx_id` (bytes or hex), from whichever chain holds it."""
        receipt = self.locate(tx_id)
        return self.service(receipt.chain_id).leader.transaction(receipt.tx_id)

    def block(self, chain_id: str, height: int) -> Block:
        """Block `height` of `chain_id`."""
        return self.service(chain_id).leader.block(height)

    def status(self) -> dict:
        """Per chain: height, latest digest, accumulator prefix, last interlocked heights."""
        out = {}
        for cid, service in self.services.items():
            leader = service.leader
            latest = leader.latest()
            info = {"kind": service.config.kind, "height": leader.height,
                    "peers": [p.name for p in service.peers],
                    "peer_heights": [p.height for p in service.peers],
                    "latest_digest": latest.header.digest.hex() if latest else None,
                    "accumulator": hex(leader.accumulator_value())[:18] + "..."}
            if cid == self.main_chain_id:
                info["type2_anchored"] = {s: (r[-1].source_height if (r := leader.statuses(s)) else None)
                                          for s in self.subchain_ids}
            else:
                r = leader.statuses(self.main_chain_id)
                info["type3_main_height"] = r[-1].source_height if r else None
            out[cid] = info
        return out

    # --- interlocking -----------------------------------------------------------------

    def check_layers(self) -> None:
        """Check every chain against the other layer's anchors, its peers against each other,
        and every store against what its peer committed (the check interlock() runs first):
        RollbackDetected or ForkDetected names the chain, the height and both digests."""
        with self._interlock_lock:
            self._check_layers({cid: s.peers for cid, s in self.services.items()}, stores=True)

    def _check_layers(self, peers_by_chain: dict[str, list[Peer]], *, stores: bool) -> None:
        """ledger.anchors.check_chain for every chain. A peer's memory only grows by validated
        blocks, so a status record checked against it once is not checked again: a round costs
        what was recorded since the last one (open checks everything)."""
        main_id = self.main_chain_id
        subchains = [cid for cid in peers_by_chain if cid != main_id]
        longest = {cid: max(peers, key=lambda p: p.height) for cid, peers in peers_by_chain.items()}
        # (holder, anchored chain) -> the holder's status records of it: Type-III records of
        # the main chain on each sub-chain, Type-II records of each sub-chain on the main chain
        recorded = {(cid, main_id): longest[cid].statuses(main_id) for cid in subchains}
        recorded.update({(main_id, cid): longest[main_id].statuses(cid) for cid in subchains})

        def anchors(key: tuple[str, str], records: list) -> list[Anchor]:
            return anchors_from(records, key[0], "Type-II" if key[0] == main_id else "Type-III")

        # The main chain first: it holds the Type-II anchors the sub-chains are checked against.
        for chain in [main_id] + subchains:
            keys = [key for key in recorded if key[1] == chain]
            new = [a for key in keys for a in anchors(key, recorded[key][self._checked.get(key, 0):])]
            check_chain([memory_copy(p) for p in peers_by_chain[chain]], new)
            if stores:
                for peer in peers_by_chain[chain]:
                    held = [a for key in keys for a in anchors(key, _latest_below(recorded[key], peer.height))]
                    check_chain([store_copy(peer)], _store_anchors(peer, held))
        self._checked.update({key: len(records) for key, records in recorded.items()})

    def interlock(self, timeout: float = 60.0) -> InterlockReport:
        """One round now: check_layers(), then every sub-chain with new records sends its
        latest header to the main chain (Type-II); then the main chain's latest header goes to
        every sub-chain (Type-III). Returns the receipts."""
        timeout = checks.number(timeout, "timeout")
        with self._interlock_lock:
            self.check_layers()
            main = self.service(self.main_chain_id)
            type2 = []
            for cid in self.subchain_ids:
                leader = self.service(cid).leader
                latest = leader.latest()
                anchored = main.leader.statuses(cid)
                if latest is None or leader.last_record_height <= (anchored[-1].source_height if anchored else -1):
                    continue
                witness = b""
                if anchored:  # prove the block reported last time is inside the new accumulator
                    w = leader.block_witness(anchored[-1].source_height, latest.header.height)
                    witness = edgeacc.encode_element(self.params, w)
                payload = SubchainStatus(latest, witness).to_bytes()
                type2.append(main.submit(self._status_tx(leader.identity, TxKind.SUBCHAIN_STATUS,
                                                         self.main_chain_id, payload)))
            type2_receipts = tuple(p.result(timeout) for p in type2)
            latest_main = main.leader.latest()
            type3 = []
            for cid in self.subchain_ids:
                if latest_main is None:
                    break
                seen = self.service(cid).leader.statuses(self.main_chain_id)
                if seen and seen[-1].source_height >= latest_main.header.height:
                    continue
                type3.append(self.service(cid).submit(self._status_tx(main.leader.identity, TxKind.MAIN_STATUS,
                                                                       cid, latest_main.to_bytes())))
            type3_receipts = tuple(p.result(timeout) for p in type3)
            self._last_round = time.monotonic()
            return InterlockReport(type2_receipts, type3_receipts)

    def _status_tx(self, signer: Identity, kind: TxKind, chain_id: str, payload: bytes) -> Transaction:
        return Transaction.create(signer, kind, chain_id, payload, timestamp_ms=now_ms(),
                                  nonce=next(self._nonce))

    def _committed(self, chain_id: str) -> None:
        if chain_id != self.main_chain_id and self._interlocker is not None:
            with self._wake:
                self._wake.notify_all()

    def _interlock_due(self) -> bool:
        blocks, seconds = self.manifest["interlock"]["blocks"], self.manifest["interlock"]["seconds"]
        main = self.service(self.main_chain_id).leader
        for cid in self.subchain_ids:
            leader = self.service(cid).leader
            anchored = main.statuses(cid)
            anchored_height = anchored[-1].source_height if anchored else -1
            if leader.last_record_height <= anchored_height:
                continue
            if blocks and leader.height - 1 - anchored_height >= blocks:
                return True
            if seconds and time.monotonic() - self._last_round >= seconds:
                return True
        return False

    def _interlock_loop(self) -> None:
        seconds = self.manifest["interlock"]["seconds"]
        while not self._closed:
            with self._wake:
                self._wake.wait(timeout=min(seconds, 1.0) if seconds else 1.0)
            if self._closed:
                return
            try:
                if self._interlock_due():
                    self.interlock()
            except ChainIntegrityError:
                return  # never anchor a forked or rolled-back chain; interlock() raises it again
            except LedgerError:
                time.sleep(0.1)  # a closing network or a failed round: the next wake retries

    # --- Protocol 1 -------------------------------------------------------------------

    def verifier(self, chain_id: str) -> "Verifier":
        """A verifier attached to chain `chain_id` (it trusts only that chain's state)."""
        return Verifier(self, chain_id)

    def verify(self, tx_id: bytes | str, from_chain: str) -> Verdict:
        """Protocol 1 for `tx_id`, run by a verifier on `from_chain`."""
        return self.verifier(from_chain).verify(tx_id)

    def verify_many(self, tx_ids, from_chain: str) -> dict[bytes, Verdict]:
        """Protocol 1 for many transactions, run by a verifier on `from_chain` (Verifier.verify_many)."""
        return self.verifier(from_chain).verify_many(tx_ids)


class Verifier:
    """A verifier peer on chain A: it takes acc_M from A's latest Type-III and fetches the
    proofs of Protocol 1 from the main chain and from the transaction's chain."""

    def __init__(self, network: Network, chain_id: str) -> None:
        self.network = checks.instance(network, Network, "network")
        self.chain_id = network.service(chain_id).chain_id

    @property
    def peer(self) -> Peer:
        """The verifier's view of its chain: the chain's most advanced validated peer (its
        leader), as every other chain is read from its leader (peer 0 may lag)."""
        return self.network.service(self.chain_id).leader

    def verify(self, tx_id: bytes | str, chain_id: str | None = None) -> Verdict:
        """The verdict on `tx_id` (bytes or hex); `chain_id` is looked up when not given. It
        never raises: a malformed id, or a block, record or proof that cannot be fetched (a
        peer's store cut back, say), is a rejecting Verdict."""
        try:
            tx_id = checks.identifier(tx_id, "tx_id", "transaction id")
            chain_id = checks.optional_text(chain_id, "chain_id")
        except LedgerError as exc:
            return reject(b"", "malformed", str(exc))
        try:
            return self._verify(tx_id, chain_id)
        except NotFound as exc:
            return reject(tx_id, "not-found", f"a block or record Protocol 1 needs is missing: {exc}",
                          chain_id=chain_id)
        except (LedgerError, EdgeaccError) as exc:
            return reject(tx_id, "unavailable", f"the proofs cannot be fetched: {exc}", chain_id=chain_id)

    def verify_many(self, tx_ids) -> dict[bytes, Verdict]:
        """verify() for each of `tx_ids`, keyed by the id's bytes."""
        out = {}
        for tx_id in tx_ids:
            verdict = self.verify(tx_id)
            out[verdict.tx_id or tx_id] = verdict
        return out

    def _verify(self, tx_id: bytes, chain_id: str | None) -> Verdict:
        net = self.network
        main_id = net.main_chain_id
        if chain_id is None:
            try:
                chain_id = net.locate(tx_id).chain_id
            except NotFound:
                return reject(tx_id, "unknown-transaction", f"no chain holds transaction {tx_id.hex()}")
        try:
            holder = net.service(chain_id).leader
        except NotFound as exc:
            return reject(tx_id, "unknown-chain", str(exc))
        where = holder.locate(tx_id)
        if where is None:
            return reject(tx_id, "unknown-transaction", f"{chain_id} holds no transaction {tx_id.hex()}")
        params = net.params
        own = self.peer
        if chain_id == self.chain_id:  # the verifier's own chain: its own accumulator suffices
            # One height for the proof and the value: a block committed in between must not
            # make the proof and the accumulator disagree.
            latest = own.height - 1
            proof = holder.inclusion_proof(tx_id, latest)
            try:
                tx, block = verify_inclusion(params, proof, chain_id, own.accumulator_value(latest), latest)
            except ProofRejected as exc:
                return reject(tx_id, "tx-proof", str(exc), chain_id=chain_id)
            return Verdict(True, "ok", f"valid: in {chain_id} under its latest accumulator", tx_id,
                           chain_id, block.height, transaction=tx)
        type3 = own.statuses(main_id) if self.chain_id != main_id else []
        if self.chain_id == main_id:
            main_status = own.latest()
        elif type3:
            main_status = SignedHeader.from_bytes(own.transaction(type3[-1].tx_id).payload)
        else:
            return reject(tx_id, "no-main-status", f"{self.chain_id} holds no Type-III yet: run an interlocking round",
                          chain_id=chain_id)
        main_height = main_status.header.height
        main_peer = net.service(main_id).leader
        status_proof = None
        if chain_id == main_id:
            if where[0] > main_height:
                return reject(tx_id, "not-interlocked", f"main block {where[0]} is after the Type-III's height "
                              f"{main_height}: wait for the next interlocking round", chain_id=chain_id,
                              main_height=main_height)
            tx_proof = main_peer.inclusion_proof(tx_id, main_height)
        else:
            records = [r for r in main_peer.statuses(chain_id) if r.height <= main_height]
            if not records or records[-1].source_height < where[0]:
                anchored = records[-1].source_height if records else None
                return reject(tx_id, "not-interlocked", f"block {where[0]} of {chain_id} is not covered by a Type-II "
                              f"under acc_M (anchored height {anchored}): wait for the next interlocking round",
                              chain_id=chain_id, main_height=main_height, anchored_height=anchored)
            status_proof = main_peer.inclusion_proof(records[-1].tx_id, main_height)
            tx_proof = holder.inclusion_proof(tx_id, records[-1].source_height)
        return check_cross_chain(params, tx_id=tx_id, chain_id=chain_id, main_chain_id=main_id,
                                 main_status=main_status, status_proof=status_proof, tx_proof=tx_proof,
                                 endorsement_policy=net.deployment.check_endorsed)


def _check_manifest(manifest: dict, where: Path) -> None:
    """StorageError unless the manifest has the shape init writes: chains with distinct ids,
    each with distinct peer names and a threshold they can meet, and sane numbers (a hand-edited
    manifest must fail on open, not later in a sequencer thread)."""
    def fail(what: str) -> StorageError:
        return StorageError(f"{where}: {what}")

    chains = manifest.get("chains")
    if not isinstance(chains, list) or not chains or not all(isinstance(c, dict) for c in chains):
        raise fail("chains must be a non-empty list of chain entries")
    ids = [c.get("id") for c in chains]
    if len(set(map(repr, ids))) != len(ids):
        raise fail("a chain is listed twice")
    names: list = []
    for c in chains:
        peers, threshold = c.get("peers"), c.get("threshold")
        if not isinstance(peers, list) or not peers or not all(isinstance(p, str) for p in peers):
            raise fail(f"chain {checks.shown(c.get('id'))}: peers must be a non-empty list of names")
        if type(threshold) is not int or not 1 <= threshold <= len(peers):
            raise fail(f"chain {checks.shown(c.get('id'))}: the threshold must be 1..{len(peers)} (its peers)")
        names += peers
    if len(set(names)) != len(names):
        raise fail("a peer is listed twice")
    blocks = manifest.get("max_block_txs")
    interlock = manifest.get("interlock")
    if type(blocks) is not int or blocks < 1 or not isinstance(interlock, dict) \
            or type(interlock.get("blocks")) is not int or interlock["blocks"] < 0 \
            or type(interlock.get("seconds")) not in (int, float) or not 0 <= interlock["seconds"] <= 1e9:
        raise fail("max_block_txs must be an integer >= 1 and the interlock triggers numbers >= 0")
    objects = manifest.get("objects")
    if objects is not None and not isinstance(objects, str):
        raise fail("objects must be a URL or null")


def _latest_below(records: list, height: int) -> list:
    """The last status record whose block is below `height` (records ascend), as a list."""
    return next(([r] for r in reversed(records) if r.source_height < height), [])


def _store_anchors(peer: Peer, held: list[Anchor]) -> list[Anchor]:
    """What `peer`'s store must still hold: the block its memory ends with, and the highest
    of `held` (the other layer's latest anchors among the blocks the peer holds)."""
    latest = peer.latest()
    if latest is None:
        return []
    own = Anchor(peer.chain_id, latest.header.height, latest.header.digest, f"{peer.name} (committed in memory)")
    return ([max(held, key=lambda a: a.height)] if held else []) + [own]


def _pem(crl: x509.CertificateRevocationList) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return crl.public_bytes(serialization.Encoding.PEM)


def _save_identity(path: Path, identity: Identity) -> None:
    save_certificate(identity.certificate, path / "identities" / f"{identity.name}.crt")
    save_private_key(identity.key, path / "identities" / f"{identity.name}.key")


def _write_durably(path: Path, data: bytes) -> None:
    # a temporary file of this writer's own, created exclusively (never through a planted
    # symlink), renamed into place: the object store's durable write
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}-{secrets.token_hex(8)}.tmp")
    try:
        write_local(str(tmp), str(path), data)
    finally:
        tmp.unlink(missing_ok=True)
