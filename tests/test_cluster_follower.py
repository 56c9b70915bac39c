"""Following the ordered log and catching up from peers (ledger.cluster.follower), without
etcd: the log is a dict of entries a dishonest cutter or etcd writer filled, the other peers
are Peer objects (or forgers) serving headers and blocks."""
import concurrent.futures
import dataclasses
import json
import threading
import types

import pytest

from ledger import errors
from ledger.block import Block, SignedHeader
from ledger.chain import Deployment, now_ms
from ledger.cluster import follower as follower_module
from ledger.cluster import local
from ledger.cluster.follower import Checkpoint, Follower, TermEntry, attestation_quorum, term_entry
from ledger.cluster.node import Node, _Pending, chain_configs, deployment_params, load_trust
from ledger.cluster.ordering import ArrivedEntries, Leadership
from ledger.cluster.transport import unpack
from ledger.encoding import Writer
from ledger.identity import Identity, load_certificate, load_private_key
from ledger.peer import Peer
from ledger.store import PENDING_PER_TERM, PeerStore
from ledger.tx import Transaction, TxKind
from cluster_helpers import OrderedEntries

CHAIN = "edge-0"


class FakeLog:
    """The part of EtcdLog a follower reads."""

    def __init__(self, entries: dict[int, bytes], checkpoint: bytes | None = None) -> None:
        # (a block given is ordered as its header, its body served by `bodies`: OrderedEntries)
        self.entries, self.cp = OrderedEntries(entries), checkpoint
        self.bodies = self.entries.bodies

    def blocks(self, start, limit=64):
        return sorted((s, d) for s, d in self.entries.items() if s >= start)[:limit]

    def checkpoint(self):
        return self.cp


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("follower")
    d = local.create(root / "d", subchains=1, peers_per_chain=3)
    deployment = json.loads((d / "deployment.json").read_text())
    rules = Deployment(deployment_params(deployment), load_trust(d / "trust"), chain_configs(deployment))

    def identity(creds):
        return Identity(load_private_key(creds / "identity.key"), load_certificate(creds / "identity.crt"))
    peers = [identity(d / "nodes" / f"{CHAIN}.peer{i}" / "credentials") for i in range(3)]
    client = identity(d / "clients" / "client")
    rules.trust.add_certificate(client.certificate)
    stores = iter(range(10 ** 6))

    def new_peer(i=0):
        return Peer(rules, peers[i], PeerStore(root / f"p{next(stores)}.sqlite", CHAIN))

    nonces = iter(range(10 ** 6))

    def extend(builder, count, tag, endorsers=(0, 1)):
        """`count` blocks on `builder`'s chain (committed there), endorsed by `endorsers`."""
        out = []
        for _ in range(count):
            tx = Transaction.create(client, TxKind.RECORD, CHAIN, b"%s-%d" % (tag, next(nonces)),
                                    timestamp_ms=now_ms(), nonce=next(nonces))
            block = endorse(builder._propose([tx])[0], endorsers)
            builder._commit(block)
            out.append(block)
        return out

    def endorse(block, endorsers):
        return block.with_endorsements([(peers[i].fingerprint, peers[i].sign(block.header.endorsement_message()))
                                        for i in endorsers])

    honest = new_peer()
    genuine = extend(honest, 6, b"genuine")
    forker = new_peer()
    for b in genuine[:2]:
        forker._commit(b)
    fork = extend(forker, 4, b"fork")  # heights 2..5 on the same first two blocks
    def tx(tag=b"tx"):
        return Transaction.create(client, TxKind.RECORD, CHAIN, b"%s-%d" % (tag, next(nonces)),
                                  timestamp_ms=now_ms(), nonce=next(nonces))
    yield dataclasses.make_dataclass("World", ["rules", "peers", "new_peer", "endorse", "honest", "genuine",
                                               "forker", "fork", "tx", "client"])(rules, peers, new_peer, endorse,
                                                                                  honest, genuine, forker, fork, tx,
                                                                                  client)
    honest.close()
    forker.close()


def _follower(world, log, sources=()):
    peer = world.new_peer(2)
    return Follower(peer, log, lambda txs: None, lambda: list(sources), attestation_quorum(2, 3),
                    bodies=log.bodies if log is not None else lambda: [])


def _source(name, peer, tamper=None):
    def block(h):
        data = peer.block(h).to_bytes()
        return tamper(h, data) if tamper else data
    return name, lambda h: peer.signed_header(h).to_bytes(), block


def _digests(peer):
    return [peer.digest(h) for h in range(peer.height)]


@pytest.mark.parametrize("read", [follower_module.ENTRIES_READ, 2, 3])
def test_entries_that_are_not_the_next_block_are_skipped_alike_by_every_peer(world, monkeypatch, read):
    """A dishonest cutter (or anyone: etcd has no auth) fills slots with junk, a block
    endorsed by one peer (the policy needs 2), a block with a forged endorsement, a block on a
    forked parent with real endorsements, and repeats: no peer stores any of them, each peer
    that follows the log - fresh, or restarted halfway - builds the same chain, and the
    genuine blocks after them are stored. Alike too when the log is read in batches of
    `read` entries, each next batch read ahead (and a restarted peer's replay of them
    compared by their bytes alone)."""
    monkeypatch.setattr(follower_module, "ENTRIES_READ", read)
    g, f = world.genuine, world.fork
    lone = world.endorse(g[1].with_endorsements([]), (0,))
    forged_sig = g[1].with_endorsements([(fp, sig[:-1] + bytes([sig[-1] ^ 1])) for fp, sig in g[1].signed.endorsements])
    other_parent = world.endorse(Block(SignedHeader(dataclasses.replace(g[2].header, previous=b"\7" * 32), ()),
                                       g[2].transactions), (0, 1))
    entries = dict(enumerate([g[0].to_bytes(), b"junk", lone.to_bytes(), forged_sig.to_bytes(),
                              f[0].to_bytes(), g[1].to_bytes(), g[0].to_bytes(), other_parent.to_bytes(),
                              g[2].to_bytes(), f[0].to_bytes(), g[3].to_bytes()]))
    fresh = _follower(world, FakeLog(entries))
    assert fresh.sync() == 4 and fresh.refused is None
    assert _digests(fresh.peer) == [b.digest for b in g[:4]]
    assert fresh.skipped == 7 and fresh.next_slot == len(entries)
    # a peer that read half the log, then restarted (a new follower over its store)
    half = _follower(world, FakeLog(dict(list(entries.items())[:6])))
    assert half.sync() == 2
    half.peer.close()
    log = FakeLog(entries)
    again = Follower(Peer(world.rules, world.peers[2], PeerStore(half.peer.store.path, CHAIN)), log,
                     lambda txs: None, lambda: [], 2, bodies=log.bodies)
    again.peer.load()
    assert again.sync() == 4 and _digests(again.peer) == _digests(fresh.peer)



