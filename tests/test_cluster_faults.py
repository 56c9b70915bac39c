"""The distributed deployment under faults, on loopback: each module starts its own 3-member
etcd and one chain's peers as `edgeacc node` processes (3 peers, 2-of-any endorsement) and
kills every process at the end. Every acknowledged transaction must be on every peer exactly
once afterwards; without quorum a client gets a clear error, not a hang."""
import concurrent.futures
import dataclasses
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ledger import errors
from ledger.block import Block, SignedHeader
from ledger.chain import Deployment, now_ms
from ledger.cluster import authority, local
from ledger.cluster.follower import Checkpoint
from ledger.cluster.node import chain_configs, deployment_params, load_trust
from ledger.cluster.ordering import MAX_TX_BYTES, EtcdLog
from ledger.cluster.transport import Channel, Credentials, unpack
from ledger.identity import Identity, load_certificate, load_private_key
from ledger.peer import Peer
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind

from cluster_helpers import Harness, empty_block_on, need_etcd

need_etcd()

TRIM_BLOCKS = 8  # the cutter trims etcd's log this often (the other tests run across trims too)


@pytest.fixture(scope="module")
def h(tmp_path_factory):
    # (the pipelined cutter: every fault here hits it with blocks in flight)
    harness = Harness(tmp_path_factory.mktemp("cluster") / "c", trim_blocks=TRIM_BLOCKS, cut_ahead=1)
    try:
        yield harness.start()
    finally:
        harness.stop()


def _submit_all(h, n, tag):
    """n records submitted at once; (receipts, errors)."""
    pendings = [h.client.submit(h.chain, b"%s-%d" % (tag, i)) for i in range(n)]
    receipts, failures = [], []
    for p in pendings:
        try:
            receipts.append(p.result(h.client.submit_timeout + 10))
        except errors.LedgerError as exc:
            failures.append(exc)
    return receipts, failures


def test_submissions_are_on_every_peer_exactly_once(h):
    receipts, failures = _submit_all(h, 40, b"plain")
    assert not failures
    h.assert_exactly_once(receipts)
    assert h.client.transaction(receipts[0].tx_id).payload == b"plain-0"


def test_replayed_submission_is_answered_not_ordered_again_and_a_tampered_one_is_refused(h):
    tx = h.client.record(h.chain, b"once")
    first = h.client.submit_transaction(tx).result()
    again = h.client.submit_transaction(Transaction.from_bytes(tx.to_bytes())).result()
    assert again == first
    data = bytearray(tx.to_bytes())
    data[-1] ^= 1  # the signature's last byte
    forged = h.client.record(h.chain, b"forged")
    forged_bytes = bytearray(forged.to_bytes())
    forged_bytes[-1] ^= 1
    # (every peer at the same height first: a receipt needs only the threshold's peers, the
    # third may still be taking the block)
    height = h.wait_heights_equal()
    with pytest.raises(errors.LedgerError) as info:
        h.client.submit_transaction(Transaction.from_bytes(bytes(forged_bytes))).result()
    assert isinstance(info.value, (errors.BadSignature, errors.EncodingError))
    assert h.wait_heights_equal() == height  # nothing was ordered
    ids = h.tx_ids_of(h.names[1])
    assert ids.count(tx.tx_id) == 1 and forged.tx_id not in ids


def test_a_committed_transaction_under_a_forged_signature_gets_no_receipt(h):
    """The cutter answers a resubmission from the chain (it locates a transaction only once
    admission refused it): the same body under another signature is ReplayedTransaction,
    never the committed one's receipt, and nothing is ordered."""
    tx = h.client.record(h.chain, b"signed once")
    h.client.submit_transaction(tx).result()
    data = bytearray(tx.to_bytes())
    data[-1] ^= 1  # the signature's last byte: the same id
    height = h.wait_heights_equal()
    with pytest.raises(errors.ReplayedTransaction):
        h.client.submit_transaction(Transaction.from_bytes(bytes(data))).result()
    assert h.wait_heights_equal() == height
    assert h.tx_ids_of(h.names[1]).count(tx.tx_id) == 1


