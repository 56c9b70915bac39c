"""Red team, issue 11's open findings on revocation ordering (sec8): a peer joining after the
CRL entry was trimmed (the checkpoint carries the ordered CRL entries), peers judging a block
by their own crl.pem (only the log's order decides), the `--effective-in` window (admission,
endorsement and the cutter refuse what the log ordered), Peer.load's hint, and one CA check
per CRL entry. Real etcd where the attack needs the cluster (tests/cluster_helpers.py);
stand-in logs elsewhere (tests/test_redteam_cluster7.py's world)."""
import concurrent.futures
import dataclasses
import datetime
import queue
import time
import types

import pytest
from cryptography.hazmat.primitives import serialization

from ledger import errors
from ledger.block import Block, SignedHeader
from ledger.chain import now_ms
from ledger.cluster import authority, local
from ledger.cluster.follower import Checkpoint
from ledger.cluster.node import Node, deployment_params, install_crl, load_trust
from ledger.cluster.ordered_crl import OrderedRevocations, crl_entry, revocations_digest
from ledger.cluster.transport import pack, unpack
from ledger.identity import (CertificateAuthority, TrustStore, load_certificate, load_private_key,
                             load_revocation_list)
from ledger.peer import Peer
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind
import store_tamper
from cluster_helpers import Harness, empty_block_on, need_etcd
from test_cluster_crl import CHAIN
from test_redteam_cluster7 import _revoke, world  # noqa: F401 (world: the fixture)


# --- finding 2: a follower decides by the log's order only ----------------------------------


def test_a_block_dated_after_a_revocation_is_decided_alike_by_a_peer_holding_the_crl(world):
    """R is revoked effective at once; R and D endorse a block dated after the revocation and
    write it before any peer appended the CRL entry. The old code judged it by each peer's own
    crl.pem at the block's date: the peer holding the CRL skipped it, one reading before its
    crl.pem changed took it - a split until the entry came. Now both take it (the log has not
    ordered the revocation), both skip such a block after the entry, and the peer holding the
    CRL reopens its store with that block in it."""
    w = world
    informed, late = w.follower(0), w.follower(1)
    w.opened += [informed.peer, late.peer]
    crl, when = _revoke(w, f"{CHAIN}.peer2")
    install_crl(informed.peer.deployment.trust, crl, None)  # (only this peer's crl.pem changed yet)
    after = empty_block_on(deployment_params(w.deployment), w.blocks[2].header, now_ms(), (w.peers[2], w.peers[1]))
    assert after.header.timestamp_ms > when
    w.log.entries[3] = after.to_bytes()
    assert informed.sync() == late.sync() == 4
    assert informed.peer.digest(3) == late.peer.digest(3) == after.digest
    # from the entry on, alike the other way
    w.log.entries[4] = crl_entry(load_revocation_list(crl))
    again = empty_block_on(deployment_params(w.deployment), after.header, now_ms(), (w.peers[2], w.peers[1]))
    w.log.entries[5] = again.to_bytes()
    assert informed.sync() == late.sync() == 4 and informed.skipped == late.skipped == 1
    # the informed peer's restart re-validates block 3 by the same rule (its crl.pem revokes R)
    informed.peer.close()
    reopened = Peer(informed.peer.deployment, w.peers[0], PeerStore(informed.peer.store.path, CHAIN))
    w.opened.append(reopened)
    reopened.load(full=True, ordered=True)
    assert reopened.height == 4


# --- finding 3: the --effective-in window ----------------------------------------------------


def _stand_in_cutter(w, follower, endorsers):
    """The parts of a Node that _enqueue, _cut and _endorsements use, its fellow peers answering
    Endorse with `endorsers`' signatures (Identities) at once."""
    def endorse_future(identity):
        def call_future(method, request, timeout):
            block = Block.from_bytes(request)
            future = concurrent.futures.Future()
            future.set_result(pack(identity.fingerprint, identity.sign(block.header.endorsement_message())))
            return future
        return types.SimpleNamespace(call_future=call_future)
    channels = {i.name: endorse_future(i) for i in endorsers}
    node = types.SimpleNamespace(
        name=follower.peer.name, chain_id=CHAIN, follower=follower, peer=follower.peer, refused=None,
        config=follower.peer.config, addresses={follower.peer.name: "", **{n: "" for n in channels}},
        _channel=channels.__getitem__, _queue=queue.Queue(), _admitted_here=queue.Queue(),
        _know_signers=lambda txs: None, _check_reported=lambda tx: None)
    for name in ("_counts", "_revoked_by_the_log", "_skipped_by_all", "_endorsements", "_enqueue", "_prepare",
                 "_prepare_on", "_finish", "_endorsements_now", "_own_endorsement"):
        if hasattr(Node, name):  # (the old code's Node lacks the first three)
            setattr(node, name, getattr(Node, name).__get__(node))
    return node


