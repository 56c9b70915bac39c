"""Following a chain's ordered log (ledger.cluster.ordering), attesting what a peer stored, and
catching up from other peers below a trimmed checkpoint.

Who may be dishonest: any peer of the chain (etcd lets exactly those write the chain's log:
ledger.cluster.etcdauth), any block cutter, and fewer than the chain's endorsement threshold `t` of its peers (with `t` dishonest
peers the policy itself is void: they can endorse anything). etcd is trusted only to keep the
entries it acknowledged, in one order, while a Raft majority lives.

The chain is a function of the log. A peer reads the log's entries in slot order and stores an
entry exactly when it validates as the next block of the chain the earlier entries built
(Peer._commit: height, link, Merkle root, accumulator, transactions, endorsements); every
other entry - junk, a bad endorsement, a block on another parent, a second block for a height
already filled, a block a certificate signed that a CRL entry before it revokes, a header of
another term than the log's (Terms) - is skipped.
The rule reads nothing but the entries and the CA's public key (no clock, no crl.pem), so every
honest peer builds the same chain, whenever it reads (a submitter's certificate that cannot be
fetched now is a retry, never a skip). A peer that restarts re-reads the entries and replays
its decisions: below its stored height the entry that is its stored block's signed header
(its bytes, canonical) advances it, every other one was skipped. An invalid entry costs a
slot, not the chain: the next honest cutter appends at the next slot.

Bodies. A block's entry is its signed header (ledger.cluster.ordering): etcd orders the header
and its endorsements, the transactions travel peer to peer. The header binds them: its Merkle
root is over the leaf hash of each whole signed transaction, and its count, so transactions
under that root are the endorsed ones (body_of), whoever serves them. The follower decides
what needs no body first - chain, height, link, then the endorsements and whether the log's
CRL entries revoke an endorser - and skips a header failing any of those without a body; for
one that passes it takes the body from the proposal this peer endorsed (in memory, or kept in
its store), else fetches it by digest from the peers (Body), the endorsers the header names
first: an answer that is not under the root is refused and the next peer asked. A body no peer
serves is a retry (ServiceUnavailable): the follower waits at the entry, never skips it - a
skip would split the peers that got the body from those that did not. With the body the block
is validated and committed exactly as before. A peer catching up reads the log a batch at a
time and reads the next batch, fetching and checking its bodies, while it takes this one
(Follower._read_ahead): what that finds is a peer's answer like any other, it decides nothing.
Availability, the trust argument. An honest endorser signs a proposal only after it stored the
whole block durably (PeerStore.keep_pending: a file written, fdatasynced and renamed, its
directory fsynced, before Endorse answers), and an honest cutter keeps its own proposal before it appends the header.
Every header a follower does not skip before its body carries the policy's threshold t of
valid endorsements of distinct peers; with fewer than t dishonest peers one of them is an
honest peer's, which holds the body - kept until the height is filled (then as the stored
block: Body serves both) or the log ended the proposal's term (Terms), across restarts - so
every honest follower gets it, from that peer at least, once it is reachable. A header the
log orders at a height already filled, on another parent, or of a term the log ended, is
skipped by its header alone, so no honest peer needs a body it deleted. What a dishonest
cutter can do with a header whose body it withholds: stall the log at that entry until an
honest endorser of it answers (it holds the body: a stall, not a split). It cannot make that
endorser drop the body: past its term's quota the endorser refuses to endorse instead.

Terms. The log is read in ordering terms. A term entry (term_entry: chain, term number, the
cutter's name, signed by that peer) starts term n+1 when the log's current term is n (term 0
before any, the only term of a header without one: the embedded deployment's and a chain's
first entries); any other term entry is skipped, and so is one the peer it names did not sign
(TermEntry.check_signed: a peer of the chain under that name, its certificate valid at the
entry's date and not revoked by the CRL entries before it) - a writer cannot start a term in
another peer's name, and each term entry names the peer that wrote it. A header carries the
term its block was proposed in (BlockHeader.term, under the endorsements' signatures), and a
follower takes it only when that is the log's current term at its slot (else skipped by the
header alone). The rule reads
entries only, so every honest follower decides alike, and a restarted one re-reads the term
entries with the rest (its term is recovered from the log; a checkpoint carries the term after
its slot, attested with it: a peer joining below a trim takes the same term).
- An elected cutter appends the entry of the next term under the election's fence
  (Node._own_term) before it proposes, and starts another whenever the log's term is no longer
  the one it started. An honest endorser signs a proposal only of the log's current term as it
  read it, and only from the peer that term's entry names (the Endorse caller; term 0 names
  none); it keeps the body of every proposal it signed until its height is filled or a later
  term entry was read - once this peer's follower passed the entry of term n+1, every header
  of term n an honest follower takes stands before it, so this follower took it already (it
  never passes a header for want of a body) and serves it as a stored block; a header of term
  n appended later, by anyone and without a fence, is skipped. Within a term it keeps at most
  PENDING_PER_TERM bodies for unfilled heights and refuses past that (TermQuotaExceeded): a
  dishonest cutter blocks only its own term, which the election ends (its lease, or revoking
  its etcd access, then a new cutter's term entry).
- An honest cutter spends little of its quota: once its proposal has the policy's
  endorsements it appends that block at that height until the height is filled (after a failed
  append, an etcd outage with repeated cuts), instead of proposing anew; when its own store
  refuses past the quota (it keeps every proposal it makes, so no honest endorser's count of
  the term passes its own, unless that endorser lags behind: a refusal that ends as it
  catches up) it resigns (its lease revoked: another term starts, and the bodies of this one
  may go). An endorser's quota refusal is a refusal like any other: a dishonest endorser
  saying so cannot depose an honest cutter.
- A dishonest peer writing term entries (anyone of the chain may write the log): one not the
  next term is a skipped slot, like junk; the next term ends the current cutter's term, whose
  headers appended after it every follower skips - the cutter's transactions in them were not
  acknowledged (the cutter acknowledges only a block its follower stored), it starts the next
  term and submits again. A liveness nuisance bounded as junk entries are (a slot and a term
  entry each), never a split: the term state after each entry is a function of the entries
  before it. A term naming a cutter that never proposes stalls nothing past the next election
  either: a cutter appends a new term whenever the log's is not its own.

Revocation, ordered by the log. The CRL is an entry of the log (ledger.cluster.ordered_crl):
its authority is the CA's signature, so any peer appends it, with no endorsement, when it holds
revocations the log lacks - the honest peer cannot be kept from doing so (an empty "fence"
block dated after the revocation needed the policy's endorsements, which the revoked key's
holder and one dishonest peer could refuse). A follower refuses a block endorsed by, or holding
a transaction signed by, a certificate a CRL entry earlier in the log revokes, and takes it
otherwise, whatever the block's date and whatever this peer's crl.pem says (Peer._commit
`ordered`: its certificates are resolved as of before every revocation, then
OrderedRevocations.check). Why not the date, as before: a block is dated by whoever builds it,
so a revoked key and one dishonest peer (2-of-any) could date a block before the revocation
and write it at any time later - only the order stops that - and a block dated after it was
judged by each peer's own crl.pem, which reaches peers at different moments: a peer reading
it before its crl.pem changed took it and one reading after skipped it, a split. With the
order alone every honest follower reads the same entries in the same order and decides each
block alike. What a revoked key can still sign is what the log orders before the entry: the
time from the CRL reaching the first honest peer to its entry being appended (_fence_if_due
polls crl.pem every 0.5 s), as a key signs validly before its revocation. The date of a
revocation counts where a peer judges live - its transport, admission, endorsement - and there
a certificate the log ordered is refused too (OrderedRevocations.check_signer: a cutter would
otherwise build, in the `--effective-in` window, blocks every follower skips). Status
transactions carry another chain's header: its endorsers' revocations are that chain's log's
to order (its followers took that header) and this chain's endorsers check them live.
The ordered entries survive trimming: a checkpoint carries those below it with their heights,
under its attestations (Trimming), and a peer that joins or repairs after the trim takes them
before any later block, so it refuses exactly the blocks the others did.

What a receipt proves. An endorsed header shows a quorum validated a block, not that the block
was ordered: a dishonest cutter can collect real endorsements for a block and never append it.
So an honest peer vouches for a block at height h - answers a submission with its receipt, or
signs an attestation (stored_message) - only once it stored that block by following the log.
A client (or a node submitting to another chain) accepts a receipt only with the attestations
of t unrevoked peers of the chain, the one that answered among them only by its own
attestation (confirm_blocks): t peers vouch, at least one is honest, so the block is THE block
at height h of the ordered log.

Trimming. The cutter replaces the log's prefix by a Checkpoint, "blocks 0..h have digest D,
slot S holds block h, the entries below it are gone and the CRL entries among them were L
(each with its height), and the log's term after S is n of cutter C", carrying the
attestations of a quorum of the chain's peers (at least t, and a majority) that they store
block h with digest D, took it from slot S, took exactly L before it and read term n of C
there (checkpoint_message; Node._rpc_attest_checkpoint). An honest attester reads the
same log, so L is the true list: a cutter leaving an entry out gets no quorum, and one naming
a later copy of block h as S (trimming the entries before that copy, a CRL entry after the
true S among them) gets none either. The follower takes L before any block after S. The log
also vouches for S: a follower never passes over a missing slot except by a checkpoint, and
takes one only where its reading meets the first entry present past a gap, that entry is
block h with digest D, and it has not read block h yet. A checkpoint can then neither hide
entries present in the log nor move a follower onto entries planted past its end (which would
split the peers that read before the cutter's next block from those that read after), and a
junk or replayed one leaves the follower waiting at the gap, not skipping (the cutter, too,
counts only a checkpoint a follower honours: Follower.checkpoint). A peer whose next slot is
below S catches up blocks up to h from another peer (catch_up): it fetches headers down from
D, checking each digest is the `previous` of the one above (SHA-256 chain anchored at the
attested D), then each block (by Body, a batch at a time, or by Block), which must have the
digest at its height and pass every check of a commit (revocation aside: these are the attested blocks, the log's order decided them). A
peer serving another history is refused at the first header that does not chain, before
anything is stored, and the next peer is asked.

What these rules cannot stop: a writer of the log may overwrite an entry, or delete and
re-create it, after some peers read it; the peers that read it before and those that read it
after then differ. etcd's authentication confines that to the chain's own peers (mutual TLS
with the etcd CA's certificates, RBAC: ledger.cluster.etcdauth), but not to a quorum of them:
etcd's RBAC cannot make a key create-only, so one dishonest peer can still swap an entry for
an endorsed twin it held back. A peer that restarts then refuses to follow (its stored block
is not the entry: `refused`); one that reads the log for the first time takes the twin.
"""
from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass

from ledger import checks
from ledger.block import Block, SignedHeader
from ledger.chain import Deployment, check_link
from ledger.cluster.ordered_crl import (OrderedRevocations, decode_ordered, encode_ordered, is_crl_entry,
                                        revocations_digest)
from ledger.cluster.transport import number, pack, text_field, unpack
from ledger.encoding import DIGEST_BYTES, SIGNATURE_BYTES, Reader, Writer, check_chain_id
from ledger.errors import (EncodingError, LedgerError, ServiceUnavailable, StorageError, UnknownCertificate,
                           UnprovenAnswer)
from ledger.identity import BEFORE_REVOCATIONS, Identity

log = logging.getLogger("edgeacc.node")
ENDORSED_KEPT = 16  # proposals a follower keeps decoded (one forgotten is decoded from its entry)

STORED_DOMAIN = b"EAST"  # attestation: "this peer stores block h of chain c with digest D"
CHECKPOINT_DOMAIN = b"EACK"  # ... "and took it at slot S, after these ordered CRL entries" (Checkpoint)
SLOTS_KEPT = 4096  # the slots of a follower's latest blocks it remembers (to attest a checkpoint)
CONFIRM_WAIT = 5.0       # seconds a peer waits to follow a block before it refuses to vouch
BODIES_AHEAD = 64        # bodies a follower asks a peer for in one call (the one it needs, then the next)
BODIES_BYTES = 16 << 20  # ... of which a peer answers this many bytes at most (the first, always)
HEADER_CALLS = 4         # Header calls a peer catching up below a checkpoint has under way at once
HEADERS_AHEAD = 256      # ... of a window of this many headers (the next window asked for once it is checked)
ENTRIES_READ = 64        # entries a follower reads from the log at once (a batch this long: the next is read ahead)
TERM_MAGIC, TERM_VERSION = b"EATM", 2  # a term entry of the log (term_entry)
TERM_DOMAIN = b"edgeacc-ledger term/2\0"  # what a cutter signs to start a term