def test_copies_of_one_transaction_in_one_submission_are_answered_and_ordered_once(h):
    from ledger.cluster.transport import pack
    tx = h.client.record(h.chain, b"twice at once")
    cutter = h.wait_cutter()
    address = {p["name"]: p["address"] for c in h.cluster.deployment["chains"] for p in c["peers"]}[cutter]
    outcomes = unpack(h.client._channel(cutter, address).call("Submit", pack(*[tx.to_bytes()] * 3), 30))
    assert [unpack(o)[:2] for o in outcomes] == [unpack(outcomes[0])[:2]] * 3
    assert unpack(outcomes[0])[0] == b"R"
    h.wait_heights_equal()
    for name in h.names:
        assert h.tx_ids_of(name).count(tx.tx_id) == 1


def test_register_publishes_the_certificate_only(h, tmp_path):
    """A member registers a genuine certificate with bulk appended after its PEM block: etcd
    (which every peer reads) receives the certificate, not the bulk."""
    from ledger.identity import fingerprint, load_certificate
    creds = authority.issue(h.cluster.directory / "ca", "padder", "client", tmp_path / "padder")
    pem = (creds / "identity.crt").read_bytes()
    fp = h.client._call_any(h.chain, "Register", pem + b"junk" * 100_000)
    assert fp == fingerprint(load_certificate(creds / "identity.crt"))
    log = h.cluster.etcd_log(h.chain, h.names[0])
    try:
        assert log.certificates(fp, h.names) == [pem]
    finally:
        log.close()


def test_a_peer_cannot_delete_the_certificate_a_new_client_registered(h, tmp_path):
    """A client issued after the peers started registers its certificate; a peer then deletes
    the registry in etcd (it could: one shared key per certificate). Every peer that had not
    seen the certificate refused the client until it registered again. Now the client hands
    it to every peer, each publishes its own copy, and the peer's delete is refused: the
    copies stay and the client's submission is ordered."""
    from ledger.cluster import etcdauth
    from ledger.cluster.client import connect
    creds = authority.issue(h.cluster.directory / "ca", "late", "client", tmp_path / "late")
    h.cluster.wait_ready(30, names=h.names)  # (every peer serves: each takes the certificate)
    late = connect({"name": "late", "credentials": str(creds), "trust": str(h.cluster.directory / "trust"),
                    "deployment": str(h.cluster.directory / "deployment.json")})
    root, attacker = h.cluster.etcd_log(h.chain), h.cluster.etcd_log(h.chain, h.names[1])
    try:
        tx = late.record(h.chain, b"late")
        late._register(h.chain, [tx])
        copies = root.certificates(tx.submitter, h.names)
        assert len(copies) == len(h.names) and len(set(copies)) == 1

        async def delete(client):
            await client.connect()
            await client.delete_prefix(etcdauth.CERTS_PREFIX)
        with pytest.raises(errors.AccessDenied):
            attacker._run(delete(attacker._client), "delete")
        assert root.certificates(tx.submitter, h.names) == copies
        receipt = late.submit_transaction(tx).result(30)
        assert h.client.transaction(receipt.tx_id).payload == b"late"
        # a peer restarted re-validates the late client's block before it can ask anyone: it
        # kept the certificate (the trust directory lacks it); it failed to start otherwise
        victim = next(n for n in reversed(h.names) if not h.status(n)["cutter"])
        h.cluster.kill_node(victim)
        h.restart_node(victim)
        assert h.status(victim)["height"] == h.wait_heights_equal() > receipt.height
    finally:
        late.close()
        root.close()
        attacker.close()


def test_deposed_or_racing_cutter_cannot_append(h):
    """Two cutters campaign at once: one wins. The winner's lease expires (it stalled) and
    another is elected: the deposed one's append is fenced out, before and after the new
    cutter appended (a log of its own chain key in the module's etcd)."""
    logs = [h.cluster.etcd_log("fence-test") for _ in range(2)]  # (the operator's root: no peer's prefix)
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            won = list(pool.map(lambda i: logs[i].campaign(f"c{i}", 1), range(2)))
        assert sum(w is not None for w in won) == 1
        first = won.index(next(w for w in won if w is not None))
        old, other = logs[first], logs[1 - first]
        deadline = time.monotonic() + 10
        while old.cutter() is not None and time.monotonic() < deadline:
            time.sleep(0.2)  # the stalled cutter does not refresh its lease
        new = other.campaign(f"c{1 - first}", 5)
        assert new is not None
        assert not old.append(0, b"deposed", won[first], f"c{first}")
        assert other.append(0, b"elected", new, f"c{1 - first}")
        assert not old.append(1, b"deposed", won[first], f"c{first}")
        assert not other.append(0, b"again", new, f"c{1 - first}")  # height fence
        assert other.blocks(0) == [(0, b"elected")]
        other.resign(new)
    finally:
        for log in logs:
            log.close()