def _crl_the_peer_does_not_install(w):
    """A follower at height 3 holding a CRL of the CA that revokes R only, and the CRL (not
    yet in the log) revoking the client in 30 s, which that follower will not install when
    the log brings it (it would undo R's revocation)."""
    f = w.follower(0)
    w.opened.append(f.peer)
    assert f.sync() == 3
    ca = CertificateAuthority(load_private_key(w.d / "ca" / "ca.key"), load_certificate(w.d / "ca" / "ca.crt"))
    now = datetime.datetime.now(datetime.timezone.utc)
    f.peer.deployment.trust.set_revocation_list(ca.revocation_list({w.peers[2].certificate.serial_number: now}))
    return f, ca.revocation_list({w.client.certificate.serial_number: now + datetime.timedelta(seconds=30)})


def test_a_revocation_only_the_log_ordered_is_refused_at_admission(world):
    """The log orders a CA-signed CRL revoking the client (effective in 30 s) that this peer
    does not install: its crl.pem is another CRL of the CA, which does not list the client.
    Every follower skips a block holding the client's transaction from the entry on. The old
    admission judged the client by the installed CRL only, admitted the transaction, and the
    cutter put it in a block, with honest ones, that every follower skipped. Now admission
    asks the log's revocations too (OrderedRevocations.check_signer)."""
    w = world
    f, revoke_client = _crl_the_peer_does_not_install(w)
    w.log.entries[3] = crl_entry(revoke_client)
    assert f.sync() == 3 and w.client.certificate.serial_number in f.revocations.serials
    f.peer.deployment.trust.resolve(w.client.fingerprint)  # (not revoked by the installed CRL)
    tx = Transaction.create(w.client, TxKind.RECORD, CHAIN, b"in the window", timestamp_ms=now_ms(), nonce=99)
    node = _stand_in_cutter(w, f, [w.peers[1]])
    (pending,) = Node._enqueue(node, [tx])
    with pytest.raises(errors.RevokedCertificate):
        pending.future.result(0)


def test_the_cutter_leaves_out_a_queued_transaction_the_log_revoked_and_cuts_the_others(world):
    """The client's transaction was admitted before the log ordered a CRL revoking the client
    (one this peer does not install, as above); an honest transaction waits beside it. The old
    cutter put both in one block that every follower skipped: both failed. Now the client's is
    refused and the honest one is on the chain."""
    w = world
    f, revoke_client = _crl_the_peer_does_not_install(w)
    client_tx = Transaction.create(w.client, TxKind.RECORD, CHAIN, b"queued", timestamp_ms=now_ms(), nonce=96)
    honest_tx = Transaction.create(w.peers[1], TxKind.RECORD, CHAIN, b"honest", timestamp_ms=now_ms(), nonce=95)
    node = _stand_in_cutter(w, f, [w.peers[1]])
    pendings = Node._enqueue(node, [client_tx, honest_tx])  # (admitted: the log has not ordered it yet)
    w.log.entries[3] = crl_entry(revoke_client)
    assert f.sync() == 3 and w.client.certificate.serial_number in f.revocations.serials

    def append_next(slot, height, block, leadership):
        w.log.entries[slot] = block.to_bytes()
        return slot
    node.__dict__.update(_leadership=object(), _append_next=append_next, _attested=lambda h, d: None,
                         _trim_soon=lambda leadership: None, _unappended=None,
                         _own_term=lambda leadership: f.term)  # (the log's term: 0, no term entry)
    Node._cut(node, [node._queue.get_nowait() for _ in pendings])
    with pytest.raises(errors.RevokedCertificate):
        pendings[0].future.result(0)
    assert pendings[1].future.result(0).height == 3
    late = w.follower(1)
    w.opened.append(late.peer)
    assert late.sync() == 4 and late.peer.digest(3) == f.peer.digest(3)


