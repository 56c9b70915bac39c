"""`edgeacc ca renew`: a member's certificates expire, so the operator issues it new ones of
the same role, chain and ledger key; what the old ones signed keeps counting, a name counts once whichever
certificate signed, revoking the name revokes all of them, and a revoked name is never renewed."""
import json
import shutil
import subprocess
import sys

import pytest

import edgeacc
from ledger import errors
from ledger.chain import MAIN, SUB, ChainConfig, Deployment
from ledger.cluster import authority, local
from ledger.cluster.node import load_trust
from ledger.identity import load_certificate, load_revocation_list

pytest.importorskip("grpc")


@pytest.fixture
def renewed(tmp_path):
    """A CA in tmp_path/ca that issued edge-0.peer0 and renewed it twice, and edge-0.peer1."""
    cadir = authority.init(tmp_path / "ca")
    dirs = [authority.issue(cadir, "edge-0.peer0", "peer", tmp_path / "p0", "edge-0")]
    for k in (1, 2):  # the member copies the new files over its own; its identity.key stays
        dirs.append(authority.renew(cadir, "edge-0.peer0", tmp_path / f"p0-{k}"))
        assert not (dirs[-1] / "identity.key").exists()
        shutil.copyfile(dirs[0] / "identity.key", dirs[-1] / "identity.key")
    other = authority.issue(cadir, "edge-0.peer1", "peer", tmp_path / "p1", "edge-0")
    return tmp_path, cadir, [authority.load_identity(d) for d in dirs], authority.load_identity(other), dirs


def test_renewal_certifies_the_same_key_role_and_chain_and_keeps_the_old_certificates(renewed):
    root, cadir, rounds, _, dirs = renewed
    assert {(i.name, i.role, i.chain_id) for i in rounds} == {("edge-0.peer0", "peer", "edge-0")}
    assert len({i.fingerprint for i in rounds}) == 3
    assert len({i.certificate.public_key().public_bytes_raw() for i in rounds}) == 1  # its checkpoints stay its own
    tls = [(d / "tls.key").read_bytes() for d in dirs]
    assert len(set(tls)) == 3 and all((d / "etcd.crt").exists() for d in dirs)  # transport keys are fresh
    local.publish_trust(root)  # the nodes' trust bundle: every certificate the name held resolves
    for trust in (load_trust(cadir), load_trust(root / "trust")):
        for identity in rounds:
            member = trust.resolve(identity.fingerprint, roles=("peer",), chain_id="edge-0")
            assert member.name == "edge-0.peer0"


def test_a_renewed_peer_counts_once_as_an_endorser(renewed):
    _, cadir, rounds, other, _ = renewed
    deployment = Deployment(edgeacc.Params.rsa2048(), load_trust(cadir), [ChainConfig("main", MAIN, 2), ChainConfig("edge-0", SUB, 2)])
    message = b"block 7 of edge-0"

    def endorse(*identities):
        return deployment.check_peer_signatures("edge-0", message, [(i.fingerprint, i.sign(message)) for i in identities],
                                                2, None, "block 7", "endorser")

    with pytest.raises(errors.EndorsementError, match="counts twice"):
        endorse(rounds[0], rounds[2])  # one peer under its old and its renewed certificate
    assert endorse(rounds[1], other) == {"edge-0.peer0", "edge-0.peer1"}