def term_entry(chain_id: str, term: int, cutter: Identity, timestamp_ms: int | None = None) -> bytes:
    """The log entry that starts ordering term `term` of `chain_id`, whose proposals only the
    peer `cutter` makes, signed by it (the module docstring, Terms):
    "EATM" | u8 version=2 | u16 len | chain id | u64 term | u16 len | cutter name
           | 32 cutter fingerprint | u64 timestamp (ms, its certificate is valid then)
           | 64-byte Ed25519 signature of TERM_DOMAIN || everything before it."""
    checks.instance(cutter, Identity, "cutter")
    body = (Writer().raw(TERM_MAGIC).u8(TERM_VERSION).text16(check_chain_id(chain_id))
            .u64(checks.integer(term, "term", lo=1, hi=(1 << 64) - 1)).text16(checks.text(cutter.name, "cutter"))
            .raw(cutter.fingerprint, DIGEST_BYTES)
            .u64(int(time.time() * 1000) if timestamp_ms is None else checks.integer(timestamp_ms, "timestamp_ms",
                                                                                      hi=(1 << 64) - 1))
            .getvalue())
    return body + cutter.sign(TERM_DOMAIN + body)


def is_term_entry(data: bytes) -> bool:
    return bytes(data[:len(TERM_MAGIC)]) == TERM_MAGIC


@dataclass(frozen=True)
class TermEntry:
    """A decoded term entry (term_entry); `body` is what `signature` signs after TERM_DOMAIN."""
    chain_id: str
    term: int
    cutter: str
    fingerprint: bytes
    timestamp_ms: int
    signature: bytes
    body: bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> "TermEntry":
        """EncodingError on anything malformed or non-canonical (the signature unchecked)."""
        r = Reader(data, "term entry")
        r.magic(TERM_MAGIC, TERM_VERSION)
        chain_id, term, cutter = r.text16(), r.u64(), r.text16()
        fingerprint, timestamp_ms = r.raw(DIGEST_BYTES), r.u64()
        body_end = len(data) - SIGNATURE_BYTES
        signature = r.raw(SIGNATURE_BYTES)
        r.end()
        if not term or not cutter:
            raise EncodingError("a term entry names a term from 1 and its cutter")
        check_chain_id(chain_id)
        return cls(chain_id, term, cutter, fingerprint, timestamp_ms, signature, bytes(data[:body_end]))

    def check_signed(self, deployment: Deployment, revocations: OrderedRevocations, height: int) -> None:
        """Raise unless the peer the entry names signed it: a peer of its chain under that name,
        its certificate valid at the entry's time and not revoked by the CRL entries the log
        ordered before it (so every follower decides alike; ledger.cluster.ordered_crl)."""
        member = deployment.trust.resolve(self.fingerprint, roles=("peer",), chain_id=self.chain_id,
                                          at_ms=BEFORE_REVOCATIONS, valid_at_ms=self.timestamp_ms)
        if member.name != self.cutter:
            raise UnprovenAnswer(f"a term entry names {checks.shown(self.cutter)} as its cutter, "
                                 f"signed by {member.name}")
        revocations.check_signer(self.fingerprint, height)
        member.verify(self.signature, TERM_DOMAIN + self.body)


def stored_message(chain_id: str, height: int, digest: bytes) -> bytes:
    return STORED_DOMAIN + chain_id.encode() + b"\0" + height.to_bytes(8, "big") + digest


def checkpoint_message(chain_id: str, height: int, digest: bytes, slot: int, revocations: bytes, term: int,
                       cutter: str) -> bytes:
    """What a checkpoint's attester signs: it stores block `height` with `digest`, took it from
    the log's `slot`, the CRL entries it took before it are those of revocations_digest
    `revocations` (ledger.cluster.ordered_crl), and the log's term after that slot was `term`
    of `cutter` ("" for term 0: Terms)."""
    return (CHECKPOINT_DOMAIN + chain_id.encode() + b"\0" + height.to_bytes(8, "big") + digest
            + slot.to_bytes(8, "big") + revocations + term.to_bytes(8, "big") + cutter.encode())


def encode_block_id(height: int, digest: bytes) -> bytes:
    return pack(b"%d" % height, digest)


def decode_block_id(data: bytes) -> tuple[int, bytes]:
    height, digest = unpack(data, 2, "block id")
    return number(height, "height"), bytes(digest)


