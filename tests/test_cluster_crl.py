"""A CRL reaching peers at different times (ledger.cluster.follower, authority.revoke), without
etcd: two followers of one log, one holding the new CRL and one not yet. Followers decide a
block by the CRL entries of the log only, so both decide alike whatever their crl.pem says (a
revocation effective at once: tests/test_redteam_cluster8.py); the CRL refuses the revoked
peer's calls at once where it is installed."""
import json

import pytest

from ledger import errors
from ledger.chain import Deployment, now_ms
from ledger.cluster import authority, local
from ledger.cluster.follower import Follower
from ledger.cluster.node import chain_configs, deployment_params, install_crl, load_trust
from ledger.identity import Identity, load_certificate, load_private_key
from ledger.peer import Peer
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind
from cluster_helpers import OrderedEntries

CHAIN = "edge-0"


class Log:
    def __init__(self) -> None:
        self.entries = OrderedEntries()  # (a block put is ordered as its header; `bodies` serve it)
        self.bodies = self.entries.bodies

    def blocks(self, start, limit=64):
        return sorted((s, d) for s, d in self.entries.items() if s >= start)[:limit]

    def checkpoint(self):
        return None


def _identity(creds):
    return Identity(load_private_key(creds / "identity.key"), load_certificate(creds / "identity.crt"))


@pytest.fixture
def world(tmp_path):
    d = local.create(tmp_path / "d", subchains=1, peers_per_chain=3)
    deployment = json.loads((d / "deployment.json").read_text())
    peers = [_identity(d / "nodes" / f"{CHAIN}.peer{i}" / "credentials") for i in range(3)]
    client = _identity(d / "clients" / "client")
    log, stores = Log(), iter(range(100))

    def follower(i):
        rules = Deployment(deployment_params(deployment), load_trust(d / "trust"), chain_configs(deployment))
        rules.trust.add_certificate(client.certificate)
        peer = Peer(rules, peers[i], PeerStore(tmp_path / f"p{next(stores)}.sqlite", CHAIN))
        return Follower(peer, log, lambda txs: None, lambda: [], 2, bodies=log.bodies)
    informed, late = follower(0), follower(1)  # the CRL reaches `informed` first
    builder = follower(0).peer
    nonce = iter(range(10 ** 6))

    def append(endorsers):
        tx = Transaction.create(client, TxKind.RECORD, CHAIN, b"r%d" % next(nonce), timestamp_ms=now_ms(),
                                nonce=next(nonce))
        block = builder._propose([tx])[0]
        block = block.with_endorsements([(p.fingerprint, p.sign(block.header.endorsement_message()))
                                         for p in endorsers])
        log.entries[len(log.entries)] = block.to_bytes()
        return block

    def revoke(name, effective_in):
        crl = authority.revoke(d / "ca", name, effective_in)
        install_crl(informed.peer.deployment.trust, crl, None)
    try:
        yield peers, informed, late, append, revoke, builder
    finally:
        for p in (informed.peer, late.peer, builder):
            p.close()


def test_a_revocation_dated_ahead_of_distribution_is_decided_alike(world):
    """edge-0.peer2 is revoked effective in 30 s; a block it co-endorsed now is taken by the
    peer that holds the CRL and by the one that does not yet: the same chain. Its calls are
    refused at once where the CRL is installed."""
    peers, informed, late, append, revoke, builder = world
    revoke(f"{CHAIN}.peer2", 30)
    block = append([peers[0], peers[2]])
    assert informed.sync() == late.sync() == 1
    assert informed.peer.digest(0) == late.peer.digest(0) == block.digest
    with pytest.raises(errors.RevokedCertificate):
        informed.peer.deployment.trust.check_transport(peers[2].certificate)
