"""Red team, issue 11's cluster trust rules: etcd's key ranges (ledger.cluster.etcdauth), the
rule every network read and receipt confirmation follows (ledger.cluster.reads,
follower.confirm_blocks) and the per-caller bounds of the transport. Each attack is refused
and what an honest reader holds afterwards is unchanged."""
import concurrent.futures
import json
import time
import types

import pytest

from ledger import errors
from ledger.chain import Deployment, now_ms
from ledger.cluster import authority, etcdauth, local
from ledger.cluster.follower import confirm_blocks, decode_block_id, stored_message
from ledger.cluster.node import chain_configs, deployment_params, install_crl, load_trust
from ledger.cluster.reads import ChainReader
from ledger.cluster.transport import pack
from ledger.identity import Identity, load_certificate, load_private_key
from ledger.peer import Peer
from ledger.store import PeerStore
from ledger.tx import Transaction, TxKind

from cluster_helpers import need_etcd, pooled

EDGE = "edge-0"
ENTRY = b"block/000000000000"


def _identity(creds):
    return Identity(load_private_key(creds / "identity.key"), load_certificate(creds / "identity.crt"))


def _endorsed(block, endorsers):
    return block.with_endorsements([(p.fingerprint, p.sign(block.header.endorsement_message())) for p in endorsers])


# --- etcd: one chain's peers reach no other chain's keys ------------------------------------

RENAMED = {"edge-0": "certs", "edge-2": "edge-10"}  # a chain named like the shared prefix; prefix ids


@pytest.fixture(scope="module")
def etcd_cluster(tmp_path_factory):
    need_etcd()
    d = local.create(tmp_path_factory.mktemp("rbac") / "d", subchains=3, peers_per_chain=1, endorsement_threshold=1)
    deployment = json.loads((d / "deployment.json").read_text())
    for chain in deployment["chains"]:
        chain["id"] = RENAMED.get(chain["id"], chain["id"])
    (d / "deployment.json").write_text(json.dumps(deployment))
    c = local.LocalCluster(d)
    c.start_etcd()
    try:
        for chain, owner in (("certs", "edge-0.peer0"), ("edge-1", "edge-1.peer0"), ("edge-10", "edge-2.peer0")):
            log = c.etcd_log(chain, owner)
            try:
                log.put_raw(ENTRY, b"the entry of " + chain.encode())
            finally:
                log.close()
        yield c
    finally:
        c.etcd.stop()


def _entries(cluster, chain):
    log = cluster.etcd_log(chain)  # the operator's root
    try:
        return log.blocks(0)
    finally:
        log.close()


@pytest.mark.parametrize("chain, intruder", [("certs", "main.peer0"), ("certs", "edge-1.peer0"),
                                             ("edge-10", "edge-1.peer0"), ("edge-1", "edge-2.peer0")])
def test_a_peer_of_another_chain_cannot_write_a_chain_named_like_a_shared_or_longer_prefix(
        etcd_cluster, chain, intruder):
    """Every peer may write the shared certificates; a chain named "certs" had exactly that key
    range as its log, so any peer of any chain rewrote its entries and took its cutter. Chain
    ids that are prefixes of each other ("edge-1", "edge-10") stay apart too."""
    before = _entries(etcd_cluster, chain)
    log = etcd_cluster.etcd_log(chain, intruder)
    try:
        with pytest.raises(errors.AccessDenied):
            log.put_raw(ENTRY, b"a rewritten entry")
        with pytest.raises(errors.AccessDenied):
            log.campaign(intruder, 5)
    finally:
        log.close()
    assert _entries(etcd_cluster, chain) == before == [(0, b"the entry of " + chain.encode())]


def _raw(log, operation):
    """Run `operation(aetcd client)` with `log`'s etcd credentials (what a dishonest peer can
    send etcd directly)."""
    async def run():
        await log._client.connect()
        await operation(log._client)
    log._run(run(), "raw write")


