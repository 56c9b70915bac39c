"""The embedded deployment directory: one main chain and N edge sub-chains with P peers each,
in one process, stored in a data directory (Network: init, open, manifest, identities).

    <dir>/network.json          the manifest (chains, peers, policy, interlocking, Params)
    <dir>/ca/ca.crt, ca.key     the deployment CA; ca/crl.pem its revocation list
    <dir>/identities/NAME.crt   certificates (and .key private keys) of peers, clients, devices;
                                identities/previous/NAME/ the ones renewal replaced (on open, a
                                certificate ending within RENEW_WITHIN_DAYS is renewed)
    <dir>/peers/NAME.sqlite     one store per peer (and NAME.blocks, its block log)
    <dir>/objects/              the content-addressed object store (file:// by default)

The rooms it furnishes, each taking chain services or peers (never a Network):
ledger.sequencer (a chain's block cutter and its commit semantics: ChainService, PendingTx),
ledger.interlock (Type-II/III rounds and the rollback and fork checks: Interlocker),
ledger.verifier (Protocol 1: Verifier), ledger.peer and ledger.chain (a peer and the chain
state and rules it keeps). Network implements the client interface ledger.api.Ledger.

On open every peer's chain is loaded (Peer.load: the blocks above its signed validated
checkpoint re-validated, the rest checked against it byte for byte), the chains are checked
against the other layer's anchors before a lagging peer catches up (it must not receive
blocks of a forged history), then the sequencers (and the interlocker) start.
"""
from __future__ import annotations

import datetime
import fcntl
import itertools
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Iterable

import edgeacc
from cryptography import x509

from ledger import checks
from ledger.block import Block
from ledger.chain import MAIN, SUB, ChainConfig, Committed, Deployment, Receipt, Validator, now_ms
from ledger.errors import ArgumentError, ConfigurationError, LedgerError, NotFound, StorageError
from ledger.identity import (CertificateAuthority, Identity, TrustStore, load_certificate,
                             load_private_key, load_revocation_list, save_certificate, save_private_key)
from ledger.interlock import InterlockReport, Interlocker, LayerCheck
from ledger.objects import ObjectRef, ObjectStore, write_local
from ledger.peer import Peer
from ledger.protocol1 import Verdict
from ledger.sequencer import (CATCH_UP_RETRY_SECONDS, ChainService, PendingTx, catch_up, memory_copy,
                              store_copy)
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind
from ledger.verifier import Verifier

# Names that lived here before the split, still importable from ledger.network.
__all__ = ["CATCH_UP_RETRY_SECONDS", "ChainService", "InterlockReport", "Network", "PendingTx", "Verifier",
           "catch_up", "memory_copy", "peer_name", "store_copy", "subchain_id"]

MANIFEST = "network.json"
FORMAT = "edgeacc-ledger/1"
PREVIOUS = "previous"   # identities/previous/NAME/SERIAL.crt: certificates a renewal replaced
RENEW_WITHIN_DAYS = 30  # open renews a member's certificate this close to its end
MAIN_CHAIN_ID = "main"
DEFAULT_CLIENT = "client"


def subchain_id(i: int) -> str:
    """The id of the i-th sub-chain."""
    return f"edge-{i}"


def peer_name(chain_id: str, i: int) -> str:
    """The certificate name of peer i of a chain."""
    return f"{chain_id}.peer{i}"