def test_a_header_that_fails_a_rule_of_its_own_is_skipped_without_asking_for_its_body(world):
    """Under-endorsed, forged, forked or misplaced headers are skipped by the header alone
    (chain.check_link, the endorsements, the log's revocations): a writer of junk entries
    makes no honest follower fetch bodies."""
    g, f = world.genuine, world.fork
    lone = world.endorse(g[1].with_endorsements([]), (0,))
    other_parent = world.endorse(Block(SignedHeader(dataclasses.replace(g[1].header, previous=b"\7" * 32), ()),
                                       g[1].transactions), (0, 1))
    log = FakeLog(dict(enumerate([g[0].to_bytes(), lone.to_bytes(), other_parent.to_bytes(), f[1].to_bytes(),
                                  g[2].to_bytes(), g[1].to_bytes()])))
    needed = []  # the block each Body call was made for (a peer serving one body a call)
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [(name, lambda ids: needed.append(ids[0][1]) or fetch(ids[:1]))
                                        for name, fetch in log.bodies()])
    assert follower.sync() == 2 and follower.skipped == 4
    assert needed == [g[0].digest, g[1].digest]

def _checkpoint(world, height, slot, signers=(0, 1), digest=None, term=0, cutter=""):
    digest = digest or world.genuine[height].digest
    unsigned = Checkpoint(height, digest, slot, (), term=term, cutter=cutter)
    return dataclasses.replace(unsigned, attestations=tuple(
        (world.peers[i].fingerprint, world.peers[i].sign(unsigned.message(CHAIN))) for i in signers)).to_bytes()


def test_catch_up_below_a_checkpoint_refuses_a_peer_serving_another_history(world):
    """The log was trimmed below a checkpoint at block 3 (its entry, slot 20, and on remain). A new
    peer asks a peer serving another fork, then one serving the genuine headers with a
    tampered block, then an honest one: the first two are refused before they store anything,
    and the peer ends with exactly the genuine chain."""
    g = world.genuine
    tampered = lambda h, data: data[:-1] + bytes([data[-1] ^ 1])  # noqa: E731 (a transaction's signature)
    log = FakeLog({20: g[3].to_bytes(), 21: g[4].to_bytes(), 22: g[5].to_bytes()}, _checkpoint(world, 3, 20))
    sources = [_source("forker", world.forker), _source("tamperer", world.honest, tampered),
               _source("honest", world.honest)]
    follower = _follower(world, log, sources)
    assert follower.sync() == 6
    assert _digests(follower.peer) == [b.digest for b in g]
    refused = follower.from_peers["refused"]
    assert [r.split(":")[0] for r in refused] == ["forker", "tamperer"], refused
    assert follower.from_peers["blocks"] == 4


def _twice(cp):
    return dataclasses.replace(cp, attestations=cp.attestations * 2).to_bytes()


@pytest.mark.parametrize("variant", ["one attester", "one attester twice", "a fork's digest by one", "junk"])
def test_a_checkpoint_without_a_quorum_of_attestations_is_ignored(world, variant):
    """Anyone can write the checkpoint entry: one that a quorum of peers did not attest moves
    no follower (it neither catches up to it nor jumps past the entries it claims trimmed: it
    waits at the gap)."""
    data = {"one attester": lambda: _checkpoint(world, 3, 20, (0,)),
            "one attester twice": lambda: _twice(Checkpoint.from_bytes(_checkpoint(world, 3, 20, (0,)))),
            "a fork's digest by one": lambda: _checkpoint(world, 3, 20, (1,), world.fork[1].digest),
            "junk": lambda: b"\0" * 40}[variant]()
    log = FakeLog({20: world.genuine[3].to_bytes(), 21: world.genuine[4].to_bytes()}, data)
    follower = _follower(world, log, [_source("forker", world.forker)])
    assert follower.sync() == 0 and follower.skipped == 0 and follower.next_slot == 0 and follower.refused is None
    assert follower.from_peers["blocks"] == 0


def test_a_restarted_peer_above_the_checkpoint_jumps_without_catching_up(world):
    """A peer that stores blocks 0..4 restarts after the log was trimmed below block 3's
    checkpoint: it re-reads from the checkpoint's slot, recognises block 4, stores block 5."""
    g = world.genuine
    stored = _follower(world, FakeLog(dict(enumerate(b.to_bytes() for b in g[:5]))))
    assert stored.sync() == 5
    log = FakeLog({6: g[3].to_bytes(), 7: g[4].to_bytes(), 8: g[5].to_bytes()}, _checkpoint(world, 3, 6))
    restarted = Follower(stored.peer, log, lambda txs: None, lambda: [], 2, bodies=log.bodies)
    assert restarted.sync() == 6 and restarted.next_slot == 9 and restarted.skipped == 0
    assert restarted.from_peers["blocks"] == 0 and restarted.refused is None


def test_a_peer_whose_blocks_the_log_does_not_hold_stops_following(world):
    """etcd lost its data (or someone rewrote it): a peer does not build on a log that lacks
    the blocks it stores; it says why."""
    g = world.genuine
    stored = _follower(world, FakeLog(dict(enumerate(b.to_bytes() for b in g[:3]))))
    assert stored.sync() == 3
    log = FakeLog({0: g[0].to_bytes(), 1: world.fork[0].to_bytes()})
    rewritten = Follower(stored.peer, log, lambda txs: None, lambda: [], 2, bodies=log.bodies)
    assert rewritten.sync() == 1 and stored.peer.height == 3
    assert "log holds blocks 0..0 of the 3" in rewritten.refused


class CountingLog(FakeLog):
    """A FakeLog that counts the reads of its entries."""

    reads = 0

    def blocks(self, start, limit=64):
        self.reads += 1
        return super().blocks(start, limit)


def test_the_cutters_own_block_is_taken_from_memory_by_the_same_rules(world):
    """take_appended (the cutter's block, just appended at its next slot) stores it without
    reading etcd, yet by the rules of an entry read from the log: a block that does not
    validate (endorsed by one peer; the policy needs 2) is skipped and its slot passed, and a
    slot the follower is not at is read from the log."""
    g = world.genuine
    lone = world.endorse(g[0].with_endorsements([]), (0,))
    log = CountingLog({0: lone.to_bytes(), 1: g[0].to_bytes()})
    follower = _follower(world, log)
    assert follower.take_appended(0, lone) == 0 and log.reads == 0
    assert (follower.skipped, follower.position()) == (1, (0, 1))
    assert follower.take_appended(1, g[0]) == 1 and log.reads == 0
    assert follower.position() == (1, 2) and follower.peer.digest(0) == g[0].digest
    log.entries.update({2: g[1].to_bytes(), 3: g[2].to_bytes()})
    assert follower.take_appended(3, g[2]) == 3 and log.reads > 0  # not at slot 3: read 2 first
    assert _digests(follower.peer) == [b.digest for b in g[:3]]