def test_the_cutter_counts_no_endorsement_of_a_certificate_the_log_revoked(world):
    """R is revoked effective in 30 s and the entry is in the log; R answers Endorse first. The
    old cutter counted R's endorsement (not revoked by date) and appended a block every
    follower skipped. Now it needs the policy's threshold without R."""
    w = world
    f = w.follower(0)
    w.opened.append(f.peer)
    assert f.sync() == 3
    crl = authority.revoke(w.d / "ca", f"{CHAIN}.peer2", 30)
    w.log.entries[3] = crl_entry(load_revocation_list(crl))
    assert f.sync() == 3
    tx = Transaction.create(w.client, TxKind.RECORD, CHAIN, b"r", timestamp_ms=now_ms(), nonce=98)
    proposal = f.peer._propose([tx])[0]
    only_r = _stand_in_cutter(w, f, [w.peers[2]])
    with pytest.raises(errors.ServiceUnavailable, match="revoked"):
        Node._endorsements(only_r, proposal)
    both = _stand_in_cutter(w, f, [w.peers[2], w.peers[1]])
    endorsements = Node._endorsements(both, proposal)
    assert {fp for fp, _ in endorsements} == {w.peers[0].fingerprint, w.peers[1].fingerprint}
    block = proposal.with_endorsements(endorsements)
    f.revocations.check(block)  # every follower takes it


# --- finding 1, re-attacked: what a checkpoint's attestations cover -----------------------


def _checkpoint_world(w):
    """Blocks 0..2 at slots 0..2, the CRL entry revoking R at slot 3, block 3 at slot 4; a
    follower that read it all (the honest attester)."""
    crl = authority.revoke(w.d / "ca", f"{CHAIN}.peer2", 30)
    w.log.entries[3] = crl_entry(load_revocation_list(crl))
    tx = Transaction.create(w.client, TxKind.RECORD, CHAIN, b"r3", timestamp_ms=now_ms(), nonce=97)
    builder = w.opened[0]
    block = builder._propose([tx])[0]
    block = block.with_endorsements([(p.fingerprint, p.sign(block.header.endorsement_message())) for p in w.peers[:2]])
    builder._commit(block)
    w.log.entries[4] = block.to_bytes()
    honest = w.follower(1)
    w.opened.append(honest.peer)
    assert honest.sync() == 4
    return honest, block


def _signed(cp, signers):
    return dataclasses.replace(cp, attestations=tuple((i.fingerprint, i.sign(cp.message(CHAIN))) for i in signers))


