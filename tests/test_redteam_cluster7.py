"""Red team, issue 11's open cluster findings (sec7): the revocation fence a revoked key and one
dishonest peer could block (ledger.cluster.ordered_crl), early admission memory one peer could
fill (node.Node._rpc_admit). No etcd, no node process (tests/test_cluster_faults.py runs the
fence on real etcd)."""
import datetime
import json
import time
import types

import pytest

from ledger import errors
from ledger.chain import Deployment, now_ms
from ledger.cluster import authority, local
from ledger.cluster.follower import Follower
from ledger.cluster.node import Node, chain_configs, deployment_params, install_crl, load_trust
from ledger.cluster.ordered_crl import OrderedRevocations, crl_entry, is_crl_entry
from ledger.identity import CertificateAuthority, load_revocation_list
from ledger.peer import Peer
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind
from cluster_helpers import empty_block_on
from test_cluster_crl import CHAIN, _identity
from test_cluster_crl import Log as ReadLog


class Log(ReadLog):
    """The part of EtcdLog a follower reads and a peer appends to (no election: only the empty
    slot is checked)."""

    def append(self, slot, data, leadership=None, cutter=None):
        assert leadership is None
        return self.entries.setdefault(slot, data) == data


@pytest.fixture
def world(tmp_path):
    """edge-0 with three peers, 2-of-any: H = peer0 honest, D = peer1 dishonest, R = peer2 about
    to be revoked; three blocks in the log, the last dated before the revocation."""
    d = local.create(tmp_path / "d", subchains=1, peers_per_chain=3)
    deployment = json.loads((d / "deployment.json").read_text())
    peers = [_identity(d / "nodes" / f"{CHAIN}.peer{i}" / "credentials") for i in range(3)]
    client = _identity(d / "clients" / "client")
    log, stores = Log(), iter(range(100))

    def follower(i, revocations_path=None):
        rules = Deployment(deployment_params(deployment), load_trust(d / "trust"), chain_configs(deployment))
        rules.trust.add_certificate(client.certificate)
        peer = Peer(rules, peers[i], PeerStore(tmp_path / f"p{next(stores)}.sqlite", CHAIN))
        revocations = None if revocations_path is None else OrderedRevocations(rules.trust, revocations_path)
        return Follower(peer, log, lambda txs: None, lambda: [], 2, revocations)
    builder = follower(0).peer
    blocks = []
    for n in range(3):
        tx = Transaction.create(client, TxKind.RECORD, CHAIN, b"r%d" % n, timestamp_ms=now_ms(), nonce=n)
        block = builder._propose([tx])[0]
        block = block.with_endorsements([(p.fingerprint, p.sign(block.header.endorsement_message()))
                                         for p in peers[:2]])
        builder._commit(block)
        log.entries[n] = block.to_bytes()
        blocks.append(block)
    world = types.SimpleNamespace(d=d, deployment=deployment, peers=peers, client=client, log=log,
                                  follower=follower, blocks=blocks, opened=[builder])
    try:
        yield world
    finally:
        for p in world.opened:
            p.close()


def _revoke(w, name):
    """Revoke `name` effective at once (the next whole second) and wait until it is: the
    revocation's time (ms)."""
    crl = authority.revoke(w.d / "ca", name, 1)
    when = max(int(r.revocation_date_utc.timestamp() * 1000) for r in load_revocation_list(crl))
    while now_ms() <= when:
        time.sleep(0.05)
    return crl, when


def _node(follower, log):
    """A stand-in node with the parts Node._fence_if_due uses. Its peers refuse to endorse
    anything (R and D would refuse the empty fence block the old code needed)."""
    def refuse(block):
        raise errors.ServiceUnavailable("R and D refuse to endorse the fence")
    return types.SimpleNamespace(name=follower.peer.name, chain_id=CHAIN, follower=follower, log=log, refused=None,
                                 sync=follower.sync, peer=follower.peer, _leadership=None, _endorsements=refuse,
                                 trust=follower.peer.deployment.trust)


