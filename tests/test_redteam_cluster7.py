"""Red team, issue 11's open cluster findings (sec7): the revocation fence a revoked key and one
dishonest peer could block (ledger.cluster.ordered_crl). (The early admission memory one peer
could fill, node.Node._rpc_admit, is gone with early admission.) No etcd, no node process
(tests/test_cluster_faults.py runs the fence on real etcd)."""
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
        return Follower(peer, log, lambda txs: None, lambda: [], 2, revocations, log.bodies)
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