def test_the_log_dials_the_etcd_leader_first(h):
    """Every EtcdLog names the leading member first (a follower member would relay each block
    to it), whatever order the deployment lists the members in."""
    endpoints = h.cluster.deployment["etcd"]
    leader = endpoints[h.cluster.etcd.leader()]
    for order in (endpoints, endpoints[::-1]):
        log = EtcdLog(list(order), h.chain, h.cluster.etcd.root)
        try:
            assert log._leader(list(order), wait=10) == leader  # the constructor's 1 s hint can lapse under load
        finally:
            log.close()


def test_too_large_transaction_is_a_clear_error(h):
    with pytest.raises(errors.TransactionTooLarge, match="object store"):
        h.client.submit(h.chain, b"x" * (MAX_TX_BYTES + 1)).result()


def test_proof_request_is_bounded_and_numbers_are_canonical(h):
    """A client asks one node for a witness per id of a huge list (a CPU bomb), or names a
    height in a second encoding: both refused, nothing computed."""
    from ledger.cluster.node import MAX_PROOFS
    from ledger.cluster.transport import pack
    receipt = h.client.submit(h.chain, b"to prove").result()
    name = h.names[0]
    address = {p["name"]: p["address"] for c in h.cluster.deployment["chains"] for p in c["peers"]}[name]
    channel = h.client._channel(name, address)
    height = h.wait_heights_equal()
    with pytest.raises(errors.ArgumentError, match="at most"):
        channel.call("Proofs", pack(b"%d" % (height - 1), *[receipt.tx_id] * (MAX_PROOFS + 1)), 10)
    assert len(unpack(channel.call("Proofs", pack(b"%d" % (height - 1), receipt.tx_id, receipt.tx_id), 10))) == 2
    for bad in (b"0%d" % receipt.height, b"%d " % receipt.height, b"+%d" % receipt.height):
        with pytest.raises(errors.EncodingError):
            channel.call("Block", bad, 5)
    assert h.wait_heights_equal() == height


def test_kill_etcd_leader_during_submissions(h):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        run = pool.submit(_submit_all, h, 60, b"etcd-kill")
        time.sleep(0.3)
        leader = h.cluster.etcd.leader()
        h.cluster.etcd.kill(leader)
        receipts, failures = run.result()
    assert receipts and all(isinstance(f, errors.ServiceUnavailable) for f in failures)
    h.assert_exactly_once(receipts)
    h.cluster.etcd.start(leader)


def test_kill_the_block_cutter_fails_over_within_seconds(h):
    cutter = h.wait_cutter()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        run = pool.submit(_submit_all, h, 60, b"cutter-kill")
        time.sleep(0.2)
        h.cluster.kill_node(cutter)
        # Liveness, not a measurement (bench/cluster_faults.py measures failover): a successor
        # within 4 lease periods, or wait_cutter fails.
        successor = h.wait_cutter(timeout=8.0)
        receipts, failures = run.result()
    assert successor != cutter
    assert not failures  # the client resubmits the same bytes until the new cutter takes them
    h.restart_node(cutter)  # and it catches up from etcd, re-validating every block
    h.assert_exactly_once(receipts)


def test_kill_the_cutter_with_a_block_in_flight_loses_no_acknowledged_transaction(h):
    """The pipelined cutter endorses block h+1 on h while h is appended (Node._cut_loop): it
    is killed -9 amid streams of submissions once its endorsers endorse ahead (blocks on an
    unstored parent: in flight). No acknowledged transaction is lost or on the chain twice, and
    what the dead cutter did not order is answered "submit again" or ordered by the successor."""
    cutter = h.wait_cutter()
    endorsers = [n for n in h.names if n != cutter]

    def ahead():
        return sum(h.status(n)["log"]["endorsed_ahead"] for n in endorsers)
    before = ahead()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        runs = [pool.submit(_submit_all, h, 150, b"in-flight-%d" % i) for i in range(4)]
        deadline = time.monotonic() + 10
        while ahead() == before and time.monotonic() < deadline:
            time.sleep(0.02)
        h.cluster.kill_node(cutter)
        h.wait_cutter(timeout=8.0)
        results = [r.result() for r in runs]
    receipts = [r for rs, _ in results for r in rs]
    failures = [f for _, fs in results for f in fs]
    assert receipts and all(isinstance(f, errors.ServiceUnavailable) for f in failures)
    h.restart_node(cutter)
    h.assert_exactly_once(receipts)