class WatchedLog(CountingLog):
    """A log whose watch brought `brought` (slot -> bytes), as EtcdLog.arrived gives them."""

    def __init__(self, entries, brought) -> None:
        super().__init__(entries)
        self.watch = ArrivedEntries()
        for slot, data in OrderedEntries(brought).items():  # (as etcd holds them: OrderedEntries)
            self.watch.keep(slot, data)

    def arrived(self, start):
        return self.watch.since(start)


def test_the_entries_the_watch_brought_are_followed_by_the_rules_of_the_log_without_reading_it(world):
    """follow_arrived takes what etcd's watch sent (each entry's bytes) without a read of the
    log, and decides each entry as sync does: junk and a block endorsed by one peer are skipped,
    the genuine blocks stored. A watch that brought entries past a gap (re-established after
    missing some) does not start at the next slot: the follower reads the log instead."""
    g = world.genuine
    lone = world.endorse(g[1].with_endorsements([]), (0,))
    entries = dict(enumerate([g[0].to_bytes(), b"junk", lone.to_bytes(), g[1].to_bytes(), g[2].to_bytes()]))
    log = WatchedLog(entries, entries)
    follower = _follower(world, log)
    assert follower.follow_arrived() == 3 and log.reads == 0
    assert (follower.skipped, follower.position()) == (2, (3, 5))
    assert _digests(follower.peer) == [b.digest for b in g[:3]]
    log.entries.update({5: g[3].to_bytes(), 6: g[4].to_bytes()})
    log.watch.keep(6, g[4].to_bytes())  # slot 5 never came
    assert follower.follow_arrived() == 5 and log.reads > 0
    assert _digests(follower.peer) == [b.digest for b in g[:5]]


def test_the_entries_a_watch_brought_are_bounded_in_count_and_bytes():
    """ArrivedEntries keeps at most its count and bytes, the highest slots going first (read
    from the log then), forgets a deleted slot, and gives only a run without a gap from the
    slot asked."""
    arrived = ArrivedEntries(kept=3, max_bytes=10)
    for slot, data in ((1, b"aa"), (2, b"bb"), (4, b"d")):
        arrived.keep(slot, data)
    assert arrived.since(1) == [(1, b"aa"), (2, b"bb")]
    arrived.keep(3, b"ccc")  # four entries: slot 4 goes
    assert arrived.since(0) == [] and arrived.since(2) == [(2, b"bb"), (3, b"ccc")]
    arrived.keep(3, b"C")  # a slot written again: the later bytes
    arrived.keep(5, b"0123456789")  # over the bytes: the highest slot (this one) goes
    assert arrived.since(2) == [(2, b"bb"), (3, b"C")]
    arrived.forget(3)
    assert arrived.since(2) == [(2, b"bb")] and arrived.since(5) == []


def test_an_endorser_takes_an_ordered_header_with_the_body_it_endorsed_without_asking(world):
    """An endorser keeps the proposal it endorsed (decoded): when the log orders its header
    the follower takes those transactions, asking no peer, under the header's endorsements
    (the stored block is the ordered entry's, not the proposal's)."""
    g = world.genuine
    asked = []
    follower = Follower(world.new_peer(2), FakeLog({0: g[0].to_bytes()}), lambda txs: None, lambda: [],
                        attestation_quorum(2, 3), bodies=lambda: asked.append(1) or [])
    proposal = g[0].with_endorsements([])
    follower.peer._endorse(proposal)
    follower.endorsed(proposal)
    assert follower.sync() == 1 and not asked and follower.fetched["bodies"] == 0
    assert follower.peer.block(0).to_bytes() == g[0].to_bytes()


@pytest.mark.parametrize("wrong", ["tampered transaction", "another block's body", "junk"])
def test_a_body_served_wrong_is_refused_and_the_right_one_taken_from_an_honest_endorser(world, wrong):
    """Attack (a): a dishonest cutter appends an endorsed header and serves a body it is not
    (a transaction's payload changed, the transactions of another block under this header,
    junk): the follower refuses that answer - it is not under the header's Merkle root -
    and takes the body from the next peer, an honest endorser; it skips nothing. The
    honest endorser is asked first once the header names it."""
    g = world.genuine
    tampered = dataclasses.replace(g[0].transactions[0], payload=b"tampered")
    bad = {"tampered transaction": lambda digest: Block(g[0].signed, (tampered,)).to_bytes(),
           "another block's body": lambda digest: Block(g[0].signed, g[1].transactions).to_bytes(),
           "junk": lambda digest: b"junk"}[wrong]
    log = FakeLog({0: g[0].to_bytes()})
    asked = []

    def source(name, block_of):
        return name, lambda ids: asked.append(name) or [block_of(digest) for _, digest in ids]
    honest = world.peers[1].name  # (an endorser of g[0])
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [source("cutter", bad), source(honest, log.entries.served.__getitem__)])
    assert follower.sync() == 1 and follower.skipped == 0
    assert follower.peer.block(0).to_bytes() == g[0].to_bytes() and asked == [honest]
    # the endorser answers wrong and the dishonest non-endorser right: still the right body, from the second
    asked.clear()
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [source("other", log.entries.served.__getitem__), source(honest, bad)])
    assert follower.sync() == 1 and asked == [honest, "other"] and follower.fetched == {"bodies": 1, "refused": 1}
    assert follower.peer.block(0).to_bytes() == g[0].to_bytes()


def test_a_header_whose_body_no_peer_serves_waits_and_is_taken_once_one_does(world):
    """Attack (b): a header entry whose body nobody serves (a cutter that withholds it; the
    honest endorser unreachable): the follower waits at that entry - ServiceUnavailable, its
    position unchanged, nothing skipped - however often it reads, and takes it, and the
    entries after it, once a peer serves it. A header that fails what needs no body (one
    endorsement; the policy needs 2) is skipped whether a body comes or not."""
    g = world.genuine
    lone = world.endorse(g[0].with_endorsements([]), (0,))
    log = FakeLog({0: lone.to_bytes(), 1: g[0].to_bytes(), 2: g[1].to_bytes()})
    serving, asked = [], []

    def body(ids):
        asked.extend(digest for _, digest in ids)
        if not serving:
            raise errors.ServiceUnavailable("unreachable")
        return log.entries.body(ids)
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [("endorser", body)])
    for _ in range(3):
        with pytest.raises(errors.ServiceUnavailable, match="no peer serves the body of block 0"):
            follower.sync()
        assert follower.position() == (0, 1) and follower.skipped == 1 and follower.peer.height == 0
    assert g[0].digest in asked
    serving.append(True)
    assert follower.sync() == 2 and follower.skipped == 1 and follower.position() == (2, 3)
    assert _digests(follower.peer) == [g[0].digest, g[1].digest]