def test_a_checkpoint_leaving_out_the_ordered_crl_entry_moves_no_follower(world):
    """A dishonest cutter trims the log above the CRL entry with a checkpoint that omits it
    (the old checkpoint attested blocks only: a joining peer then judged the later blocks by
    date and took a block R co-signed that every other follower skipped). The honest attester
    refuses to sign it; with its attestation over the true entries the list cannot be swapped;
    a joining peer takes the listed entry and skips R's later block."""
    w = world
    honest, block3 = _checkpoint_world(w)
    true = Checkpoint(3, block3.digest, 4, (), honest.revocations.listed(3))
    assert [h for h, _ in true.revocations] == [3]
    node = types.SimpleNamespace(name=honest.peer.name, chain_id=CHAIN, peer=honest.peer, follower=honest)
    caller = types.SimpleNamespace(wait_bound=lambda wait: wait)
    with pytest.raises(errors.UnprovenAnswer):  # the omission: the honest peer signs nothing of it
        Node._rpc_attest_checkpoint(node, caller, pack(b"3", block3.digest, b"4", revocations_digest(()), b"0", b""))
    with pytest.raises(errors.UnprovenAnswer):  # another term than the log's at block 3
        Node._rpc_attest_checkpoint(node, caller, pack(b"3", block3.digest, b"4",
                                                       revocations_digest(true.revocations), b"1", b"edge-0.peer0"))
    with pytest.raises(errors.UnprovenAnswer):  # block 3 at another slot (a copy written later)
        Node._rpc_attest_checkpoint(node, caller, pack(b"3", block3.digest, b"6",
                                                       revocations_digest(true.revocations), b"0", b""))
    fp, sig = unpack(Node._rpc_attest_checkpoint(node, caller, pack(b"3", block3.digest, b"4",
                                                                    revocations_digest(true.revocations), b"0", b"")), 2)
    honest_sig = (bytes(fp), bytes(sig))
    dishonest = w.peers[0]  # (the cutter: its own key)
    omitted = dataclasses.replace(true, revocations=())
    swapped = dataclasses.replace(omitted, attestations=(honest_sig, _signed(omitted, [dishonest]).attestations[0]))
    with pytest.raises(errors.LedgerError):
        swapped.check(honest.peer.deployment, CHAIN, 2)
    # the genuine checkpoint, the log trimmed below slot 4, then R and D's block after it
    genuine = dataclasses.replace(true, attestations=(honest_sig, _signed(true, [dishonest]).attestations[0]))
    for slot in (0, 1, 2, 3):
        del w.log.entries[slot]
    w.log.checkpoint = lambda: genuine.to_bytes()
    later = empty_block_on(deployment_params(w.deployment), block3.header, block3.header.timestamp_ms,
                           (w.peers[2], w.peers[1]))
    w.log.entries[5] = later.to_bytes()
    source = honest.peer
    joining = w.follower(2)
    joining.sources = lambda: [("honest", lambda h: source.signed_header(h).to_bytes(),
                                lambda h: source.block(h).to_bytes())]
    w.opened.append(joining.peer)
    assert joining.sync() == 4 and joining.skipped == 1
    assert joining.revocations.serials == honest.revocations.serials
    assert honest.sync() == 4 and honest.skipped == 1


# --- finding 4, 5 ----------------------------------------------------------------------------


def test_a_rolled_back_store_names_the_hint_its_deployment_gives(world, tmp_path):
    """Peer.load takes the RollbackDetected hint (the node's `edgeacc node CONFIG --repair`);
    the node no longer rewrites Peer's message by cutting it at a phrase."""
    w = world
    builder = w.opened[0]
    builder.record_checkpoint()
    path = builder.store.path
    builder.close()
    store_tamper.truncate(path, 2)  # (cut back below the peer's own checkpoint)
    reopened = Peer(builder.deployment, w.peers[0], PeerStore(path, CHAIN))
    w.opened[0] = reopened
    with pytest.raises(errors.RollbackDetected) as caught:
        reopened.load(rollback_hint="run the repair of this deployment")
    assert str(caught.value).endswith("; run the repair of this deployment")


def test_a_crl_entry_is_checked_against_the_ca_once(world, monkeypatch):
    """Taking a CRL entry verified the CA's signature twice (checked_revocations, then again
    inside set_revocation_list)."""
    w = world
    crl = load_revocation_list(authority.revoke(w.d / "ca", f"{CHAIN}.peer2", 30))
    trust = load_trust(w.d / "trust")
    checked = []
    original = TrustStore.checked_revocations
    monkeypatch.setattr(TrustStore, "checked_revocations", lambda self, c: checked.append(c) or original(self, c))
    OrderedRevocations(trust).take(crl_entry(crl), 3)
    assert len(checked) == 1 and trust.revocation_list is not None


# --- finding 1 on real etcd: a peer joining after the trim ----------------------------------


@pytest.fixture
def joining(tmp_path):
    """edge-0 with four peers, 2-of-any, the log trimmed every 4 blocks; peers 0..2 run, peer3
    joins later."""
    need_etcd()
    h = Harness(tmp_path / "c", peers=4, trim_blocks=4)
    h.cluster.start_etcd()
    try:
        for name in h.names[:3]:
            h.cluster.start_node(name)
        h.cluster.wait_ready(30, names=h.names[:3])
        h.wait_cutter()
        from ledger.cluster.client import connect
        h.client = connect(h.cluster.client_config)
        yield h
    finally:
        h.stop()


def _address(h, name):
    return {p["name"]: p["address"] for c in h.cluster.deployment["chains"] for p in c["peers"]}[name]