CERTIFICATE_ATTACKS = {
    "delete the copy": lambda fp: lambda c: c.delete(etcdauth.certificate_key("edge-1.peer0", fp)),
    "overwrite the copy": lambda fp: lambda c: c.put(etcdauth.certificate_key("edge-1.peer0", fp), b"junk"),
    "delete the registry": lambda fp: lambda c: c.delete_prefix(etcdauth.CERTS_PREFIX),
    "a shared key": lambda fp: lambda c: c.put(etcdauth.CERTS_PREFIX + fp.hex().encode(), b"junk"),
}


@pytest.mark.parametrize("attack", sorted(CERTIFICATE_ATTACKS))
@pytest.mark.parametrize("intruder", ["main.peer0", "edge-2.peer0"])
def test_no_peer_deletes_or_overwrites_a_certificate_another_peer_published(etcd_cluster, attack, intruder):
    """The certificate registry was one key per certificate, writable by every peer: any peer
    deleted a member's published certificate, and every peer that had not seen it refused that
    member until it registered again. Each peer now writes its own directory only; another
    peer's copy (and the whole registry) is refused to it and stays as it was."""
    fp, pem = bytes(range(32)), b"the certificate edge-1.peer0 published"
    publisher = etcd_cluster.etcd_log("edge-1", "edge-1.peer0")
    log = etcd_cluster.etcd_log("edge-10", intruder)
    try:
        publisher.publish_certificate("edge-1.peer0", fp, pem)
        with pytest.raises(errors.AccessDenied):
            _raw(log, CERTIFICATE_ATTACKS[attack](fp))
        with pytest.raises(errors.AccessDenied):  # nor under another peer's name
            log.publish_certificate("edge-1.peer0", fp, b"junk")
        log.publish_certificate(intruder, fp, b"its own copy")  # its own directory it writes
        assert log.certificates(fp, ["edge-1.peer0", intruder]) == [pem, b"its own copy"]
        assert publisher.certificates(fp, ["edge-1.peer0"]) == [pem]
    finally:
        log.close()
        publisher.close()


def test_a_peer_listed_under_two_chains_gets_no_etcd_user():
    """Its etcd user (the certificate's CN) would hold both chains' roles."""
    deployment = {"chains": [{"id": "main", "peers": [{"name": "p"}]}, {"id": "edge-0", "peers": [{"name": "p"}]}]}
    with pytest.raises(errors.ConfigurationError, match="'p' more than once"):
        etcdauth.grant_access(["127.0.0.1:1"], None, deployment)
    with pytest.raises(errors.EncodingError):
        etcdauth.chain_prefix("edge-0/block")


# --- reads: a peer that answers vouches only by its own attestation -------------------------


@pytest.fixture(scope="module")
def edge_world(tmp_path_factory):
    """edge-0 with three peers (2-of-any): block 0, the ordered block 1 and an endorsed twin of it
    (both signed by the honest endorsers peer1 and peer2, as a dishonest cutter can get)."""
    root = tmp_path_factory.mktemp("reads3")
    d = local.create(root / "d", subchains=1, peers_per_chain=3)
    deployment = json.loads((d / "deployment.json").read_text())
    trust = load_trust(d / "trust")
    rules = Deployment(deployment_params(deployment), trust, chain_configs(deployment))
    peers = [_identity(d / "nodes" / f"{EDGE}.peer{i}" / "credentials") for i in range(3)]
    client_id = _identity(d / "clients" / "client")
    for i in [*peers, client_id]:
        trust.add_certificate(i.certificate)

    def record(payload):
        return Transaction.create(client_id, TxKind.RECORD, EDGE, payload, timestamp_ms=now_ms(), nonce=now_ms())

    main_peers = [_identity(d / "nodes" / f"main.peer{i}" / "credentials") for i in range(3)]
    for i in main_peers:
        trust.add_certificate(i.certificate)
    # two main-chain blocks, each reported to edge-0 by a Type-III in edge-0's block 0
    main = Peer(rules, main_peers[0], PeerStore(root / "main.sqlite", "main"))
    type3s = []
    for payload in (b"main 0", b"main 1"):
        main_tx = Transaction.create(client_id, TxKind.RECORD, "main", payload, timestamp_ms=now_ms(), nonce=now_ms())
        main_block = _endorsed(main._propose([main_tx])[0], main_peers[:2])
        main._commit(main_block, live=False)
        type3s.append(Transaction.create(main_peers[0], TxKind.MAIN_STATUS, EDGE, main_block.signed.to_bytes(),
                                         timestamp_ms=now_ms(), nonce=now_ms()))
    main.close()
    edge = Peer(rules, peers[1], PeerStore(root / "edge.sqlite", EDGE))
    block0 = _endorsed(edge._propose([record(b"zero"), *type3s])[0], peers[1:])
    edge._commit(block0, live=False)
    records = list(edge.statuses("main"))  # (a view reads its blocks: taken before the store closes)
    assert [r.source_height for r in records] == [0, 1]
    twin = _endorsed(edge._propose([record(b"twin")])[0], peers[1:])
    ordered = _endorsed(edge._propose([record(b"ordered")])[0], peers[1:])
    edge._commit(ordered, live=False)
    edge.close()
    yield types.SimpleNamespace(directory=d, rules=rules, peers=peers, block0=block0, twin=twin, ordered=ordered,
                                records=records)