def test_a_restarted_peer_takes_ordered_headers_with_bodies_from_its_store_or_peers(tmp_path, world):
    """A peer that endorsed a proposal and restarted before the log ordered it still holds the
    body (PeerStore.keep_pending survives the restart) and takes the header with it; a body
    it lacks comes from a peer. Pending bodies of filled heights are dropped."""
    g = world.genuine
    peer = world.new_peer(2)
    peer.store.keep_pending(0, g[0].digest, g[0].with_endorsements([]).to_bytes(), 0)
    path = peer.store.path
    peer.close()
    log = FakeLog({0: g[0].to_bytes(), 1: g[1].to_bytes()})
    restarted = Peer(world.rules, world.peers[2], PeerStore(path, CHAIN))
    restarted.load()
    asked = []
    follower = Follower(restarted, log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [("peer", lambda ids: asked.extend(h for h, _ in ids) or log.entries.body(ids))])
    assert follower.sync() == 2 and asked == [1]  # (block 0's body from its own store)
    assert restarted.store.pending_heights() == [0]
    restarted.store.drop_pending(restarted.height)
    assert restarted.store.pending_heights() == []


def _endorser(world, log, caller=None):
    """A Node's Endorse over a follower of `log` (peer 1), with no other chain to ask; the
    calls come from peer `caller` (its name)."""
    follower = Follower(world.new_peer(1), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=log.bodies)
    node = types.SimpleNamespace(name="edge-0.peer1", chain_id=CHAIN, peer=follower.peer, follower=follower,
                                 sync=follower.sync, _know_signers=lambda txs: None, _check_reported=lambda tx: None)
    node._check_term = lambda caller, term: Node._check_term(node, caller, term)
    calling = None if caller is None else types.SimpleNamespace(name=caller)
    return node, lambda block: unpack(Node._rpc_endorse(node, calling, block.to_bytes()), 2, "endorsement")


def test_an_endorser_behind_by_the_block_it_endorsed_endorses_the_next_without_reading_the_log(world):
    """The cutter asks for block h+1 once etcd took h; an endorser that has not read h yet
    endorsed h, and endorses h+1 on it at once (Peer.endorse_on): the endorsement links to h,
    so it counts only if h is the ordered block. A block on a parent it never endorsed is
    refused (it reads the log, which lacks that parent); when the log takes another block h,
    the candidate is never stored and the block endorsed on it is skipped."""
    log = CountingLog({})
    node, endorse = _endorser(world, log)
    cutter = world.new_peer(0)
    candidate = cutter._propose([])[0]
    endorse(candidate)
    candidate = world.endorse(candidate, (0, 1))
    cutter._commit(candidate)
    child = cutter._propose([])[0]
    reads = log.reads
    fp, _ = endorse(child)
    assert fp == world.peers[1].fingerprint and log.reads == reads and node.peer.height == 0
    assert node.follower.endorsed_ahead == 1
    # a block on a parent this endorser never endorsed: it reads the log, which lacks the parent
    stranger = world.new_peer(2)
    other = world.endorse(stranger._propose([])[0], (0, 2))
    stranger._commit(other)
    with pytest.raises(errors.ServiceUnavailable, match="at height 0"):
        endorse(stranger._propose([])[0])
    assert log.reads > reads and node.follower.endorsed_ahead == 1
    # the log takes that other block 0: the candidate is never stored, its child is skipped
    log.entries.update({0: other.to_bytes(), 1: world.endorse(child, (0, 1)).to_bytes()})
    assert node.follower.sync() == 1 and node.follower.skipped == 1
    assert node.peer.digest(0) == other.digest != candidate.digest
    for p in (cutter, stranger, node.peer):
        p.close()


def test_the_layer_check_reads_only_the_anchors_it_has_not_found_held(world, monkeypatch):
    """check_layers read this chain's digest of every anchor since start on every interlock
    (a cost growing with age); an anchor found held holds for good, so only new ones are read,
    and a new anchor of another block is still a fork."""
    peer, reads = world.honest, []
    digest = peer.digest
    monkeypatch.setattr(peer, "digest", lambda h: reads.append(h) or digest(h))
    records = [types.SimpleNamespace(source_chain=CHAIN, source_height=h, height=h, source_digest=world.genuine[h].digest)
               for h in (1, 3)]
    node = types.SimpleNamespace(name="edge-0.peer0", chain_id=CHAIN, deployment=world.rules, peer=peer,
                                 layer_violation=None, _layers_checked=False, _anchors_held=set(),
                                 sync=lambda: peer.height, _remote_statuses=lambda holder, source: records)
    Node.check_layers(node)
    assert sorted(reads) == [1, 3] and node._layers_checked
    records.append(types.SimpleNamespace(source_chain=CHAIN, source_height=4, height=5,
                                         source_digest=world.genuine[4].digest))
    reads.clear()
    Node.check_layers(node)
    assert reads == [4]
    records.append(types.SimpleNamespace(source_chain=CHAIN, source_height=5, height=6,
                                         source_digest=world.fork[3].digest))
    with pytest.raises(errors.ForkDetected):
        Node.check_layers(node)
    assert node.layer_violation is not None


def test_a_store_keeps_a_terms_proposals_until_filled_or_ended_and_refuses_past_its_quota(world):
    """PeerStore.keep_pending: a cutter sending proposal after proposal within its term fills no
    disk and makes the peer drop none it endorsed - past PENDING_PER_TERM it refuses
    (TermQuotaExceeded), keeping every earlier one; a proposal kept twice is one file (even at
    the quota); those below the peer's height, and those of terms the log ended, go with the
    next write."""
    store = world.new_peer(2).store
    for i in range(PENDING_PER_TERM):
        store.keep_pending(5, bytes([i]) * 32, b"proposal %d" % i, 0, term=3)
    with pytest.raises(errors.TermQuotaExceeded, match="term 3"):
        store.keep_pending(5, b"\xee" * 32, b"one too many", 0, term=3)
    store.keep_pending(5, bytes([PENDING_PER_TERM - 1]) * 32, b"again", 0, term=3)
    assert store.pending_heights() == [5] * PENDING_PER_TERM
    assert store.pending(bytes([0]) * 32) == b"proposal 0" and store.pending(b"\xee" * 32) is None
    store.keep_pending(5, b"\xfe" * 32, b"the next term's", 0, term=4)  # (read as live: term 3 is over)
    assert store.pending_heights() == [5] and store.pending(bytes([0]) * 32) is None
    store.keep_pending(6, b"\xff" * 32, b"the next height's", 6, term=4)
    assert store.pending_heights() == [6] and store.pending(b"\xff" * 32) == b"the next height's"
    store.drop_pending(0, live=5)
    assert store.pending_heights() == []
    assert store.changed_files() is None  # (its own writes: the index's absences still count)