def test_revoking_a_renewed_name_revokes_every_certificate_it_held_and_it_is_never_renewed_again(renewed):
    root, cadir, _, _, _ = renewed
    serials = json.loads((cadir / authority.ISSUED).read_text())["edge-0.peer0"]
    assert len(serials) == 9  # identity, transport and etcd certificate, three times
    authority.revoke(cadir, "edge-0.peer0")
    assert set(serials) <= {r.serial_number for r in load_revocation_list(cadir / "crl.pem")}
    assert set(serials[2::3]) <= {r.serial_number for r in load_revocation_list(cadir / "etcd" / "crl.pem")}
    with pytest.raises(errors.ConfigurationError, match="revoked"):
        authority.renew(cadir, "edge-0.peer0", root / "again")
    assert not (root / "again").exists()
    with pytest.raises(errors.NotFound):
        authority.renew(cadir, "nobody", root / "nobody")
    r = subprocess.run([sys.executable, "-m", "ledger.cli", "-q", "ca", "renew", str(cadir), "edge-0.peer0",
                        "--out", str(root / "again")], capture_output=True, text=True)
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_the_renew_command_writes_the_members_new_directory(tmp_path):
    cadir = authority.init(tmp_path / "ca")
    authority.issue(cadir, "alice", "client", tmp_path / "alice")
    r = subprocess.run([sys.executable, "-m", "ledger.cli", "-q", "ca", "renew", str(cadir), "alice",
                        "--out", str(tmp_path / "alice-2"), "--days", "30"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    shutil.copyfile(tmp_path / "alice" / "identity.key", tmp_path / "alice-2" / "identity.key")
    old, new = authority.load_identity(tmp_path / "alice"), authority.load_identity(tmp_path / "alice-2")
    assert (new.name, new.role, new.chain_id) == ("alice", "client", None) and new.fingerprint != old.fingerprint
    lifetime = new.certificate.not_valid_after_utc - new.certificate.not_valid_before_utc
    assert 29 <= lifetime.days <= 30
    assert (cadir / "certs" / "previous" / "alice" / f"{old.certificate.serial_number:x}.crt").exists()


# --- the embedded deployment renews its own members on open ------------------------------------

def test_the_embedded_deployment_renews_expiring_certificates_on_open(tmp_path, toy, monkeypatch):
    import ledger

    with ledger.Network.init(tmp_path / "net", subchains=1, params=toy, auto_interlock=False) as net:
        net.identity("alice", "client")
        net.identity("mallory", "client")
        net.revoke("mallory")
        before = {m.name: m.fingerprint for m in net.trust.members()}
        old = net.submit("edge-0", b"signed by the first certificates").result()
        net.interlock()
    monkeypatch.setattr(ledger.network, "RENEW_WITHIN_DAYS", 400)  # every 365-day certificate ends "soon"
    with ledger.Network.open(tmp_path / "net", auto_interlock=False, revalidate=True) as net:
        peer = net.identity("edge-0.peer0")
        assert peer.fingerprint != before["edge-0.peer0"] and net.identity("alice").fingerprint != before["alice"]
        assert net.identity("mallory").fingerprint == before["mallory"]  # a revoked member is not renewed
        new = net.submit("edge-0", b"endorsed under the renewed ones").result()
        net.interlock()
        assert net.verify(old.tx_id, "main").ok and net.verify(new.tx_id, "main").ok
        net.revoke("alice")  # every certificate the name held
        alice = [m for m in net.trust.members() if m.name == "alice"]
        assert len(alice) == 2
        for m in alice:
            with pytest.raises(errors.RevokedCertificate):
                net.trust.resolve(m.fingerprint)
    monkeypatch.setattr(ledger.network, "RENEW_WITHIN_DAYS", 30)
    with ledger.Network.open(tmp_path / "net", auto_interlock=False, revalidate=True) as net:
        assert net.identity("edge-0.peer0").fingerprint == peer.fingerprint  # renewed once, not on every open
        assert net.verify(old.tx_id, "main").ok and net.verify(new.tx_id, "main").ok


def test_a_ca_that_ends_before_a_renewal_could_outlast_the_old_certificate_renews_nothing_and_the_ledger_opens(
        tmp_path, toy, monkeypatch):
    """Members' certificates end with a short-lived CA (capped by it): reopening inside the
    renewal window must not renew (nothing longer can be issued) nor refuse to open."""
    import ledger
    from ledger.identity import CertificateAuthority

    create = CertificateAuthority.create.__func__
    monkeypatch.setattr(CertificateAuthority, "create",
                        classmethod(lambda cls, *a, **k: create(cls, lifetime_days=20)))
    with ledger.Network.init(tmp_path / "net", subchains=1, params=toy, auto_interlock=False) as net:
        before = {m.name: m.fingerprint for m in net.trust.members()}
        ca_ends = load_certificate(tmp_path / "net" / "ca" / "ca.crt").not_valid_after_utc
        assert all(m.certificate.not_valid_after_utc <= ca_ends for m in net.trust.members())
        old = net.submit("edge-0", b"before the reopen").result()
        net.interlock()
    with ledger.Network.open(tmp_path / "net", auto_interlock=False, revalidate=True) as net:  # within 30 days of the end
        assert {m.name: m.fingerprint for m in net.trust.members()} == before
        assert not (tmp_path / "net" / "identities" / "previous").exists()
        new = net.submit("edge-0", b"after the reopen").result()
        net.interlock()
        assert net.verify(old.tx_id, "main").ok and net.verify(new.tx_id, "main").ok
