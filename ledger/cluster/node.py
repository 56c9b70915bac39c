"""One peer as a service (`edgeacc node CONFIG`): one chain, one identity, its own SQLite
store, the deployment's public trust material, and the chain's block log in etcd.

CONFIG (JSON):

    {"name": "edge-0.peer0",              the peer's certificate name
     "credentials": "DIR",                identity.key/.crt, tls.key/.crt, etcd.key/.crt
                                          (edgeacc ca issue)
     "trust": "DIR",                      ca.crt, crl.pem, certs/*.crt (public; crl.pem is
                                          re-read when it changes)
     "store": "PATH.sqlite",
     "listen": "HOST:PORT",
     "deployment": "deployment.json"}     chains, peers and their addresses, etcd endpoints,
                                          params, objects URL (ledger.cluster.local writes one)

What the node does (ledger.cluster.follower argues why a dishonest cutter, etcd writer or
fewer than `threshold` dishonest peers cannot make it accept another history):
- follows the log: it reads etcd's entries (signed headers) in slot order and stores each that
  validates, with its body, as the next block of its chain (the rules of ledger.chain.Peer:
  endorsements, links, Merkle root, accumulator, transactions); any other entry is skipped,
  alike by every honest peer. The body is the proposal it endorsed, or one a peer serves
  (Body: what it endorsed, proposed or stores) under the header's Merkle root
  (ledger.cluster.follower, Bodies).
  On start and after a restart this is the catch-up; below a trimmed checkpoint the node
  fetches the blocks from another peer, chained to the digest a quorum attested.
- orders revocation: when its CRL (crl.pem, or one the log brought) revokes a certificate its
  chain's log has not ordered yet, it appends the CRL as an entry of the log, cutter or not,
  with no endorsement (Node._fence_if_due; ledger.cluster.ordered_crl says why). Blocks are
  judged by the log's CRL entries only; admission, Endorse and the cutter's proposal and
  endorsements refuse a certificate the log's entries revoke, as well as one its crl.pem does.
- campaigns for the chain's block cutter (an etcd lease); once elected it starts a term of the
  log (a term entry under the election's fence: ledger.cluster.follower, Terms), and starts
  another whenever the log's term is no longer its own; the cutter admits submitted
  transactions, cuts them into blocks (MAX_BLOCK_BYTES) of its term, collects the policy's
  endorsements from the chain's peers (Endorse: each checks the proposal is of the log's
  current term and from that term's cutter, and keeps it durably before it signs - until its
  height is filled or its term is over, at most PENDING_PER_TERM of a term, TermQuotaExceeded
  past that - as the cutter keeps its own; a cutter its own store refuses so resigns; a block it had
  endorsed and failed to append is appended again, not proposed anew), appends the block's
  signed header at the log's next slot (the
  fenced etcd transaction of ledger.cluster.ordering), stores the block by the follower's
  rules (from memory: its header is the entry etcd holds, not read back), and only then
  acknowledges: an acknowledged transaction is ordered in etcd (a Raft majority), its block
  held durably by the policy's threshold of endorsers, and validated by the cutter.
  Submissions come as Submit calls or on streams (SubmitStream: answers go out as their
  blocks are appended, with the Stored attestations the cutter gathers once per block; a
  caller holds at most STREAMS_PER_CALLER streams, each with at most MAX_STREAM_PENDING
  transactions waiting; a peer holds at most MAX_STREAMS streams in all, answering ServerBusy
  "use Submit" past that, and closes a stream idle for STREAM_IDLE_SECONDS). The cutter cuts
  whatever is queued as soon as the previous block is appended (no timer), or with the
  deployment's "cut_ahead": 1 as soon as it is endorsed, pipelined: block h+1 is proposed and
  endorsed on block h while h is appended and stored, and appended after it (each endorser
  signs it on the h it endorsed; h not stored, h+1 is dropped: "submit again"; a term to
  start or h's status transactions make it wait for h: _cut_loop); each endorser
  checks a block's transactions when it endorses it (handing them to the endorsers early, to
  check off the block's critical path, cost the endorser more CPU than the checks it moved:
  the second crossing and decoding, a call per batch). Every `trim_blocks` blocks it trims
  the log below a checkpoint its peers attest (AttestCheckpoint: the block, its slot, the CRL
  entries below it). Before it admits or endorses a Type-II or Type-III it checks that the
  block reported is its chain's ordered one (Node._check_reported). A peer
  that is not the cutter forwards a submission to the cutter and answers with a receipt only
  for a block it stores itself.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import json
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import edgeacc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ledger import checks
from ledger.anchors import anchors_from, check_chain
from ledger.block import Block, SignedHeader, SubchainStatus, reported_header
from ledger.chain import ChainConfig, Deployment, Receipt, StatusRecord, check_fresh, now_ms
from ledger.cluster import authority, validators
from ledger.cluster.etcdauth import EtcdCredentials
from ledger.cluster.follower import (BODIES_AHEAD, BODIES_BYTES, CONFIRM_WAIT, Checkpoint, Follower,
                                     attestation_quorum, checked_attestation, checkpoint_message, confirm_blocks,
                                     decode_block_id, encode_block_id, stored_message, term_entry)
from ledger.cluster.ordered_crl import OrderedRevocations, crl_entry, keep_file, revocations_digest
from ledger.cluster.ordering import MAX_BLOCK_BYTES, MAX_TX_BYTES, EtcdLog, Leadership
from ledger.cluster.reads import MAX_LOCATES, ChainReader
from ledger.cluster.transport import (PER_CALLER, Caller, Channel, Credentials, Method, number, pack, remote_error,
                                      serve, text_field, unpack)
from ledger.errors import (AccessDenied, ArgumentError, ChainIntegrityError, ConfigurationError,
                           ForkDetected, LedgerError, NotFound, ReplayedTransaction, RollbackDetected,
                           ServiceUnavailable, SpeculationRefused, StorageError, TermQuotaExceeded,
                           TransactionTooLarge, UnknownCertificate, UnprovenAnswer, WrongHeight)
from ledger.identity import TrustStore, fingerprint, load_certificate, load_revocation_list
from ledger.merkle import merkle_paths, root_from_path
from ledger.peer import Peer
from ledger.sequencer import memory_copy
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind

log = logging.getLogger("edgeacc.node")

CUTTER_TTL = 2                # seconds: the cutter's lease (failover takes about this long)
SUBMIT_TIMEOUT = 30.0
MAX_PROOFS = 1024             # inclusion proofs per Proofs call (ledger.cluster.remote asks in chunks)
BLOCK_OVERHEAD = 64 * 1024    # header, endorsements and the etcd transaction's keys
MAX_AHEAD = 64                # Stored waits for a block at most this far ahead (a caller must not park threads)
APPEND_ATTEMPTS = 4           # slots a cutter tries for one block when others' entries fill the one it chose
MAX_STREAM_PENDING = 2048     # transactions of one submission stream waiting for their block
STREAMS_PER_CALLER = 2        # submission streams one caller may hold open at one peer
MAX_STREAMS = 64              # submission streams a peer holds open in all (each holds a server worker
                              # and a reader thread): past it callers are told ServerBusy, use Submit
STREAM_IDLE_SECONDS = 60.0    # a stream nothing crossed for this long is closed (its worker freed)
CUT_AHEAD = 0                 # blocks the cutter proposes on the one being appended (_cut_loop; 1: pipelined)
TRIM_BLOCKS = 256             # the cutter trims etcd's log once this many blocks lie above its checkpoint
TRIM_RECHECK_SECONDS = 1.0    # ... and reads that checkpoint at least this often (one rewritten is replaced soon)
MAX_ANCHORS_HELD = 1 << 16    # anchors check_layers remembers as held (then it reads them all once again)
TRACE = os.environ.get("EDGEACC_TRACE")  # a file: the cutter appends a JSON line of stage times per block


def read_json(path: str | Path, what: str) -> dict:
    path = checks.path(path, "path")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read the {what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise StorageError(f"{path} is not a {what}")
    return data


def deployment_params(deployment: dict) -> edgeacc.Params:
    spec = deployment.get("params") or {"modulus": "rsa2048"}
    if "modulus_hex" in spec:
        return edgeacc.Params(int(spec["modulus_hex"], 16), insecure=bool(spec.get("insecure")))
    return edgeacc.Params.rsa2048()


def chain_configs(deployment: dict) -> list[ChainConfig]:
    return [ChainConfig(c["id"], c["kind"], c["threshold"]) for c in deployment["chains"]]


def peer_addresses(deployment: dict, chain_id: str) -> dict[str, str]:
    """name -> host:port of the peers of `chain_id`."""
    for c in deployment["chains"]:
        if c["id"] == chain_id:
            return {p["name"]: p["address"] for p in c["peers"]}
    raise NotFound(f"the deployment has no chain {checks.shown(chain_id)}")


def every_peer(deployment: dict) -> list[str]:
    """The names of every chain's peers (each a directory of the certificate registry: etcdauth)."""
    return [p["name"] for c in deployment["chains"] for p in c["peers"]]


def load_trust(trust_dir: Path, remembered_crl: Path | None = None) -> TrustStore:
    """The public trust material: the CA certificate, its CRL, the certificates it issued.
    With `remembered_crl` (a node's copy of the last CRL it accepted: install_crl), a crl.pem
    issued before it, or undoing one of its revocations, is StaleRevocationList: "no older
    CRL" holds across restarts, not only while the process runs."""
    trust = TrustStore(load_certificate(trust_dir / "ca.crt"))
    if remembered_crl is not None and remembered_crl.exists():
        trust.set_revocation_list(load_revocation_list(remembered_crl))
    install_crl(trust, trust_dir / "crl.pem", remembered_crl)
    certs = trust_dir / "certs"  # (with the ones renewals replaced: what they signed still counts)
    for cert_path in sorted(certs.glob("*.crt")) + sorted(certs.glob("previous/*/*.crt")) + \
            sorted(trust_dir.glob("identity.crt")):
        trust.add_certificate(load_certificate(cert_path))
    return trust


def install_crl(trust: TrustStore, crl_path: Path, remembered: Path | None) -> None:
    """Install the CRL at `crl_path` (TrustStore.set_revocation_list's rules) and, when it is
    accepted, keep a durable copy of its exact bytes at `remembered` (read once: what was
    checked is what is kept)."""
    try:
        data = crl_path.read_bytes()
        crl = x509.load_pem_x509_crl(data)
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read revocation list {crl_path}: {exc}") from None
    trust.set_revocation_list(crl)
    if remembered is not None:
        try:
            keep_file(remembered, data)
        except OSError as exc:
            raise StorageError(f"cannot keep the accepted revocation list at {remembered}: {exc}") from None


def ordered_crl_path(store: Path) -> Path:
    """Where a node keeps the CRL entries its chain's log ordered (ledger.cluster.ordered_crl)."""
    return store.with_name(store.name + ".ordered-crl")