def _fake_call(world, served, statuses=None, asked=None):
    """call(name, method, request, timeout) of ChainReader over peers that serve `served[name]`
    (height -> Block) and attest exactly those blocks; `statuses[name]` (their status records)
    and `asked` (a list of every (name, method) asked) when given."""
    by_name = {p.name: p for p in world.peers}

    def call(name, method, request, timeout):
        blocks = served[name]
        if asked is not None:
            asked.append((name, method))
        if method == "Statuses":
            return pack(*(pack(r.source_chain.encode(), b"%d" % r.source_height, b"%d" % r.height, r.tx_id,
                               b"%x" % r.source_element, r.source_digest) for r in statuses[name]))
        if method in ("Block", "Header"):
            block = blocks.get(int(request))
            if block is None:
                raise errors.NotFound(f"{name} holds no block {int(request)}")
            return block.to_bytes() if method == "Block" else block.signed.to_bytes()
        if method == "Stored":
            height, digest = decode_block_id(request)
            if height not in blocks or blocks[height].digest != digest:
                raise errors.ServiceUnavailable(f"{name} does not store that block {height}")
            me = by_name[name]
            return pack(me.fingerprint, me.sign(stored_message(EDGE, height, digest)))
        raise errors.NotFound(method)
    return call


def _honest(w, answering_first):
    """The peers' blocks: peer0 serves `answering_first` at height 1, the others the ordered block."""
    return {w.peers[0].name: {0: w.block0, 1: answering_first},
            **{p.name: {0: w.block0, 1: w.ordered} for p in w.peers[1:]}}