class Network:
    """An embedded two-layer deployment; create with :meth:`init`, reopen with :meth:`open`.

    Use it as a context manager, or call close(): it stops the sequencer threads."""

    def __init__(self, path: Path, manifest: dict, ca: CertificateAuthority, trust: TrustStore,
                 params: edgeacc.Params, progress: bool, auto_interlock: bool, revalidate: bool = False,
                 repair: frozenset[str] = frozenset()) -> None:
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
        self._revoke_lock = threading.Lock()
        self._closed = False
        self.services: dict[str, ChainService] = {}
        self._layer_check = LayerCheck(self.main_chain_id)
        opened: list[Peer] = []
        try:
            peers_by_chain = {}
            for c in manifest["chains"]:
                peers_by_chain[c["id"]] = [self._open_peer(name, c["id"], progress, opened, revalidate,
                                                           name in repair) for name in c["peers"]]
            # Before catching up: a lagging peer must not receive blocks of a forged history.
            self._check_layers(peers_by_chain, stores=False)
            for chain_peers in peers_by_chain.values():
                failed = catch_up(chain_peers)
                if failed:
                    name, exc = next(iter(failed.items()))
                    raise StorageError(f"{name} cannot catch up: {exc}") from exc
            for peer in opened:  # everything passed: the next open starts from here
                peer.checkpoint_if_behind()
        except BaseException:
            for peer in opened:  # a store that fails validation must not leave the others open
                peer.close()
            raise
        interlock = manifest["interlock"]
        self.interlocker = Interlocker(self.services, self.main_chain_id, params, blocks=interlock["blocks"],
                                       seconds=interlock["seconds"], nonce=self._nonce,
                                       layer_check=lambda peers, *, stores: self._check_layers(peers, stores=stores))
        for c in chains:
            self.services[c.chain_id] = ChainService(c, peers_by_chain[c.chain_id],
                                                     manifest["max_block_txs"], self.interlocker.committed)
        if auto_interlock:
            self.interlocker.start()

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
    def open(cls, path: str | os.PathLike, *, progress: bool = False, auto_interlock: bool = True,
             revalidate: bool = False, repair: Iterable[str] = ()) -> "Network":
        """Open a deployment: load identities and the CRL, load every peer's chain (every
        block above the peer's validated checkpoint re-validated, the bytes and the index rows
        of the rest checked against the hashes the checkpoint signed; with `revalidate` every block re-validated: Peer.load), bring
        lagging peers up to date, start the sequencers (and the interlocker).

        A peer whose store lacks the block its own signed checkpoint names (its log cut back)
        is refused (RollbackDetected naming both heights; ForkDetected when it holds another
        block there) unless its name is in `repair`: then it opens at what it holds and is
        caught up from its chain's other peers, whose longest copy must hold that very block
        (RollbackDetected / ForkDetected otherwise, before anything is written: catch_up)."""
        path = checks.path(path, "path")
        if isinstance(repair, (str, bytes)):
            raise ArgumentError("repair must be a collection of peer names, not one string")
        repair = frozenset(checks.text(name, "each peer to repair") for name in checks.items(repair, "repair"))
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
            for cert_path in sorted((path / "identities").glob("*.crt")) + \
                    sorted((path / "identities").glob(f"{PREVIOUS}/*/*.crt")):
                trust.add_certificate(load_certificate(cert_path))
            _renew_expiring(path, ca, trust)
            unknown = repair - {name for c in manifest["chains"] for name in c["peers"]}
            if unknown:
                raise ConfigurationError(f"repair names no peer of this deployment: {sorted(unknown)[0][:40]!r}")
            return cls(path, manifest, ca, trust, params, progress, auto_interlock,
                       checks.instance(revalidate, bool, "revalidate"), repair)
        except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
            if isinstance(exc, LedgerError):
                raise
            raise StorageError(f"{path}: cannot open the deployment: {exc!r}") from None

    def _open_peer(self, name: str, chain_id: str, progress: bool, opened: list[Peer], revalidate: bool,
                   repair: bool) -> Peer:
        identity = self.identity(name)
        if identity.role != "peer" or identity.chain_id != chain_id or identity.name != name:
            raise StorageError(f"the manifest lists {name} as a peer of {chain_id}, but its identity is "
                               f"{identity!r}")
        peer = Peer(self.deployment, identity, PeerStore(self.path / "peers" / f"{name}.sqlite", identity.chain_id))
        opened.append(peer)
        peer.load(progress=progress, full=revalidate, repair=repair)
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
        self.interlocker.close()
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
        """Put `name`'s certificates (with the ones renewals replaced) on the CA's revocation
        list, effective now."""
        checks.text(name, "name")
        serials = {m.certificate.serial_number for m in self.trust.members() if m.name == name}
        if not serials:
            raise NotFound(f"no certificate named {checks.shown(name)}")
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
            for serial in serials:
                revoked.setdefault(serial, now.replace(microsecond=0) + datetime.timedelta(seconds=1))
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

    def transactions(self, tx_ids: Iterable[bytes | str]) -> dict[bytes, Committed]:
        """The committed transactions among `tx_ids` (bytes or hex), each with its Receipt and
        block time (ledger.chain.Committed), keyed
        by the id's bytes in the order given, from whichever chains hold them; an id no chain
        holds is left out.
        Each id is located once and each block holding one is read and checked once per call,
        as locate() and transaction() check it (ChainState.transactions: a block rewritten in
        a store is refused, StorageError)."""
        ids = remaining = list(dict.fromkeys(checks.identifiers(tx_ids, "tx_ids", "transaction id")))
        out: dict[bytes, Committed] = {}
        for service in self.services.values():
            if not remaining:
                break
            out.update(service.leader.transactions(remaining))
            remaining = [t for t in remaining if t not in out]
        return {t: out[t] for t in ids if t in out}

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
        self.interlocker.check_layers()

    @property
    def _interlocker(self) -> threading.Thread | None:
        """The automatic interlocking thread, None when it was not started."""
        return self.interlocker.thread

    def _check_layers(self, peers_by_chain: dict[str, list[Peer]], *, stores: bool) -> None:
        self._layer_check(peers_by_chain, stores=stores)

    def interlock(self, timeout: float = 60.0) -> InterlockReport:
        """One interlocking round now (ledger.interlock.Interlocker.interlock): Type-II of every
        sub-chain with new records to the main chain, then Type-III to every sub-chain."""
        return self.interlocker.interlock(timeout)

    # --- Protocol 1 -------------------------------------------------------------------

    def verifier(self, chain_id: str) -> "Verifier":
        """A verifier attached to chain `chain_id` (it trusts only that chain's state)."""
        return Verifier(self.services, self.deployment, chain_id)

    def verify(self, tx_id: bytes | str, from_chain: str) -> Verdict:
        """Protocol 1 for `tx_id`, run by a verifier on `from_chain`."""
        return self.verifier(from_chain).verify(tx_id)

    def verify_many(self, tx_ids: Iterable[bytes | str], from_chain: str) -> dict[bytes, Verdict]:
        """Protocol 1 for many transactions, run by a verifier on `from_chain` (Verifier.verify_many)."""
        return self.verifier(from_chain).verify_many(tx_ids)


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