def remembered_crl_path(store: Path) -> Path:
    """Where a node keeps the last CRL it accepted: beside its store (its own state)."""
    return store.with_name(store.name + ".crl.pem")


class KeptCertificates:
    """The certificates a node admitted beyond its trust directory (members registered after
    it started), kept beside its store: its stored blocks hold their signatures, and a
    restart re-validates those blocks before it can ask anyone (without them a block of a
    member registered late failed re-validation and the node did not start again)."""

    def __init__(self, store: Path) -> None:
        self.path = store.with_name(store.name + ".certs.pem")
        self._lock = threading.Lock()

    def load_into(self, trust: TrustStore) -> None:
        """Admit every kept certificate the CA signed (the file is this node's own, yet each
        is checked as from anyone)."""
        try:
            certs = x509.load_pem_x509_certificates(self.path.read_bytes()) if self.path.exists() else []
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read the kept certificates {self.path}: {exc}") from None
        for cert in certs:
            try:
                trust.add_certificate(cert)
            except LedgerError as exc:
                log.warning("%s: a kept certificate is refused: %s", self.path, exc)

    def keep(self, certs) -> None:
        """Append `certs` durably (before the blocks that need them are stored)."""
        data = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
        if not data:
            return
        with self._lock:
            try:
                with open(self.path, "ab") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                raise StorageError(f"cannot keep certificates at {self.path}: {exc}") from None


def encode_receipt(r: Receipt) -> bytes:
    return pack(r.tx_id, r.chain_id.encode(), str(r.height).encode(), str(r.position).encode(), r.block_digest)


def decode_receipt(data: bytes) -> Receipt:
    tx_id, chain_id, height, position, digest = unpack(data, 5, "receipt")
    return Receipt(tx_id, chain_id.decode("utf-8", "replace"), number(height, "height"),
                   number(position, "position"), digest)


def decode_status(data: bytes) -> StatusRecord:
    source, source_height, height, tx_id, element, digest = unpack(data, 6, "status record")
    return StatusRecord(source.decode("utf-8", "replace"), number(source_height, "source height"),
                        number(height, "height"), tx_id, number(element, "element", 16), digest)


def encode_outcome(value: Receipt | LedgerError, signed: SignedHeader | bytes | None = None,
                   path: list[bytes] = ()) -> bytes:
    """A submission's outcome: a receipt with the endorsed header of its block (`signed`, or
    its encoding when the caller encoded it once for the block's receipts) and the
    transaction's Merkle path in it (what proven_receipt checks), or an error."""
    if isinstance(value, Receipt):
        header = signed if isinstance(signed, bytes) else checks.exact(signed, SignedHeader, "signed").to_bytes()
        return pack(b"R", encode_receipt(value), header, pack(*path))
    return pack(b"E", type(value).__name__.encode(), str(value)[:2000].encode())


def admit_certificates(trust: TrustStore, fingerprints, fetch, limit: int | None = None) -> list[x509.Certificate]:
    """Admit the certificates of `fingerprints` that `trust` lacks, as `fetch(fp)` (PEM or
    None, from a source not trusted for them) gives them: each only if it is the certificate of
    that fingerprint and the CA signed it; the others stay unknown (their signatures are refused).
    More than `limit` unknown ones is UnknownCertificate, nothing fetched. Returns those admitted."""
    known = {m.fingerprint for m in trust.members()}
    unknown = set(fingerprints) - known
    if limit is not None and len(unknown) > limit:
        raise UnknownCertificate(f"{len(unknown)} signers are unknown here; at most {limit} certificates are fetched")
    admitted = []
    for fp in unknown:
        try:
            pem = fetch(fp)
            cert = x509.load_pem_x509_certificate(pem) if pem else None
            if cert is not None and fingerprint(cert) == fp:
                trust.add_certificate(cert)
                admitted.append(cert)
        except ServiceUnavailable:
            raise  # not known yet is not unknown: the caller tries again (a skip must not hinge on it)
        except (ValueError, LedgerError):
            pass
    return admitted


def check_endorsed(deployment: Deployment, signed: SignedHeader, fetch) -> None:
    """EndorsementError (or UnknownCertificate) unless `signed`'s endorsements satisfy its
    chain's policy at the block's own time. Endorsers' certificates the trust store lacks are
    fetched with `fetch` (admit_certificates), at most as many as the policy needs signatures
    (an honest cutter includes exactly that many): a header listing thousands of unknown
    endorsers must not buy a fetch, each up to a timeout, for every one."""
    needed = deployment.config(signed.header.chain_id).endorsement_threshold
    admit_certificates(deployment.trust, [fp for fp, _ in signed.endorsements], fetch, limit=needed)
    deployment.check_endorsements(signed, at_ms=signed.header.timestamp_ms)


def proven_receipt(deployment: Deployment, tx: Transaction, fields: list[bytes], verified: set[bytes],
                   fetch=lambda fp: None, headers: dict | None = None) -> Receipt:
    """The receipt of `tx` from the fields of an "R" outcome, if it proves itself: the header
    is `tx`'s chain's block at the receipt's height and digest, its endorsements satisfy the
    chain's policy (at the block's time), and the Merkle path puts `tx`'s exact bytes at the
    receipt's position under the header's root. A peer that answers for a chain can forge a
    receipt, not a quorum of endorsements: UnprovenAnswer / EndorsementError otherwise. (That
    the block is the ordered one at its height is follower.confirm_blocks' check.)
    `verified` caches the digests of headers whose endorsements were checked; endorsers'
    certificates the trust store lacks are fetched with `fetch` (admit_certificates).
    `headers` (encoding -> decoded header, filled here) decodes each header once for the
    receipts that share it (a decoding is its bytes': nothing checked is cached in it)."""
    if len(fields) != 3:
        raise UnprovenAnswer(f"the receipt of {tx.tx_id.hex()[:16]} comes without its block's proof")
    signed = None if headers is None else headers.get(fields[1])
    if signed is None:
        signed = SignedHeader.from_bytes(fields[1])
        if headers is not None:
            headers[bytes(fields[1])] = signed
    receipt = decode_receipt(fields[0])
    header = signed.header
    if (receipt.tx_id, receipt.chain_id, header.chain_id, header.height, header.digest) != \
            (tx.tx_id, tx.chain_id, tx.chain_id, receipt.height, receipt.block_digest):
        raise UnprovenAnswer(f"the receipt of {tx.tx_id.hex()[:16]} names another transaction or block")
    if receipt.position >= header.tx_count or root_from_path(
            tx.leaf, receipt.position, header.tx_count, unpack(fields[2], what="Merkle path")) != header.merkle_root:
        raise UnprovenAnswer(f"the receipt of {tx.tx_id.hex()[:16]}: the transaction is not at position "
                                  f"{receipt.position} of block {header.height}")
    if header.digest not in verified:
        check_endorsed(deployment, signed, fetch)
        if len(verified) > 4096:
            verified.clear()
        verified.add(header.digest)
    return receipt


def answer_within(future: concurrent.futures.Future, deadline: float, ended: threading.Event | None):
    """future.result() by `deadline` (time.monotonic()); concurrent.futures.TimeoutError past
    it or as soon as `ended` is set."""
    while True:
        left = deadline - time.monotonic()
        if ended is None or left <= 0:
            return future.result(max(0.0, left))
        try:
            return future.result(min(left, 0.5))
        except concurrent.futures.TimeoutError:
            if ended.is_set():
                raise


def next_while_active(items: queue.Queue, caller: Caller):
    """The next of `items`; ServiceUnavailable once the caller's call ended (a stream's
    handler must not hold its thread for a caller that went away)."""
    while True:
        try:
            return items.get(timeout=0.5)
        except queue.Empty:
            if caller.ended.is_set():
                raise ServiceUnavailable(f"{caller.name} went away") from None


@dataclass
class _Pending:
    tx: Transaction
    future: concurrent.futures.Future
    proof: tuple[SignedHeader, list[bytes]] | None = None  # its block's header and its Merkle path, when cut
    queued: float = 0.0  # time.perf_counter() when it was admitted (for TRACE)


@dataclass
class _Cut:
    """One batch the cutter cut (Node._prepare), to append and answer (Node._finish)."""
    batch: list[_Pending]
    leadership: Leadership
    height: int
    slot: int                            # where it is appended (a block on `parent`: the slot after it, then)
    block: Block | None                  # endorsed (None: nothing to append)
    refused: dict[int, LedgerError]      # id(pending) -> why it is not in the block
    parent: Block | None = None          # the block being appended it was proposed on (None: the stored chain)
    started: float = 0.0                 # (TRACE: perf_counter at the cut's start, then after propose and Endorse)
    stages: list[float] = dataclasses.field(default_factory=list)