def test_a_peer_catching_up_asks_for_a_batchs_bodies_in_one_call_and_checks_each(world):
    """A follower reading many entries at once asks a peer for the body it needs and those of
    the entries after it in one call; each body sent along is checked when its header is
    taken: junk sent along costs another call, never a skip."""
    g = world.genuine
    log = FakeLog(dict(enumerate(b.to_bytes() for b in g)))
    calls = []

    def honest(ids):
        calls.append(len(ids))
        return log.entries.body(ids)
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [("peer", honest)])
    assert follower.sync() == len(g) and calls == [len(g)] and follower.fetched == {"bodies": len(g), "refused": 0}
    calls.clear()

    def junk_along(ids):
        calls.append(len(ids))
        return log.entries.body(ids[:1]) + [b"junk"] * (len(ids) - 1)
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [("peer", junk_along)])
    assert follower.sync() == len(g) and follower.skipped == 0 and calls == list(range(len(g), 0, -1))
    assert _digests(follower.peer) == [b.digest for b in g]


def test_an_endorser_keeps_every_body_it_endorsed_for_an_unfilled_height(world):
    """The cutter's further proposals for height 5 within its term (more than the store keeps
    of a term) never push out the one it endorsed first: past the quota the store refuses."""
    store = world.new_peer(2).store
    endorsed = b"\x01" * 32
    store.keep_pending(5, endorsed, b"the proposal the cutter will order", 5, term=1)
    refused = 0
    for i in range(PENDING_PER_TERM):  # the same cutter's further proposals for height 5
        try:
            store.keep_pending(5, bytes([2 + i % 250, i // 250]) + b"\x00" * 30, b"spam %d" % i, 5, term=1)
        except errors.TermQuotaExceeded:
            refused += 1
    assert refused == 1 and store.pending(endorsed) == b"the proposal the cutter will order"


# --- terms (follower.py, Terms): a body is dropped only once its height is filled or its term over


def _term_block(world, builder, term, endorsers=(0, 1), commit=False):
    """A block of one transaction on `builder`'s chain proposed in `term`, endorsed by `endorsers`."""
    block = world.endorse(builder._propose([world.tx()], term=term)[0], endorsers)
    if commit:
        builder._commit(block)
    return block


def _serving(node):
    """Body sources of a follower: only the honest endorser `node` (Node._held_body)."""
    return lambda: [("endorser", lambda ids: [Node._held_body(node, h, d) for h, d in ids])]


def _term_one_endorsed(world):
    """A log in term 1 of peer 0, the honest endorser (peer 1) of it, the cutter's peer, and
    its proposal b the endorser signed."""
    cutter_name = world.peers[0].name
    log = FakeLog({0: term_entry(CHAIN, 1, world.peers[0])})
    node, endorse = _endorser(world, log, caller=cutter_name)
    cutter = world.new_peer(0)
    b = cutter._propose([world.tx()], term=1)[0]
    endorse(b)
    return cutter_name, log, node, endorse, cutter, b


def test_a_cutter_cannot_make_an_honest_endorser_drop_a_body_it_endorsed(world):
    """Attack (issue 11): the cutter of term 1 gets proposal B endorsed by the honest endorser,
    sends it more further proposals for the same height than a store keeps of a term, then
    appends B's header and withholds the body. The endorser refuses past its term's quota
    (TermQuotaExceeded: nothing signed) instead of dropping B's body, so an honest follower
    whose only source is that endorser takes B (on main the oldest body went: a stall for good)."""
    cutter_name, log, node, endorse, cutter, b = _term_one_endorsed(world)
    refused = 0
    for _ in range(PENDING_PER_TERM):
        try:
            endorse(cutter._propose([world.tx()], term=1)[0])
        except errors.TermQuotaExceeded:
            refused += 1
    assert refused == 1 and node.peer.store.pending(b.digest) is not None
    log.entries[1] = world.endorse(b, (0, 1)).signed.to_bytes()  # the header alone: the body withheld
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=_serving(node))
    assert follower.sync() == 1 and follower.peer.digest(0) == b.digest and follower.skipped == 0
    for p in (cutter, node.peer, follower.peer):
        p.close()


def test_a_header_of_an_ended_term_appended_later_is_skipped_alike_and_its_body_dropped(world):
    """A header endorsed in term 1 that a dishonest peer appends (no fence) after the entry of
    term 2: every follower skips it by its header alone (fresh, or restarted halfway), so the
    endorser may drop its body once it read term 2 - it does, with its next keep - and the
    chain goes on with the block of term 2."""
    cutter_name, log, node, endorse, cutter, b = _term_one_endorsed(world)
    assert node.peer.store.pending(b.digest) is not None
    log.entries[1] = term_entry(CHAIN, 2, world.peers[0])
    log.entries[2] = world.endorse(b, (0, 1)).signed.to_bytes()  # (appended late, by anyone)
    c = cutter._propose([world.tx()], term=2)[0]
    endorse(c)  # (it reads term 2 first: term 1's bodies go)
    assert node.peer.store.pending(b.digest) is None and node.peer.store.pending(c.digest) is not None
    log.entries[3] = world.endorse(c, (0, 1)).signed.to_bytes()
    asked = []
    serve = _serving(node)()[0][1]
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [("endorser", lambda ids: asked.extend(d for _, d in ids) or serve(ids))])
    assert follower.sync() == 1 and follower.peer.digest(0) == c.digest and follower.skipped == 1
    assert b.digest not in asked and follower.term == 2
    assert node.follower.sync() == 1 and node.peer.digest(0) == c.digest
    half = Follower(world.new_peer(2), FakeLog(dict(list(log.entries.items())[:3])), lambda txs: None,
                    lambda: [], 2, bodies=lambda: [])
    assert half.sync() == 0 and half.skipped == 1 and half.term == 2
    half.peer.close()
    again = Follower(Peer(world.rules, world.peers[2], PeerStore(half.peer.store.path, CHAIN)), log,
                     lambda txs: None, lambda: [], 2, bodies=_serving(node))
    again.peer.load()
    assert again.sync() == 1 and again.peer.digest(0) == c.digest and again.term == 2
    for p in (cutter, node.peer, follower.peer, again.peer):
        p.close()


def _raw_term_entry(chain_id, term, name, fingerprint, timestamp_ms, signer=None, version=2):
    """A term entry in the wire layout (follower.term_entry) with any fields, signed by `signer`
    (its signature of what the layout says it signs) or by nobody (version 1: no signature)."""
    w = Writer().raw(b"EATM").u8(version).text16(chain_id).u64(term).text16(name)
    if version == 1:
        return w.getvalue()
    body = w.raw(fingerprint, 32).u64(timestamp_ms).getvalue()
    return body + (signer.sign(follower_module.TERM_DOMAIN + body) if signer else bytes(64))


FORGED_TERM_ENTRIES = {
    "another peer's key under the name": lambda w, now: _raw_term_entry(
        CHAIN, 1, w.peers[0].name, w.peers[2].fingerprint, now, w.peers[2]),
    "another peer's signature": lambda w, now: _raw_term_entry(
        CHAIN, 1, w.peers[0].name, w.peers[0].fingerprint, now, w.peers[2]),
    "a tampered signature": lambda w, now: (lambda e: e[:-1] + bytes([e[-1] ^ 1]))(term_entry(CHAIN, 1, w.peers[0])),
    "a tampered field": lambda w, now: (lambda e: e.replace(w.peers[0].name.encode(), w.peers[1].name.encode()))(
        term_entry(CHAIN, 1, w.peers[0])),
    "a client's": lambda w, now: (lambda c: _raw_term_entry(CHAIN, 1, c.name, c.fingerprint, now, c))(w.client),
    "unsigned (version 1)": lambda w, now: _raw_term_entry(CHAIN, 1, w.peers[0].name, b"", 0, version=1),
    "dated outside its certificate": lambda w, now: _raw_term_entry(
        CHAIN, 1, w.peers[0].name, w.peers[0].fingerprint, 1, w.peers[0]),
    "dated past any calendar": lambda w, now: _raw_term_entry(
        CHAIN, 1, w.peers[0].name, w.peers[0].fingerprint, 2 ** 64 - 1, w.peers[0]),
}


@pytest.mark.parametrize("forgery", sorted(FORGED_TERM_ENTRIES))
def test_a_term_entry_counts_only_signed_by_the_peer_it_names(world, forgery):
    """Attack (issue 11): a dishonest peer appends term entries (no fence stops a writer) that
    name another peer as the next term's cutter, or itself as what it is not, to end the honest
    cutter's term in another's name. Every follower skips an entry the peer it names did not
    sign, and takes the one it signed."""
    forged = FORGED_TERM_ENTRIES[forgery](world, now_ms())
    follower = _follower(world, FakeLog({0: forged, 1: term_entry(CHAIN, 1, world.peers[2])}))
    follower.sync()
    assert follower.skipped == 1 and (follower.term, follower.term_cutter) == (1, world.peers[2].name)
    follower.peer.close()


def test_term_entries_a_dishonest_peer_appends_cost_slots_and_terms_never_the_chain(world):
    """Any peer may write term entries: one that is not the log's next term (a jump, another
    chain's, junk) is skipped by every follower; the next term (a bump by a dishonest peer)
    ends the honest cutter's term, whose later header every follower skips, until that cutter
    starts the term after. The term's cutter alone gets proposals of it endorsed, and only in
    the log's current term."""
    honest, dishonest = world.peers[0].name, world.peers[2].name
    builder = world.new_peer(0)
    ended = _term_block(world, builder, 1)  # (not committed: the log skips it)
    kept = _term_block(world, builder, 3, commit=True)
    entries = {0: term_entry(CHAIN, 1, world.peers[0]), 1: term_entry(CHAIN, 5, world.peers[2]),
               2: term_entry("edge-1", 2, world.peers[2]), 3: b"EATM\x02junk", 4: term_entry(CHAIN, 2, world.peers[2]),
               5: ended.to_bytes(), 6: term_entry(CHAIN, 3, world.peers[0]), 7: kept.to_bytes()}
    log = FakeLog(entries)
    fresh = _follower(world, log)
    assert fresh.sync() == 1 and fresh.peer.digest(0) == kept.digest
    assert fresh.skipped == 4 and (fresh.term, fresh.term_cutter) == (3, honest)
    fresh.peer.close()
    restarted = Follower(Peer(world.rules, world.peers[2], PeerStore(fresh.peer.store.path, CHAIN)), log,
                         lambda txs: None, lambda: [], 2, bodies=log.bodies)
    restarted.peer.load()
    assert restarted.sync() == 1 and (restarted.term, restarted.term_cutter) == (3, honest)
    for caller, term, refusal in ((dishonest, 3, errors.AccessDenied), (honest, 2, errors.ServiceUnavailable),
                                  (honest, 4, errors.ServiceUnavailable)):
        node, endorse = _endorser(world, FakeLog(dict(list(entries.items())[:7])), caller=caller)
        with pytest.raises(refusal, match="term"):
            endorse(world.new_peer(0)._propose([world.tx()], term=term)[0])
        assert node.peer.store.pending_heights() == []
        node.peer.close()
    for p in (builder, restarted.peer):
        p.close()


def test_a_peer_joining_below_a_trim_takes_the_term_from_the_checkpoint(world):
    """The entry of the log's current term is trimmed away: the checkpoint carries the term (its
    attesters read it), so a peer catching up below it takes the term's next block as the others
    do - without it, it would stay in term 0 and skip every later block (a split)."""
    cutter_name = world.peers[0].name
    builder = world.new_peer(0)
    blocks = [_term_block(world, builder, 2, commit=True) for _ in range(3)]
    cp = _checkpoint(world, 1, 5, digest=blocks[1].digest, term=2, cutter=cutter_name)
    log = FakeLog({5: blocks[1].to_bytes(), 6: blocks[2].to_bytes()}, cp)
    follower = _follower(world, log, [_source("builder", builder)])
    assert follower.sync() == 3 and follower.skipped == 0 and (follower.term, follower.term_cutter) == (2, cutter_name)
    assert follower.term_at(1) == (2, cutter_name)
    # one that lies about the term is not the one the quorum attested: ignored, the follower waits at the gap
    forged = Checkpoint.from_bytes(cp)
    log.cp = dataclasses.replace(forged, term=1).to_bytes()
    waiting = _follower(world, log, [_source("builder", builder)])
    assert waiting.sync() == 0 and waiting.next_slot == 0
    for p in (builder, follower.peer, waiting.peer):
        p.close()


class AppendLog(FakeLog):
    """A stand-in for EtcdLog as a cutter uses it: append puts an entry at an empty slot
    (`refusing` appends fail, as with a lost fence or etcd's answer lost), resign is recorded."""

    def __init__(self, entries=None) -> None:
        super().__init__(entries or {})
        self.refusing, self.resigned = 0, []

    def append(self, slot, entry, leadership=None, cutter=None):
        if self.refusing:
            self.refusing -= 1
            return False
        if slot in self.entries:
            return False
        self.entries[slot] = entry
        return True

    def resign(self, leadership):
        self.resigned.append(leadership)

    def start_watch(self):
        pass


def _cutter_node(world, log, endorser):
    """A Node's block cutter (peer 0) over `log` and its follower, `endorser` (_endorser's node)
    its one fellow peer, called in process."""
    follower = Follower(world.new_peer(0), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=log.bodies)
    me = world.peers[0].name
    calls = []

    def call_future(method, request, timeout):
        calls.append(method)
        future = concurrent.futures.Future()
        try:
            future.set_result(Node._rpc_endorse(endorser, types.SimpleNamespace(name=me), request))
        except Exception as exc:
            future.set_exception(exc)
        return future
    node = Node.__new__(Node)
    node.__dict__.update(
        name=me, chain_id=CHAIN, deployment=world.rules, config=world.rules.config(CHAIN), log=log,
        addresses={me: "", endorser.name: ""}, follower=follower, peer=follower.peer, _leadership=None, _term=None,
        _term_lock=threading.Lock(), _unappended=None, _stop=threading.Event(), trim_blocks=0,
        _trim_seen=(-1, float("-inf")), _trimming=threading.Lock(), endorse_calls=calls,
        _channel=lambda name: types.SimpleNamespace(call_future=call_future),
        _attested=lambda height, digest: concurrent.futures.Future())
    return node


def _submit(node, *txs):
    batch = [_Pending(tx, concurrent.futures.Future()) for tx in txs]
    for p in batch:
        node.peer.admit(p.tx)
    return batch


def test_an_honest_cutter_re_appends_its_endorsed_block_and_resigns_on_a_quota_refusal(world):
    """The cutter starts term 1; its append fails (etcd's answer lost, repeated cuts): the next
    cut appends the block it had endorsed for that height instead of a new proposal (no Endorse
    call, no quota spent), the resubmitted transaction gets its receipt. When its own store
    refuses past the term's quota, it resigns (lease revoked, no longer cutting) and answers
    "submit again"; re-elected, it starts term 2 - the spent bodies of term 1 go - and the
    chain goes on."""
    log = AppendLog()
    endorser, _ = _endorser(world, log, caller=world.peers[0].name)
    node = _cutter_node(world, log, endorser)
    node._leadership = first = Leadership(1, 1)
    assert node._own_term(first) == 1
    started = TermEntry.from_bytes(log.entries[0])
    assert (started.chain_id, started.term, started.cutter, started.fingerprint) == \
        (CHAIN, 1, node.name, node.peer.identity.fingerprint)
    tx1, tx2, tx3 = world.tx(), world.tx(), world.tx()
    log.refusing = 1  # (_append_next gives up at once: the slot stayed empty, the chain did not move)
    with pytest.raises(errors.ServiceUnavailable):
        node._cut(_submit(node, tx1))
    assert node.endorse_calls == ["Endorse"] and node.peer.height == 0
    endorsed = node._unappended
    again = _submit(node, tx1, tx2)
    node._cut(again)
    assert node.endorse_calls == ["Endorse"] and node.peer.digest(0) == endorsed.digest
    assert again[0].future.result().height == 0
    with pytest.raises(errors.ServiceUnavailable, match="submit again"):
        again[1].future.result()
    assert endorser.peer.store.pending_heights() == [0] and endorser.follower.sync() == 1
    for i in range(PENDING_PER_TERM):  # (the quota spent: say by proposals etcd never took)
        node.peer.store.keep_pending(1, bytes([i]) * 32, b"spent", 1, term=1)
    with pytest.raises(errors.TermQuotaExceeded):
        node._cut(_submit(node, tx2))
    assert log.resigned == [first] and node._leadership is None and node._term is None
    node._leadership = Leadership(2, 2)  # (elected again: a new term)
    later = _submit(node, tx2, tx3)
    node._cut(later)
    assert node.follower.term == 2 and node.peer.height == 2
    assert [p.future.result().height for p in later] == [1, 1]
    assert endorser.follower.sync() == 2 and endorser.peer.store.pending_heights() == [1]
    assert node.peer.store.pending_heights() == [1]  # (term 1's spent bodies went with term 2's keep)
    for p in (node.peer, endorser.peer):
        p.close()


def test_an_endorsers_quota_refusal_does_not_depose_an_honest_cutter(world):
    """Attack: a dishonest endorser answers TermQuotaExceeded (the error crosses gRPC by its
    name) when the block lacks endorsements otherwise - say an honest endorser is briefly
    unreachable - so that the honest cutter resigns and the dishonest peer may win the
    election and hold it. The cutter resigns only on its own store's refusal: this is a
    refusal like any other ("submit again"), and it stays the cutter of its term."""
    log = AppendLog()
    endorser, _ = _endorser(world, log, caller=world.peers[0].name)
    node = _cutter_node(world, log, endorser)
    node._leadership = first = Leadership(1, 1)

    def lying(method, request, timeout):
        future = concurrent.futures.Future()
        future.set_exception(errors.TermQuotaExceeded("edge-0.peer1 keeps no more of term 1 (a lie)"))
        return future
    node._channel = lambda name: types.SimpleNamespace(call_future=lying)
    batch = _submit(node, world.tx())
    with pytest.raises(errors.ServiceUnavailable) as refused:
        node._cut(batch)
    assert not isinstance(refused.value, errors.TermQuotaExceeded)
    assert log.resigned == [] and node._leadership is first and node._term == 1
    for p in (node.peer, endorser.peer):
        p.close()


def _read_ahead_log(world, monkeypatch, read=2):
    """The genuine blocks as entries read `read` at a time (each next batch read ahead)."""
    monkeypatch.setattr(follower_module, "ENTRIES_READ", read)
    return FakeLog(dict(enumerate(b.to_bytes() for b in world.genuine)))


def test_bodies_read_ahead_come_in_one_call_a_batch_and_decide_nothing(world, monkeypatch):
    """Entries read in batches: the next batch is read, and its bodies fetched and checked,
    while this one is taken - one Body call a batch, asking for that batch's bodies - and
    the blocks stored are the entries' (their endorsements, not the body's)."""
    log = _read_ahead_log(world, monkeypatch)
    calls = []

    def fetch(ids):
        calls.append([h for h, _ in ids])
        return [Block.from_bytes(log.entries.served[d]).with_endorsements([]).to_bytes() for _, d in ids]
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [("peer", fetch)])
    assert follower.sync() == 6 and follower.skipped == 0
    assert sorted(calls) == [[0, 1], [2, 3], [4, 5]] and follower.fetched == {"bodies": 6, "refused": 0}
    assert [follower.peer.block(h).to_bytes() for h in range(6)] == [b.to_bytes() for b in world.genuine]