def test_kill_a_peer_and_restart_it_catches_up(h):
    cutter = h.wait_cutter()
    victim = next(n for n in h.names if n != cutter)
    h.cluster.kill_node(victim)
    receipts, failures = _submit_all(h, 30, b"peer-kill")  # 2 of the 3 peers still endorse
    assert not failures
    h.restart_node(victim)
    h.assert_exactly_once(receipts)


def test_a_restarted_peer_fetches_the_bodies_it_missed_from_its_peers(h):
    """etcd holds blocks' headers only: a peer that was down while blocks were ordered has
    none of their bodies, and on restart fetches each from the other peers (checked under its
    header, then validated and committed as any block), or below a trim the blocks; its chain
    is then every other peer's."""
    cutter = h.wait_cutter()
    victim = next(n for n in h.names if n != cutter)
    h.wait_heights_equal()
    h.cluster.kill_node(victim)
    receipts = [h.client.submit(h.chain, b"missed-%d" % i).result(30) for i in range(3)]  # (a block each)
    h.restart_node(victim)
    h.assert_exactly_once(receipts)
    status = h.status(victim)
    caught_up = status["start"]["caught_up"]
    assert caught_up >= 3 and status["refused"] is None
    assert status["log"]["fetched"]["bodies"] + status["log"]["from_peers"]["blocks"] >= caught_up
    digests = {n: [b.digest for b in h.blocks_of(n)] for n in h.names}
    assert all(v == digests[victim] for v in digests.values())


def _latest(h, name):
    data = h.client._channel(name, _address(h, name)).call("Latest", b"", 10)
    return SignedHeader.from_bytes(data).header