class Node:
    """One running peer (see the module docstring); `stop()` ends it."""

    def __init__(self, config: dict, base: Path = Path("."), repair: bool = False) -> None:
        """Start the node. A store cut back below this peer's own signed checkpoint
        (RollbackDetected) is refused unless `repair` (the operator's `edgeacc node CONFIG
        --repair`, never automatic): then it loads what it holds and catches up by following
        the log (_check_repaired)."""
        def path(key: str) -> Path:
            return (base / config[key]).resolve()

        self.name = checks.text(config["name"], "name")
        self.deployment_info = read_json(path("deployment"), "deployment description")
        creds_dir, self.trust_dir = path("credentials"), path("trust")
        identity = authority.load_identity(creds_dir)
        if identity.name != self.name or identity.role != "peer":
            raise ConfigurationError(f"{creds_dir} holds {identity!r}, not the peer {self.name}")
        self._remembered_crl = remembered_crl_path(path("store"))
        self._crl_mtime = (self.trust_dir / "crl.pem").stat().st_mtime_ns
        self.trust = load_trust(self.trust_dir, self._remembered_crl)
        self.trust.add_certificate(identity.certificate)
        self._kept = KeptCertificates(path("store"))
        self._kept.load_into(self.trust)
        self._publishers = every_peer(self.deployment_info)
        self.deployment = Deployment(deployment_params(self.deployment_info), self.trust,
                                     chain_configs(self.deployment_info))
        self.chain_id = identity.chain_id
        self.config = self.deployment.config(self.chain_id)
        self.credentials = Credentials.load(creds_dir)
        self.peer = Peer(self.deployment, identity, PeerStore(path("store"), self.chain_id))
        started = time.monotonic()
        try:  # (revocation as the follower judges it: by the log's order, ledger.cluster.ordered_crl)
            self.peer.load(repair=repair, ordered=True, rollback_hint="catch it up from etcd's log and the "
                           "chain's peers: `edgeacc node CONFIG --repair`")
        except LedgerError:
            self.peer.close()
            raise
        loaded = self.peer.height
        self.addresses = peer_addresses(self.deployment_info, self.chain_id)
        self.log = EtcdLog(self.deployment_info["etcd"], self.chain_id, EtcdCredentials.load(creds_dir))
        self.ttl = int(self.deployment_info.get("cutter_ttl", CUTTER_TTL))
        self.max_block_txs = int(self.deployment_info.get("max_block_txs", 2000))
        self.cut_ahead = checks.integer(self.deployment_info.get("cut_ahead", CUT_AHEAD), "cut_ahead", lo=0, hi=1)
        self.trim_blocks = int(self.deployment_info.get("trim_blocks", TRIM_BLOCKS))
        self.follower = Follower(self.peer, self.log, lambda txs: self._know_signers(txs, True), self._catch_up_sources,
                                 attestation_quorum(self.config.endorsement_threshold, len(self.addresses)),
                                 OrderedRevocations(self.trust, ordered_crl_path(path("store"))), self._body_sources)
        self._trimming = threading.Lock()
        self._trim_seen = (-1, float("-inf"))  # (checkpoint height, monotonic time) the last _trim read
        self.layer_violation: ChainIntegrityError | None = None  # the other layer's anchors disagree (check_layers)
        self._layers_checked = False  # every holder of anchors answered once since start
        self._anchors_held: set[tuple[int, bytes]] = set()  # (height, digest) check_layers found on this chain
        self._leadership: Leadership | None = None
        self._term: int | None = None  # the term this peer's cutter started in the log (Terms), while it cuts
        self._unappended: Block | None = None  # the block it had endorsed and not appended yet (_cut re-appends it)
        self._term_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._attesting: dict[tuple[int, bytes], concurrent.futures.Future] = {}
        self._attesting_lock = threading.Lock()
        # (one gathering per block at a time: each waits on futures, holding its thread at most CONFIRM_WAIT + 2 s)
        self._attest_pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix=f"attest-{self.name}")
        self._channels: dict[str, Channel] = {}
        self._channels_lock = threading.Lock()
        self._stop = threading.Event()
        self._interlock_lock = threading.Lock()
        self._nonce = itertools.count(time.time_ns())
        self._verified_headers: set[bytes] = set()
        self._readers: dict[str, ChainReader] = {}
        self.validators = validators.install(self, path("deployment").parent)
        self.log.start_watch()
        validated = time.monotonic()
        self.sync()
        if repair:
            self._check_repaired()
        # (bodies of filled heights, every peer holds those blocks, and of ended terms: follower, Terms)
        self.peer.store.drop_pending(self.peer.height, self.follower.term)
        done = time.monotonic()
        self._check_layers_once()
        self.catch_up = {"stored": loaded, "load_seconds": validated - started,
                         "caught_up": self.peer.height - loaded, "catch_up_seconds": done - validated}
        log.info("%s re-validated %d stored blocks in %.2f s, caught up %d blocks from etcd in %.2f s",
                 self.name, loaded, validated - started, self.peer.height - loaded, done - validated)
        methods = {
            "Submit": Method(self._rpc_submit),
            "SubmitStream": Method(self._rpc_submit_stream, per_caller=STREAMS_PER_CALLER, streaming=True,
                                   total=int(self.deployment_info.get("max_streams", MAX_STREAMS)), instead="Submit",
                                   idle_seconds=float(self.deployment_info.get("stream_idle_seconds",
                                                                               STREAM_IDLE_SECONDS))),
            # (a peer forwards its clients' submissions: more under way than one client's)
            "Forward": Method(self._rpc_forward, roles=("peer",), same_chain=True, per_caller=4 * PER_CALLER),
            "Endorse": Method(self._rpc_endorse, roles=("peer",), same_chain=True),
            "Register": Method(self._rpc_register),
            "Status": Method(self._rpc_status),
            "Block": Method(self._rpc_block),
            "Body": Method(self._rpc_body, roles=("peer",), same_chain=True),
            "Locate": Method(self._rpc_locate),
            "LocateMany": Method(self._rpc_locate_many),
            "Latest": Method(self._rpc_latest),
            "Header": Method(self._rpc_header),
            # (a client confirms its receipts and reads with up to 16 threads at once)
            "Stored": Method(self._rpc_stored, per_caller=2 * PER_CALLER),
            "AttestCheckpoint": Method(self._rpc_attest_checkpoint, roles=("peer",), same_chain=True),
            "Statuses": Method(self._rpc_statuses),
            "Proofs": Method(self._rpc_proofs),
            # a device only reports readings: interlocking is for the chains' peers and clients
            "Interlock": Method(self._rpc_interlock, roles=("peer", "client")),
            "Certificate": Method(self._rpc_certificate),
        }
        self.server, self.port = serve(config["listen"], self.credentials, self.trust, methods, self.chain_id)
        self._threads = [threading.Thread(target=fn, name=f"{n}-{self.name}", daemon=True)
                         for n, fn in (("follow", self._follow), ("elect", self._elect),
                                       ("cut", self._cut_loop),
                                       ("trust", self._watch_trust),
                                       ("interlock", self._interlock_loop))]
        for t in self._threads:
            t.start()
        log.info("%s serves %s on port %d at height %d", self.name, self.chain_id, self.port, self.peer.height)

    # --- following the log -------------------------------------------------------------

    def sync(self) -> int:
        """Take every entry etcd holds beyond this peer's next slot (ledger.cluster.follower);
        returns the peer's height."""
        return self.follower.sync()

    def _check_repaired(self) -> None:
        """After a repair's catch-up: the peer must hold the block its own signed checkpoint
        vouches for (Peer.holds_vouched), now that it followed the log - its blocks from etcd,
        or below a trimmed checkpoint from the chain's peers, chained to the digest a quorum
        attested (ledger.cluster.follower). Otherwise RollbackDetected (the log and the peers
        lack it) or ForkDetected (the ordered chain holds another block there), and the node
        does not start."""
        if self.peer.holds_vouched():
            return
        vouched = self.peer.vouched_anchors()[0]
        height, digest = vouched.height, vouched.digest
        found = self.peer.digest(height) if self.peer.height > height else None
        self.log.close()
        self.peer.close()
        if found is not None:
            raise ForkDetected(f"{self.name}: the ordered chain holds block {height} {found.hex()[:16]}, its own "
                               f"signed checkpoint {digest.hex()[:16]}: not repaired",
                               chain_id=self.chain_id, height=height, expected=digest, found=found)
        raise RollbackDetected(f"{self.name}: neither etcd's log nor the chain's peers brought block {height} "
                               f"that its signed checkpoint vouches for (it holds {self.peer.height} blocks): "
                               f"not repaired{f' ({self.refused})' if self.refused else ''}",
                               chain_id=self.chain_id, height=height, expected=digest, found=None)

    @property
    def refused(self) -> str | None:
        """Why following stopped (the stored history is not the one a checkpoint attests)."""
        return self.follower.refused

    def _catch_up_sources(self):
        """The chain's other peers, as catch-up sources (each answer is checked: catch_up)."""
        def source(name):
            channel = self._channel(name)
            return (name, lambda h: channel.call("Header", b"%d" % h, 10.0),
                    lambda h: channel.call("Block", b"%d" % h, 30.0))
        return [source(n) for n in self.addresses if n != self.name]

    def _body_sources(self):
        """The chain's other peers, as sources of an ordered header's body (Follower._body checks
        each answer)."""
        def source(name):
            channel = self._channel(name)

            def fetch(ids):
                return unpack(channel.call("Body", pack(*(encode_block_id(h, d) for h, d in ids)), 30.0), what="bodies")
            return name, fetch
        return [source(n) for n in self.addresses if n != self.name]

    def _follow(self) -> None:
        read_log = True
        while not self._stop.is_set():
            try:
                if read_log:
                    self.sync()
                else:
                    self.follower.follow_arrived()
            except Exception as exc:  # etcd unreachable: retry; the follower never dies
                log.warning("%s: catch-up failed: %r", self.name, exc)
            # an entry this peer followed already, or is appending (the cutter's own), is no news;
            # a poll of the log every second finds what the watch missed
            read_log = True
            while self.log.wait_change(1.0):
                if (self.log.head or 0) >= self.follower.next_slot and self.log.head != self.follower.appending:
                    read_log = False  # (what the watch brought)
                    break

    def _watch_trust(self) -> None:
        """Install a new CRL when the operator distributes one (crl.pem changes), and order
        in the log what it revokes (_fence_if_due)."""
        while not self._stop.wait(0.5):
            try:
                mtime = (self.trust_dir / "crl.pem").stat().st_mtime_ns
                if mtime != self._crl_mtime:
                    self._crl_mtime = mtime  # a refused file is reported once, not every poll
                    install_crl(self.trust, self.trust_dir / "crl.pem", self._remembered_crl)
            except (OSError, LedgerError) as exc:
                log.warning("%s: cannot install the new CRL: %s", self.name, exc)
            try:
                self._fence_if_due()
            except LedgerError as exc:
                log.warning("%s: the revocation fence of %s: %s", self.name, self.chain_id, exc)

    def _know_signers(self, txs, ask_peers: bool = False) -> None:
        """Admit the certificates of submitters this peer has not seen yet, from the copies
        the deployment's peers published in etcd (each in its own directory, which no other
        peer may change: ledger.cluster.etcdauth), and with `ask_peers` (an endorsed block's:
        bounded work) else from the other peers. No source is trusted for them:
        admit_certificates checks."""
        def fetch(fp: bytes) -> bytes | None:
            peers = [n for n in self.addresses if n != self.name] if ask_peers else []
            sources = [lambda fp: self.log.certificates(fp, self._publishers)] + [
                lambda fp, n=n: [self._channel(n).call("Certificate", fp, 5.0)] for n in peers]
            for source in sources:
                try:
                    for pem in source(fp):
                        try:  # (a publisher's junk copy is passed over for the next)
                            if pem and fingerprint(x509.load_pem_x509_certificate(pem)) == fp:
                                return pem
                        except ValueError:
                            continue
                except LedgerError:
                    continue
            return None
        self._kept.keep(admit_certificates(self.trust, {tx.submitter for tx in txs}, fetch))

    # --- the block cutter --------------------------------------------------------------

    def _elect(self) -> None:
        while not self._stop.is_set():
            try:
                if self._leadership is None:
                    leadership = self.log.campaign(self.name, self.ttl)
                    if leadership is not None:
                        self.sync()
                        self._leadership = leadership
                        self.log.pause_watch()  # (its own entries it holds: EtcdLog.pause_watch)
                        log.info("%s is the block cutter of %s", self.name, self.chain_id)
                        try:  # (before the first cut: a failover's first block waits less; else _cut starts it)
                            self._own_term(leadership)
                        except LedgerError as exc:
                            log.warning("%s: starting a term of %s: %s", self.name, self.chain_id, exc)
                elif not self.log.keep_alive(self._leadership):
                    self._deposed()
            except Exception as exc:
                log.warning("%s: election: %r", self.name, exc)
                self._deposed()  # unsure of the lease: the append's fence decides
            self._stop.wait(self.ttl / 4)

    def _deposed(self) -> None:
        """No longer the block cutter: follow the log by its watch again."""
        self._leadership, self._term = None, None
        if not self._stop.is_set():
            self.log.start_watch()

    def _own_term(self, leadership: Leadership) -> int:
        """The log's current term if this cutter started it, else a new term it starts: a term
        entry (follower.term_entry) appended at the next slot under the election's fence
        (ledger.cluster.follower, Terms: proposals of an earlier term are ones every follower
        skips now, so their bodies may go; this cutter's quota is fresh). ServiceUnavailable
        when it cannot (lost the election, or others keep filling the slot)."""
        with self._term_lock:
            return self._start_term(leadership)

    def _start_term(self, leadership: Leadership) -> int:
        if self._term is not None and (self.follower.term, self.follower.term_cutter) == (self._term, self.name):
            return self._term
        for _ in range(APPEND_ATTEMPTS):
            _, slot = self.follower.sync_position()
            term = self.follower.term + 1
            if self.log.append(slot, term_entry(self.chain_id, term, self.peer.identity), leadership, self.name):
                self.sync()
                if (self.follower.term, self.follower.term_cutter) == (term, self.name):
                    self._term = term
                    log.info("%s starts term %d of %s at slot %d", self.name, term, self.chain_id, slot)
                    return term
        raise ServiceUnavailable(f"{self.name} could not start a term of {self.chain_id}: submit again")

    def _resign(self, leadership: Leadership, why: LedgerError) -> None:
        """Give up the election (a quota refusal: this term is spent, another starts)."""
        log.warning("%s resigns as the block cutter of %s: %s", self.name, self.chain_id, why)
        self.log.resign(leadership)
        if self._leadership is leadership:
            self._deposed()

    def _cut_loop(self) -> None:
        """Cut what is queued into blocks, each once the previous one is stored (_cut); with
        the deployment's "cut_ahead": 1, as soon as the previous block is endorsed: while
        block h is appended and stored (_finish, in the appender thread) the next batch is
        proposed and endorsed on top of h (_prepare on parent h), and appended once h is stored,
        at the next slot - one block in flight beyond the one being appended. If h is not
        stored, the block on it is dropped and its submitters told "submit again" (as h's
        are). A batch that cannot go on h (a term to start, h's status transactions:
        SpeculationRefused) waits for h and is cut on the stored chain. (Off by default: on a
        loaded 2-core machine it cut smaller blocks for no shorter latency, at ~5 % more CPU a
        transaction - the cutter's threads contend for one interpreter.)"""
        appender = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"append-{self.name}")
        ahead: tuple[_Cut, concurrent.futures.Future] | None = None  # the cut being appended, _finished's future
        try:
            while not self._stop.is_set():
                batch = self._next_batch()
                if ahead is not None and ahead[1].done():
                    ahead = None
                if not batch:
                    continue
                try:
                    cut = self._prepare(batch, ahead)
                    if ahead is not None and not ahead[1].result() and cut.parent is not None:
                        raise ServiceUnavailable(f"{self.chain_id}: block {cut.parent.height} was not stored, nor the "
                                                 f"block {cut.height} on it: submit again")
                except Exception as exc:  # never leave a submitter waiting
                    self._fail(batch, exc)
                    continue
                if self.cut_ahead:
                    ahead = (cut, appender.submit(self._finished, cut))
                else:
                    self._finished(cut)
        finally:
            appender.shutdown(wait=True)

    def _next_batch(self) -> list[_Pending]:
        """The transactions queued (waiting up to 0.5 s for one), up to a block's bounds."""
        try:
            first = self._queue.get(timeout=0.5)
        except queue.Empty:
            return []
        batch, size = [first], len(first.tx.to_bytes())
        while len(batch) < self.max_block_txs:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            item_size = len(item.tx.to_bytes())
            if size + item_size > MAX_BLOCK_BYTES - BLOCK_OVERHEAD:
                self._queue.put(item)  # the next block takes it (order among blocks is free)
                break
            batch.append(item)
            size += item_size
        return batch

    @staticmethod
    def _fail(batch: list[_Pending], exc: BaseException) -> None:
        """Answer every submitter of `batch` not answered yet with `exc`."""
        failure = exc if isinstance(exc, LedgerError) else LedgerError(f"internal error: {exc!r}")
        for p in batch:
            if not p.future.done():
                p.future.set_exception(failure)

    def _finished(self, cut: _Cut) -> bool:
        """_finish(cut) in the appender thread: whether its block is stored (every submitter
        answered either way)."""
        try:
            return self._finish(cut)
        except Exception as exc:
            self._fail(cut.batch, exc)
            return False

    def _fence_if_due(self) -> None:
        """Append this peer's CRL to the log when it revokes a certificate the log has not
        ordered yet (the revocation fence, ledger.cluster.ordered_crl): any peer, at once and
        with no endorsement (its authority is the CA's signature), so neither a dishonest
        cutter nor a revoked key with one dishonest endorser can hold it back."""
        revocations = self.follower.revocations
        for _ in range(APPEND_ATTEMPTS):  # (a busy cutter may take the slot first)
            if self.refused or revocations.unordered() is None:
                return
            _, slot = self.follower.sync_position()
            crl = revocations.unordered()
            if crl is None:
                return  # (the log brought it meanwhile)
            if self.log.append(slot, crl_entry(crl)):  # (only if the slot is still empty)
                self.sync()
                log.info("%s ordered the revocation list in %s's log at slot %d", self.name, self.chain_id, slot)
                return

    def _cut(self, batch: list[_Pending]) -> None:
        """Order `batch` (never empty) in a block and answer each submitter (serially)."""
        self._finish(self._prepare(batch))

    def _prepare(self, batch: list[_Pending],
                 ahead: tuple[_Cut, concurrent.futures.Future] | None = None) -> _Cut:
        """The endorsed block of `batch` (never empty) and the answers of the transactions
        not in it. `ahead`: the cut being appended meanwhile and the future of whether it is
        stored; the block goes on top of that cut's block when it can (its term is still this
        cutter's, its transactions all Type-I), else on the chain once it is stored."""
        parent = ahead[0].block if ahead is not None and ahead[0].leadership is self._leadership else None
        if parent is not None:
            with self._term_lock:
                if self._term != parent.header.term or \
                        (self.follower.term, self.follower.term_cutter) != (self._term, self.name):
                    parent = None  # (a term entry to append first: not while the block is appended)
        if parent is not None:
            try:
                return self._prepare_on(batch, parent, ahead[1])
            except WrongHeight:  # (SpeculationRefused, or it is stored now: on the chain then)
                pass
        if ahead is not None:
            ahead[1].result()
        return self._prepare_on(batch)

    def _prepare_on(self, batch: list[_Pending], parent: Block | None = None,
                    stored: concurrent.futures.Future | None = None) -> _Cut:
        """_prepare on the stored chain, or on `parent` (the block being appended; `stored`
        the future of whether it is stored: if the endorsers cannot endorse on it, they are
        asked again once it is)."""
        leadership = self._leadership
        if leadership is None:
            raise ServiceUnavailable(f"{self.name} is no longer the block cutter of {self.chain_id}: submit again")
        started = time.perf_counter()  # (TRACE)
        if parent is None:
            term = self._own_term(leadership)
            height, slot = self.follower.position()
            if height != self.peer.height:  # replaying its log after a restart: read it to the end first
                height, slot = self.follower.sync_position()
        else:
            term, height, slot = parent.header.term, parent.height + 1, -1
        if self.refused:
            raise ServiceUnavailable(f"{self.name} cannot extend {self.chain_id}: {self.refused}")
        fresh = [p for p in batch if self.peer.locate(p.tx.tx_id) is None]
        revoked = self._revoked_by_the_log(fresh)  # (admitted before the log ordered their revocation)
        fresh = [p for p in fresh if id(p) not in revoked]
        block = self._unappended if parent is None else None
        # endorsed for this height and term, not appended: appended now (no new proposal)
        if block is not None and (block.height, block.header.term) == (height, term):  # (so on the same parent)
            proposal, rejected = block, []
        else:
            if parent is None:
                self._unappended = block = None
            proposal, rejected = self.peer._propose([p.tx for p in fresh], term, parent) if fresh else (None, [])
        refused = {id(fresh[i]): exc for i, exc in rejected}
        cut = _Cut(batch, leadership, height, slot, None, refused, parent, started)
        if block is not None or (proposal is not None and len(refused) < len(fresh)):
            cut.stages.append(time.perf_counter())
            if block is None:
                try:
                    block = proposal.with_endorsements(self._endorsements(proposal, parent, stored))
                except TermQuotaExceeded as exc:  # (its own store's: this term is spent, another goes on)
                    self._resign(leadership, exc)
                    raise
                if parent is None:
                    self._unappended = block
            cut.block = block
            cut.stages.append(time.perf_counter())
        refused.update(revoked)
        return cut

    def _finish(self, cut: _Cut) -> bool:
        """Append cut.block at the log's next slot (a block proposed on a parent: once that is
        stored), store it, and answer each submitter of its batch; whether it is stored."""
        block, height, slot, batch = cut.block, cut.height, cut.slot, cut.batch
        appended: set[bytes] = set()
        if block is not None:
            if cut.parent is not None:
                now, slot = self.follower.position()
                # (a term entry or a CRL entry the log ordered while its parent was appended:
                # every follower would skip it)
                if now != height or self.follower.term != block.header.term or self._skipped_by_all(block):
                    raise ServiceUnavailable(f"{self.chain_id} moved on while block {height}'s parent was appended: "
                                             "submit again")
                self._unappended = block  # (from here on as a block endorsed on the chain)
            appending = time.perf_counter()  # (TRACE: a block on a parent waited for it until now)
            self.follower.appending = slot  # its head is no news to this peer's follow thread
            try:
                slot = self._append_next(slot, height, block, cut.leadership)
                if slot is None:
                    raise ServiceUnavailable(f"{self.chain_id} moved on under another cutter: submit again")
                cut.stages.append(time.perf_counter())
                self.follower.take_appended(slot, block)
                cut.stages.append(time.perf_counter())
            finally:
                self.follower.appending = None
            if self.peer.height > height:
                self._unappended = None  # (its height is filled, by it or another)
            if self.peer.height > height and self.peer.digest(height) == block.digest:
                attested = self._attested(height, block.digest)  # (its submitters' confirmation, under way at once)
                if TRACE:
                    self._trace(height, batch, len(block.to_bytes()), cut.started, cut.stages, attested, appending)
                appended = set(block.tx_bytes)
                paths = merkle_paths(block.leaves, list(range(len(block.leaves))))  # one tree for all receipts
                self._trim_soon(cut.leadership)
        held = self.peer.held([p.tx for p in batch if p.tx.to_bytes() not in appended])
        for p in batch:
            # held first: a copy of a transaction in the same batch is refused by the block
            # rules, yet the transaction is on the chain and its submitter gets the receipt
            if p.tx.to_bytes() in appended or id(p.tx) in held:
                receipt = self.peer.receipt(p.tx.tx_id)
                if appended and receipt.height == height:
                    p.proof = (block.signed, paths[receipt.position])
                p.future.set_result(receipt)
            elif id(p) in cut.refused:
                p.future.set_exception(cut.refused[id(p)])
            elif self.peer.locate(p.tx.tx_id) is not None:
                p.future.set_exception(ReplayedTransaction(
                    f"another transaction with id {p.tx.tx_id.hex()[:16]} is already on {self.chain_id}"))
            else:
                p.future.set_exception(ServiceUnavailable(f"{self.chain_id}: block not stored, submit again"))
        return bool(appended)

    @staticmethod
    def _trace(height: int, batch: list[_Pending], size: int, started: float, stages: list[float],
               attested: concurrent.futures.Future, appending: float) -> None:
        """EDGEACC_TRACE: one JSON line per block once its attestations are in: its size, when
        the cut started (perf_counter: one clock for every process of a machine), how long its
        oldest transaction waited for it, the seconds of each stage (propose, Endorse, etcd
        append, store, the other peers' Stored) and how long it waited for its parent's append
        between Endorse and its own ("parent": a block proposed on the one being appended).
        bench/table1.py adds the transactions'."""
        def write(_f) -> None:
            times = [started, *stages, time.perf_counter()]
            durations = [b - a for a, b in zip(times, times[1:])]
            waited = max(0.0, appending - times[2]) if len(times) > 3 else 0.0
            if len(durations) > 2:
                durations[2] -= waited
            line = {"h": height, "n": len(batch), "bytes": size, "t": started,
                    "wait": round(started - min(p.queued for p in batch), 4),
                    "stages": [round(d, 4) for d in durations], "parent": round(waited, 4)}
            with open(TRACE, "a") as f:
                f.write(json.dumps(line) + "\n")
        attested.add_done_callback(write)

    def _endorsements(self, block: Block, parent: Block | None = None,
                      stored: concurrent.futures.Future | None = None) -> list[tuple[bytes, bytes]]:
        """_endorsements_now; of a block proposed on `parent`, the block being appended (each
        endorser endorses on the parent it endorsed: _rpc_endorse), asked again once that is
        stored (`stored`: the future of whether it is) when too few endorse on it."""
        if parent is None:
            return self._endorsements_now(block)
        try:
            return self._endorsements_now(block, parent)
        except TermQuotaExceeded:
            raise
        except ServiceUnavailable:
            if stored is None or not stored.result():
                raise
        return self._endorsements_now(block)

    def _endorsements_now(self, block: Block, parent: Block | None = None) -> list[tuple[bytes, bytes]]:
        """This peer's endorsement and the other peers', until the policy's threshold: the
        first answers count and the calls still under way are cancelled (a silent peer
        delayed every block by the calls' whole deadline). `parent`: the block being appended
        that `block` goes on."""
        own, refusals = self._own_endorsement(block, parent), []
        endorsements = [own] if self._counts(own, block, refusals, self.name) else []
        others = [n for n in self.addresses if n != self.name]
        request = block.to_bytes()
        needed = self.config.endorsement_threshold
        # (every peer gets the proposal: one that endorsed it commits it without validating again)
        calls = {self._channel(n).call_future("Endorse", request, 10.0): n for n in others}
        try:
            # its body, kept before the header is appended (ledger.cluster.follower, Bodies), while they endorse
            self.peer.store.keep_pending(block.height, block.digest, request, self.peer.height, block.header.term,
                                         self.follower.term)
            for call in concurrent.futures.as_completed(calls) if len(endorsements) < needed else ():
                try:
                    fp, sig = unpack(call.result(), 2, "endorsement")
                    if self._counts((fp, sig), block, refusals, calls[call]):
                        endorsements.append((fp, sig))
                except LedgerError as exc:
                    refusals.append(f"{calls[call]}: {exc}")
                if len(endorsements) >= needed:
                    break
        finally:
            for call in calls:
                call.cancel()
        if len(endorsements) < needed:
            # (ServiceUnavailable whatever they answered, a quota refusal too: only its own store's
            # quota makes this cutter resign - an endorser's word for it would let a dishonest
            # one depose an honest cutter, and an honest endorser lagging behind the cutter may
            # count heights the cutter filled; its count never exceeds the cutter's otherwise)
            raise ServiceUnavailable(f"{self.chain_id}: {len(endorsements)} of the {needed} endorsements the "
                                     f"policy needs ({'; '.join(refusals)})")
        return endorsements[:max(needed, 1)]

    def _own_endorsement(self, block: Block, parent: Block | None) -> tuple[bytes, bytes]:
        """This peer's endorsement of `block`, on `parent` while that is not applied."""
        if parent is not None:
            try:
                return self.peer._endorse_on(parent, block)
            except SpeculationRefused:
                raise
            except WrongHeight:
                pass  # (applied meanwhile: `block` is the next one)
        return self.peer._endorse(block)

    def _counts(self, endorsement: tuple[bytes, bytes], block: Block, refusals: list[str], name: str) -> bool:
        """Whether an endorsement counts for `block`: not one of a certificate the log's CRL
        entries revoke (every follower would skip the block; `refusals` gets why)."""
        try:
            self.follower.revocations.check_signer(endorsement[0], block.height)
            return True
        except LedgerError as exc:
            refusals.append(f"{name}: {exc}")
            return False

    def _revoked_by_the_log(self, pendings: list[_Pending]) -> dict[int, LedgerError]:
        """id -> RevokedCertificate of each pending transaction whose submitter's certificate
        the log's CRL entries revoke (forgotten: no block carries it)."""
        revoked: dict[int, LedgerError] = {}
        for p in pendings:
            try:
                self.follower.revocations.check_signer(p.tx.submitter)
            except LedgerError as exc:
                self.peer.forget(p.tx)
                revoked[id(p)] = exc
        return revoked

    def _skipped_by_all(self, block: Block) -> bool:
        """Whether the CRL entries the log ordered so far revoke a signer of `block`."""
        try:
            self.follower.revocations.check(block)
            return False
        except LedgerError:
            return True

    def _append_next(self, slot: int, height: int, block: Block, leadership: Leadership) -> int | None:
        """Append `block`, of height `height`, at `slot` (the cutter proposes on what it followed,
        without reading etcd first: the append's fence and empty-slot check are the guard). When
        entries someone wrote meanwhile fill the slot yet leave the chain at `height` (junk,
        blocks every peer skips), append at the next free slot instead. The slot it holds, or
        None when the chain moved on or this peer lost the election."""
        for _ in range(APPEND_ATTEMPTS):
            if self._append(slot, block, leadership):
                return slot
            now_height, next_slot = self.follower.sync_position()
            if now_height != height or next_slot <= slot or self._skipped_by_all(block) or \
                    self.follower.term != block.header.term:  # (a term entry came first: every follower skips it)
                return None
            slot = next_slot
        return None

    def _append(self, slot: int, block: Block, leadership: Leadership) -> bool:
        """Append to etcd; when etcd's answer is lost (a member died mid-request), read the
        log back until it answers: the block is appended iff etcd holds it at `slot`."""
        data = block.signed.to_bytes()  # (the body travels peer to peer: ledger.cluster.follower, Bodies)
        try:
            return self.log.append(slot, data, leadership, self.name)
        except ServiceUnavailable:
            deadline = time.monotonic() + SUBMIT_TIMEOUT
            while time.monotonic() < deadline and not self._stop.is_set():
                try:
                    held = self.log.blocks(slot, 1)
                    return bool(held) and held[0] == (slot, data)
                except ServiceUnavailable:
                    time.sleep(0.2)
            raise

    def _trim_soon(self, leadership: Leadership) -> None:
        """Trim etcd's log in the background once trim_blocks blocks lie above its checkpoint.
        The checkpoint's height as the last _trim read it decides without reading etcd (that
        read cost four etcd requests and the attestations' signature checks every block); it is
        read again at least every TRIM_RECHECK_SECONDS, so one someone rewrote is replaced soon."""
        seen_height, seen_at = self._trim_seen
        if self.peer.height - 1 - seen_height < self.trim_blocks and \
                time.monotonic() - seen_at < TRIM_RECHECK_SECONDS:
            return
        if self.trim_blocks > 0 and self._trimming.acquire(blocking=False):
            def run():
                try:
                    self._trim(leadership)
                except LedgerError as exc:
                    log.warning("%s: trimming %s: %s", self.name, self.chain_id, exc)
                finally:
                    self._trimming.release()
            threading.Thread(target=run, name=f"trim-{self.name}", daemon=True).start()

    def _trim(self, leadership: Leadership) -> bool:
        """Replace the log's prefix by a checkpoint at this peer's latest block, attested by a
        quorum of the chain's peers that store it, took it from the same slot and took the
        same CRL entries before it, which the checkpoint carries (ledger.cluster.follower)."""
        previous = self.log.checkpoint()
        current = self.follower.checkpoint()  # junk, or one no follower honours, is replaced
        done = current.height if current else -1
        self._trim_seen = (done, time.monotonic())
        height, _, slot = self.follower.sync_head()  # the entry of block height-1 stays (it vouches for the slot)
        if slot is None or height - 1 - done < self.trim_blocks:
            return False
        term, cutter = self.follower.term_at(height - 1) or (None, "")
        if term is None:
            return False
        unsigned = Checkpoint(height - 1, self.peer.digest(height - 1), slot, (),
                              self.follower.revocations.listed(height - 1), term, cutter)
        if len(unsigned.to_bytes()) > MAX_BLOCK_BYTES - BLOCK_OVERHEAD:
            raise LedgerError(f"the revocation lists ordered in {self.chain_id}'s log do not fit in a checkpoint: "
                              "the log is not trimmed")
        attestations = self._attestations(unsigned.height, unsigned.digest, len(self.addresses), unsigned)
        checkpoint = dataclasses.replace(unsigned, attestations=tuple(attestations))
        checkpoint.check(self.deployment, self.chain_id, self.follower.quorum)
        trimmed = self.log.trim(checkpoint.to_bytes(), previous, slot, leadership, self.name)
        if trimmed:
            self._trim_seen = (height - 1, time.monotonic())
            log.info("%s trimmed %s's log below slot %d (blocks 0..%d attested by %d peers)",
                     self.name, self.chain_id, slot, height - 1, len(attestations))
        return trimmed

    def _attestations(self, height: int, digest: bytes, wanted: int,
                      checkpoint: Checkpoint | None = None) -> list[tuple[bytes, bytes]]:
        """This peer's attestation that it stores block (height, digest) and the other peers'
        (Stored; for `checkpoint`, unsigned, its attestations: AttestCheckpoint), each checked
        alone (one peer's bad answer must not void the others'), until `wanted` or every peer
        answered."""
        if checkpoint is None:
            method, request, message = "Stored", pack(b"%d" % height, digest), stored_message(self.chain_id, height,
                                                                                                digest)
        else:
            method, message = "AttestCheckpoint", checkpoint.message(self.chain_id)
            request = pack(b"%d" % height, digest, b"%d" % checkpoint.slot, revocations_digest(checkpoint.revocations),
                           b"%d" % checkpoint.term, checkpoint.cutter.encode())
        attestations = [(self.peer.identity.fingerprint, self.peer.identity.sign(message))]
        others = [n for n in self.addresses if n != self.name]
        calls = {self._channel(n).call_future(method, request, CONFIRM_WAIT + 2): n for n in others}
        try:
            for call in concurrent.futures.as_completed(calls) if len(attestations) < wanted else ():
                try:
                    attestations.append(checked_attestation(self.deployment, self.chain_id, height, digest,
                                                            calls[call], call.result(), message))
                except LedgerError:
                    pass
                if len(attestations) >= wanted:
                    break
        finally:
            for call in calls:
                call.cancel()  # (the slower peers' answers are not waited for)
        return attestations

    def _attested(self, height: int, digest: bytes) -> concurrent.futures.Future:
        """The attestations of the policy's threshold of peers (_attestations) for block
        (height, digest), gathered once per block for every submitter (a stream relays them:
        the submitter checks each signature, follower.check_attested, instead of asking every
        peer itself)."""
        key = (height, digest)
        with self._attesting_lock:
            future = self._attesting.get(key)
            if future is None:
                if len(self._attesting) > 64:
                    self._attesting.clear()
                future = self._attesting[key] = self._attest_pool.submit(
                    self._attestations, height, digest, self.config.endorsement_threshold)
        return future

    def _channel(self, name: str) -> Channel:
        return self._channel_to(name, self.chain_id)

    def _channel_to(self, name: str, chain_id: str) -> Channel:
        """The channel to peer `name` of `chain_id` (one per peer, made on first use, under a
        lock: two threads' first calls must not both open one and leave the loser open)."""
        channel = self._channels.get(name)
        if channel is None:
            with self._channels_lock:
                channel = self._channels.get(name)
                if channel is None:
                    channel = self._channels[name] = Channel(peer_addresses(self.deployment_info, chain_id)[name],
                                                             name, self.credentials)
        return channel

    # --- the methods ------------------------------------------------------------------

    def _decode_submission(self, request: bytes) -> list[Transaction]:
        txs = []
        for data in unpack(request, what="submission"):
            if len(data) > MAX_TX_BYTES:
                raise TransactionTooLarge(f"a transaction of {len(data)} bytes exceeds the block limit of "
                                          f"{MAX_TX_BYTES}: put its bulk in the object store")
            tx = Transaction.from_bytes(data)
            if tx.chain_id != self.chain_id:
                raise ConfigurationError(f"{self.name} serves {self.chain_id}, not {tx.chain_id}")
            txs.append(tx)
        return txs

    def _rpc_submit(self, caller: Caller, request: bytes) -> bytes:
        """Transactions (canonical bytes) -> one outcome each (receipt or error), once their
        blocks are in etcd and stored here."""
        txs = self._decode_submission(request)
        if self._leadership is None:
            cutter = self.log.cutter()
            if cutter is None or cutter == self.name or cutter not in self.addresses:
                raise ServiceUnavailable(f"{self.chain_id} has no block cutter now: submit again shortly")
            return self._vouched(self._channel(cutter).call("Forward", request, caller.wait_bound(SUBMIT_TIMEOUT)))
        return self._order(txs, caller.wait_bound(SUBMIT_TIMEOUT), caller.ended)

    def _vouched(self, answer: bytes) -> bytes:
        """The cutter's outcomes, each receipt kept only if this peer stores its block (it
        followed it from etcd): a peer answers for what it holds, not for what it was told."""
        outcomes = []
        for outcome in unpack(answer, what="outcomes"):
            kind, *rest = unpack(outcome, what="outcome")
            if kind == b"R":
                receipt = decode_receipt(rest[0])
                if not (self.follower.wait_for(receipt.height)
                        and self.peer.digest(receipt.height) == receipt.block_digest):
                    outcome = encode_outcome(ServiceUnavailable(
                        f"{self.name} does not store the block {receipt.height} the cutter answers with: submit again"))
            outcomes.append(outcome)
        return pack(*outcomes)

    def _rpc_forward(self, caller: Caller, request: bytes) -> bytes:
        txs = self._decode_submission(request)
        if self._leadership is None:
            raise ServiceUnavailable(f"{self.name} is not the block cutter of {self.chain_id}: submit again")
        return self._order(txs, caller.wait_bound(SUBMIT_TIMEOUT), caller.ended)

    def _order(self, txs: list[Transaction], wait: float = SUBMIT_TIMEOUT,
               ended: threading.Event | None = None) -> bytes:
        """The outcomes of `txs` once ordered, each a ServiceUnavailable when not ordered
        within `wait` seconds (the caller's deadline: past it nobody receives the answer) or
        once `ended` is set (the caller cancelled: the thread is not held for nobody)."""
        pendings = self._enqueue(txs)
        answers: list[Receipt | LedgerError] = []
        deadline = time.monotonic() + wait
        for p in pendings:
            try:
                answers.append(answer_within(p.future, deadline, ended))
            except LedgerError as exc:
                answers.append(exc)
            except concurrent.futures.TimeoutError:
                answers.append(ServiceUnavailable(
                    f"transaction {p.tx.tx_id.hex()[:16]} not ordered within {wait:.1f} s (is etcd's quorum "
                    "lost?): submit again"))
        return pack(*self._outcomes(pendings, answers))

    def _enqueue(self, txs: list[Transaction]) -> list[_Pending]:
        """Admit `txs` and queue them for the cutter; one _Pending each (an admission error
        is its answer at once)."""
        self._know_signers(txs)
        pendings = []
        for tx in txs:
            p = _Pending(tx, concurrent.futures.Future(), queued=time.perf_counter())
            pendings.append(p)
            try:
                self.follower.revocations.check_signer(tx.submitter)  # (its block would be skipped by all)
                self.peer._admit(tx)  # (its id on the chain already: ReplayedTransaction)
                try:
                    self._check_reported(tx)
                except LedgerError:
                    self.peer.forget(tx)
                    raise
                self._queue.put(p)
            except LedgerError as exc:
                # one on the chain is answered from the chain whatever its admission says now
                # (idempotent resubmission: the cutter gives its receipt, or ReplayedTransaction
                # to other bytes under its id); located only when admission refused it
                if self.peer.locate(tx.tx_id) is not None:
                    self._queue.put(p)
                else:
                    p.future.set_exception(exc)
        return pendings

    def _outcomes(self, pendings: list[_Pending], answers: list[Receipt | LedgerError]) -> list[bytes]:
        """encode_outcome of each answer, a receipt with its block's proof."""
        proofs: dict[tuple[int, int], tuple[SignedHeader, list[bytes]]] = {
            (a.height, a.position): p.proof for p, a in zip(pendings, answers) if isinstance(a, Receipt) and p.proof}
        for height in {a.height for a in answers if isinstance(a, Receipt) and (a.height, a.position) not in proofs}:
            # (on the chain before: the store's block, one Merkle tree for all its receipts)
            block = self.peer.block(height)
            positions = sorted({a.position for a in answers if isinstance(a, Receipt) and a.height == height})
            proofs.update(zip(((height, i) for i in positions),
                              ((block.signed, path) for path in merkle_paths(block.leaves, positions))))
        # height -> its signed header's encoding, once per block, not per receipt (SignedHeader
        # caches nothing: checks.decoded re-reads an object from its own encoding)
        encoded: dict[int, bytes] = {}
        out = []
        for a in answers:
            if isinstance(a, Receipt):
                signed, path = proofs[a.height, a.position]
                header = encoded.get(a.height)
                if header is None:
                    header = encoded[a.height] = signed.to_bytes()
                out.append(encode_outcome(a, header, path))
            else:
                out.append(encode_outcome(a))
        return out

    def _rpc_submit_stream(self, caller: Caller, requests):
        """SubmitStream: Submit over one stream. Each request is a submission (transactions, as
        Submit takes them), numbered in the stream from 0; each answer packs (number, outcome)
        pairs, sent as soon as their blocks are in etcd and stored here (a receipt per
        transaction, as Submit's). Only the block cutter takes a stream (another peer answers
        ServiceUnavailable: submit to the cutter). At most MAX_STREAM_PENDING of a stream's
        transactions wait for their block: beyond that the stream is not read until answers go
        out (gRPC's flow control holds the sender), so a caller queues no more than its
        streams' bound (Method.per_caller) times that."""
        done: queue.Queue = queue.Queue()  # (number, pending) as each is answered; then how reading ended
        room = threading.Semaphore(MAX_STREAM_PENDING)
        ended = threading.Event()  # the stream is over (either side): the reader stops waiting
        waiting = [0]  # transactions queued and not yet answered (the reader adds, the answers take)
        lock = threading.Lock()

        def read() -> None:
            sequence, end = 0, None
            try:
                for request in requests:
                    if self._leadership is None:
                        raise ServiceUnavailable(f"{self.name} is not the block cutter of {self.chain_id}: "
                                                 "submit to the cutter")
                    txs = self._decode_submission(request)
                    if len(txs) > MAX_STREAM_PENDING:
                        raise ArgumentError(f"a submission of {len(txs)} transactions; a stream takes at most "
                                            f"{MAX_STREAM_PENDING} at once")
                    for _ in txs:
                        while not room.acquire(timeout=0.5):
                            if ended.is_set() or self._stop.is_set():
                                return
                    try:
                        pendings = self._enqueue(txs)
                    except BaseException:
                        for _ in txs:
                            room.release()
                        raise
                    with lock:  # (counted before any answer can come back)
                        waiting[0] += len(pendings)
                    for p in pendings:
                        p.future.add_done_callback(lambda _f, p=p, n=sequence: done.put((n, p)))
                        sequence += 1
            except LedgerError as exc:
                end = exc
            except Exception:  # the caller went away (grpc's error): nothing to tell it
                pass
            finally:
                done.put(end)

        threading.Thread(target=read, name=f"stream-{self.name}", daemon=True).start()
        try:
            finished, end = False, None
            while not finished or waiting[0] > 0:
                items = [next_while_active(done, caller)]
                # (one wait per message, however many blocks it answers: past STREAM_STALL the
                # client gives the stream up)
                deadline = time.monotonic() + CONFIRM_WAIT + 2
                if isinstance(items[0], tuple):
                    self._await_attested(items[0][1], deadline)  # (its block's other receipts come meanwhile)
                while True:
                    try:
                        items.append(done.get_nowait())
                    except queue.Empty:
                        break
                answered = [i for i in items if isinstance(i, tuple)]
                for item in items:
                    if not isinstance(item, tuple):
                        finished, end = True, item
                if answered:
                    pendings = [p for _, p in answered]
                    answers = [self._answer_of(p) for p in pendings]
                    outcomes = self._outcomes(pendings, answers)
                    yield pack(pack(*(pack(b"%d" % n, o) for (n, _), o in zip(answered, outcomes))),
                               self._relayed_attestations({(a.height, a.block_digest) for a in answers
                                                           if isinstance(a, Receipt)}, deadline))
                    with lock:
                        waiting[0] -= len(answered)
                    for _ in answered:
                        room.release()
            if end is not None:
                raise end
        finally:
            ended.set()

    def _relayed_attestations(self, blocks, deadline: float) -> bytes:
        """pack((height, digest, attestations...) per block that the policy's threshold of
        peers attest by `deadline` (time.monotonic()); a block they do not is left out (its
        submitters ask them)."""
        out = []
        for height, digest in blocks:
            try:
                attestations = self._attested(height, digest).result(max(0.0, deadline - time.monotonic()))
            except (concurrent.futures.TimeoutError, LedgerError):
                continue
            if len(attestations) >= self.config.endorsement_threshold:
                out.append(pack(b"%d" % height, digest, *(pack(fp, sig) for fp, sig in attestations)))
        return pack(*out)

    def _await_attested(self, p: _Pending, deadline: float) -> None:
        """Wait until the attestations of `p`'s block are gathered (_attested), at most until
        `deadline` (time.monotonic()), so that one stream message answers every receipt of the
        block the cutter set meanwhile, with them (one message per block and stream, not one
        per burst of the cut's loop)."""
        answer = self._answer_of(p)
        if isinstance(answer, Receipt):
            try:
                self._attested(answer.height, answer.block_digest).result(max(0.0, deadline - time.monotonic()))
            except (concurrent.futures.TimeoutError, LedgerError):
                pass  # (_relayed_attestations leaves the block out: its submitters ask the peers)

    @staticmethod
    def _answer_of(p: _Pending) -> Receipt | LedgerError:
        exc = p.future.exception()
        if exc is None:
            return p.future.result()
        return exc if isinstance(exc, LedgerError) else LedgerError(f"internal error: {exc!r}")

    def _rpc_endorse(self, caller: Caller, request: bytes) -> bytes:
        block = Block.from_bytes(request)
        # Peers commit etcd's blocks judging certificates at the block's own time (old blocks
        # stay valid on catch-up): an endorser signs only a block dated now, so a cutter cannot
        # backdate one to revive a certificate (refused before any other work; Peer signs by it).
        check_fresh(block.header, self.name)
        term = self._check_term(caller, block.header.term)
        self._know_signers(block.transactions)
        self.follower.revocations.check(block)  # (every follower would skip it: sign nothing of it)
        for tx in block.transactions:
            self._check_reported(tx)
        # The cutter asks for block h+1 as soon as etcd took h: an endorser that has not read h
        # yet endorses on the block h it endorsed (Peer.endorse_on: worthless unless h is the
        # ordered block), instead of reading etcd first.
        parent = self.follower.endorsed_block(block.header.previous)
        endorsement = None
        if parent is not None and parent.height + 1 == block.height == self.peer.height + 1:
            try:
                endorsement = self.peer._endorse_on(parent, block)
                self.follower.endorsed_ahead += 1
            except WrongHeight:
                pass  # applied meanwhile, or it carries statuses: read etcd as below
        if endorsement is None:
            height = self.peer.height  # etcd is read only when behind (a stale block is one every follower skips)
            if height < block.height:
                height = self.sync()
            if height != block.height:
                raise ServiceUnavailable(f"{self.name} is at height {self.peer.height}, the block at {block.height}")
            endorsement = self.peer._endorse(block)  # decoded from the request
        # signed only once its body is on disk: an ordered header's body is then with an honest
        # endorser (ledger.cluster.follower, Bodies)
        # and kept until its height is filled or the log ends its term (Terms): past the term's
        # quota TermQuotaExceeded, nothing signed
        self.peer.store.keep_pending(block.height, block.digest, request, self.peer.height, term, self.follower.term)
        self.follower.endorsed(block)
        return pack(*endorsement)

    def _check_term(self, caller: Caller | None, term: int) -> int:
        """`term` if a proposal of it may be endorsed now: the log's current term (read again
        when the proposal's is ahead of what this peer read), proposed by the peer its term
        entry names (ledger.cluster.follower, Terms; term 0, before any term entry, names none).
        A proposal of a term the log ended would be skipped by every follower, and one of
        another peer than the term's cutter would spend that cutter's quota."""
        if term > self.follower.term:
            self.sync()
        if term != self.follower.term:
            raise ServiceUnavailable(f"{self.name} endorses proposals of {self.chain_id}'s term {self.follower.term}, "
                                     f"not of term {term}")
        if term and (caller is None or caller.name != self.follower.term_cutter):
            raise AccessDenied(f"term {term} of {self.chain_id} is {self.follower.term_cutter}'s to propose in, "
                               f"not {caller.name if caller else 'this caller'}'s")
        return term

    def _rpc_register(self, caller: Caller, request: bytes) -> bytes:
        """A member hands in a ledger certificate (its own, or a device's whose readings it
        relays) so every peer can resolve its signatures; it is published in this peer's
        directory of etcd's registry for the others (ledger.cluster.etcdauth). Certificates are public: what counts is that the CA signed it (add_certificate
        checks) and that it is not revoked."""
        try:
            cert = x509.load_pem_x509_certificate(request)
        except ValueError as exc:
            raise UnknownCertificate(f"unreadable certificate: {exc}") from None
        known = {m.fingerprint for m in self.trust.members()}
        member = self.trust.add_certificate(cert)
        self.trust.resolve(member.fingerprint)  # not revoked
        if member.fingerprint not in known:
            self._kept.keep([cert])
        # the certificate's own encoding, not the request (whatever follows its PEM block)
        self.log.publish_certificate(self.name, member.fingerprint, cert.public_bytes(serialization.Encoding.PEM))
        return member.fingerprint

    def _rpc_certificate(self, caller: Caller, request: bytes) -> bytes:
        """The ledger certificate (PEM) of fingerprint `request`, as this peer admitted it
        (public; the caller checks the CA's signature: admit_certificates)."""
        for member in self.trust.members():
            if member.fingerprint == request:
                return member.certificate.public_bytes(serialization.Encoding.PEM)
        raise NotFound(f"{self.name} knows no certificate {bytes(request).hex()[:16]}")

    def _rpc_status(self, caller: Caller, request: bytes) -> bytes:
        latest = self.peer.latest()
        return json.dumps({"name": self.name, "chain": self.chain_id, "height": self.peer.height,
                           "latest_digest": latest.header.digest.hex() if latest else None,
                           "cutter": self._leadership is not None, "refused": self.refused,
                           "layer_violation": str(self.layer_violation) if self.layer_violation else None,
                           "validators": self.validators,
                           "start": self.catch_up, "log": self.follower.status()}).encode()

    def _rpc_block(self, caller: Caller, request: bytes) -> bytes:
        return self.peer.block(number(request, "height")).to_bytes()

    def _rpc_body(self, caller: Caller, request: bytes) -> bytes:
        """The blocks (their encodings) of the block ids (height, digest) of `request`, at most
        BODIES_AHEAD, in order, each a proposal this peer endorsed or proposed (kept:
        PeerStore.keep_pending) or the block it stores there, b"" for one it holds neither
        way; the answer stops once it holds BODIES_BYTES. The caller checks each against the
        ordered header it holds (follower.body_of)."""
        ids = unpack(request, what="body request")
        if not 0 < len(ids) <= BODIES_AHEAD:
            raise ArgumentError(f"a body request names 1 to {BODIES_AHEAD} blocks")
        answers, size = [], 0
        for height, digest in map(decode_block_id, ids):
            if size >= BODIES_BYTES:
                break
            answers.append(self._held_body(height, digest))
            size += len(answers[-1])
        return pack(*answers)

    def _held_body(self, height: int, digest: bytes) -> bytes:
        """The encoding of block (height, digest) as this peer holds it (_rpc_body), else b""."""
        if height < self.peer.height and self.peer.digest(height) == digest:
            return bytes(self.peer.store.get(height) or b"")  # (the bytes it checked: no decoding)
        endorsed = self.follower.endorsed_block(digest)  # (a peer catching up asks for stored ones: those first)
        if endorsed is not None:
            return endorsed.to_bytes()
        return self.peer.store.pending(digest) or b""

    def _rpc_locate(self, caller: Caller, request: bytes) -> bytes:
        return encode_receipt(self.peer.receipt(request))

    def _rpc_locate_many(self, caller: Caller, request: bytes) -> bytes:
        """Locate of up to MAX_LOCATES ids (packed): a receipt per id, empty for one this peer
        does not hold (a malformed id is on no chain)."""
        tx_ids = unpack(request, what="LocateMany request")
        if len(tx_ids) > MAX_LOCATES:
            raise ArgumentError(f"LocateMany takes at most {MAX_LOCATES} ids, not {len(tx_ids)}")
        out = []
        for tx_id in tx_ids:
            try:
                out.append(encode_receipt(self.peer.receipt(bytes(tx_id))))
            except NotFound:
                out.append(b"")
        return pack(*out)

    def _rpc_latest(self, caller: Caller, request: bytes) -> bytes:
        """The latest signed header (empty on an empty chain)."""
        latest = self.peer.latest()
        return latest.to_bytes() if latest else b""

    def _rpc_header(self, caller: Caller, request: bytes) -> bytes:
        return self.peer.signed_header(number(request, "height")).to_bytes()

    def _rpc_stored(self, caller: Caller, request: bytes) -> bytes:
        """This peer's signed attestation that it stores block (height, digest), once it
        followed it from etcd (it waits a few seconds for it): what a receipt's confirmation
        and the log's checkpoint are made of (ledger.cluster.follower)."""
        height, digest = decode_block_id(request)
        # (no longer than the caller waits for the answer: a thread must not wait for nobody)
        if height >= self.peer.height + MAX_AHEAD or not self.follower.wait_for(
                height, caller.wait_bound(CONFIRM_WAIT)):
            raise ServiceUnavailable(f"{self.name} does not store block {checks.shown(height)} of {self.chain_id} (yet)")
        if self.peer.digest(height) != digest:
            raise UnprovenAnswer(f"{self.name} stores another block {height} of {self.chain_id}")
        identity = self.peer.identity
        return pack(identity.fingerprint, identity.sign(stored_message(self.chain_id, height, digest)))

    def _rpc_attest_checkpoint(self, caller: Caller, request: bytes) -> bytes:
        """This peer's signed attestation for a checkpoint (follower.checkpoint_message) at block
        (height, digest) taken from `slot`, the CRL entries before it being those of
        `revocations` (ordered_crl.revocations_digest): given only once it followed that
        block, from that slot, and took exactly those entries before it (it waits a few seconds
        for the block, as Stored). What the cutter's trim is made of."""
        fields = unpack(request, 6, "checkpoint attestation request")
        height, digest = number(fields[0], "height"), bytes(fields[1])
        slot, revocations = number(fields[2], "slot"), bytes(fields[3])
        term, cutter = number(fields[4], "term"), text_field(fields[5], "cutter")
        if height >= self.peer.height + MAX_AHEAD or not self.follower.wait_for(
                height, caller.wait_bound(CONFIRM_WAIT)):
            raise ServiceUnavailable(f"{self.name} does not store block {height} of {self.chain_id} (yet)")
        if self.peer.digest(height) != digest or self.follower.slot_of(height) != slot:
            raise UnprovenAnswer(f"{self.name} took another block {height} of {self.chain_id}, or from another slot")
        if revocations_digest(self.follower.revocations.listed(height)) != revocations:
            raise UnprovenAnswer(f"{self.name} took other revocation lists before block {height} of {self.chain_id}")
        if self.follower.term_at(height) != (term, cutter):
            raise UnprovenAnswer(f"{self.name} read another term of {self.chain_id}'s log at block {height}")
        identity = self.peer.identity
        return pack(identity.fingerprint, identity.sign(checkpoint_message(self.chain_id, height, digest, slot,
                                                                           revocations, term, cutter)))

    def _rpc_statuses(self, caller: Caller, request: bytes) -> bytes:
        """The committed status records this chain holds of chain `request`."""
        return pack(*(pack(r.source_chain.encode(), b"%d" % r.source_height, b"%d" % r.height, r.tx_id,
                           b"%x" % r.source_element, r.source_digest)
                      for r in self.peer.statuses(text_field(request, "chain id"))))

    def _rpc_proofs(self, caller: Caller, request: bytes) -> bytes:
        """Inclusion proofs of transactions against the accumulator after block `against`."""
        against, *ids = unpack(request, what="proof request")
        if len(ids) > MAX_PROOFS:  # each costs a witness: one caller must not buy unbounded work
            raise ArgumentError(f"a proof request asks {len(ids)} proofs; at most {MAX_PROOFS} a call")
        proofs = self.peer.inclusion_proofs(ids, number(against, "against")) if ids else []
        return pack(*(p.to_bytes(self.deployment.params) for p in proofs))

    # --- interlocking ------------------------------------------------------------------

    def _interlock_loop(self) -> None:
        """The cutter's interlocking duty every `interlock_seconds`: a sub-chain's cutter
        reports its chain to the main chain (Type-II), the main chain's cutter reports the main
        chain to every sub-chain (Type-III). Each status is signed by a peer of the chain it
        reports, as the rules require."""
        seconds = float(self.deployment_info.get("interlock_seconds", 2.0))
        while seconds > 0 and not self._stop.wait(seconds):
            self._check_layers_once()
            if self._leadership is not None:
                try:
                    self._interlock()
                except LedgerError as exc:
                    log.warning("%s: interlocking: %s", self.name, exc)

    def check_layers(self) -> None:
        """ledger.anchors.check_chain of this peer's chain against the other layer's anchors
        of it: a sub-chain against the Type-II records the main chain holds of it, the main
        chain against the Type-III records every sub-chain holds. Run on start and before every
        interlock, as the embedded Network does. A rollback or fork is kept (status
        "layer_violation") and raised by every later check, so this peer interlocks no more;
        chains that do not answer now are checked next time."""
        if self.layer_violation is not None:
            raise self.layer_violation
        main_id = self.deployment.main_chain_id
        holders = [main_id] if self.chain_id != main_id else [c for c in self.deployment.chains if c != main_id]
        anchors, answered = [], 0
        for holder in holders:
            try:
                anchors += anchors_from(self._remote_statuses(holder, self.chain_id), holder,
                                        "Type-II" if holder == main_id else "Type-III")
                answered += 1
            except LedgerError as exc:  # silent, or no peer proved its records: checked next time
                log.info("%s: layer check: %s", self.name, exc)
        self.sync()  # an anchor beyond this peer's height is a rollback only once etcd lacks it too
        # an anchor this chain held once it holds for good (blocks below the height never
        # change): only the new ones are read (each round read every block anchored since start)
        fresh = [a for a in anchors if (a.height, a.digest) not in self._anchors_held]
        try:
            check_chain([memory_copy(self.peer)], fresh)
        except ChainIntegrityError as exc:
            self.layer_violation = exc
            log.error("%s: %s", self.name, exc)
            raise
        if len(self._anchors_held) > MAX_ANCHORS_HELD:
            self._anchors_held.clear()
        self._anchors_held.update((a.height, a.digest) for a in fresh)
        self._layers_checked = self._layers_checked or answered == len(holders)

    def _check_layers_once(self) -> None:
        """The start-up layer check, until every holder of anchors answered once."""
        if not self._layers_checked and self.layer_violation is None:
            try:
                self.check_layers()
            except ServiceUnavailable:
                pass
            except ChainIntegrityError:
                pass  # kept in self.layer_violation: status shows it, interlocking is refused

    def _rpc_interlock(self, caller: Caller, request: bytes) -> bytes:
        if self._leadership is None:
            raise ServiceUnavailable(f"{self.name} is not the block cutter of {self.chain_id}")
        return pack(*(encode_receipt(r) for r in self._interlock()))

    def _interlock(self) -> list[Receipt]:
        """One interlocking round; ServiceUnavailable at once while another runs (callers
        waiting on the round's lock each held a server thread, up to a caller's bound)."""
        if not self._interlock_lock.acquire(blocking=False):
            raise ServiceUnavailable(f"{self.name}: an interlocking round is under way: ask again shortly")
        try:
            return self._interlock_round()
        finally:
            self._interlock_lock.release()

    def _interlock_round(self) -> list[Receipt]:
        self.check_layers()
        main_id = self.deployment.main_chain_id
        if self.chain_id != main_id:
            latest = self.peer.latest()
            anchored = self._remote_statuses(main_id, self.chain_id)
            last = anchored[-1].source_height if anchored else -1
            if latest is None or self.peer.last_record_height <= last:
                return []
            witness = b""
            if anchored:  # the block reported last time is inside the new accumulator
                witness = edgeacc.encode_element(self.deployment.params,
                                                 self.peer.block_witness(last, latest.header.height))
            return [self._submit_status(TxKind.SUBCHAIN_STATUS, main_id,
                                        SubchainStatus(latest, witness).to_bytes())]
        latest = self.peer.latest()
        receipts = []
        for c in self.deployment.chains.values():
            if c.chain_id == main_id or latest is None:
                continue
            seen = self._remote_statuses(c.chain_id, main_id)
            if not seen or seen[-1].source_height < latest.header.height:
                receipts.append(self._submit_status(TxKind.MAIN_STATUS, c.chain_id, latest.to_bytes()))
        return receipts

    def _check_reported(self, tx: Transaction) -> None:
        """UnprovenAnswer (or the check's error) unless the block a status transaction reports
        is its chain's ordered block at that height: endorsed, and attested by the policy's
        threshold of that chain's peers (ChainReader.confirmed). An endorsed header alone shows
        only that a quorum validated it: a dishonest cutter of the reported chain can hold an
        endorsed twin it never appended, and a Type-II (or Type-III) of the twin committed here
        left every honest peer of that chain at a layer_violation, interlocking no more. Run
        when this peer admits a submission and before it endorses a block: no honest endorser
        signs such a status, so it never gets the policy's endorsements."""
        if tx.kind == TxKind.RECORD:
            return
        signed = reported_header(tx)
        source = signed.header.chain_id
        if source == self.chain_id or source not in self.deployment.chains:
            return  # the chain rules refuse it (WrongChain)
        reader = self.reader(source)
        reader.confirmed(reader.peers[0], signed, signed.header.height)

    def _remote_statuses(self, chain_id: str, source: str) -> list[StatusRecord]:
        """The records chain `chain_id` holds of `source`, each proven by its ordered block."""
        return self.reader(chain_id).statuses(source)

    def reader(self, chain_id: str) -> ChainReader:
        """Checked reads of another chain from its peers (ledger.cluster.reads)."""
        reader = self._readers.get(chain_id)
        if reader is None:
            reader = self._readers.setdefault(chain_id, ChainReader(
                self.deployment, chain_id, list(peer_addresses(self.deployment_info, chain_id)),
                lambda name, method, request, timeout: self._channel_to(name, chain_id).call(method, request, timeout),
                lambda name, method, request, timeout: self._channel_to(name, chain_id).call_future(
                    method, request, timeout)))
        return reader

    def _submit_status(self, kind: TxKind, chain_id: str, payload: bytes) -> Receipt:
        tx = Transaction.create(self.peer.identity, kind, chain_id, payload, timestamp_ms=now_ms(),
                                nonce=next(self._nonce))
        answering, answer = self._call_chain_named(chain_id, "Submit", pack(tx.to_bytes()), SUBMIT_TIMEOUT)
        kind_, *rest = unpack(unpack(answer, 1)[0])
        if kind_ != b"R":
            raise remote_error(rest[0].decode(), rest[1].decode())
        receipt = proven_receipt(self.deployment, tx, rest, self._verified_headers)
        confirm_blocks(self.deployment, chain_id, [(receipt.height, receipt.block_digest)], answering,
                       list(peer_addresses(self.deployment_info, chain_id)),
                       lambda name, request, timeout: self._channel_to(name, chain_id).call_future(
                           "Stored", request, timeout))
        return receipt

    def _call_chain_named(self, chain_id: str, method: str, request: bytes, timeout: float = 10.0) -> tuple[str, bytes]:
        """(name, answer) of the first peer of `chain_id` that answers `method`."""
        failures = []
        for name in peer_addresses(self.deployment_info, chain_id):
            try:
                return name, self._channel_to(name, chain_id).call(method, request, timeout)
            except ServiceUnavailable as exc:
                failures.append(str(exc))
        raise ServiceUnavailable(f"no peer of {chain_id} answers: {'; '.join(failures)}"[:1000])

    def stop(self) -> None:
        self._stop.set()
        if self._leadership is not None:
            self.log.resign(self._leadership)
        self.server.stop(1).wait()
        for t in self._threads:
            t.join(5)
        self._attest_pool.shutdown(wait=False, cancel_futures=True)
        for ch in self._channels.values():
            ch.close()
        self.log.close()
        self.peer.close()


def build(cls, config: dict, base: Path, where, **options):
    """cls(config, base, **options), a missing or malformed setting being a ConfigurationError
    naming `where`."""
    try:
        return cls(config, base, **options)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        if isinstance(exc, LedgerError):
            raise
        raise ConfigurationError(f"{where}: a setting is missing or malformed: {exc!r}") from None


def run_node(config_path: str | Path, repair: bool = False) -> None:
    """`edgeacc node CONFIG [--repair]`: run until SIGTERM or SIGINT (Node: `repair`)."""
    config_path = checks.path(config_path, "config")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    node = build(Node, read_json(config_path, "node configuration"), config_path.parent, config_path,
                 repair=bool(repair))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    node.stop()
