"""Red team, issue 11's ordered log (ledger.cluster.follower), without etcd: the attacker
writes etcd (it has no auth: plants entries in empty slots, rewrites the checkpoint entry)
and may hold genuine attestations (Stored answers any certificate holder) and a second block
for a height that honest peers endorsed. What it must not get: two honest followers that
read the same log at different times ending with different chains, or a follower passing
over entries the log holds."""
import concurrent.futures
import dataclasses
import types

import pytest

from ledger import errors
from ledger.block import Block, SignedHeader
from ledger.chain import Deployment
from ledger.cluster.follower import Checkpoint, Follower
from ledger.cluster.node import Node
from ledger.cluster.transport import pack, unpack
from ledger.identity import TrustStore
from ledger.peer import Peer
from ledger.store import PeerStore
from test_cluster_follower import FakeLog, _checkpoint, _digests, _follower, _source, world  # noqa: F401 (fixture)


def _twin(world, block):
    """Another valid block at `block`'s height on the same parent (a later timestamp,
    endorsed by two peers): what a dishonest peer gets honest endorsers to sign."""
    header = dataclasses.replace(block.header, timestamp_ms=block.header.timestamp_ms + 1)
    return world.endorse(Block(SignedHeader(header, ()), block.transactions), (0, 1))


def _append(log, follower, data):
    """What the cutter does: append at its follower's next slot, only if that slot is empty."""
    log.entries.setdefault(follower.next_slot, data)


def test_an_entry_planted_past_the_end_leaves_no_hole_for_a_later_fork(world):
    """Junk planted at slot 4 while the log ends at slot 3: a follower that reads now must
    not pass over the empty slot 3, or the attacker fills slot 3 afterwards with a valid twin
    of block 3 and every peer reading later takes the twin while the early ones took the
    cutter's block 3 appended after the junk."""
    g = world.genuine
    log = FakeLog({0: g[0].to_bytes(), 1: g[1].to_bytes(), 2: g[2].to_bytes(), 4: b"junk"})
    early = _follower(world, log)
    assert early.sync() == 3 and early.next_slot == 3 and early.skipped == 0  # waits at the gap
    assert early.status()["waiting"] == "slot 3 is empty and slot 4 is not"
    _append(log, early, g[3].to_bytes())        # the cutter appends block 3 at slot 3
    log.entries.setdefault(3, _twin(world, g[3]).to_bytes())  # too late: the slot is taken
    assert early.sync() == 4 and early.status()["waiting"] is None
    late = _follower(world, log)
    assert late.sync() == 4
    assert _digests(late.peer) == _digests(early.peer) == [b.digest for b in g[:4]]


def _trimmed(world, extra=None):
    """The log after a trim at block 3 (slot 20 holds it), plus `extra` planted entries."""
    g = world.genuine
    entries = {20: g[3].to_bytes(), 21: g[4].to_bytes(), 22: g[5].to_bytes()}
    entries.update(extra or {})
    return entries


@pytest.mark.parametrize("variant", ["past the log", "onto a planted twin", "onto a planted copy of block 3"])
def test_a_checkpoint_with_a_rewritten_slot_moves_no_follower(world, variant):
    """The attestations sign (chain, height, digest), not the slot: an etcd writer keeps
    them and points the slot past the log, or at a twin of block 4 it planted (after a copy of
    block 3). A new peer must not catch up to it and jump there: it would skip blocks 4 and 5
    the other peers hold, or store the twin. It waits at the gap, storing nothing."""
    g = world.genuine
    twin = _twin(world, g[4]).to_bytes()
    slot, extra = {"past the log": (10 ** 9, {}),
                   "onto a planted twin": (30, {30: twin}),
                   "onto a planted copy of block 3": (30, {30: g[3].to_bytes(), 31: twin})}[variant]
    log = FakeLog(_trimmed(world, extra), _checkpoint(world, 3, slot))
    follower = _follower(world, log, [_source("honest", world.honest)])
    assert follower.sync() == 0 and follower.peer.height == 0 and follower.next_slot == 0
    assert follower.refused is None and follower.from_peers["blocks"] == 0
    log.cp = _checkpoint(world, 3, 20)  # the genuine checkpoint back: the peer goes on
    assert follower.sync() == 6 and _digests(follower.peer) == [b.digest for b in g]


def test_a_checkpoint_forged_from_attestations_of_the_head_moves_no_follower_at_the_end(world):
    """Anyone with a certificate gets Stored attestations of the latest block 3: it writes a
    checkpoint "block 3, slot 10" and plants a twin of block 4 at slot 10, untrimmed log. A
    follower that reached the end must wait at slot 4 (where the cutter appends block 4), not
    jump to the twin."""
    g = world.genuine
    log = FakeLog({**{i: g[i].to_bytes() for i in range(4)}, 10: _twin(world, g[4]).to_bytes()},
                  _checkpoint(world, 3, 10))
    follower = _follower(world, log)
    assert follower.sync() == 4 and follower.next_slot == 4
    _append(log, follower, g[4].to_bytes())
    assert follower.sync() == 5 and _digests(follower.peer) == [b.digest for b in g[:5]]