def _wait_fenced(h, timeout=10.0):
    """Wait until every peer took a CRL entry of its chain's log revoking every serial of the
    CA's CRL (the revocation fence: ledger.cluster.ordered_crl); False if that did not happen
    within `timeout`."""
    from ledger.identity import load_revocation_list
    serials = len(load_revocation_list(h.cluster.directory / "ca" / "crl.pem"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(h.status(n)["log"]["ordered_revocations"] >= serials for n in h.names):
            return True
        time.sleep(0.2)
    return False


def test_a_revoked_key_cannot_backdate_a_block_on_an_idle_chain(h, tmp_path):
    """A peer key of edge-0 ("edge-0.peer9", known to the peers) is revoked while the chain is
    idle; its holder and one dishonest unrevoked peer (2-of-any) endorse an empty block dated
    between the chain's latest block and the revocation, and the dishonest peer writes it into
    etcd at the next slot after the revocation took effect. Peers decide a block by the
    revocations effective at its date, so every follower took it. Now the peers append the
    CA's CRL to the log (the fence: ledger.cluster.ordered_crl) and the backdated block after
    it is skipped by every peer: heights and chains unchanged."""
    from ledger.identity import load_revocation_list
    d = h.cluster.directory
    stolen = authority.load_identity(authority.issue(d / "ca", "edge-0.peer9", "peer", tmp_path / "p9", h.chain))
    pem = stolen.certificate.public_bytes(serialization.Encoding.PEM)
    h.cluster.wait_ready(30, names=h.names)
    for name in h.names:
        h.client._channel(name, _address(h, name)).call("Register", pem, 10)
    h.client.submit(h.chain, b"the last block before the revocation").result(30)
    h.wait_heights_equal()
    before = _latest(h, h.names[0])
    authority.revoke(d / "ca", "edge-0.peer9", effective_in=1)
    local.publish_trust(d)
    when = max(int(r.revocation_date_utc.timestamp() * 1000) for r in load_revocation_list(d / "ca" / "crl.pem")
               if r.serial_number == stolen.certificate.serial_number)
    fenced = _wait_fenced(h)
    height = h.wait_heights_equal()
    # the attack: an empty block on the pre-revocation block, dated before the revocation
    dishonest = authority.load_identity(d / "nodes" / h.names[1] / "credentials")
    backdated = empty_block_on(deployment_params(h.cluster.deployment), before,
                               max(before.timestamp_ms, when - 1), (stolen, dishonest))
    writer = h.cluster.etcd_log(h.chain, h.names[1])
    try:
        slot = max(h.status(n)["log"]["next_slot"] for n in h.names)
        while writer.blocks(slot, 1):
            slot += 1
        writer.put_raw(b"block/%012d" % slot, backdated.signed.to_bytes())  # (its entry: the signed header)
        deadline = time.monotonic() + 5
        while any(h.status(n)["log"]["next_slot"] <= slot for n in h.names) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        writer.close()
    assert fenced, "the CRL was not ordered in the log"
    assert h.wait_heights_equal() == height
    for name in h.names:
        assert backdated.digest not in {b.digest for b in h.blocks_of(name)}


def test_revoked_client_is_refused_by_the_nodes(h, tmp_path):
    d = h.cluster.directory
    creds = authority.issue(d / "ca", "eve", "client", tmp_path / "eve")
    cfg = {"name": "eve", "credentials": str(creds), "deployment": str(d / "deployment.json"), "submit_timeout": 5}
    from ledger.cluster.client import connect
    with connect(cfg) as eve:
        assert eve.submit(h.chain, b"before").result().chain_id == h.chain
        authority.revoke(d / "ca", "eve")
        local.publish_trust(d)  # the operator distributes the new CRL
        time.sleep(1.5)  # nodes re-read crl.pem within 0.5 s
        assert _wait_fenced(h)  # (the CRL entry in the log)
        height = h.wait_heights_equal()
        with pytest.raises(errors.RevokedCertificate):
            eve.submit(h.chain, b"after").result()
        assert h.wait_heights_equal() == height


def test_a_member_flooding_stored_calls_cannot_starve_a_node(h, tmp_path):
    """A client certificate ("flooder") floods one peer with Stored calls for blocks just ahead
    (each would wait for its block): beyond its bound of calls under way the node refuses at
    once, and another client's submissions through that peer are answered meanwhile."""
    from ledger.cluster.client import connect
    from ledger.cluster.follower import encode_block_id
    from ledger.cluster.transport import PER_CALLER

    d, target = h.cluster.directory, h.wait_cutter()
    flooder_creds = authority.issue(d / "ca", "flooder", "client", tmp_path / "flooder")
    flooder = Channel(_address(h, target), target, Credentials.load(flooder_creds))
    bystander = connect({"name": "client", "credentials": str(d / "clients" / "client"),
                         "deployment": str(d / "deployment.json"), "submit_timeout": 20})
    ahead = encode_block_id(h.status(target)["height"] + 10, b"\0" * 32)
    try:
        with concurrent.futures.ThreadPoolExecutor(4 * PER_CALLER) as pool:
            flood = [pool.submit(flooder.call, "Stored", ahead, 8) for _ in range(4 * PER_CALLER)]
            receipt = bystander.submit(h.chain, b"served during the flood").result(20)
            outcomes = [f.exception(20) for f in flood]
        assert receipt.chain_id == h.chain
        refused = [e for e in outcomes if isinstance(e, errors.ServiceUnavailable) and "calls under way" in str(e)]
        assert len(refused) >= 4 * PER_CALLER - 2 * PER_CALLER  # all but the bound (2 * PER_CALLER for Stored)
        assert all(isinstance(e, errors.ServiceUnavailable) for e in outcomes)  # none attested a missing block
    finally:
        flooder.close()
        bystander.close()


def _address(h, name):
    return next(p["address"] for c in h.cluster.deployment["chains"] for p in c["peers"] if p["name"] == name)


def test_a_device_cannot_trigger_interlocking(h, tmp_path):
    """Interlocking is for the chains' peers and clients: a device's Interlock call is refused
    at the call and nothing is ordered."""
    d = h.cluster.directory
    device = Credentials.load(authority.issue(d / "ca", "edge-0.sensor9", "device", tmp_path / "dev", h.chain))
    cutter = h.wait_cutter()
    height = h.wait_heights_equal()
    channel = Channel(_address(h, cutter), cutter, device)
    try:
        with pytest.raises(errors.UnauthorizedSigner, match="device"):
            channel.call("Interlock", b"", 5)
    finally:
        channel.close()
    assert h.wait_heights_equal() == height


def test_a_restarted_node_refuses_an_older_crl(h, tmp_path):
    """The trust directory's crl.pem is swapped back to the CA's earlier CRL (before a
    revocation) while a node is down: the node refuses to start on it, and serves again once
    the current CRL is back."""
    d = h.cluster.directory
    older = (d / "trust" / "crl.pem").read_bytes()
    authority.issue(d / "ca", "mallory", "client", tmp_path / "mallory")
    authority.revoke(d / "ca", "mallory")
    local.publish_trust(d)
    newer = (d / "trust" / "crl.pem").read_bytes()
    victim = next(n for n in reversed(h.names) if not h.status(n)["cutter"])
    remembered = d / "nodes" / victim / "store.sqlite.crl.pem"
    deadline = time.monotonic() + 10
    while remembered.read_bytes() != newer:  # the running node installs and keeps the new CRL
        assert time.monotonic() < deadline, "the node did not keep the CRL it installed"
        time.sleep(0.2)
    h.cluster.kill_node(victim)
    try:
        (d / "trust" / "crl.pem").write_bytes(older)
        h.cluster.start_node(victim)
        assert h.cluster.nodes[victim].wait(60) != 0
        assert "older than the installed one" in (d / "nodes" / victim / "node.log").read_text()
        assert remembered.read_bytes() == newer
    finally:
        h.cluster.nodes[victim] = None
        local.publish_trust(d)
        h.restart_node(victim)
    assert h.status(victim)["height"] == h.wait_heights_equal()


def test_no_etcd_quorum_is_a_clear_error_then_recovers(h):
    etcd = h.cluster.etcd
    down = [i for i in range(3) if i != etcd.leader()][:1] + [etcd.leader()]
    for i in down:
        etcd.kill(i)
    h.client.submit_timeout = 4
    try:
        # A hang would end result(20) with a plain LedgerError ("not committed within"), not this.
        with pytest.raises(errors.ServiceUnavailable):
            h.client.submit(h.chain, b"no quorum").result(20)
    finally:
        h.client.submit_timeout = 60.0
    for i in down:
        etcd.processes[i] = None
    for i in down:
        etcd.start(i) if i == down[-1] else _start_quiet(etcd, i)
    h.wait_cutter()
    receipts, failures = _submit_all(h, 5, b"after-quorum")
    assert not failures
    h.assert_exactly_once(receipts)


def _start_quiet(etcd, i):
    """Start member i without waiting for a leader (it needs the next one to have a quorum)."""
    import subprocess
    log = open(etcd.directory / f"{etcd.names[i]}.log", "ab")
    etcd.processes[i] = subprocess.Popen(etcd._command(i, "new"), stdout=log, stderr=log, start_new_session=True)
    log.close()


def test_restart_the_whole_cluster(h):
    receipts, failures = _submit_all(h, 20, b"before-restart")
    assert not failures
    for name in h.names:
        h.cluster.kill_node(name)
    for i in range(3):
        h.cluster.etcd.kill(i)
    h.cluster.etcd.start()
    for name in h.names:
        h.cluster.start_node(name)
    h.wait_cutter()
    more, failures = _submit_all(h, 10, b"after-restart")
    assert not failures
    h.assert_exactly_once(receipts + more)


def _identity(creds):
    return Identity(load_private_key(creds / "identity.key"), load_certificate(creds / "identity.crt"))


def _next_block(h, tmp_path, payload):
    """A valid, unendorsed next block of the chain, built on a copy of its blocks."""
    d = h.cluster.directory
    rules = Deployment(deployment_params(h.cluster.deployment), load_trust(d / "trust"), chain_configs(h.cluster.deployment))
    client = _identity(d / "clients" / "client")
    blocks = h.blocks_of(h.names[0])
    known = {m.fingerprint for m in rules.trust.members()} | {client.fingerprint}
    rules.trust.add_certificate(client.certificate)
    for fp in {tx.submitter for b in blocks for tx in b.transactions} - known:
        rules.trust.add_certificate(x509.load_pem_x509_certificate(h.client._call_any(h.chain, "Certificate", fp)))
    builder = Peer(rules, _identity(d / "nodes" / h.names[0] / "credentials"),
                   PeerStore(tmp_path / "builder.sqlite", h.chain))
    try:
        for block in blocks:
            builder._commit(block, live=False)
        tx = Transaction.create(client, TxKind.RECORD, h.chain, payload, timestamp_ms=now_ms(), nonce=time.time_ns())
        return builder._propose([tx])[0]
    finally:
        builder.close()


def test_invalid_entries_in_etcd_are_skipped_by_every_peer_and_the_chain_goes_on(h, tmp_path):
    """etcd is trusted for order, not content, and every peer of the chain may write to it: a dishonest cutter
    puts junk, the next block endorsed by one peer (the policy needs 2), the next block with a
    forged endorsement, and a block on a forked parent with real endorsements at the log's
    next slots, and a valid block under keys that name no slot. No peer stores any of them, none stops following, and the next honest
    submission is block `height` on every peer."""
    height = h.wait_heights_equal()
    before = {n: h.status(n)["log"] for n in h.names}
    slot = before[h.names[0]]["next_slot"]
    proposal = _next_block(h, tmp_path, b"never endorsed by two")
    keys = [_identity(h.cluster.directory / "nodes" / n / "credentials") for n in h.names[:2]]

    def endorsed(block, who):
        return block.with_endorsements([(k.fingerprint, k.sign(block.header.endorsement_message())) for k in who])
    forged = endorsed(proposal, keys)
    fp, sig = forged.signed.endorsements[0]
    forged = forged.with_endorsements([(fp, sig[:10] + bytes([sig[10] ^ 1]) + sig[11:])] + list(forged.signed.endorsements[1:]))
    forked = endorsed(Block(SignedHeader(dataclasses.replace(proposal.header, previous=b"\7" * 32), ()),
                            proposal.transactions), keys)
    log = h.cluster.etcd_log(h.chain, h.names[0])  # a dishonest peer of the chain: etcd lets it write
    try:
        # (entries as a cutter appends them: signed headers, ledger.cluster.ordering)
        for i, data in enumerate([b"junk", endorsed(proposal, keys[:1]).signed.to_bytes(), forged.signed.to_bytes(),
                                  forked.signed.to_bytes()]):
            log.put_raw(b"block/%012d" % (slot + i), data)
        for key in (b"block/%012dz" % slot, b"block/junk", b"block/%011d" % (slot + 9)):  # keys that name no slot
            log.put_raw(key, endorsed(proposal, keys).signed.to_bytes())
    finally:
        log.close()
    receipt = h.client.submit(h.chain, b"after the junk").result(30)
    assert receipt.height == height
    assert h.wait_heights_equal() == height + 1
    for name in h.names:
        status = h.status(name)
        assert status["refused"] is None and status["log"]["skipped"] == before[name]["skipped"] + 4
        assert status["log"]["next_slot"] == slot + 5
        assert [tx.payload for tx in h.blocks_of(name)[height].transactions] == [b"after the junk"]
    h.assert_exactly_once([receipt])


def test_a_peer_restarted_after_trimming_catches_up_from_the_other_peers(h):
    """The cutter trims etcd's log below a checkpoint a quorum attests while a peer is down;
    the restarted peer finds the blocks it misses gone from etcd, fetches them from a peer
    (checking them against the attested digest) and holds exactly the chain the others hold."""
    cutter = h.wait_cutter()
    victim = next(n for n in h.names if n != cutter)
    missed_from = h.status(victim)["height"]
    h.cluster.kill_node(victim)
    receipts = [h.client.submit(h.chain, b"trim-%d" % i).result(60) for i in range(TRIM_BLOCKS + 3)]
    log = h.cluster.etcd_log(h.chain)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            data = log.checkpoint()
            cp = Checkpoint.from_bytes(data) if data else None
            if cp is not None and cp.height >= missed_from:
                break
            time.sleep(0.2)
        assert cp is not None and cp.height >= missed_from, "the cutter did not trim"
        assert all(slot >= cp.slot for slot, _ in log.blocks(0))  # the entries below are gone from etcd
    finally:
        log.close()
    h.restart_node(victim)
    h.assert_exactly_once(receipts)  # (retries while the client's channel to the victim reconnects)
    assert h.status(victim)["log"]["from_peers"]["blocks"] >= cp.height + 1 - missed_from
    chains = {n: [b.digest for b in h.blocks_of(n)] for n in h.names}
    assert chains[victim] == chains[cutter]