def _latest(h, name):
    return SignedHeader.from_bytes(h.client._channel(name, _address(h, name)).call("Latest", b"", 10)).header


def test_a_peer_joining_after_the_crl_entry_was_trimmed_takes_no_block_the_others_skip(joining, tmp_path):
    """R's key ("edge-0.peer9") is revoked effective in 30 s; the peers order the CRL at once,
    the chain goes on and the cutter trims the log above the entry. R and a dishonest peer D
    then write a block dated before the revocation. The running peers skip it (it comes after
    the entry). The old code's joining peer crossed the checkpoint without the entry, judged the
    block by its date and took it: a fork. Now the checkpoint carries the entry."""
    h = joining
    d = h.cluster.directory
    running = h.names[:3]
    stolen = authority.load_identity(authority.issue(d / "ca", f"{CHAIN}.peer9", "peer", tmp_path / "p9", CHAIN))
    pem = stolen.certificate.public_bytes(serialization.Encoding.PEM)
    for name in running:
        h.client._channel(name, _address(h, name)).call("Register", pem, 10)
    h.client.submit(CHAIN, b"before the revocation").result(30)
    authority.revoke(d / "ca", f"{CHAIN}.peer9", effective_in=30)
    local.publish_trust(d)
    when = max(int(r.revocation_date_utc.timestamp() * 1000) for r in load_revocation_list(d / "ca" / "crl.pem"))
    deadline = time.monotonic() + 20
    while not all(h.status(n)["log"]["ordered_revocations"] for n in running):
        assert time.monotonic() < deadline, "the CRL was not ordered in the log"
        time.sleep(0.2)
    root = h.cluster.etcd_log(CHAIN)
    try:
        for i in range(12):  # the chain goes on; the cutter trims above the entry
            h.client.submit(CHAIN, b"after the entry %d" % i).result(30)
            cp = root.checkpoint()
            if cp is not None and Checkpoint.from_bytes(cp).revocations:
                break
        cp = Checkpoint.from_bytes(root.checkpoint())
        assert cp.revocations and root.blocks(0, 1)[0][0] == cp.slot  # (the entry is trimmed)
        height = h.wait_heights_equal()
        latest = _latest(h, running[0])
        assert latest.timestamp_ms + 1 < when
        dishonest = authority.load_identity(d / "nodes" / running[1] / "credentials")
        backdated = empty_block_on(deployment_params(h.cluster.deployment), latest, latest.timestamp_ms + 1,
                                   (stolen, dishonest))
        writer = h.cluster.etcd_log(CHAIN, running[1])
        try:
            slot = max(h.status(n)["log"]["next_slot"] for n in running)
            while writer.blocks(slot, 1):
                slot += 1
            writer.put_raw(b"block/%012d" % slot, backdated.signed.to_bytes())  # (its entry: the signed header)
        finally:
            writer.close()
    finally:
        root.close()
    h.restart_node(h.names[3])  # joins: crosses the checkpoint, then reads the backdated block
    assert h.wait_heights_equal() == height
    digests = {n: [b.digest for b in h.blocks_of(n)] for n in h.names}
    assert all(v == digests[running[0]] for v in digests.values())
    assert backdated.digest not in digests[h.names[3]]
    assert h.status(h.names[3])["log"]["ordered_revocations"] >= 1


def test_a_term_entry_of_a_peer_the_logs_crl_entries_revoke_is_skipped(world):
    """R is revoked and the log orders the CRL; R (key still in hand, certificate still within
    its dates) then appends a term entry naming itself. Every follower skips it - judged by the
    log's CRL entries, not by its own crl.pem - and takes H's entry of the same term."""
    from ledger.cluster.follower import term_entry
    w = world
    f = w.follower(0)
    w.opened.append(f.peer)
    assert f.sync() == 3
    crl, _ = _revoke(w, f"{CHAIN}.peer2")
    w.log.entries[3] = crl_entry(load_revocation_list(crl))
    w.log.entries[4] = term_entry(CHAIN, 1, w.peers[2])
    w.log.entries[5] = term_entry(CHAIN, 1, w.peers[0])
    f.sync()
    assert (f.term, f.term_cutter) == (1, w.peers[0].name) and f.skipped == 1