def test_a_header_naming_thousands_of_unknown_endorsers_buys_no_fetch_for_each(edge_world):
    """peer0 answers block 1 with its genuine endorsements plus 3000 of unknown fingerprints:
    each cost a Certificate call to it (each up to the call's timeout: a read stalled for
    hours). Now more unknown endorsers than the policy needs signatures is refused at once,
    and the next peer's block is read."""
    w = edge_world
    junk = [(bytes([1 + i // 256, i % 256]) + b"\0" * 30, b"\0" * 64) for i in range(3000)]
    padded = w.ordered.with_endorsements([*w.ordered.signed.endorsements, *junk])
    asked = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        call = _fake_call(w, _honest(w, padded), asked=asked)
        reader = ChainReader(w.rules, EDGE, [p.name for p in w.peers], call, pooled(pool, call))
        block = reader.block(1)  # (peer0 first: the rotation starts at it)
    assert block.to_bytes() == w.ordered.to_bytes()  # the next peer's, not the padded one
    assert asked[0] == (w.peers[0].name, "Block")
    assert sum(method == "Certificate" for _, method in asked) == 0


@pytest.mark.parametrize("answer", ["repeated", "reordered"])
def test_status_records_repeated_or_reordered_are_refused_and_the_next_peer_asked(edge_world, answer):
    """Each record is genuine and proven by its block, but the list is not the chain's: the
    verifier bisects the records by source height (ledger.verifier), so a repeat or a
    reordering picks the wrong anchor. Refused; the next peer's list is taken."""
    w = edge_world
    r0, r1 = w.records
    forged = {"repeated": [r0, r0, r1], "reordered": [r1, r0]}[answer]
    statuses = {w.peers[0].name: forged, w.peers[1].name: [r0, r1], w.peers[2].name: [r0, r1]}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        call = _fake_call(w, _honest(w, w.ordered), statuses)
        reader = ChainReader(w.rules, EDGE, [p.name for p in w.peers], call, pooled(pool, call))
        assert reader.statuses("main") == [r0, r1]  # (peer0 first)
        statuses[w.peers[1].name] = statuses[w.peers[2].name] = forged
        with pytest.raises(errors.UnprovenAnswer, match="out of order or repeated"):
            reader.statuses("main")


def test_a_revoked_peer_answering_with_a_twin_does_not_count_as_its_voucher(edge_world):
    """peer0's certificates are revoked (its key is the attacker's), peer1 is dishonest (one,
    below the threshold 2), peer2 honest. peer0 still passes the TLS handshake and serves the
    twin; peer1 attests it. The answering peer's implicit vouch made that two: the twin was
    THE block 1 for the reader. Now peer0 counts only by an attestation, which is refused."""
    w = edge_world
    authority.revoke(w.directory / "ca", w.peers[0].name)
    install_crl(w.rules.trust, w.directory / "ca" / "crl.pem", None)
    served = {w.peers[0].name: {0: w.block0, 1: w.twin}, w.peers[1].name: {0: w.block0, 1: w.twin},
              w.peers[2].name: {0: w.block0, 1: w.ordered}}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        call = _fake_call(w, served)
        reader = ChainReader(w.rules, EDGE, [p.name for p in w.peers], call, pooled(pool, call))
        with pytest.raises(errors.LedgerError) as refused:  # (peer0 first: the rotation starts at it)
            reader.block(1)
        assert not isinstance(refused.value, errors.ServiceUnavailable)
        assert (1, w.twin.digest) not in reader._confirmed and 1 not in reader._blocks
        with pytest.raises(errors.UnprovenAnswer, match="attested by 1 peers"):  # the receipts' path alike
            confirm_blocks(w.rules, EDGE, [(1, w.twin.digest)], w.peers[0].name, [p.name for p in w.peers],
                           lambda name, request, timeout: pool.submit(_fake_call(w, served), name, "Stored", request, timeout))
        # the ordered block, served and attested by two unrevoked peers, is read
        served[w.peers[1].name] = {0: w.block0, 1: w.ordered}
        assert reader.block(1).digest == w.ordered.digest


# --- names: no member's certificate passes for another's ------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    cadir = tmp_path_factory.mktemp("names") / "ca"
    authority.init(cadir)
    authority.issue(cadir, "edge-0.peer0", "peer", cadir.parent / "peer0", "edge-0")
    return cadir


@pytest.mark.parametrize("name", ["EDGE-0.PEER0", "Edge-0.peer0", "edge-0.peer0.", "*.peer0", "*"])
def test_no_name_is_issued_that_tls_matches_as_another_member(pki, tmp_path, name):
    """gRPC's hostname check matches a server's DNS name ignoring case, a trailing dot and a
    "*." wildcard: a client issued one of these names served as the peer edge-0.peer0 to every
    member that called it (checked by hand: Channel(..., "edge-0.peer0", ...) took its answers).
    Refused before anything is written or recorded."""
    issued = (pki / "issued.json").read_text()
    with pytest.raises(errors.ArgumentError, match="TLS host name"):
        authority.issue(pki, name, "client", tmp_path / "creds")
    assert not (tmp_path / "creds").exists() and (pki / "issued.json").read_text() == issued


def test_no_peer_is_issued_the_etcd_members_server_name(pki, tmp_path):
    """A peer's etcd certificate has no DNS name, so gRPC matches its CN: a peer named
    edgeacc-etcd would pass for an etcd member to the other peers."""
    issued = (pki / "issued.json").read_text()
    with pytest.raises(errors.ConfigurationError, match="reserved etcd name"):
        authority.issue(pki, etcdauth.SERVER_NAME, "peer", tmp_path / "creds", "edge-0")
    assert not (tmp_path / "creds").exists() and (pki / "issued.json").read_text() == issued


def test_a_revocation_dated_too_far_ahead_can_be_brought_forward(pki, tmp_path):
    """`--effective-in` a year (a slip of the operator's): the revoked key's endorsements
    count on every block dated within that year. Revoking again kept the first date, so the
    stolen key stayed good for the year; now the earlier date holds, and a node takes the
    new CRL (it postpones nothing)."""
    from ledger.identity import TrustStore, load_revocation_list

    authority.issue(pki, "edge-0.peer5", "peer", tmp_path / "p5", "edge-0")
    member = authority.load_identity(tmp_path / "p5")
    trust = TrustStore(load_certificate(pki / "ca.crt"))
    trust.add_certificate(member.certificate)
    trust.set_revocation_list(load_revocation_list(authority.revoke(pki, "edge-0.peer5", effective_in=365 * 86400)))
    in_an_hour = now_ms() + 3600_000
    assert trust.resolve(member.fingerprint, at_ms=in_an_hour).name == "edge-0.peer5"  # still good then
    others = {r.serial_number: r.revocation_date_utc for r in load_revocation_list(pki / "crl.pem")}
    trust.set_revocation_list(load_revocation_list(authority.revoke(pki, "edge-0.peer5", effective_in=1)))
    with pytest.raises(errors.RevokedCertificate):
        trust.resolve(member.fingerprint, at_ms=in_an_hour)
    after = {r.serial_number: r.revocation_date_utc for r in load_revocation_list(pki / "crl.pem")}
    assert after.keys() == others.keys() and all(after[s] <= others[s] for s in others)


# --- per-caller bounds: across methods too ---------------------------------------------------


def test_one_caller_waiting_on_every_method_cannot_take_every_server_thread(pki, tmp_path):
    """Each method bounds one caller's calls under way, but a caller may call every method:
    seven waiting methods at their bound of 16 are 112 threads (a node's fourteen methods sum
    past its 256 workers). Past PER_CALLER_TOTAL in all the caller is refused at once, and
    another caller is still served."""
    import threading

    from ledger.cluster.transport import PER_CALLER, PER_CALLER_TOTAL, Channel, Credentials, Method, serve

    for name in ("mallory", "alice"):
        authority.issue(pki, name, "client", tmp_path / name)
    release, waiting = threading.Event(), []

    def wait(caller, request):
        waiting.append(caller.name)
        release.wait(20)
        return b"done"

    names = [f"Wait{i}" for i in range(7)]
    methods = {**{n: Method(wait) for n in names}, "Echo": Method(lambda caller, request: request)}
    workers = 7 * PER_CALLER + 8
    srv, port = serve("127.0.0.1:0", Credentials.load(pki.parent / "peer0"), load_trust(pki), methods, "edge-0",
                      workers=workers)
    mallory, alice = (Channel(f"127.0.0.1:{port}", "edge-0.peer0", Credentials.load(tmp_path / n))
                      for n in ("mallory", "alice"))
    try:
        with concurrent.futures.ThreadPoolExecutor(7 * PER_CALLER + 4) as pool:
            flood = [pool.submit(mallory.call, n, b"", 30) for n in names for _ in range(PER_CALLER)]
            refused = []
            for f in concurrent.futures.as_completed(flood, timeout=15):
                refused.append(f)
                if len(refused) == len(flood) - PER_CALLER_TOTAL:
                    break
            assert all(isinstance(f.exception(), errors.ServiceUnavailable)
                       and f"{PER_CALLER_TOTAL} calls in all" in str(f.exception()) for f in refused)
            deadline = time.monotonic() + 5  # (an admitted call reaches `wait` a moment after)
            while len(waiting) < PER_CALLER_TOTAL and time.monotonic() < deadline:
                time.sleep(0.02)
            assert waiting.count("mallory") == PER_CALLER_TOTAL < 7 * PER_CALLER
            assert alice.call("Echo", b"still served", 5) == b"still served"
            alice_waits = pool.submit(alice.call, names[0], b"", 10)
            release.set()
            assert alice_waits.result(10) == b"done"
            assert [f.result(10) for f in flood if f not in refused] == [b"done"] * PER_CALLER_TOTAL
    finally:
        release.set()
        mallory.close()
        alice.close()
        srv.stop(0)