def test_an_old_genuine_checkpoint_rewritten_after_a_newer_one_does_not_strand_a_follower(world):
    """The log was trimmed at block 4 (slot 20); the attacker writes back the genuine older
    checkpoint of block 2 (slot 10, trimmed since). A new peer must not catch up to block 2
    and then skip the entries that follow as not-the-next-block (it would never move again,
    even once the newer checkpoint is back): it waits, and follows once it is back."""
    g = world.genuine
    log = FakeLog({20: g[4].to_bytes(), 21: g[5].to_bytes()}, _checkpoint(world, 2, 10))
    follower = _follower(world, log, [_source("honest", world.honest)])
    assert follower.sync() == 0 and follower.skipped == 0 and follower.peer.height == 0
    log.cp = _checkpoint(world, 4, 20)
    assert follower.sync() == 6 and follower.skipped == 0
    assert _digests(follower.peer) == [b.digest for b in g]


def test_a_submitter_certificate_a_peer_lacks_is_a_retry_not_a_skip(world):
    """Anyone can delete a submitter's published certificate from etcd: a peer that cannot
    get it must not skip the endorsed blocks that need it (the peers that hold it store
    them: the chains would split for good). It retries; an entry not endorsed by the
    policy is still skipped (junk cannot stall the log)."""
    g = world.genuine
    rules = world.rules
    trust = TrustStore(rules.trust.ca_certificate)
    for identity in world.peers:
        trust.add_certificate(identity.certificate)
    lacking = Deployment(rules.params, trust, list(rules.chains.values()))
    store = PeerStore(world.honest.store.path.with_name("lacking.sqlite"), g[0].header.chain_id)
    peer = Peer(lacking, world.peers[2], store)
    lone = world.endorse(g[0].with_endorsements([]), (0,))  # one endorsement: the policy needs two
    log = FakeLog({0: lone.to_bytes(), 1: g[0].to_bytes(), 2: g[1].to_bytes()})
    follower = Follower(peer, log, lambda txs: None, lambda: [], 2, bodies=log.bodies)
    with pytest.raises(errors.ServiceUnavailable):
        follower.sync()
    assert peer.height == 0 and follower.next_slot == 1 and follower.skipped == 1
    submitters = {tx.submitter for b in g[:2] for tx in b.transactions}
    for member in rules.trust.members():
        if member.fingerprint in submitters:
            trust.add_certificate(member.certificate)
    assert follower.sync() == 2 and _digests(peer) == [b.digest for b in g[:2]]
    peer.close()


@pytest.mark.parametrize("height", [b"-1", b"01", b"+1", b" 1", b"1" * 1000, b"9" * 30])
def test_stored_with_a_hostile_height_is_a_clear_refusal(height):
    """Stored (any certificate holder may call it) with a negative, non-canonical or huge
    height: an EncodingError or a ServiceUnavailable that does not print the number in full,
    never an attestation."""
    class FakeFollower:
        def wait_for(self, h):
            raise AssertionError("waited for a block no peer can hold")
    node = types.SimpleNamespace(name="edge-0.peer0", chain_id="edge-0", peer=types.SimpleNamespace(height=5),
                                 follower=FakeFollower())
    with pytest.raises((errors.EncodingError, errors.ServiceUnavailable)) as info:
        Node._rpc_stored(node, None, pack(height, b"\0" * 32))
    assert "9" * 25 not in str(info.value) and "1" * 25 not in str(info.value)


class _TrimmableLog(FakeLog):
    def trim(self, checkpoint, previous, slot, leadership, cutter):
        assert previous == self.cp  # the fence compares the entry's bytes
        self.trimmed, self.cp = slot, checkpoint
        self.entries = {s: d for s, d in self.entries.items() if s >= slot}
        return True


@pytest.mark.parametrize("variant", ["junk with a huge height", "genuine attestations, rewritten slot"])
def test_a_checkpoint_no_follower_honours_does_not_stop_the_cutter_trimming(world, variant):
    """An etcd writer puts a checkpoint claiming block 10**9 (no attestations), or rewrites a
    genuine one's slot: the cutter must not count it as done (it would never trim again, and
    the followers it strands at the gap would wait for good): it trims at its head."""
    g = world.genuine
    forged = {"junk with a huge height": lambda: Checkpoint(10 ** 9, b"\0" * 32, 0, ()).to_bytes(),
              "genuine attestations, rewritten slot": lambda: _checkpoint(world, 5, 3)}[variant]()
    log = _TrimmableLog({i: b.to_bytes() for i, b in enumerate(g)}, forged)
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], 1, bodies=log.bodies)
    peer = follower.peer
    node = types.SimpleNamespace(log=log, follower=follower, peer=peer, chain_id=peer.chain_id, trim_blocks=4,
                                 addresses={peer.name: ""}, deployment=world.rules, name=peer.name)
    node._attestations = lambda *args: Node._attestations(node, *args)
    assert Node._trim(node, None) is True
    cp = Checkpoint.from_bytes(log.cp)
    assert (log.trimmed, cp.height, cp.digest) == (5, 5, g[5].digest) and sorted(log.entries) == [5]
    assert follower.checkpoint() == cp


