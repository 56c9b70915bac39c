"""Who may reach etcd (ledger.cluster.etcdauth): only the chain's peers write the chain's log,
over mutual TLS with the etcd CA's certificates. Each attack is refused by etcd itself, and the
log an honest reader sees afterwards is unchanged. One 3-member etcd for the module, no node."""
import grpc
import pytest

from ledger import errors
from ledger.cluster import authority, etcdauth, local
from ledger.cluster.ordering import EtcdLog

from cluster_helpers import need_etcd

need_etcd()

EDGE, ENTRY = "edge-0", b"block/000000000000"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    d = local.create(tmp_path_factory.mktemp("etcd-auth") / "d", subchains=1, peers_per_chain=2)
    c = local.LocalCluster(d)
    c.start_etcd()
    try:
        log = c.etcd_log(EDGE, f"{EDGE}.peer0")  # the honest writer of the edge's log
        try:
            log.put_raw(ENTRY, b"the entry peers read")
        finally:
            log.close()
        yield c
    finally:
        c.etcd.stop()


def _log_as_root(cluster) -> list:
    log = cluster.etcd_log(EDGE)
    try:
        return log.blocks(0)
    finally:
        log.close()


def _attempt(log: EtcdLog, error) -> None:
    """Overwrite the entry, read the log, campaign for the cutter: each refused with `error`."""
    try:
        with pytest.raises(error):
            log.put_raw(ENTRY, b"a rewritten entry")
        with pytest.raises(error):
            log.blocks(0)
        with pytest.raises(error):
            log.campaign("intruder", 5)
    finally:
        log.close()


def test_a_peer_of_another_chain_cannot_write_or_read_the_chain(cluster):
    before = _log_as_root(cluster)
    _attempt(cluster.etcd_log(EDGE, "main.peer0"), errors.AccessDenied)
    assert _log_as_root(cluster) == before == [(0, b"the entry peers read")]
    own = cluster.etcd_log(local.MAIN_CHAIN_ID, "main.peer0")  # its own chain it may write
    try:
        own.put_raw(b"probe", b"x")
    finally:
        own.close()


def test_a_certificate_of_the_deployment_ca_does_not_reach_etcd(cluster):
    """The client's transport certificate (the deployment CA certifies clients and devices
    too): refused at etcd's handshake."""
    before = _log_as_root(cluster)
    creds = cluster.directory / "clients" / local.CLIENT
    client = etcdauth.EtcdCredentials((creds / "tls.key").read_bytes(), (creds / "tls.crt").read_bytes(),
                                      cluster.etcd.root.ca_cert)
    _attempt(EtcdLog(cluster.deployment["etcd"], EDGE, client, timeout=2), errors.ServiceUnavailable)
    assert _log_as_root(cluster) == before


@pytest.mark.parametrize("who", ["not a peer", "member"])
def test_an_etcd_certificate_of_no_peer_has_no_rights(cluster, tmp_path, who):
    """A certificate of the etcd CA whose CN names no peer (one issued by mistake, an etcd
    member's own): etcd knows no such user and grants nothing."""
    before = _log_as_root(cluster)
    if who == "member":
        member = cluster.etcd.directory / "m0.tls"
        creds = etcdauth.EtcdCredentials((member / "member.key").read_bytes(), (member / "member.crt").read_bytes(),
                                         (member / "etcd-ca.crt").read_bytes())
    else:
        etcdauth.issue_client(cluster.directory / "ca", local.CLIENT, tmp_path / "c")
        creds = etcdauth.EtcdCredentials.load(tmp_path / "c")
    _attempt(EtcdLog(cluster.deployment["etcd"], EDGE, creds), errors.AccessDenied)
    assert _log_as_root(cluster) == before


@pytest.mark.parametrize("channel", ["tls without a certificate", "plaintext"])
def test_a_connection_without_a_certificate_is_refused(cluster, channel):
    from aetcd import rpc

    before = _log_as_root(cluster)
    endpoint = cluster.deployment["etcd"][0]
    if channel == "plaintext":
        ch = grpc.insecure_channel(endpoint)
    else:
        ch = grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(cluster.etcd.root.ca_cert),
                                 options=[("grpc.ssl_target_name_override", etcdauth.SERVER_NAME)])
    try:
        with pytest.raises(grpc.RpcError) as refused:
            rpc.KVStub(ch).Put(rpc.PutRequest(key=etcdauth.chain_prefix(EDGE) + ENTRY, value=b"rewritten"), timeout=3)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        ch.close()
    assert _log_as_root(cluster) == before


def test_a_revoked_peer_is_refused_by_etcd(cluster):
    """`edgeacc ca revoke` revokes the peer's etcd certificate too: etcd reads the etcd CA's
    CRL at every handshake; the chain's other peer still writes."""
    authority.revoke(cluster.directory / "ca", f"{EDGE}.peer1")
    before = _log_as_root(cluster)
    _attempt(cluster.etcd_log(EDGE, f"{EDGE}.peer1"), errors.ServiceUnavailable)
    assert _log_as_root(cluster) == before
    other = cluster.etcd_log(EDGE, f"{EDGE}.peer0")
    try:
        assert other.blocks(0) == before
    finally:
        other.close()