@pytest.mark.parametrize("wrong", ["tampered transaction", "another block's body", "junk", "missing"])
def test_a_wrong_body_in_a_batch_read_ahead_is_refused_and_asked_for_again(world, monkeypatch, wrong):
    """Attack: the first peer asked (an endorser) answers a batch read ahead with one body
    wrong - a transaction changed, another block's transactions, junk, none: that body is
    refused (as any answer not under the header's root) and asked for again, from the next
    peer; nothing is skipped and every block stored is the entry's."""
    log = _read_ahead_log(world, monkeypatch)
    g = world.genuine
    tampered = dataclasses.replace(g[3].transactions[0], payload=b"tampered")
    bad = {"tampered transaction": Block(g[3].signed, (tampered,)).to_bytes(),
           "another block's body": Block(g[3].signed, g[4].transactions).to_bytes(),
           "junk": b"junk", "missing": b""}[wrong]
    asked = []

    def source(name, serve):
        return name, lambda ids: asked.append((name, [h for h, _ in ids])) or [serve(d) for _, d in ids]
    cutter = world.peers[0].name  # (an endorser of every block: asked first)
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [source("other", log.entries.served.__getitem__),
                                        source(cutter, lambda d: bad if d == g[3].digest else log.entries.served[d])])
    assert follower.sync() == 6 and follower.skipped == 0
    assert [follower.peer.block(h).to_bytes() for h in range(6)] == [b.to_bytes() for b in g]
    assert ("other", [3]) in asked and all(name == cutter for name, ids in asked if ids != [3])