def test_the_revocation_fence_needs_no_endorsement_and_stops_a_backdated_block(world):
    """R is revoked; R and D refuse to endorse anything H proposes, so an empty fence block
    (main: endorsed by the policy's threshold) never got into the log and R + D's block dated
    before the revocation, written later, was taken by every follower. Now H appends the CA's
    CRL itself as an entry of the log (no endorsement) and from that slot on every follower
    skips the backdated block, including one that never read crl.pem."""
    w = world
    honest, late = w.follower(0), w.follower(1)
    w.opened += [honest.peer, late.peer]
    assert honest.sync() == 3
    crl, when = _revoke(w, f"{CHAIN}.peer2")
    install_crl(honest.peer.deployment.trust, crl, None)  # only H holds the new crl.pem
    Node._fence_if_due(_node(honest, w.log))
    assert is_crl_entry(w.log.entries[3])
    # the attack: R and D endorse an empty block on block 2, dated before the revocation
    backdated = empty_block_on(deployment_params(w.deployment), w.blocks[2].header,
                               max(w.blocks[2].header.timestamp_ms, when - 1), (w.peers[2], w.peers[1]))
    w.log.entries[4] = backdated.to_bytes()
    assert honest.sync() == late.sync() == 3
    assert honest.skipped == late.skipped == 1
    assert honest.peer.digest(2) == late.peer.digest(2) == w.blocks[2].digest
    # the log brought the CRL to the follower that never read crl.pem
    with pytest.raises(errors.RevokedCertificate):
        late.peer.deployment.trust.check_transport(w.peers[2].certificate)
    # nothing more is due: the log orders what H's CRL revokes
    Node._fence_if_due(_node(honest, w.log))
    assert sorted(w.log.entries) == [0, 1, 2, 3, 4]


def test_a_block_before_the_crl_entry_still_counts_and_one_after_it_never(world):
    """The log's order decides, not the blocks' dates: the same block of R's endorsement is
    taken before the CRL entry and skipped after it, by every follower alike."""
    w = world
    crl, when = _revoke(w, f"{CHAIN}.peer2")
    co_signed = empty_block_on(deployment_params(w.deployment), w.blocks[2].header,
                               max(w.blocks[2].header.timestamp_ms, when - 1), (w.peers[2], w.peers[0]))
    entry = crl_entry(load_revocation_list(crl))
    w.log.entries[3], w.log.entries[4] = entry, co_signed.to_bytes()
    after = w.follower(1)
    w.opened.append(after.peer)
    assert after.sync() == 3 and after.skipped == 1
    w.log.entries[3], w.log.entries[4] = co_signed.to_bytes(), entry
    before = w.follower(1)
    w.opened.append(before.peer)
    assert before.sync() == 4 and before.peer.digest(3) == co_signed.digest


def test_a_restarted_peer_keeps_the_ordered_revocations_when_the_log_lost_them(world, tmp_path):
    """The CRL entry's prefix of the log may be trimmed: a peer keeps what it ordered beside
    its store and refuses the backdated block after a restart, though the entry is gone."""
    w = world
    path = tmp_path / "ordered-crl"
    crl, when = _revoke(w, f"{CHAIN}.peer2")
    w.log.entries[3] = crl_entry(load_revocation_list(crl))
    first = w.follower(0, path)
    w.opened.append(first.peer)
    assert first.sync() == 3
    del w.log.entries[3]
    backdated = empty_block_on(deployment_params(w.deployment), w.blocks[2].header,
                               max(w.blocks[2].header.timestamp_ms, when - 1), (w.peers[2], w.peers[1]))
    w.log.entries[3] = backdated.to_bytes()
    again = w.follower(0, path)  # (a fresh trust store: only the kept file knows the revocation)
    w.opened.append(again.peer)
    assert again.revocations.serials == first.revocations.serials
    assert again.sync() == 3 and again.skipped == 1


def test_a_crl_entry_the_ca_did_not_sign_is_skipped(world):
    """Anyone who may write the log can write an entry: a CRL of another CA revokes nothing."""
    w = world
    other = CertificateAuthority.create("another CA")
    forged = other.revocation_list({w.peers[2].certificate.serial_number: datetime.datetime.now(datetime.timezone.utc)})
    w.log.entries[3] = crl_entry(forged)
    w.log.entries[4] = empty_block_on(deployment_params(w.deployment), w.blocks[2].header, now_ms(),
                                      (w.peers[2], w.peers[1])).to_bytes()
    f = w.follower(1)
    w.opened.append(f.peer)
    assert f.sync() == 4 and f.skipped == 1 and not f.revocations.serials