def _answered(answer, request) -> concurrent.futures.Future:
    """A finished Future of answer(request), as Channel.call_future returns."""
    future: concurrent.futures.Future = concurrent.futures.Future()
    future.set_result(answer(request))
    return future


@pytest.mark.parametrize("answer", ["junk", "another peer's attestation", "another block's attestation"])
def test_one_dishonest_peers_attestation_does_not_stop_the_cutter_trimming(world, answer):
    """Of the cutter's two fellow peers one answers Stored honestly and one with junk, a
    replay of the honest peer's attestation, or an attestation of another block: the honest
    two make the quorum, and the cutter trims with exactly their attestations (one bad answer
    among them used to void the whole checkpoint, so the log was never trimmed again)."""
    from ledger.cluster.follower import attestation_quorum, checkpoint_message
    g = world.genuine
    honest, dishonest = world.peers[0], world.peers[1]

    def attest(identity, request):
        height, digest, slot, revocations, term, cutter = unpack(request, 6)  # (AttestCheckpoint's)
        return pack(identity.fingerprint, identity.sign(checkpoint_message(
            identity.chain_id, int(height), digest, int(slot), revocations, int(term), bytes(cutter).decode())))
    bad = {"junk": lambda request: b"junk",
           "another peer's attestation": lambda request: attest(honest, request),
           "another block's attestation": lambda request: attest(dishonest, pack(b"0", g[0].digest,
                                                                                 *unpack(request)[2:]))}[answer]
    answers = {honest.name: lambda request: attest(honest, request), dishonest.name: bad}
    log = _TrimmableLog({i: b.to_bytes() for i, b in enumerate(g)}, None)
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], attestation_quorum(2, 3),
                        bodies=log.bodies)
    peer = follower.peer
    node = types.SimpleNamespace(
        log=log, follower=follower, peer=peer, chain_id=peer.chain_id, trim_blocks=4, deployment=world.rules,
        name=peer.name, addresses={peer.name: "", honest.name: "", dishonest.name: ""},
        _channel=lambda n: types.SimpleNamespace(call_future=lambda method, request, timeout: _answered(answers[n], request)))
    node._attestations = lambda *args: Node._attestations(node, *args)
    assert Node._trim(node, None) is True
    cp = Checkpoint.from_bytes(log.cp)
    assert (log.trimmed, cp.height, cp.digest) == (5, 5, g[5].digest) and sorted(log.entries) == [5]
    assert {world.rules.trust.resolve(fp).name for fp, _ in cp.attestations} == {peer.name, honest.name}
    assert follower.checkpoint() == cp


def test_the_cutter_reads_etcd_for_a_trim_only_once_one_is_due(world):
    """Deciding whether to trim read etcd's checkpoint (twice), the slot it names and the
    log's head for every block cut. The cutter now remembers the checkpoint it read or wrote
    (Node._trim) and starts a trim only once trim_blocks blocks lie above it (or once a second,
    to replace a checkpoint someone rewrote)."""
    import threading
    import time

    g = world.genuine
    log = _TrimmableLog({i: b.to_bytes() for i, b in enumerate(g)}, None)
    follower = Follower(world.new_peer(2), log, lambda txs: None, lambda: [], 1, bodies=log.bodies)
    peer = follower.peer
    node = types.SimpleNamespace(log=log, follower=follower, peer=peer, chain_id=peer.chain_id, trim_blocks=4,
                                 addresses={peer.name: ""}, deployment=world.rules, name=peer.name,
                                 _trim_seen=(-1, float("-inf")), _trimming=threading.Lock())
    node._attestations = lambda *args: Node._attestations(node, *args)
    assert Node._trim(node, None) is True and node._trim_seen[0] == 5  # (what it wrote)
    trims = []
    node._trim = lambda leadership: trims.append(node.peer.height)
    for height in (7, 8, 9):  # 1..3 blocks above the checkpoint at block 5: not due, etcd not read
        node.peer = types.SimpleNamespace(height=height)
        Node._trim_soon(node, None)
    node.peer = types.SimpleNamespace(height=10)  # 4 above it: due
    Node._trim_soon(node, None)
    deadline = time.monotonic() + 10
    while not trims and time.monotonic() < deadline:
        time.sleep(0.01)
    assert trims == [10]