def test_a_peer_dying_mid_batch_makes_the_follower_wait_not_skip(world, monkeypatch):
    """The only peer serving bodies answers the first batches and then goes away (every
    call fails, a read ahead's among them): the follower takes what it got, waits at the
    first entry whose body nobody serves - ServiceUnavailable, nothing skipped, its position
    kept - and takes the rest once a peer serves them."""
    log = _read_ahead_log(world, monkeypatch)
    served = []

    def fetch(ids):
        if len(served) >= 2:
            raise errors.ServiceUnavailable("the peer went away")
        served.append(ids)
        return log.entries.body(ids)
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=lambda: [("peer", fetch)])
    with pytest.raises(errors.ServiceUnavailable, match="no peer serves the body of block 4"):
        follower.sync()
    assert follower.position() == (4, 4) and follower.skipped == 0 and follower.peer.height == 4
    served.clear()
    assert follower.sync() == 6 and follower.skipped == 0
    assert _digests(follower.peer) == [b.digest for b in world.genuine]


def test_a_read_ahead_that_fails_is_read_again_where_its_failure_counts(world, monkeypatch):
    """A read ahead of the log that fails (etcd unreachable from that thread) is read again by
    the follower itself: the same blocks, nothing skipped."""
    log = _read_ahead_log(world, monkeypatch)
    import threading
    read = log.blocks

    def blocks(start, limit=64):
        if threading.current_thread().name.startswith("read-ahead"):
            raise errors.ServiceUnavailable("etcd did not answer")
        return read(start, limit)
    log.blocks = blocks
    follower = _follower(world, log)
    assert follower.sync() == 6 and follower.skipped == 0
    assert _digests(follower.peer) == [b.digest for b in world.genuine]