def _pem(obj: x509.CertificateRevocationList | x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return obj.public_bytes(serialization.Encoding.PEM)


def _renew_expiring(path: Path, ca: CertificateAuthority, trust: TrustStore) -> None:
    """Re-certify the key of every unrevoked identity whose certificate ends within
    RENEW_WITHIN_DAYS (or has ended), when the CA can issue one that ends later: the embedded
    deployment holds its CA, so a ledger reopened near or past its members' expiry keeps
    committing. The replaced certificate moves to identities/previous/NAME/ and stays trusted:
    what it signed counts at its blocks' dates."""
    now = datetime.datetime.now(datetime.timezone.utc)
    horizon = now + datetime.timedelta(days=RENEW_WITHIN_DAYS)
    for crt in sorted((path / "identities").glob("*.crt")):
        cert = load_certificate(crt)
        # (a CA that has ended, or ends first, issues nothing longer: the ledger still opens)
        ends = cert.not_valid_after_utc
        if ends > horizon or ca.certificate.not_valid_after_utc <= max(now, ends):
            continue
        member = trust.add_certificate(cert)
        try:
            trust.resolve(member.fingerprint, valid_at_ms=member.valid_from_ms)  # never revoked
        except LedgerError:
            continue
        renewed = ca.recertify(member)  # (the same key: the private one, when held, stays as it is)
        previous = path / "identities" / PREVIOUS / member.name
        previous.mkdir(parents=True, exist_ok=True)
        _write_durably(previous / f"{cert.serial_number:x}.crt", _pem(cert))  # before it is replaced
        _write_durably(crt, _pem(renewed))
        trust.add_certificate(renewed)


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