# --- early admission: one peer cannot switch it off -----------------------------------------


def _admitting_node(w, bound):
    """A stand-in endorser with the parts Node._rpc_admit uses, remembering `bound` entries."""
    from ledger.cluster import node as node_module
    endorser = w.follower(2).peer
    w.opened.append(endorser)
    node = types.SimpleNamespace(name=endorser.name, chain_id=CHAIN, peer=endorser, _know_signers=lambda txs: None,
                                 _early=node_module.EarlyAdmissions(endorser.forget, bound))
    node._decode_submission = lambda request: Node._decode_submission(node, request)
    return node


def _admit(node, sender, txs):
    from ledger.cluster.transport import Caller, pack
    return Node._rpc_admit(node, Caller(sender, "peer", CHAIN), pack(*(tx.to_bytes() for tx in txs)))


def test_one_peer_filling_early_admission_evicts_only_its_own_entries(world):
    """D (a dishonest peer of the chain) sends Admit calls for transactions never cut into a
    block, up to the bound and beyond: on main the node-wide bound was then reached for good
    and the cutter's Admit refused. Now D's oldest entries make room for D's newer ones and the
    cutter's are remembered."""
    w = world
    node = _admitting_node(w, 4)
    flood = [Transaction.create(w.client, TxKind.RECORD, CHAIN, b"flood", timestamp_ms=now_ms(), nonce=100 + i)
             for i in range(6)]
    for tx in flood:
        _admit(node, f"{CHAIN}.peer1", [tx])
    cutter_tx = Transaction.create(w.client, TxKind.RECORD, CHAIN, b"real", timestamp_ms=now_ms(), nonce=7)
    _admit(node, f"{CHAIN}.peer0", [cutter_tx])
    admitted = node.peer._admitted
    assert (cutter_tx.tx_id, cutter_tx.signature) in admitted
    assert [(t.tx_id, t.signature) in admitted for t in flood] == [False, False, True, True, True, True]
    assert len(node._early) == 5


def test_one_peer_re_admitting_anothers_transactions_cannot_evict_them(world):
    """D sees the cutter's transactions (the cutter shares them with every endorser), sends
    them to H as its own Admit calls, then floods: the old code forgot a transaction when D's
    entry of it went, though the cutter's entry still held it."""
    w = world
    node = _admitting_node(w, 4)
    cutter_tx = Transaction.create(w.client, TxKind.RECORD, CHAIN, b"real", timestamp_ms=now_ms(), nonce=7)
    _admit(node, f"{CHAIN}.peer0", [cutter_tx])
    _admit(node, f"{CHAIN}.peer1", [cutter_tx])
    for i in range(6):
        _admit(node, f"{CHAIN}.peer1", [Transaction.create(w.client, TxKind.RECORD, CHAIN, b"flood",
                                                           timestamp_ms=now_ms(), nonce=100 + i)])
    assert (cutter_tx.tx_id, cutter_tx.signature) in node.peer._admitted
    assert len(node._early) == 5


def test_early_admission_entries_expire(world, monkeypatch):
    """A transaction admitted early and never cut is forgotten after ADMITTED_SECONDS (its
    block would verify it again), so the memory does not fill over the node's lifetime."""
    from ledger.cluster import node as node_module
    w = world
    node = _admitting_node(w, 4)
    clock = [1000.0]
    monkeypatch.setattr(node_module.time, "monotonic", lambda: clock[0])
    old = Transaction.create(w.client, TxKind.RECORD, CHAIN, b"old", timestamp_ms=now_ms(), nonce=1)
    _admit(node, f"{CHAIN}.peer1", [old])
    clock[0] += node_module.ADMITTED_SECONDS + 1
    new = Transaction.create(w.client, TxKind.RECORD, CHAIN, b"new", timestamp_ms=now_ms(), nonce=2)
    _admit(node, f"{CHAIN}.peer0", [new])
    assert (old.tx_id, old.signature) not in node.peer._admitted
    assert (new.tx_id, new.signature) in node.peer._admitted and len(node._early) == 1