def test_a_body_is_decoded_under_the_ordered_header_only_if_it_carries_that_header(world):
    """body_of: a block of another header (a twin header, the same transactions) or a body
    with a transaction short is refused; a proposal's body (no endorsements) is taken under
    the entry's signed header."""
    from ledger.cluster.follower import body_of
    g = world.genuine
    twin = Block(SignedHeader(dataclasses.replace(g[0].header, timestamp_ms=g[0].header.timestamp_ms + 1), ()),
                 g[0].transactions)
    for data in (twin.to_bytes(), g[0].to_bytes()[:-1], g[0].to_bytes() + b"\0"):
        with pytest.raises(errors.UnprovenAnswer):
            body_of(g[0].signed, data)
    block = body_of(g[0].signed, g[0].with_endorsements([]).to_bytes())
    assert block.signed is g[0].signed and block.to_bytes() == g[0].to_bytes()


def test_the_store_lists_its_kept_proposals_once_for_many_lookups(world):
    store = world.new_peer(2).store
    assert store.pending_digests() == frozenset()
    store.keep_pending(0, b"\1" * 32, b"a", 0)
    store.keep_pending(1, b"\2" * 32, b"b", 0)
    assert store.pending_digests() == {b"\1" * 32, b"\2" * 32}
    store.drop_pending(1)
    assert store.pending_digests() == {b"\2" * 32}


def test_catch_up_takes_blocks_in_batches_by_body_and_a_batch_answered_wrong_decides_nothing(world, monkeypatch):
    """Below a checkpoint a peer takes the blocks its header chain names from a source's Body,
    BODIES_AHEAD a call (2 here: two calls for blocks 0..3, the second made while the first
    batch is committed); a body that source's Body sends wrong (another history's
    block, a tampered one, junk, none) is asked for by Block, whose answer decides: the
    genuine chain either way, and a source whose Block too serves another history is
    refused before anything is stored, the next one asked."""
    monkeypatch.setattr(follower_module, "BODIES_AHEAD", 2)
    g, f = world.genuine, world.fork
    tampered = g[1].to_bytes()[:-1] + bytes([g[1].to_bytes()[-1] ^ 1])
    wrong = {g[1].digest: tampered, g[2].digest: f[0].to_bytes(), g[0].digest: b"junk", g[3].digest: b""}
    log = FakeLog({20: g[3].to_bytes(), 21: g[4].to_bytes(), 22: g[5].to_bytes()}, _checkpoint(world, 3, 20))
    calls, blocks = [], []

    def body(serve):
        return lambda ids: calls.append([h for h, _ in ids]) or [serve(h, d) for h, d in ids]
    honest = world.honest

    def honest_block(h):
        blocks.append(h)
        return honest.block(h).to_bytes()
    sources = [("forker", lambda h: world.forker.signed_header(h).to_bytes(),
                lambda h: world.forker.block(h).to_bytes()),
               ("honest", lambda h: honest.signed_header(h).to_bytes(), honest_block)]
    bodies = {"forker": body(lambda h, d: world.forker.block(h).to_bytes()),
              "honest": body(lambda h, d: honest.block(h).to_bytes())}
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: sources, attestation_quorum(2, 3),
                        bodies=lambda: list(bodies.items()))
    assert follower.sync() == 6 and _digests(follower.peer) == [b.digest for b in g]
    assert [r.split(":")[0] for r in follower.from_peers["refused"]] == ["forker"]  # (its headers do not chain)
    assert [c for c in calls if c[0] < 4] == [[0, 1], [2, 3]] and blocks == []  # (4, 5: the log's entries)
    # the honest source's Body answers wrong: its Block is asked for each of those, and decides
    calls.clear()
    bodies = {"honest": body(lambda h, d: wrong[d] if d in wrong else log.entries.served[d])}
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: sources[1:], attestation_quorum(2, 3),
                        bodies=lambda: list(bodies.items()))
    assert follower.sync() == 6 and _digests(follower.peer) == [b.digest for b in g]
    assert sorted(blocks) == [0, 1, 2, 3] and follower.from_peers["refused"] == []