def attestation_quorum(threshold: int, peers: int) -> int:
    """Attestations a checkpoint needs: the policy's threshold (one honest peer among them)
    and a majority of the chain's peers (the trimmed blocks stay with most of them)."""
    return max(threshold, peers // 2 + 1)


@dataclass(frozen=True)
class Checkpoint:
    """The log's trimmed prefix: blocks 0..height end in `digest`; `slot` holds block `height`
    and the entries below it are gone; the CRL entries among them were `revocations`
    ((height, DER) as ordered_crl.OrderedRevocations.listed gives them); the log's term after
    `slot` is `term`, of `cutter` (Terms: its entry may be among those gone)."""

    height: int
    digest: bytes
    slot: int
    attestations: tuple[tuple[bytes, bytes], ...]
    revocations: tuple[tuple[int, bytes], ...] = ()
    term: int = 0
    cutter: str = ""

    def to_bytes(self) -> bytes:
        return pack(b"%d" % self.height, self.digest, b"%d" % self.slot, encode_ordered(self.revocations),
                    b"%d" % self.term, self.cutter.encode(), *(pack(fp, sig) for fp, sig in self.attestations))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Checkpoint":
        fields = unpack(data, what="checkpoint")
        if len(fields) < 6:
            raise EncodingError("a checkpoint has a height, a digest, a slot, revocation lists, a term, its cutter "
                                "and attestations")
        attestations = tuple(tuple(unpack(a, 2, "attestation")) for a in fields[6:])
        return cls(number(fields[0], "checkpoint height"), bytes(fields[1]), number(fields[2], "checkpoint slot"),
                   attestations, decode_ordered(fields[3]), number(fields[4], "checkpoint term"),
                   text_field(fields[5], "checkpoint cutter"))

    def message(self, chain_id: str) -> bytes:
        """What each attestation signs (checkpoint_message)."""
        return checkpoint_message(chain_id, self.height, self.digest, self.slot, revocations_digest(self.revocations),
                                  self.term, self.cutter)

    def check(self, deployment: Deployment, chain_id: str, needed: int) -> None:
        """EndorsementError unless `needed` distinct peers of the chain attest the block, its
        slot and the CRL entries below it."""
        deployment.check_peer_signatures(chain_id, self.message(chain_id), self.attestations, needed, None,
                                         f"the checkpoint at block {self.height} of {chain_id}", "attester")


def checked_attestation(deployment: Deployment, chain_id: str, height: int, digest: bytes, name: str,
                        answer: bytes, message: bytes | None = None) -> tuple[bytes, bytes]:
    """Peer `name`'s answer to Stored for block (height, digest) as (fingerprint, signature):
    a valid attestation under that peer's own certificate (a peer replaying another's counts
    for neither); a LedgerError otherwise. `message`: what it signs when not stored_message
    (a checkpoint's, AttestCheckpoint)."""
    fp, sig = unpack(answer, 2, "attestation")
    message = stored_message(chain_id, height, digest) if message is None else message
    deployment.check_peer_signatures(chain_id, message, [(fp, sig)], 1, None, f"{name}'s attestation", "attester")
    if deployment.trust.resolve(fp).name != name:
        raise UnprovenAnswer(f"{name} answers with another peer's attestation")
    return fp, sig


def confirm_blocks(deployment: Deployment, chain_id: str, blocks, answering: str, peers: list[str], start,
                   timeout: float = CONFIRM_WAIT + 2) -> None:
    """Raise unless each (height, digest) of `blocks` is attested by the policy's threshold of
    distinct unrevoked peers of `chain_id`: `start(name, request, timeout)` starts peer
    `name`'s Stored method and returns the concurrent.futures.Future of its answer
    (transport.Channel.call_future: no thread waits on it). The peer `answering` that served
    the block is asked too, and counts only by its own valid attestation: answering alone
    vouches for nothing (a peer whose certificate was revoked still passes the TLS handshake).
    Every peer is asked at once, each call with this wait's deadline of `timeout` seconds; the
    first valid attestations count, and the calls still under way are then cancelled: a
    silent or lying peer costs time, never a thread past the wait (blocking calls of a
    longer deadline, on a shared pool, outlived their callers and filled it)."""
    needed = deployment.config(chain_id).endorsement_threshold
    # (the one that answered first: it stores the block, its attestation comes at once)
    order = sorted(dict.fromkeys(peers), key=lambda name: name != answering)
    for height, digest in blocks:
        calls = {start(name, encode_block_id(height, digest), timeout): name for name in order}
        good, failures = [], []
        try:
            for call in concurrent.futures.as_completed(calls, timeout):
                name = calls[call]
                try:
                    good.append(checked_attestation(deployment, chain_id, height, digest, name, call.result()))
                except LedgerError as exc:
                    failures.append(f"{name}: {exc}")
                if len(good) >= needed:
                    break
        except concurrent.futures.TimeoutError:
            failures.append(f"no answer within {timeout} s")
        finally:
            for call in calls:
                call.cancel()
        if len(good) < needed:
            raise UnprovenAnswer(f"block {height} of {chain_id} ({digest.hex()[:16]}) served by {answering} is "
                                 f"attested by {len(good)} peers; the policy needs {needed} "
                                 f"({'; '.join(failures)})"[:1000])
        check_attested(deployment, chain_id, height, digest, good)


def check_attested(deployment: Deployment, chain_id: str, height: int, digest: bytes, attestations) -> None:
    """EndorsementError (or UnknownCertificate) unless `attestations` ((fingerprint,
    signature) pairs, from wherever they came: each is a peer's own signature) attest block
    (height, digest) by the policy's threshold of distinct unrevoked peers of `chain_id`."""
    # distinct peers (one key or name under two certificates is one)
    deployment.check_peer_signatures(chain_id, stored_message(chain_id, height, digest), attestations,
                                     deployment.config(chain_id).endorsement_threshold, None,
                                     f"the attestations of block {height} of {chain_id}", "attester")


class Follower:
    """A peer's reading of its chain's log (the rules of the module docstring). `sources()`
    gives the other peers to catch up from: (name, fetch_header(h), fetch_block(h));
    `bodies()` the other peers to fetch ordered headers' bodies from: (name,
    fetch_bodies([(height, digest), ...]) -> the blocks' encodings, b"" for one it lacks, in
    that order, maybe fewer) (Bodies)."""

    def __init__(self, peer, log_, know_signers, sources, quorum: int,
                 revocations: OrderedRevocations | None = None, bodies=lambda: []) -> None:
        self.peer, self.log, self.know_signers, self.sources, self.quorum = peer, log_, know_signers, sources, quorum
        self.bodies = bodies
        # the CRL entries read so far (ledger.cluster.ordered_crl)
        self.revocations = revocations or OrderedRevocations(peer.deployment.trust)
        self.next_slot = 0
        self.height = 0  # blocks the entries below next_slot build (below peer.height: replaying)
        self.head_slot: int | None = None  # the slot that holds block height-1 (where a trim may cut)
        self._slots: dict[int, tuple[int, int, str]] = {}  # height -> (the slot this follower took that block
        # from, the log's term and its cutter then) of the latest blocks
        self.term = 0           # the log's ordering term after the entries read (Terms)
        self.term_cutter = ""   # ... and the peer that proposes in it ("" in term 0)
        self.refused: str | None = None   # why following stopped (the stored history is not the attested one)
        self.skipped = 0                  # entries of the log that were not the next block
        self.last_skip: str | None = None
        self.waiting: str | None = None   # the missing slot following waits at, if it waits
        self.from_peers = {"blocks": 0, "seconds": 0.0}
        self.fetched = {"bodies": 0, "refused": 0}  # bodies fetched from other peers, and answers refused
        self._lock = threading.Lock()
        self._grown = threading.Condition()
        self._wanted: list[SignedHeader] = []  # the headers of the entries read whose bodies may come from a peer
        self._checked: dict[bytes, Block] = {}  # digest -> a body a peer sent ahead (read ahead, or along with
        # another), checked under the header of that digest
        self._kept: frozenset[bytes] | None = None  # the proposals this peer's store kept (listed once a batch)
        self._endorsed: dict[bytes, Block] = {}  # digest -> a proposal this peer endorsed (decoded once)
        self.appending: int | None = None  # the slot this peer's cutter is appending at (take_appended follows)
        self.endorsed_ahead = 0  # blocks endorsed on a parent not read from the log yet (Node._rpc_endorse)

    def sync(self) -> int:
        """Take every entry etcd holds beyond the next slot; returns the peer's height."""
        return self.sync_position()[0]

    def sync_position(self) -> tuple[int, int]:
        """sync(), then (height, next slot) of one moment: the chain at that height is what
        the entries below that slot build (where a cutter appends the next block)."""
        return self.sync_head()[:2]

    def position(self) -> tuple[int, int]:
        """(height, next slot) as followed so far, of one moment, without reading etcd."""
        with self._lock:
            return self.height, self.next_slot

    def sync_head(self) -> tuple[int, int, int | None]:
        """sync_position() and the slot that holds block height-1 (None if not known)."""
        with self._lock:
            ahead: tuple[int, concurrent.futures.Future] | None = None  # the entries after a batch, read ahead
            while self.refused is None:
                batch, checked = self._entries(ahead)
                ahead = None
                if batch and batch[0][0] != self.next_slot and not self._apply_checkpoint(batch[0][0]):
                    # a gap only a checkpoint crosses: wait for the slot to be filled
                    self.waiting = f"slot {self.next_slot} is empty and slot {batch[0][0]} is not"
                    break
                self.waiting = None  # (no gap before the entries read)
                self._want(batch, checked)
                if len(batch) == ENTRIES_READ:  # (the log holds more, likely: a peer catching up)
                    ahead = batch[-1][0] + 1, self._read_ahead(batch[-1][0] + 1, len(batch))
                for slot, data, signed in batch:
                    if slot != self.next_slot:
                        break  # a gap after the first entry: read again from it
                    self._take_next(slot, data, signed=signed)
                if not batch:
                    break
            if self.refused is None and self.height < self.peer.height:
                self.refused = (f"the log holds blocks 0..{self.height - 1} of the {self.peer.height} this peer "
                                "stores (was etcd's data lost?)")
                log.error("%s stops following %s: %s", self.peer.name, self.peer.chain_id, self.refused)
            with self._grown:
                self._grown.notify_all()
            return self.height, self.next_slot, self.head_slot

    def follow_arrived(self) -> int:
        """Take the entries etcd's watch brought (EtcdLog.arrived) from the next slot on,
        without reading etcd; sync() when they do not start there (a gap, a trimmed prefix,
        a restart's replay: the log's own reading decides those). Returns the peer's height."""
        with self._lock:
            entries = self.log.arrived(self.next_slot) if self.refused is None and \
                self.height == self.peer.height else []
            self._kept = None  # (the store's proposals are listed again if one is needed)
            for slot, data in entries:
                self._take_next(slot, data)
            if entries:
                with self._grown:
                    self._grown.notify_all()
                return self.peer.height
        return self.sync()

    def endorsed(self, block: Block) -> None:
        """Keep a proposal this peer endorsed (and stored: PeerStore.keep_pending) decoded:
        when etcd orders its header, its transactions are these (_body), not decoded again."""
        kept = {d: b for d, b in self._endorsed.items() if b.height >= self.height and d != block.digest}
        kept[block.digest] = block
        while len(kept) > ENDORSED_KEPT:  # (another peer's variants of one block: the oldest go)
            del kept[next(iter(kept))]
        self._endorsed = kept  # (one reference swap, without the lock a sync holds: an endorser must not wait)

    def endorsed_block(self, digest: bytes) -> Block | None:
        """The proposal this peer endorsed with header digest `digest`, if it keeps it."""
        return self._endorsed.get(digest)

    def take_appended(self, slot: int, block: Block) -> int:
        """The entry this peer just appended at `slot` (etcd holds exactly block.signed.to_bytes()
        there: the append succeeded), taken with its body from memory when it is the next entry
        instead of read back from etcd (otherwise sync()). Returns the peer's height."""
        with self._lock:
            if self.refused is None and self.next_slot == slot and self.height == self.peer.height:
                self._take_next(slot, block.signed.to_bytes(), block)
                with self._grown:
                    self._grown.notify_all()
                return self.peer.height
        return self.sync()

    def _take_next(self, slot: int, data: bytes, decoded: Block | None = None,
                   signed: SignedHeader | None = None) -> None:
        """_take the entry at the next slot (whichever way it came: a read, the watch, this
        peer's own append) and move past it: the follower waits at no slot now."""
        self._take(slot, data, decoded, signed)
        self.next_slot, self.waiting = slot + 1, None

    def _take(self, slot: int, data: bytes, decoded: Block | None = None, signed: SignedHeader | None = None) -> None:
        """Store the entry if it is the next block; skip it otherwise (ServiceUnavailable
        propagates: the entry is read again, so a transient failure never decides). Below the
        stored height (a restarted peer re-reading the log) the entry that was stored is
        recognised as its stored block's signed header, and every other one was skipped: the
        same decisions again. `decoded` is the block of entry `data` when the caller holds it
        (take_appended), `signed` its signed header when the caller decoded it (_entries).
        A CRL entry is taken wherever it stands (ledger.cluster.ordered_crl)."""
        if decoded is None and is_crl_entry(data):
            self._take_crl(slot, data)
            return
        if decoded is None and is_term_entry(data):
            self._take_term(slot, data)
            return
        if self.height < self.peer.height:
            if data == self.peer.signed_header(self.height).to_bytes():  # the entry of the block stored
                self._advance(slot)
            return
        try:
            if decoded is not None:
                signed = decoded.signed
            elif signed is None:
                signed = SignedHeader.from_bytes(data)
            header = signed.header
            if header.chain_id != self.peer.chain_id or header.height != self.height:
                raise UnprovenAnswer(f"it is block {header.height} of {checks.shown(header.chain_id)}, "
                                     f"not block {self.height} of {self.peer.chain_id}")
            check_link(header, self.peer.digest(self.height - 1) if self.height else None)
            if header.term != self.term:  # (a term the log ended, or one it has not started: Terms)
                raise UnprovenAnswer(f"it is a block of term {header.term}; the log is in term {self.term}")
            # endorsed first: then an honest endorser knew every submitter, and a certificate this
            # peer lacks is a retry (skipping would hinge on what this peer's store holds); and
            # an honest endorser stores the body it signs, so a body no peer serves is a retry
            # too (Bodies). Revocation is the log's alone (ordered): this peer's crl.pem decides
            # nothing here.
            self.peer.deployment.check_endorsements(signed, at_ms=BEFORE_REVOCATIONS)
            self.revocations.check_endorsers(signed)  # (before the body: check_submitters needs it)
            block = decoded or self._body(signed)
            self.know_signers(block.transactions)
            self.revocations.check_submitters(block)  # (its signers are known now: an unknown one is a retry below)
            try:
                # (decoded from the bytes etcd holds; its endorsements were checked above, at the same time)
                self.peer._commit(block, live=False, ordered=True, endorsed=True)
            except UnknownCertificate as exc:
                raise ServiceUnavailable(f"{self.peer.name} cannot check the endorsed block {block.height} of "
                                         f"{self.peer.chain_id} yet: {exc}") from None
            self._advance(slot)
        except ServiceUnavailable:
            raise
        except LedgerError as exc:
            self.skipped += 1
            self.last_skip = f"slot {slot}: {exc}"[:500]
            log.warning("%s skips the entry at slot %d of %s: %s", self.peer.name, slot, self.peer.chain_id, exc)

    def _body(self, signed: SignedHeader) -> Block:
        """The block of ordered header `signed`: its transactions from the proposal this peer
        endorsed (in memory, or kept in its store), else from the first peer that serves
        transactions under the header's Merkle root - one that sent them ahead (checked under
        their headers when they came), then the endorsers named, then the others (a wrong answer is refused and the
        next peer asked). Each peer is asked for the bodies of the entries read after it too
        (up to BODIES_AHEAD): a peer catching up pays a round trip per batch, not per block.
        ServiceUnavailable when none serves it yet: the entry waits, never skipped (Bodies)."""
        header = signed.header
        if header.tx_count == 0:  # (an empty block's body is known: its Merkle root decides)
            return Block(signed, ())
        endorsed = self.endorsed_block(header.digest)
        if endorsed is not None:  # (validated against this header when it was endorsed)
            return endorsed._under(signed)
        failures = []
        if self._kept is None:  # (the store's proposals, listed once for the entries read)
            self._kept = self.peer.store.pending_digests()
        if header.digest in self._kept:
            data = self.peer.store.pending(header.digest)
            if data is not None:
                try:
                    return body_of(signed, data)
                except LedgerError as exc:
                    failures.append(f"its own store: {exc}")
        checked = self._checked.pop(header.digest, None)
        if checked is not None:  # (a peer sent it ahead, checked under a header of this digest)
            self.fetched["bodies"] += 1
            return checked if checked.signed is signed else checked._under(signed)
        later = [s for s in self._wanted if s.header.height > header.height
                 and s.header.digest not in self._checked][:BODIES_AHEAD - 1]
        ids = [(header.height, header.digest)] + [(s.header.height, s.header.digest) for s in later]
        for name, fetch in self._sources_for(signed):
            try:
                answers = fetch(ids)
                block = body_of(signed, answers[0] if answers else b"")
                self.fetched["bodies"] += 1
                self._checked.update(_checked_bodies(zip(later, answers[1:])))
                return block
            except LedgerError as exc:
                self.fetched["refused"] += 1
                failures.append(f"{name}: {exc}")
        raise ServiceUnavailable(f"{self.peer.name}: no peer serves the body of block {header.height} of "
                                 f"{self.peer.chain_id} ({header.digest.hex()[:16]}) yet "
                                 f"({'; '.join(failures)})"[:1000])

    def _sources_for(self, signed: SignedHeader) -> list:
        """The body sources (bodies()), the endorsers `signed` names first."""
        endorsers = set()
        for fp, _ in signed.endorsements:
            try:
                endorsers.add(self.peer.deployment.trust.resolve(fp, at_ms=BEFORE_REVOCATIONS,
                                                                 valid_at_ms=signed.header.timestamp_ms).name)
            except LedgerError:
                continue
        return sorted(self.bodies(), key=lambda source: source[0] not in endorsers)

    def _entries(self, ahead: tuple[int, concurrent.futures.Future] | None):
        """The entries from the next slot as _decoded gives them, and the bodies read ahead for
        them ({digest: Block}): those `ahead` (slot, future of _read_ahead) read if it starts
        there and its read succeeded, else read now (with no bodies yet)."""
        if ahead is not None and ahead[0] == self.next_slot:
            try:
                return ahead[1].result()
            except LedgerError:
                pass  # (etcd unreachable, say: read again here, where a failure counts)
        return self._decoded(self.log.blocks(self.next_slot, ENTRIES_READ), 0), {}

    def _decoded(self, batch: list[tuple[int, bytes]], before: int) -> list:
        """The entries (slot, bytes) of `batch` as (slot, bytes, signed header or None: junk,
        a CRL entry, or an entry _take compares with a stored block by its bytes alone: the
        `before` entries ahead of these and these cannot reach the stored height)."""
        if self.height + before + len(batch) <= self.peer.height:  # (a restarted peer's replay)
            return [(slot, data, None) for slot, data in batch]
        entries = []
        for slot, data in batch:
            signed = None
            if not is_crl_entry(data):
                try:
                    signed = SignedHeader.from_bytes(data)
                except LedgerError:
                    pass  # (junk: _take skips it)
            entries.append((slot, data, signed))
        return entries

    def _needs_body(self, signed: SignedHeader) -> bool:
        """Whether the body of header `signed`, of an entry read, may have to come from a peer."""
        header = signed.header
        return header.height >= self.peer.height and header.tx_count > 0 and self.endorsed_block(header.digest) is None

    def _want(self, entries: list, checked: dict[bytes, Block]) -> None:
        """Note the (height, digest) of the headers of `entries` (just read: _entries) whose
        bodies this peer may have to ask for (_body asks for them along with the first), and
        the bodies `checked` read ahead for them."""
        self._checked, self._kept = checked, None
        self._wanted = [signed for _, _, signed in entries if signed is not None and self._needs_body(signed)]

    def _read_ahead(self, start: int, before: int) -> concurrent.futures.Future:
        """Read the entries from slot `start` (the `before` entries ahead of it being taken
        meanwhile) and fetch the bodies their headers need from a peer, each checked under
        its header (body_of), in a thread of its own: the future of what _entries returns.
        What it finds decides nothing - sync_head takes those entries by the rules of _take,
        the bodies checked as a peer's answers are (_body) - and what it fails to get is read
        or asked for again as if it had not run."""
        def read():
            entries = self._decoded(self.log.blocks(start, ENTRIES_READ), before)
            return entries, self._fetched_ahead(entries)
        return in_thread(read, f"read-ahead-{self.peer.name}")

    def _fetched_ahead(self, entries: list) -> dict[bytes, Block]:
        """The bodies of the headers of `entries` that need one, each from the first peer that
        serves it under its header (the endorsers of the first header asked first; a peer
        failing or answering wrong is passed over: _body asks again for what is missing)."""
        wanted = [signed for _, _, signed in entries if signed is not None and self._needs_body(signed)]
        checked: dict[bytes, Block] = {}
        for _, fetch in self._sources_for(wanted[0]) if wanted else ():
            asked = [signed for signed in wanted if signed.header.digest not in checked][:BODIES_AHEAD]
            if not asked:
                break
            try:
                answers = fetch([(signed.header.height, signed.header.digest) for signed in asked])
            except LedgerError:
                continue
            checked.update(_checked_bodies(zip(asked, answers)))
        return checked

    def _advance(self, slot: int) -> None:
        """Block `height` is taken, from `slot`."""
        self._slots[self.height] = (slot, self.term, self.term_cutter)
        if len(self._slots) > SLOTS_KEPT:
            del self._slots[next(iter(self._slots))]
        self.height, self.head_slot = self.height + 1, slot

    def slot_of(self, height: int) -> int | None:
        """The slot this follower took block `height` from (None: not one of its latest)."""
        taken = self._slots.get(height)
        return taken[0] if taken else None

    def term_at(self, height: int) -> tuple[int, str] | None:
        """(term, cutter) of the log when this follower took block `height` (None: not one of
        its latest): what a checkpoint at that block carries."""
        taken = self._slots.get(height)
        return taken[1:] if taken else None

    def _take_term(self, slot: int, data: bytes) -> None:
        """Take the term entry at `slot` if it starts the log's next term (Terms): from here on
        only headers of that term are taken. Any other is skipped."""
        try:
            entry = TermEntry.from_bytes(data)
            if entry.chain_id != self.peer.chain_id or entry.term != self.term + 1:
                raise UnprovenAnswer(f"it starts term {entry.term} of {checks.shown(entry.chain_id)}, not term "
                                     f"{self.term + 1} of {self.peer.chain_id}")
            entry.check_signed(self.peer.deployment, self.revocations, self.height)
            self.term, self.term_cutter = entry.term, entry.cutter
        except LedgerError as exc:
            self.skipped += 1
            self.last_skip = f"slot {slot}: {exc}"[:500]
            log.warning("%s skips the term entry at slot %d of %s: %s", self.peer.name, slot, self.peer.chain_id, exc)

    def _take_crl(self, slot: int, data: bytes) -> None:
        """Take the CRL entry at `slot`: from here on the serials it revokes sign no block."""
        try:
            self.revocations.take(data, self.height)
        except (ServiceUnavailable, StorageError):
            raise  # (kept durably, or read again)
        except LedgerError as exc:
            self.skipped += 1
            self.last_skip = f"slot {slot}: {exc}"[:500]
            log.warning("%s skips the CRL entry at slot %d of %s: %s", self.peer.name, slot, self.peer.chain_id, exc)

    def checkpoint(self) -> Checkpoint | None:
        """The log's checkpoint entry if it holds (None otherwise): a quorum attests its block
        and its slot holds that block."""
        data = self.log.checkpoint()
        if data is None:
            return None
        try:
            cp = Checkpoint.from_bytes(data)
            held = self.log.blocks(cp.slot, 1)
            if not held or held[0][0] != cp.slot or SignedHeader.from_bytes(held[0][1]).header.digest != cp.digest:
                raise UnprovenAnswer(f"slot {cp.slot} does not hold its block {cp.height}")
            cp.check(self.peer.deployment, self.peer.chain_id, self.quorum)
            return cp
        except ServiceUnavailable:
            raise
        except LedgerError as exc:
            log.warning("%s ignores the checkpoint entry of %s: %s", self.peer.name, self.peer.chain_id, exc)
            return None

    def _apply_checkpoint(self, first: int) -> bool:
        """Cross the gap before `first`, the first entry present past the next slot, by the
        checkpoint (the module docstring): True when the follower moved past block cp.height
        (catching up from peers first if this peer lacks blocks up to it), having taken the
        CRL entries the checkpoint carries for the trimmed entries."""
        cp = self.checkpoint()
        if cp is None or cp.slot != first or cp.height < self.height:
            return False  # none, or not the one that trimmed the entries before `first`
        try:
            self.revocations.take_listed(cp.revocations)
        except (ServiceUnavailable, StorageError):
            raise  # (kept durably, or read again)
        except LedgerError as exc:  # (a quorum attested them: no honest attester took these)
            log.warning("%s ignores the checkpoint of %s: %s", self.peer.name, self.peer.chain_id, exc)
            return False
        if self.peer.height <= cp.height:
            self._catch_up(cp)
        if self.peer.digest(cp.height) != cp.digest:
            self.refused = (f"the stored block {cp.height} is not the one a quorum attests in the checkpoint "
                            f"({cp.digest.hex()[:16]})")
            log.error("%s stops following %s: %s", self.peer.name, self.peer.chain_id, self.refused)
            return False
        self.height, self.term, self.term_cutter = cp.height, cp.term, cp.cutter
        self._advance(cp.slot)
        self.next_slot = cp.slot + 1
        return True

    def _catch_up(self, cp: Checkpoint) -> None:
        started, before, failures = time.monotonic(), self.peer.height, []
        bodies = dict(self.bodies())  # (the same peers' Body: blocks in batches)
        for name, fetch_header, fetch_block in self.sources():
            try:
                catch_up(self.peer, cp, fetch_header, fetch_block, self.know_signers, bodies.get(name))
                break
            except LedgerError as exc:
                failures.append(f"{name}: {exc}")
                log.warning("%s refuses catch-up from %s: %s", self.peer.name, name, exc)
        self.from_peers = {"blocks": self.peer.height - before, "seconds": time.monotonic() - started,
                           "refused": failures}
        if self.peer.height <= cp.height:
            raise ServiceUnavailable(f"{self.peer.name}: no peer serves blocks {self.peer.height}..{cp.height} "
                                     f"of {self.peer.chain_id} ({'; '.join(failures)})"[:1000])

    def wait_for(self, height: int, timeout: float = CONFIRM_WAIT) -> bool:
        """Block until this peer stores block `height` (True) or `timeout` passed (False)."""
        with self._grown:
            return self._grown.wait_for(lambda: self.peer.height > height, timeout)

    def status(self) -> dict:
        return {"next_slot": self.next_slot, "skipped": self.skipped, "last_skip": self.last_skip,
                "waiting": self.waiting, "from_peers": self.from_peers, "fetched": self.fetched,
                "endorsed_ahead": self.endorsed_ahead, "term": self.term, "term_cutter": self.term_cutter,
                "ordered_revocations": len(self.revocations.serials)}


def in_thread(fn, name: str) -> concurrent.futures.Future:
    """The future of fn(), run in a (daemon) thread of its own: a read ahead of the next
    batch while this one is taken; its caller waits for it only when it needs it."""
    future: concurrent.futures.Future = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:  # (the caller's result() raises it)
            future.set_exception(exc)
    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def _checked_bodies(answers) -> dict[bytes, Block]:
    """digest -> block of each (header, body a peer sent for it) whose body is under its
    header (body_of); the others are passed over (junk, or b"": another peer's, or _body's,
    to serve)."""
    checked = {}
    for signed, data in answers:
        if data:
            try:
                checked[signed.header.digest] = body_of(signed, data)
            except LedgerError:
                continue
    return checked


def body_of(signed: SignedHeader, data: bytes) -> Block:
    """The block of ordered header `signed` (as the follower decoded it from the log's entry)
    with the transactions of `data` (a block's encoding, as a peer serves or stores it):
    UnprovenAnswer unless they are the ones the header's Merkle root binds (then they are the
    endorsed ones: every leaf hashes a whole signed transaction)."""
    try:
        block = Block._of_body(signed, data)
    except EncodingError as exc:
        raise UnprovenAnswer(f"the body served is not the one of block {signed.header.height} "
                             f"({signed.header.digest.hex()[:16]}): {exc}") from None
    if block.computed_merkle_root() != signed.header.merkle_root:
        raise UnprovenAnswer(f"the body served is not the one of block {signed.header.height} "
                             f"({signed.header.digest.hex()[:16]})")
    return block


def catch_up(peer, cp: Checkpoint, fetch_header, fetch_block, know_signers=lambda txs: None,
             fetch_bodies=None) -> None:
    """Store blocks peer.height..cp.height from one source (the module docstring): the headers
    must chain down from the attested digest to this peer's latest block before any block is
    stored; each block must have its header's digest and pass every check of a commit.
    UnprovenAnswer names the first answer that does not fit. `fetch_bodies`: the source's
    Body (Follower `bodies`), if it has one: the blocks come BODIES_AHEAD a call by the
    digests the headers named, the next batch asked for while this one is committed; one it
    does not send, or sends wrong, is asked for by fetch_block (whose answer decides)."""
    start = peer.height
    digests, expected = {}, cp.digest
    down = range(cp.height, start - 1, -1)
    # (HEADER_CALLS calls under way at once, each header checked in order as before: a round
    # trip's wait, not the check, is what a header costs)
    with concurrent.futures.ThreadPoolExecutor(HEADER_CALLS, thread_name_prefix=f"headers-{peer.name}") as pool:
        for window in (down[i:i + HEADERS_AHEAD] for i in range(0, len(down), HEADERS_AHEAD)):
            for height, data in zip(window, pool.map(fetch_header, window)):
                header = SignedHeader.from_bytes(data).header
                if (header.chain_id, header.height, header.digest) != (peer.chain_id, height, expected):
                    raise UnprovenAnswer(f"header {height} does not chain to the attested block {cp.height} "
                                         f"({cp.digest.hex()[:16]})")
                digests[height], expected = expected, header.previous
    if start and expected != peer.digest(start - 1):
        raise UnprovenAnswer(f"the history served forks from this peer's below block {start}")
    heights = range(start, cp.height + 1)
    batches = [heights[i:i + BODIES_AHEAD] for i in range(0, len(heights), BODIES_AHEAD)]

    def fetched(batch) -> dict[int, bytes]:
        """The encodings the source sends for `batch` (heights) by Body: those it sends at all
        (an answer cut at BODIES_BYTES: the rest asked for again)."""
        got: dict[int, bytes] = {}
        while fetch_bodies is not None and len(got) < len(batch):
            ids = [(h, digests[h]) for h in batch if h not in got]
            try:
                answers = fetch_bodies(ids)
            except LedgerError:
                break
            got.update({h: data for (h, _), data in zip(ids, answers) if data})
            if not any(answers):
                break
        return got
    ahead = in_thread(lambda: fetched(batches[0]), f"catch-up-{peer.name}") if batches else None
    for i, batch in enumerate(batches):
        try:
            got = ahead.result() if ahead is not None else {}
        except LedgerError:
            got = {}
        ahead = in_thread(lambda b=batches[i + 1]: fetched(b), f"catch-up-{peer.name}") \
            if i + 1 < len(batches) else None
        for height in batch:
            block = _block_if(got.get(height), digests[height])
            if block is None:
                block = Block.from_bytes(fetch_block(height))
            if block.digest != digests[height]:
                raise UnprovenAnswer(f"block {height} is not the one its header chain names")
            know_signers(block.transactions)
            try:  # (these blocks are the attested ones: the log's order decided their revocations)
                peer._commit(block, live=False, ordered=True)
            except ServiceUnavailable:
                raise
            except LedgerError as exc:
                raise UnprovenAnswer(f"block {height} fails validation: {exc}") from exc


def _block_if(data: bytes | None, digest: bytes) -> Block | None:
    """The block `data` encodes if it has header digest `digest` and the transactions its
    Merkle root binds (None otherwise). (Not body_of under the header chain's headers: a peer
    far behind would hold every header of its catch-up at once, where digests are 32 bytes.)"""
    if not data:
        return None
    try:
        block = Block.from_bytes(data)
    except LedgerError:
        return None
    return block if block.digest == digest and block.computed_merkle_root() == block.header.merkle_root else None
